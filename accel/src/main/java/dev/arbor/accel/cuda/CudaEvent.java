package dev.arbor.accel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** A CUDA event, for GPU-side timing of the work between two records. */
public final class CudaEvent implements AutoCloseable {
    private final CudaDevice device;
    private final MemorySegment handle;

    public CudaEvent(CudaDevice device) {
        this.device = device;
        device.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check(call(() -> (int) cuEventCreate.invokeExact(out, 0)), "cuEventCreate");
            handle = out.get(ADDRESS, 0);
        }
    }

    /** Records on {@code stream} (null: the default stream). */
    public void record(CudaStream stream) {
        device.makeCurrent();
        MemorySegment s = stream == null ? MemorySegment.NULL : stream.handle();
        check(call(() -> (int) cuEventRecord.invokeExact(handle, s)), "cuEventRecord");
    }

    public void synchronize() {
        check(call(() -> (int) cuEventSynchronize.invokeExact(handle)), "cuEventSynchronize");
    }

    /** Milliseconds from {@code start} to this event (both recorded and complete). */
    public float millisSince(CudaEvent start) {
        synchronize();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_FLOAT);
            check(call(() -> (int) cuEventElapsedTime.invokeExact(out, start.handle, handle)), "cuEventElapsedTime");
            return out.get(JAVA_FLOAT, 0);
        }
    }

    @Override
    public void close() {
        check(call(() -> (int) cuEventDestroy.invokeExact(handle)), "cuEventDestroy");
    }
}
