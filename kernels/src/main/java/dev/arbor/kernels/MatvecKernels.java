package dev.arbor.kernels;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;

/**
 * Matrix-vector products with bf16 weights, the shape of a decode step: {@code out (tokens, rows) =
 * x (tokens, cols) · Wᵀ} for W (rows, cols) as checkpoints store it. One warp per (token, row): each
 * lane reads 16 bytes of W (8 weights) and of x per 256-column step, four steps in flight, unpacks
 * the bf16 pairs in registers ({@link KernelContext#bf16LowToFloat}) and accumulates with fused
 * multiply-adds; a warp reduction gives the dot product. The pattern, measured in accel's fp16
 * benchmark, reaches 86-92% of the H100's copy bandwidth at 4096 and 11008 rows. For many tokens
 * each warp re-reads its row (from L2): a tiled tensor-core kernel is the prefill path.
 */
public final class MatvecKernels {
    private MatvecKernels() {}

    /** Threads per block: 8 warps, 8 (token, row) pairs per block. */
    public static final int BLOCK = 256;

    /**
     * @param w      (rows, cols) bf16
     * @param x      (tokens, cols)
     * @param out    (tokens, rows)
     * @param cols   a constant (one compiled variant per width); a multiple of 8 takes the vector path
     * @param tokens launch {@code rows * tokens} warps: {@code Launch.cover(rows * tokens * 32, BLOCK)}; warp i
     *               computes row i / tokens for token i % tokens
     */
    public static void matvecBf16(KernelContext ctx, BFloat16Array w, FloatArray x, FloatArray out, int rows, @Constant int cols, int tokens) {
        int warp = (ctx.groupIdx * ctx.localGroupSizeX + ctx.localIdx) / 32;
        int lane = ctx.laneId();
        if (warp >= rows * tokens) return;   // whole warps leave together, so the reduction below sees all 32 lanes
        // The tokens of one row are neighbouring warps of a block: the row comes from DRAM once, then from cache.
        int row = warp / tokens, t = warp % tokens;
        int base = row * cols, xo = t * cols;
        float sum = 0f;
        if (cols % 1024 == 0) {
            for (int c = lane * 8; c < cols; c += 1024) {   // four 256-column steps per round, all loads first
                sum = round4(w, base + c, x, xo + c, sum);
            }
        } else if (cols % 8 == 0) {
            int c = lane * 8;
            for (; c + 776 <= cols; c += 1024) {   // whole rounds while they fit (c + 768 + 8 <= cols) ...
                sum = round4(w, base + c, x, xo + c, sum);
            }
            for (; c < cols; c += 256) {           // ... then single steps
                int o = base + c;
                long a = w.getBits128Low(o), b = w.getBits128High(o);
                sum = dot8(a, b, x, xo + c, sum);
            }
        } else {
            for (int c = lane; c < cols; c += 32) sum = Math.fma(w.get(base + c), x.get(xo + c), sum);
        }
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) out.set(t * rows + row, sum);
    }

    /** Four 256-column steps from W element {@code o} and x element {@code xc}: all four loads of W first. */
    static float round4(BFloat16Array w, int o, FloatArray x, int xc, float sum) {
        int o1 = o + 256, o2 = o + 512, o3 = o + 768;
        long a0 = w.getBits128Low(o), b0 = w.getBits128High(o);
        long a1 = w.getBits128Low(o1), b1 = w.getBits128High(o1);
        long a2 = w.getBits128Low(o2), b2 = w.getBits128High(o2);
        long a3 = w.getBits128Low(o3), b3 = w.getBits128High(o3);
        return dot8(a3, b3, x, xc + 768, dot8(a2, b2, x, xc + 512, dot8(a1, b1, x, xc + 256, dot8(a0, b0, x, xc, sum))));
    }

    /** {@code sum + Σ w[k]·x[c+k]} for the 8 bf16 weights packed in (lo, hi), x read with two 16-byte loads. */
    static float dot8(long lo, long hi, FloatArray x, int c, float sum) {
        int c4 = c + 4;
        long x0 = x.getBits128Low(c), x1 = x.getBits128High(c), x2 = x.getBits128Low(c4), x3 = x.getBits128High(c4);
        int w0 = (int) lo, w1 = (int) (lo >>> 32), w2 = (int) hi, w3 = (int) (hi >>> 32);
        sum = Math.fma(KernelContext.bf16LowToFloat(w0), Float.intBitsToFloat((int) x0), sum);
        sum = Math.fma(KernelContext.bf16HighToFloat(w0), Float.intBitsToFloat((int) (x0 >>> 32)), sum);
        sum = Math.fma(KernelContext.bf16LowToFloat(w1), Float.intBitsToFloat((int) x1), sum);
        sum = Math.fma(KernelContext.bf16HighToFloat(w1), Float.intBitsToFloat((int) (x1 >>> 32)), sum);
        sum = Math.fma(KernelContext.bf16LowToFloat(w2), Float.intBitsToFloat((int) x2), sum);
        sum = Math.fma(KernelContext.bf16HighToFloat(w2), Float.intBitsToFloat((int) (x2 >>> 32)), sum);
        sum = Math.fma(KernelContext.bf16LowToFloat(w3), Float.intBitsToFloat((int) x3), sum);
        return Math.fma(KernelContext.bf16HighToFloat(w3), Float.intBitsToFloat((int) (x3 >>> 32)), sum);
    }

    /**
     * As {@link #matvecBf16} for fp16 weights: one warp per (token, row), lanes strided over the
     * columns (4-byte loads of weight pairs when cols is even), fp32 accumulation, warp reduction.
     * The plain path for fp16 checkpoints until the tensor-core GEMM takes them.
     */
    public static void matvecF16(KernelContext ctx, HalfFloatArray w, FloatArray x, FloatArray out, int rows, int cols, int tokens) {
        int warp = (ctx.groupIdx * ctx.localGroupSizeX + ctx.localIdx) / 32;
        int lane = ctx.laneId();
        if (warp >= rows * tokens) return;
        int row = warp / tokens, t = warp % tokens;
        int base = row * cols, xo = t * cols;
        float sum = 0f;
        for (int c = lane; c < cols; c += 32) sum = Math.fma(w.get(base + c), x.get(xo + c), sum);
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) out.set(t * rows + row, sum);
    }

    /**
     * As {@link #matvecBf16} for fp32 weights (Baichuan's NormHead lm_head, whose L2-normalised rows are
     * kept in fp32 so that logits match the reference within 1e-3).
     */
    public static void matvecF32(KernelContext ctx, FloatArray w, FloatArray x, FloatArray out, int rows, int cols, int tokens) {
        int warp = (ctx.groupIdx * ctx.localGroupSizeX + ctx.localIdx) / 32;
        int lane = ctx.laneId();
        if (warp >= rows * tokens) return;
        int row = warp / tokens, t = warp % tokens;
        int base = row * cols, xo = t * cols;
        float sum = 0f;
        for (int c = lane; c < cols; c += 32) sum = Math.fma(w.get(base + c), x.get(xo + c), sum);
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) out.set(t * rows + row, sum);
    }
}
