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
 */
public record CompiledKernel(String entryName, String ptx, List<KernelParam> params, boolean usesBarriers, int staticSharedBytes,
                             int localMemoryBytes, List<String> localMemoryArrays) {
    public CompiledKernel(String entryName, String ptx, List<KernelParam> params, boolean usesBarriers, int staticSharedBytes) {
        this(entryName, ptx, params, usesBarriers, staticSharedBytes, 0, List.of());
    }
}
