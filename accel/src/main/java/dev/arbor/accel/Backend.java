package dev.arbor.accel;

import dev.arbor.accel.array.OffHeapArray;

/** Where kernels run: the CUDA driver or the CPU executor. Choose one with {@link Backends#select()}. */
public interface Backend extends AutoCloseable {
    /** "cuda" or "cpu". */
    String name();

    /**
     * Launches {@code kernel} with {@code args} (every parameter after the context, in order). Arrays
     * not yet on the device are uploaded first; launches are asynchronous on the GPU.
     */
    void launch(Kernel kernel, Launch launch, Object... args);

    /** Copies host contents to the device (allocating the device buffer on first use). */
    void toDevice(OffHeapArray... arrays);

    /** Waits for pending work and copies device contents back to host memory. */
    void toHost(OffHeapArray... arrays);

    /**
     * Copies the first {@code count} elements of {@code array} to the device (allocating the device buffer,
     * and copying it whole, on first use); the rest of the device copy keeps its contents. For per-step
     * inputs that fill only a prefix of an array sized for the largest step. Default: the whole array.
     */
    default void toDevice(OffHeapArray array, int count) { toDevice(array); }

    /**
     * As {@link #toDevice(OffHeapArray, int)}, but ordered after the work already launched on the current stream without
     * the host waiting for it (CUDA: an asynchronous copy; the host contents may change once this returns). Default: the
     * synchronous copy (the CPU executor, where there is nothing to overlap).
     */
    default void toDeviceAsync(OffHeapArray array, int count) { toDevice(array, count); }

    /** Waits for pending work and copies the first {@code count} elements of {@code array} back. Default: the whole array. */
    default void toHost(OffHeapArray array, int count) { toHost(array); }

    /**
     * Streaming multiprocessors the launches spread over, for plans that size their grids by waves (GEMM tiles, the
     * cascade's shared level): the device's count on CUDA; on the CPU executor the H200's 132, so that CPU tests see the
     * same plan choices as the GPU.
     */
    default int multiprocessors() { return 132; }

    AccelStream newStream();

    /** Waits for all queued work on every stream. */
    void synchronize();

    /**
     * Captures the launches {@code body} makes on {@code stream} (launches with no stream of their own
     * go to it) without running them; {@link Recording#replay()} runs them. Arrays must already be on
     * the device.
     */
    Recording record(AccelStream stream, Runnable body);

    @Override void close();
}
