package dev.arbor.accel.cpu;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Phaser;

/**
 * State one work-group shares on the CPU executor: its barrier, its local arrays (the k-th
 * allocation of every work-item returns the same array) and the slots warp shuffles exchange through.
 */
public final class WorkGroup {
    private int[] grid, block;
    private final int[] groupId;
    /** Null when work-items run one after another (no barriers in the kernel). A Phaser, unlike a CyclicBarrier, can be terminated for good when a work-item fails. */
    private final Phaser barrier;
    private final List<Object> localArrays = new ArrayList<>();
    private final int[] exchangeSlots;
    private float[] dynamicShared;
    private int[] dynamicSharedInts;
    private final Object[] objectSlots;
    /** The cluster this group belongs to (a launch of a kernel with {@code KernelContext.clusterDims}), else null. */
    private Cluster cluster;
    private static final float[] EMPTY_FLOATS = {};
    private static final int[] EMPTY_INTS = {};

    WorkGroup(int[] grid, int[] block, int[] groupId, boolean concurrent, int dynamicSharedBytes) {
        this.grid = grid;
        this.block = block;
        this.groupId = groupId;
        int size = block[0] * block[1] * block[2];
        this.barrier = concurrent ? new Phaser(size) : null;
        // NOTE: warp exchanges need barriers, so a group run sequentially never uses these slots; not
        // allocating them there saves ~2 KB per group (the CPU forward pass launches thousands per step).
        this.exchangeSlots = concurrent ? new int[size] : null;
        this.dynamicShared = dynamicSharedBytes == 0 ? EMPTY_FLOATS : new float[dynamicSharedBytes / 4];
        this.dynamicSharedInts = dynamicSharedBytes == 0 ? EMPTY_INTS : new int[dynamicSharedBytes / 4];
        this.objectSlots = concurrent ? new Object[size] : null;
    }

    /**
     * Points this (sequential) group at another launch: its grid, block and dynamic shared size. The CPU executor
     * keeps one such group per thread and moves it from group to group ({@link #moveTo}), so a launch of
     * thousands of groups allocates nothing per group. Local arrays are dropped (another kernel may run next);
     * dynamic shared memory is kept when its size matches. Like the GPU's shared memory, neither is zeroed
     * between groups.
     */
    void reuseFor(int[] grid, int[] block, int dynamicSharedBytes) {
        if (barrier != null) throw new IllegalStateException("only groups run sequentially are reused");
        this.grid = grid;
        this.block = block;
        if (!localArrays.isEmpty()) localArrays.clear();
        if (dynamicShared.length != dynamicSharedBytes / 4) {
            dynamicShared = dynamicSharedBytes == 0 ? EMPTY_FLOATS : new float[dynamicSharedBytes / 4];
            dynamicSharedInts = dynamicSharedBytes == 0 ? EMPTY_INTS : new int[dynamicSharedBytes / 4];
        }
    }

    /** Sets this group's id to the {@code linear}-th group of the grid (x fastest). */
    void moveTo(int linear) {
        groupId[0] = linear % grid[0];
        groupId[1] = (linear / grid[0]) % grid[1];
        groupId[2] = linear / (grid[0] * grid[1]);
    }

    public int[] gridSize() { return grid; }

    public int[] blockSize() { return block; }

    public int[] groupId() { return groupId; }

    /** This group's cluster, or null when the kernel declares none (a cluster of one). */
    public Cluster cluster() { return cluster; }

    void joinCluster(Cluster c) { this.cluster = c; }

    public void barrier() {
        if (barrier == null) throw new IllegalStateException("barrier in a group run sequentially");
        if (barrier.arriveAndAwaitAdvance() < 0) throw new IllegalStateException("another work-item of the group failed");
    }

    /**
     * A work-item returned: later barriers and warp operations stop waiting for it, as on the GPU,
     * where a warp that exited early does not hold up the rest of its group.
     */
    void finished() {
        if (barrier != null) barrier.arriveAndDeregister();
        if (cluster != null) cluster.finished();
    }

    /** Terminates the barrier: work-items waiting at it, or arriving later, stop with an exception. */
    void abort() {
        if (barrier != null) barrier.forceTermination();
        if (cluster != null) cluster.abort();
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

    public int[] exchangeSlots() { return checked(exchangeSlots); }

    public float[] dynamicShared() { return dynamicShared; }

    /** Dynamic shared memory as words (a separate array from {@link #dynamicShared()} on the CPU). */
    public int[] dynamicSharedInts() { return dynamicSharedInts; }

    /** Per work-item slots for warp collectives that exchange several values (mma, ldmatrix). */
    public Object[] objectSlots() { return checked(objectSlots); }

    private static <T> T checked(T slots) {
        if (slots == null) throw new IllegalStateException("warp exchange in a group run sequentially (the kernel has no barriers)");
        return slots;
    }
}
