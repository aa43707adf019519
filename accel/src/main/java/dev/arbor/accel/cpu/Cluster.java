package dev.arbor.accel.cpu;

import java.util.concurrent.Phaser;

/**
 * The work-groups of one thread-block cluster on the CPU executor (CUDA's cluster, sm_90: blocks the GPU schedules together
 * on one GPC, each able to read, write and arrive on the others' shared memory): the groups by their rank in the cluster
 * ({@code %cluster_ctarank}: x fastest, as the grid) and the cluster barrier ({@code barrier.cluster}) over all their
 * work-items. Its groups run concurrently, each work-item a virtual thread, so a producer in one group and the consumers
 * it feeds in another make progress together.
 */
public final class Cluster {
    private final int[] dims;
    private final WorkGroup[] groups;
    private final Phaser barrier;

    Cluster(int[] dims, WorkGroup[] groups, int workItems) {
        this.dims = dims;
        this.groups = groups;
        this.barrier = new Phaser(workItems);
    }

    /** Blocks a cluster along x, y, z. */
    public int[] dims() { return dims; }

    /** Blocks in the cluster. */
    public int size() { return groups.length; }

    /** The group of rank {@code rank} (0 .. size − 1). */
    public WorkGroup group(int rank) {
        if (rank < 0 || rank >= groups.length) throw new IllegalArgumentException("cluster rank " + rank + " outside a cluster of " + groups.length);
        return groups[rank];
    }

    /** The rank of a block in its cluster from its group id: {@code x % cx + cx·(y % cy + cy·(z % cz))}. */
    public static int rank(int[] groupId, int[] dims) {
        return groupId[0] % dims[0] + dims[0] * (groupId[1] % dims[1] + dims[1] * (groupId[2] % dims[2]));
    }

    /** {@code barrier.cluster.arrive}: returns the phase to wait on ({@link #await}). */
    public int arrive() {
        int phase = barrier.arrive();
        if (phase < 0) throw new IllegalStateException("another work-item of the cluster failed");
        return phase;
    }

    /** {@code barrier.cluster.wait}: until every work-item of the cluster has arrived on {@code phase}. */
    public void await(int phase) {
        if (barrier.awaitAdvance(phase) < 0) throw new IllegalStateException("another work-item of the cluster failed");
    }

    /** A work-item returned: later cluster barriers stop waiting for it. */
    void finished() { barrier.arriveAndDeregister(); }

    void abort() { barrier.forceTermination(); }
}
