package dev.arbor.accel.array;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A fixed-length array of primitive elements in native memory, the only kind of array a kernel takes
 * as a parameter. On the CPU executor kernels read and write {@link #segment()} directly; the CUDA
 * backend mirrors it in a device buffer (see {@code Backend.toDevice} / {@code toHost}).
 *
 * <p>Memory is 64-byte aligned so that aligned 8- and 16-byte vector loads are legal from element 0.
 */
public abstract sealed class OffHeapArray implements AutoCloseable
        permits FloatArray, HalfFloatArray, BFloat16Array, IntArray, ByteArray, LongArray {

    private final MemorySegment segment;
    private final Arena arena; // null when wrapping memory owned elsewhere (e.g. a mapped file)
    private final int length;
    private final boolean deviceOnly;
    /** Opaque per-backend mirror (the CUDA backend keeps its device buffer here). */
    private volatile Object deviceMirror;

    OffHeapArray(int length, int elementBytes) {
        if (length < 0) throw new IllegalArgumentException("negative length " + length);
        this.arena = Arena.ofShared();
        this.segment = arena.allocate(Math.max(1L, (long) length * elementBytes), 64);
        this.length = length;
        this.deviceOnly = false;
    }

    /**
     * A device-only array: {@code length} elements with no host memory behind them (the KV store and
     * activations of a GPU model, where a host mirror would double the footprint). Only a device
     * backend can use it (it allocates the device buffer on first use); host reads, {@code toDevice} and
     * {@code toHost} fail with an {@link IllegalStateException} naming the array.
     */
    OffHeapArray(int length, int elementBytes, boolean deviceOnly) {
        if (length < 0) throw new IllegalArgumentException("negative length " + length);
        this.arena = null;
        this.segment = MemorySegment.NULL;
        this.length = length;
        this.deviceOnly = deviceOnly;
    }

    OffHeapArray(MemorySegment wrapped, int elementBytes) {
        if (wrapped.byteSize() % elementBytes != 0 || wrapped.byteSize() / elementBytes > Integer.MAX_VALUE)
            throw new IllegalArgumentException("segment of " + wrapped.byteSize() + " bytes is not a whole number of "
                    + elementBytes + "-byte elements below 2^31");
        this.arena = null;
        this.segment = wrapped;
        this.length = (int) (wrapped.byteSize() / elementBytes);
        this.deviceOnly = false;
    }

    /** Whether this array has no host memory (see the device-only constructor). */
    public final boolean isDeviceOnly() { return deviceOnly; }

    /** Number of elements. */
    public final int length() { return length; }

    /** Size of one element in bytes (2 for fp16/bf16). */
    public abstract int elementBytes();

    public final long byteSize() { return (long) length * elementBytes(); }

    public final MemorySegment segment() { return segment; }

    /**
     * Stores the float {@code value} at element {@code index} of a floating-point array, in its own element type: as is into
     * a {@link FloatArray}, rounded to nearest even into a {@link BFloat16Array} or {@link HalfFloatArray} (as their
     * {@code set} does). On the GPU one {@code st.global} of the parameter's element type ({@code cvt.rn} first for 16 bits),
     * the same instruction as the typed {@code set}: for a kernel helper that writes either an fp32 or a bf16 output (the
     * entry point's parameter type decides, e.g. attention writing its output straight into o_proj's bf16 X).
     */
    public final void setFloat(int index, float value) {
        switch (this) {
            case FloatArray f -> f.set(index, value);
            case BFloat16Array b -> b.set(index, value);
            case HalfFloatArray h -> h.set(index, value);
            default -> throw new UnsupportedOperationException("setFloat on " + getClass().getSimpleName());
        }
    }

    /**
     * Raw 8 bytes starting at element {@code index}, little-endian. The byte offset must be a multiple
     * of 8; on the GPU this is one {@code ld.global.b64}, the aligned vector load bandwidth-bound
     * kernels use to read four fp16/bf16 values (or two floats) at a time.
     */
    public final long getBits64(int index) {
        return segment.get(ValueLayout.JAVA_LONG, (long) index * elementBytes());
    }

    /**
     * Low 8 bytes of the 16 bytes starting at element {@code index}, whose byte offset must be a
     * multiple of 16. On the GPU this is one 16-byte load ({@code ld.global.v2.b64}); a following
     * {@link #getBits128High} with the same index <em>variable</em> (a local not reassigned in between,
     * no branch target in between) takes the other half from that load instead of loading again.
     */
    public final long getBits128Low(int index) {
        return segment.get(ValueLayout.JAVA_LONG, (long) index * elementBytes());
    }

    /** High 8 bytes of the 16 bytes starting at element {@code index} (see {@link #getBits128Low}). */
    public final long getBits128High(int index) {
        return segment.get(ValueLayout.JAVA_LONG, (long) index * elementBytes() + 8);
    }

    public Object deviceMirror() { return deviceMirror; }

    public void deviceMirror(Object mirror) { this.deviceMirror = mirror; }

    /** Frees the native memory (and any device mirror, if the backend registered a closer). */
    @Override
    public void close() {
        if (deviceMirror instanceof AutoCloseable c) {
            try { c.close(); } catch (Exception e) { throw new IllegalStateException(e); }
        }
        deviceMirror = null;
        if (arena != null) arena.close();
    }

    final void check(int index) {
        if (index < 0 || index >= length) throw new IndexOutOfBoundsException("index " + index + " of length " + length);
    }
}
