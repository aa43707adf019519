package dev.arbor.accel.compiler;

import java.util.List;

/**
 * The result of compiling one kernel variant: its PTX module text and entry name, how Java arguments
 * map to PTX parameters, and what the CPU executor needs to know (whether work-items synchronise).
 *
 * @param staticSharedBytes bytes of {@code .shared} memory from local arrays
 * @param usesBarriers      true when the kernel calls a barrier or warp operation, so the CPU executor
 *                          must run a group's work-items concurrently
 * @param localMemoryBytes  bytes of per-work-item local memory the kernel declares (register arrays indexed
 *                          at run time); 0 when every register array stayed in registers
 * @param localMemoryArrays one line per register array placed in local memory: where it was allocated and
 *                          where it was indexed at run time (also logged at INFO when compiled)
 * @param clusterDims       blocks a thread-block cluster along x, y, z ({@code KernelContext.clusterDims}, PTX
 *                          {@code .reqnctapercluster}); empty when the kernel declares none. A launch's grid must be
 *                          a multiple of it; the CPU executor runs a cluster's groups together
 */
public record CompiledKernel(String entryName, String ptx, List<KernelParam> params, boolean usesBarriers, int staticSharedBytes,
                             int localMemoryBytes, List<String> localMemoryArrays, List<Integer> clusterDims) {
    public static final List<Integer> NO_CLUSTER = List.of();

    public CompiledKernel(String entryName, String ptx, List<KernelParam> params, boolean usesBarriers, int staticSharedBytes) {
        this(entryName, ptx, params, usesBarriers, staticSharedBytes, 0, List.of(), NO_CLUSTER);
    }

    /** Whether the kernel declares a cluster shape (a cluster of one included: its cluster operations need one). */
    public boolean declaresCluster() { return !clusterDims.isEmpty(); }

    /** The cluster shape as {x, y, z}; {1, 1, 1} when the kernel declares none. */
    public int[] clusterShape() {
        return declaresCluster() ? new int[] {clusterDims.get(0), clusterDims.get(1), clusterDims.get(2)} : new int[] {1, 1, 1};
    }

    /** Why {@code grid} cannot be launched with this kernel's cluster shape, or null when it can. */
    public String clusterProblem(int[] grid) {
        for (int i = 0; i < clusterDims.size(); i++)
            if (grid[i] % clusterDims.get(i) != 0)
                return entryName + " runs in clusters of " + clusterDims + " blocks: a grid of " + java.util.Arrays.toString(grid) + " is not a multiple";
        return null;
    }
}
