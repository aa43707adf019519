package dev.arbor.kernels.attention;

import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;

/**
 * Stores the step's new K and V rows into the paged KV store of one layer, laid out
 * {@code [numBlocks][kvHeads][blockSize][headDim]} (a block is one contiguous range; a head's slots in
 * a block are contiguous, so attention streams them). One work-item per (token, kv head, dim).
 * A slot of -1 (vLLM's padding convention) or one whose block lies outside the store writes nothing.
 */
public final class KvCacheKernels {
    private KvCacheKernels() {}

    /**
     * bf16 store, rounded to nearest even ({@code BFloat16Array.set}).
     *
     * @param k           (tokens, kvHeads * headDim) fp32
     * @param v           (tokens, kvHeads * headDim) fp32
     * @param kCache      (numBlocks, kvHeads, blockSize, headDim) bf16
     * @param vCache      same shape as kCache
     * @param slotMapping (tokens) {@code block * blockSize + offset} of each token
     *                    Launch: {@code Launch.cover(tokens * kvHeads * headDim, 256)}.
     */
    public static void writeKvBf16(KernelContext ctx, FloatArray k, FloatArray v, BFloat16Array kCache, BFloat16Array vCache,
                                   IntArray slotMapping, int tokens, int kvHeads, int headDim, int blockSize, int numBlocks) {
        int idx = ctx.globalIdx, at = target(slotMapping, idx, tokens, kvHeads, headDim, blockSize, numBlocks);
        if (at < 0) return;
        kCache.set(at, k.get(idx));
        vCache.set(at, v.get(idx));
    }

    /** As {@link #writeKvBf16} for an fp16 store, rounded to nearest even ({@code KernelContext.floatToFp16}: {@code cvt.rn.f16.f32}). */
    public static void writeKvF16(KernelContext ctx, FloatArray k, FloatArray v, HalfFloatArray kCache, HalfFloatArray vCache,
                                  IntArray slotMapping, int tokens, int kvHeads, int headDim, int blockSize, int numBlocks) {
        int idx = ctx.globalIdx, at = target(slotMapping, idx, tokens, kvHeads, headDim, blockSize, numBlocks);
        if (at < 0) return;
        kCache.set(at, k.get(idx));
        vCache.set(at, v.get(idx));
    }

    /** As {@link #writeKvBf16} for an fp32 store (the float32-accuracy mode): exact copies. */
    public static void writeKvF32(KernelContext ctx, FloatArray k, FloatArray v, FloatArray kCache, FloatArray vCache,
                                  IntArray slotMapping, int tokens, int kvHeads, int headDim, int blockSize, int numBlocks) {
        int idx = ctx.globalIdx, at = target(slotMapping, idx, tokens, kvHeads, headDim, blockSize, numBlocks);
        if (at < 0) return;
        kCache.set(at, k.get(idx));
        vCache.set(at, v.get(idx));
    }

    /**
     * Store index of work-item idx's element (token idx / kvDim, head*headDim + d), or -1 when it writes
     * nothing: past the step, a slot of -1, or a block outside the store. The variants differ only in
     * the store's element type, which a helper cannot abstract over ({@code set} is declared per array class).
     */
    static int target(IntArray slotMapping, int idx, int tokens, int kvHeads, int headDim, int blockSize, int numBlocks) {
        int kvDim = kvHeads * headDim;
        if (idx >= tokens * kvDim) return -1;
        int t = idx / kvDim, hd = idx - t * kvDim;
        int slot = slotMapping.get(t);
        int block = slot / blockSize;
        if (slot < 0 || block >= numBlocks) return -1;
        return slotIndex(block, slot - block * blockSize, hd, kvHeads, headDim, blockSize);
    }

    /** Element index of (block, offset, head*headDim + d) in the store. */
    static int slotIndex(int block, int offset, int hd, int kvHeads, int headDim, int blockSize) {
        int h = hd / headDim, d = hd - h * headDim;
        return ((block * kvHeads + h) * blockSize + offset) * headDim + d;
    }
}
