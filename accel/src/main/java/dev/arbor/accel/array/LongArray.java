package dev.arbor.accel.array;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/** An off-heap array of 64-bit signed longs. */
public final class LongArray extends OffHeapArray {
    private static final ValueLayout.OfLong LAYOUT = ValueLayout.JAVA_LONG;
    private static final VarHandle ATOMIC = LAYOUT.varHandle();

    public LongArray(int length) { super(length, 8); }

    /** Views {@code segment} (e.g. a memory-mapped tensor) without copying. */
    public LongArray(MemorySegment segment) { super(segment, 8); }

    public static LongArray of(long... values) {
        LongArray a = new LongArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    @Override public int elementBytes() { return 8; }

    public long get(int index) { return segment().getAtIndex(LAYOUT, index); }

    public void set(int index, long value) { segment().setAtIndex(LAYOUT, index, value); }

    /** Atomically adds {@code value} to element {@code index}, returning the previous value. */
    public long atomicAdd(int index, long value) {
        check(index);
        return (long) ATOMIC.getAndAdd(segment(), 8L * index, value);
    }
}
