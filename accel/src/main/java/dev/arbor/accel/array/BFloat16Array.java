package dev.arbor.accel.array;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** An off-heap array of bfloat16 (the high 16 bits of an fp32). {@link #get} widens exactly; {@link #set} rounds to nearest even. */
public final class BFloat16Array extends OffHeapArray {
    private static final ValueLayout.OfShort LAYOUT = ValueLayout.JAVA_SHORT;

    public BFloat16Array(int length) { super(length, 2); }

    /** Views {@code segment} (e.g. a memory-mapped tensor) without copying. */
    public BFloat16Array(MemorySegment segment) { super(segment, 2); }

    private BFloat16Array(int length, boolean deviceOnly) { super(length, 2, deviceOnly); }

    /** {@code length} elements in device memory only, allocated by the device backend on first use (no host copy). */
    public static BFloat16Array deviceOnly(int length) { return new BFloat16Array(length, true); }

    public static BFloat16Array of(float... values) {
        BFloat16Array a = new BFloat16Array(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    @Override public int elementBytes() { return 2; }

    public float get(int index) { return BFloat16Array.toFloat(segment().getAtIndex(LAYOUT, index)); }

    public void set(int index, float value) { segment().setAtIndex(LAYOUT, index, BFloat16Array.fromFloat(value)); }

    /** The raw bf16 bits of element {@code index}. */
    public short getBits(int index) { return segment().getAtIndex(LAYOUT, index); }

    /** Widens bf16 bits to float: the 16 bits become the high half of the fp32 pattern. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Narrows to bf16 with round-to-nearest-even, as {@code cvt.rn.bf16.f32} does; NaN stays a quiet NaN. */
    public static short fromFloat(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) return (short) ((bits >>> 16) | 0x0040);
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }
}
