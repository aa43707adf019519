package dev.arbor.accel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Device memory from cuMemAlloc: {@code bytes} bytes at device address {@code pointer}; or a {@link #view} of part of
 * another buffer, which {@link #close} leaves alone (the owner frees the allocation).
 */
public final class DeviceBuffer implements AutoCloseable {
    private final CudaDevice device;
    private final long pointer;
    private final long bytes;
    private final boolean owner;
    private boolean freed;

    private DeviceBuffer(CudaDevice device, long pointer, long bytes, boolean owner) {
        this.device = device;
        this.pointer = pointer;
        this.bytes = bytes;
        this.owner = owner;
    }

    public static DeviceBuffer allocate(CudaDevice device, long bytes) {
        device.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(JAVA_LONG);
            long size = Math.max(bytes, 1);
            check(call(() -> (int) cuMemAlloc.invokeExact(out, size)), "cuMemAlloc(" + bytes + " bytes)");
            return new DeviceBuffer(device, out.get(JAVA_LONG, 0), bytes, true);
        }
    }

    public long pointer() { return pointer; }

    /**
     * Bytes {@code [offset, offset + bytes)} of this buffer as a buffer of their own, e.g. the device mirror of one array of
     * a {@link PinnedStaging}. The view does not own the memory: closing it frees nothing, and it must not be used after
     * this buffer is closed.
     *
     * @throws IndexOutOfBoundsException if the range is not inside this buffer
     */
    public DeviceBuffer view(long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > this.bytes) {
            throw new IndexOutOfBoundsException("view of " + bytes + " bytes at " + offset + " of a buffer of " + this.bytes);
        }
        return new DeviceBuffer(device, pointer + offset, bytes, false);
    }

    public long bytes() { return bytes; }

    /** Whether this is a {@link #view} (its close frees nothing). */
    public boolean isView() { return !owner; }

    /** Synchronous host → device copy of {@code host}'s first {@link #bytes} bytes. */
    public void upload(MemorySegment host) {
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyHtoD.invokeExact(pointer, host, bytes)), "cuMemcpyHtoD");
    }

    /** Synchronous host → device copy of {@code bytes} bytes from {@code host} to this buffer at byte {@code offset}. */
    public void upload(MemorySegment host, long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > this.bytes || bytes > host.byteSize()) {
            throw new IndexOutOfBoundsException("upload of " + bytes + " bytes at " + offset + " into a buffer of " + this.bytes + " from " + host.byteSize());
        }
        if (bytes == 0) return;
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyHtoD.invokeExact(pointer + offset, host, bytes)), "cuMemcpyHtoD");
    }

    /**
     * Host → device copy of {@code bytes} bytes from {@code host} to this buffer at byte {@code offset}, queued on {@code stream}
     * (NULL: the default stream) after the work before it: the host does not wait for that work. From pageable memory the
     * driver copies the source to a staging buffer before returning, so {@code host} may be reused at once.
     */
    public void uploadAsync(MemorySegment host, long offset, long bytes, MemorySegment stream) {
        if (offset < 0 || bytes < 0 || offset + bytes > this.bytes || bytes > host.byteSize()) {
            throw new IndexOutOfBoundsException("upload of " + bytes + " bytes at " + offset + " into a buffer of " + this.bytes + " from " + host.byteSize());
        }
        if (bytes == 0) return;
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyHtoDAsync.invokeExact(pointer + offset, host, bytes, stream)), "cuMemcpyHtoDAsync");
    }

    /** Synchronous device → host copy of {@code bytes} bytes at byte {@code offset} of this buffer into {@code host}. */
    public void download(MemorySegment host, long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > this.bytes || bytes > host.byteSize()) {
            throw new IndexOutOfBoundsException("download of " + bytes + " bytes at " + offset + " from a buffer of " + this.bytes + " into " + host.byteSize());
        }
        if (bytes == 0) return;
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyDtoH.invokeExact(host, pointer + offset, bytes)), "cuMemcpyDtoH");
    }

    /**
     * Device → host copy of {@code bytes} bytes at byte {@code offset} of this buffer into {@code host}, queued on {@code stream}
     * (NULL: the default stream) behind the work before it. Into page-locked memory ({@link PinnedStaging#host}) the host does
     * not wait: the data is there once an event recorded after it has completed. (Into pageable memory the driver waits.)
     */
    public void downloadAsync(MemorySegment host, long offset, long bytes, MemorySegment stream) {
        if (offset < 0 || bytes < 0 || offset + bytes > this.bytes || bytes > host.byteSize()) {
            throw new IndexOutOfBoundsException("download of " + bytes + " bytes at " + offset + " from a buffer of " + this.bytes + " into " + host.byteSize());
        }
        if (bytes == 0) return;
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyDtoHAsync.invokeExact(host, pointer + offset, bytes, stream)), "cuMemcpyDtoHAsync");
    }

    /** Sets every byte to zero (synchronous). */
    public void zero() {
        device.makeCurrent();
        check(call(() -> (int) cuMemsetD8.invokeExact(pointer, (byte) 0, bytes)), "cuMemsetD8");
    }

    /** Synchronous device → host copy. */
    public void download(MemorySegment host) {
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyDtoH.invokeExact(host, pointer, bytes)), "cuMemcpyDtoH");
    }

    /** Asynchronous device → device copy of {@code count} bytes on {@code stream} (NULL: default stream). */
    public void copyTo(DeviceBuffer target, long count, MemorySegment stream) {
        copyTo(0, target, 0, count, stream);
    }

    /** Asynchronous copy of {@code count} bytes from byte {@code from} of this buffer to byte {@code to} of {@code target}. */
    public void copyTo(long from, DeviceBuffer target, long to, long count, MemorySegment stream) {
        if (from < 0 || to < 0 || count < 0 || from + count > bytes || to + count > target.bytes) {
            throw new IndexOutOfBoundsException("copy of " + count + " bytes from " + from + " (of " + bytes + ") to " + to + " (of " + target.bytes + ")");
        }
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyDtoDAsync.invokeExact(target.pointer + to, pointer + from, count, stream)), "cuMemcpyDtoDAsync");
    }

    @Override
    public synchronized void close() {
        if (freed) return;
        freed = true;
        if (!owner) return;
        device.makeCurrent();
        check(call(() -> (int) cuMemFree.invokeExact(pointer)), "cuMemFree");
    }
}
