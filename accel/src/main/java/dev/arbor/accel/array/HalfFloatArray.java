package dev.arbor.accel.array;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** An off-heap array of IEEE fp16. {@link #get} widens to float exactly; {@link #set} rounds to nearest even. */
public final class HalfFloatArray extends OffHeapArray {
    private static final ValueLayout.OfShort LAYOUT = ValueLayout.JAVA_SHORT;

    public HalfFloatArray(int length) { super(length, 2); }

    /** Views {@code segment} (e.g. a memory-mapped tensor) without copying. */
    public HalfFloatArray(MemorySegment segment) { super(segment, 2); }

    private HalfFloatArray(int length, boolean deviceOnly) { super(length, 2, deviceOnly); }

    /** {@code length} elements in device memory only, allocated by the device backend on first use (no host copy). */
    public static HalfFloatArray deviceOnly(int length) { return new HalfFloatArray(length, true); }

    public static HalfFloatArray of(float... values) {
        HalfFloatArray a = new HalfFloatArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    @Override public int elementBytes() { return 2; }

    public float get(int index) { return Float.float16ToFloat(segment().getAtIndex(LAYOUT, index)); }

    public void set(int index, float value) { segment().setAtIndex(LAYOUT, index, Float.floatToFloat16(value)); }

    /** The raw fp16 bits of element {@code index}. */
    public short getBits(int index) { return segment().getAtIndex(LAYOUT, index); }
}
