package dev.arbor.accel.cpu;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;

/**
 * State one work-group shares on the CPU executor: its barrier, its local arrays (the k-th
 * allocation of every work-item returns the same array) and the slots warp shuffles exchange through.
 */
public final class WorkGroup {
    private final int[] grid, block, groupId;
    private final CyclicBarrier barrier; // null when work-items run one after another (no barriers in the kernel)
    private final List<Object> localArrays = new ArrayList<>();
    private final int[] exchangeSlots;
    private final float[] dynamicShared;

    WorkGroup(int[] grid, int[] block, int[] groupId, boolean concurrent, int dynamicSharedBytes) {
        this.grid = grid;
        this.block = block;
        this.groupId = groupId;
        int size = block[0] * block[1] * block[2];
        this.barrier = concurrent ? new CyclicBarrier(size) : null;
        this.exchangeSlots = new int[size];
        this.dynamicShared = new float[dynamicSharedBytes / 4];
    }

    public int[] gridSize() { return grid; }

    public int[] blockSize() { return block; }

    public int[] groupId() { return groupId; }

    public void barrier() {
        if (barrier == null) throw new IllegalStateException("barrier in a group run sequentially");
        try {
            barrier.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("work-item interrupted at a barrier", e);
        } catch (BrokenBarrierException e) {
            throw new IllegalStateException("another work-item of the group failed", e);
        }
    }

    /** Breaks the barrier so work-items waiting on it stop after one of them failed. */
    void abort() {
        if (barrier != null) barrier.reset();
    }

    /** The {@code ordinal}-th local array of the group, created by whichever work-item asks first. */
    public synchronized Object localArray(int ordinal, Class<?> element, int length) {
        while (localArrays.size() <= ordinal) localArrays.add(null);
        Object a = localArrays.get(ordinal);
        if (a == null) {
            a = Array.newInstance(element, length);
            localArrays.set(ordinal, a);
        }
        return a;
    }

    public int[] exchangeSlots() { return exchangeSlots; }

    public float[] dynamicShared() { return dynamicShared; }
}
