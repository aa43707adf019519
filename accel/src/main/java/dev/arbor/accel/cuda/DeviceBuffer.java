package dev.arbor.accel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Device memory from cuMemAlloc: {@code bytes} bytes at device address {@code pointer}. */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaDevice device;
    private final long pointer;
    private final long bytes;
    private boolean freed;

    private DeviceBuffer(CudaDevice device, long pointer, long bytes) {
        this.device = device;
        this.pointer = pointer;
        this.bytes = bytes;
    }

    public static DeviceBuffer allocate(CudaDevice device, long bytes) {
        device.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            long size = Math.max(bytes, 1);
            check(call(() -> (int) cuMemAlloc.invokeExact(out, size)), "cuMemAlloc(" + bytes + " bytes)");
            return new DeviceBuffer(device, out.get(JAVA_LONG, 0), bytes);
        }
    }

    public long pointer() { return pointer; }

    public long bytes() { return bytes; }

    /** Synchronous host → device copy of {@code host}'s first {@link #bytes} bytes. */
    public void upload(MemorySegment host) {
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyHtoD.invokeExact(pointer, host, bytes)), "cuMemcpyHtoD");
    }

    /** Synchronous device → host copy. */
    public void download(MemorySegment host) {
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyDtoH.invokeExact(host, pointer, bytes)), "cuMemcpyDtoH");
    }

    /** Asynchronous device → device copy of {@code count} bytes on {@code stream} (NULL: default stream). */
    public void copyTo(DeviceBuffer target, long count, MemorySegment stream) {
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyDtoDAsync.invokeExact(target.pointer, pointer, count, stream)), "cuMemcpyDtoDAsync");
    }

    @Override
    public synchronized void close() {
        if (freed) return;
        freed = true;
        device.makeCurrent();
        check(call(() -> (int) cuMemFree.invokeExact(pointer)), "cuMemFree");
    }
}
