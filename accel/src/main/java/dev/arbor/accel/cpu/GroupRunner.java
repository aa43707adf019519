package dev.arbor.accel.cpu;

import dev.arbor.accel.KernelContext;

/**
 * Runs every work-item of one work-group, one after another, for kernels without barriers or warp
 * operations. An implementation is generated per kernel ({@link GroupRunners}) so that each
 * work-item is a direct static call the JIT can inline, rather than a method-handle spread call.
 */
public interface GroupRunner {
    /**
     * @param ctx  the group's context, re-placed for each work-item
     * @param args the kernel's arguments after the context, boxed as given to {@code launch}
     */
    void run(KernelContext ctx, int blockX, int blockY, int blockZ, Object[] args);
}
