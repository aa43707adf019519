package dev.arbor.accel.array;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/** An off-heap array of fp32. */
public final class FloatArray extends OffHeapArray {
    private static final ValueLayout.OfFloat LAYOUT = ValueLayout.JAVA_FLOAT;

    public FloatArray(int length) { super(length, 4); }

    /** Views {@code segment} (e.g. a memory-mapped tensor) without copying. */
    public FloatArray(MemorySegment segment) { super(segment, 4); }

    private FloatArray(int length, boolean deviceOnly) { super(length, 4, deviceOnly); }

    /** {@code length} elements in device memory only, allocated by the device backend on first use (no host copy). */
    public static FloatArray deviceOnly(int length) { return new FloatArray(length, true); }

    public static FloatArray of(float... values) {
        FloatArray a = new FloatArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    @Override public int elementBytes() { return 4; }

    public float get(int index) { return segment().getAtIndex(LAYOUT, index); }

    public void set(int index, float value) { segment().setAtIndex(LAYOUT, index, value); }

    /** Atomically adds {@code value} to element {@code index}, returning the previous value. */
    public float atomicAdd(int index, float value) {
        check(index);
        long offset = 4L * index;
        while (true) {
            int old = (int) INT_BITS.getVolatile(segment(), offset);
            int next = Float.floatToRawIntBits(Float.intBitsToFloat(old) + value);
            if (INT_BITS.compareAndSet(segment(), offset, old, next)) return Float.intBitsToFloat(old);
        }
    }

    private static final VarHandle INT_BITS = ValueLayout.JAVA_INT.varHandle();

    public float[] toArray() {
        return segment().toArray(LAYOUT);
    }
}
