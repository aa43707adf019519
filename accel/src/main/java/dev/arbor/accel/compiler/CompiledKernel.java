package dev.arbor.accel.compiler;

import java.util.List;

/**
 * The result of compiling one kernel variant: its PTX module text and entry name, how Java arguments
 * map to PTX parameters, and what the CPU executor needs to know (whether work-items synchronise).
 *
 * @param staticSharedBytes bytes of {@code .shared} memory from local arrays
 * @param usesBarriers      true when the kernel calls a barrier or warp operation, so the CPU executor
 *                          must run a group's work-items concurrently
 */
public record CompiledKernel(String entryName, String ptx, List<KernelParam> params, boolean usesBarriers, int staticSharedBytes) {}
