package dev.arbor.accel.array;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/** An off-heap array of 32-bit signed ints. */
public final class IntArray extends OffHeapArray {
    private static final ValueLayout.OfInt LAYOUT = ValueLayout.JAVA_INT;
    private static final VarHandle ATOMIC = LAYOUT.varHandle();

    public IntArray(int length) { super(length, 4); }

    /** Views {@code segment} (e.g. a memory-mapped tensor) without copying. */
    public IntArray(MemorySegment segment) { super(segment, 4); }

    private IntArray(int length, boolean deviceOnly) { super(length, 4, deviceOnly); }

    /** {@code length} elements in device memory only, allocated by the device backend on first use (no host copy). */
    public static IntArray deviceOnly(int length) { return new IntArray(length, true); }

    public static IntArray of(int... values) {
        IntArray a = new IntArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    @Override public int elementBytes() { return 4; }

    public int get(int index) { return segment().getAtIndex(LAYOUT, index); }

    public void set(int index, int value) { segment().setAtIndex(LAYOUT, index, value); }

    /** Atomically adds {@code value} to element {@code index}, returning the previous value. */
    public int atomicAdd(int index, int value) {
        check(index);
        return (int) ATOMIC.getAndAdd(segment(), 4L * index, value);
    }

    public int[] toArray() { return segment().toArray(LAYOUT); }
}
