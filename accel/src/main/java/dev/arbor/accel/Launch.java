package dev.arbor.accel;

/**
 * How to launch a kernel: a grid of work-groups and the work-group (block) size, both 1-3D,
 * plus dynamic shared memory in bytes and the stream (null: the backend's default stream).
 * {@code overlapPrevious}: programmatic dependent launch on CUDA (sm_90): the kernel may start
 * while the previous one on the stream finishes, and must call
 * {@link KernelContext#gridDependencyWait()} before reading anything that kernel writes.
 */
public record Launch(int[] grid, int[] block, int sharedBytes, AccelStream stream, boolean overlapPrevious) {
    public Launch {
        if (grid.length != 3 || block.length != 3) throw new IllegalArgumentException("grid and block are 3D");
        for (int i = 0; i < 3; i++)
            if (grid[i] < 1 || block[i] < 1) throw new IllegalArgumentException("grid and block sizes must be >= 1");
        if (sharedBytes < 0) throw new IllegalArgumentException("negative shared memory");
        grid = grid.clone();
        block = block.clone();
    }

    public Launch(int[] grid, int[] block, int sharedBytes, AccelStream stream) {
        this(grid, block, sharedBytes, stream, false);
    }

    /** {@code groups} work-groups of {@code blockX} work-items along x. */
    public static Launch of1D(int groups, int blockX) {
        return new Launch(new int[]{groups, 1, 1}, new int[]{blockX, 1, 1}, 0, null);
    }

    /** Enough work-groups of {@code blockX} to cover {@code n} work-items (at least one group); kernels guard the tail. */
    public static Launch cover(int n, int blockX) {
        return of1D(Math.max(1, (n + blockX - 1) / blockX), blockX);
    }

    public static Launch of(int[] grid, int[] block) { return new Launch(grid, block, 0, null); }

    public Launch withSharedBytes(int bytes) { return new Launch(grid, block, bytes, stream, overlapPrevious); }

    public Launch on(AccelStream s) { return new Launch(grid, block, sharedBytes, s, overlapPrevious); }

    /** This launch may overlap the tail of the previous kernel on its stream (see the class comment). */
    public Launch overlappingPrevious() { return new Launch(grid, block, sharedBytes, stream, true); }

    public int blockThreads() { return block[0] * block[1] * block[2]; }

    public long groupCount() { return (long) grid[0] * grid[1] * grid[2]; }
}
