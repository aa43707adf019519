package dev.arbor.accel.array;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** An off-heap array of signed bytes (int8 weights, raw buffers). */
public final class ByteArray extends OffHeapArray {
    private static final ValueLayout.OfByte LAYOUT = ValueLayout.JAVA_BYTE;

    public ByteArray(int length) { super(length, 1); }

    /** Views {@code segment} (e.g. a memory-mapped tensor) without copying. */
    public ByteArray(MemorySegment segment) { super(segment, 1); }

    public static ByteArray of(byte... values) {
        ByteArray a = new ByteArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    @Override public int elementBytes() { return 1; }

    public byte get(int index) { return segment().get(LAYOUT, index); }

    public void set(int index, byte value) { segment().set(LAYOUT, index, value); }
}
