package dev.arbor.accel.cuda;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Small per-step input arrays staged in one page-locked host block (cuMemHostAlloc) and mirrored in one device block, laid
 * out by a {@link StagingLayout}: the arrays {@link #intArray} / {@link #floatArray} hand out are ordinary off-heap arrays
 * (kernels take them as before; their device mirrors are fixed views, so CUDA graphs may capture them), and
 * {@link #upload} copies the used prefix of the first regions with one {@code cuMemcpy2DAsync}.
 *
 * <p>Why (issue 12): from pageable memory every {@code cuMemcpyHtoDAsync} is a driver call that first copies the source
 * into the driver's own staging; a decode step made ~25 of them. From page-locked memory the copy engine reads the host
 * block itself, so the call only queues the copy, and one call covers several arrays.
 *
 * <p>The catch: the copy reads the host block when the stream reaches it, not when {@link #upload} returns. The caller must
 * not write the arrays again until the copy has run (an event recorded after it, synchronized before the next writes;
 * {@code CudaOps} does this).
 */
public final class PinnedStaging implements AutoCloseable {
    /** The system property that turns staged inputs off ({@code -Darbor.cuda.stagedInputs=false}: one pageable copy per array). */
    public static final String PROPERTY = "arbor.cuda.stagedInputs";

    /** Whether step inputs go through page-locked staging ({@link #PROPERTY}, default true); read when a model or sampler is made. */
    public static boolean requested() {
        return Boolean.parseBoolean(System.getProperty(PROPERTY, "true"));
    }

    private final CudaDevice device;
    private final StagingLayout layout;
    private final MemorySegment host;     // layout.bytes() page-locked bytes
    private final DeviceBuffer deviceBlock;
    private final MemorySegment copy;     // the CUDA_MEMCPY2D, reused by every upload
    private final Arena arena = Arena.ofShared();
    private boolean closed;

    public PinnedStaging(CudaDevice device, StagingLayout layout) {
        this.device = device;
        this.layout = layout;
        device.makeCurrent();
        MemorySegment out = arena.allocate(ADDRESS);
        long bytes = layout.bytes();
        check(call(() -> (int) cuMemHostAlloc.invokeExact(out, bytes, 0)), "cuMemHostAlloc(" + bytes + " bytes)");
        host = out.get(ADDRESS, 0).reinterpret(bytes);
        host.fill((byte) 0);
        deviceBlock = DeviceBuffer.allocate(device, bytes);
        copy = arena.allocate(StagingLayout.MEMCPY2D_BYTES, 8);
    }

    public StagingLayout layout() { return layout; }

    /** Region {@code r} as an int array of {@code length} elements, its device mirror the region's device view. */
    public IntArray intArray(int r, int length) {
        return mirrored(new IntArray(layout.slice(host, r, 4L * length)), r);
    }

    /** Region {@code r} as a float array of {@code length} elements, its device mirror the region's device view. */
    public FloatArray floatArray(int r, int length) {
        return mirrored(new FloatArray(layout.slice(host, r, 4L * length)), r);
    }

    private <A extends OffHeapArray> A mirrored(A a, int r) {
        a.deviceMirror(deviceView(r, a.byteSize()));
        return a;
    }

    /** Region {@code r}'s host bytes (all {@link StagingLayout#regionBytes} of them), page-locked. */
    public MemorySegment host(int r) {
        return layout.slice(host, r, layout.regionBytes());
    }

    /** The first {@code bytes} bytes of region {@code r} on the device, as a view (closing it frees nothing). */
    public DeviceBuffer deviceView(int r, long bytes) {
        if (bytes > layout.regionBytes()) throw new IndexOutOfBoundsException(bytes + " bytes in a region of " + layout.regionBytes());
        return deviceBlock.view(layout.offset(r), bytes);
    }

    /**
     * Queues on {@code stream} (NULL: the default stream) the copy of the first {@code widthBytes} bytes of regions
     * {@code 0 .. regions-1} to the device, behind the work already queued there; returns without waiting for it.
     */
    public void upload(long widthBytes, int regions, MemorySegment stream) {
        if (widthBytes == 0 || regions == 0) return;
        layout.encode2D(copy, host.address(), deviceBlock.pointer(), widthBytes, regions);
        device.makeCurrent();
        check(call(() -> (int) cuMemcpy2DAsync.invokeExact(copy, stream)), "cuMemcpy2DAsync");
    }

    /** Frees both blocks; the arrays handed out must not be used after (their close frees nothing). Waits for the device first. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        device.makeCurrent();
        check(call(() -> (int) cuCtxSynchronize.invokeExact()), "cuCtxSynchronize");
        deviceBlock.close();
        check(call(() -> (int) cuMemFreeHost.invokeExact(host)), "cuMemFreeHost");
        arena.close();
    }
}
