package dev.arbor.accel.cuda;

import dev.arbor.accel.AccelStream;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.ADDRESS;

/** A non-blocking CUDA stream. */
public final class CudaStream implements AccelStream {
    private final CudaDevice device;
    private final MemorySegment handle;

    CudaStream(CudaDevice device) {
        this.device = device;
        device.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(ADDRESS);
            check(call(() -> (int) cuStreamCreate.invokeExact(out, CU_STREAM_NON_BLOCKING)), "cuStreamCreate");
            handle = out.get(ADDRESS, 0);
        }
    }

    MemorySegment handle() { return handle; }

    @Override
    public void synchronize() {
        device.makeCurrent();
        check(call(() -> (int) cuStreamSynchronize.invokeExact(handle)), "cuStreamSynchronize");
    }

    @Override
    public void close() {
        device.makeCurrent();
        check(call(() -> (int) cuStreamDestroy.invokeExact(handle)), "cuStreamDestroy");
    }
}
