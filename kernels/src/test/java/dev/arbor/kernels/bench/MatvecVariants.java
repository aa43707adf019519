package dev.arbor.kernels.bench;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;

/**
 * Experiments beside {@code MatvecKernels.matvecBf16} for the bench (one token, cols a multiple of
 * 1024): the same loop without the general paths and with accel's benchmark indexing, to find what
 * separates it from accel's fp16 benchmark kernel at 4096×4096.
 */
public final class MatvecVariants {
    private MatvecVariants() {}

    /** One warp per row, rows from the block index as in accel's benchmark, rounds of four steps only. */
    public static void lean(KernelContext ctx, BFloat16Array w, FloatArray x, FloatArray out, int rows, @Constant int cols, int tokens) {
        int row = ctx.groupIdx * (ctx.localGroupSizeX / 32) + ctx.localIdx / 32;
        int lane = ctx.laneId();
        if (row >= rows) return;
        int base = row * cols;
        float sum = 0f;
        for (int c = lane * 8; c < cols; c += 1024) {
            int o0 = base + c, o1 = o0 + 256, o2 = o0 + 512, o3 = o0 + 768;
            long a0 = w.getBits128Low(o0), b0 = w.getBits128High(o0);
            long a1 = w.getBits128Low(o1), b1 = w.getBits128High(o1);
            long a2 = w.getBits128Low(o2), b2 = w.getBits128High(o2);
            long a3 = w.getBits128Low(o3), b3 = w.getBits128High(o3);
            sum = dot8(a3, b3, x, c + 768, dot8(a2, b2, x, c + 512, dot8(a1, b1, x, c + 256, dot8(a0, b0, x, c, sum))));
        }
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) out.set(row, sum);
    }

    /** {@link #lean} with the bf16 halves widened by shifts of the 64-bit word (no pair intrinsics). */
    public static void leanShifts(KernelContext ctx, BFloat16Array w, FloatArray x, FloatArray out, int rows, @Constant int cols, int tokens) {
        int row = ctx.groupIdx * (ctx.localGroupSizeX / 32) + ctx.localIdx / 32;
        int lane = ctx.laneId();
        if (row >= rows) return;
        int base = row * cols;
        float sum = 0f;
        for (int c = lane * 8; c < cols; c += 1024) {
            int o0 = base + c, o1 = o0 + 256, o2 = o0 + 512, o3 = o0 + 768;
            long a0 = w.getBits128Low(o0), b0 = w.getBits128High(o0);
            long a1 = w.getBits128Low(o1), b1 = w.getBits128High(o1);
            long a2 = w.getBits128Low(o2), b2 = w.getBits128High(o2);
            long a3 = w.getBits128Low(o3), b3 = w.getBits128High(o3);
            sum = dot8s(a3, b3, x, c + 768, dot8s(a2, b2, x, c + 512, dot8s(a1, b1, x, c + 256, dot8s(a0, b0, x, c, sum))));
        }
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) out.set(row, sum);
    }

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

    /** bf16 k of a 64-bit word: its 16 bits moved to the top of a float. */
    static float bf(long bits, int k) { return Float.intBitsToFloat((int) (bits >>> (16 * k)) << 16); }

    static float dot8s(long lo, long hi, FloatArray x, int c, float sum) {
        int c4 = c + 4;
        long x0 = x.getBits128Low(c), x1 = x.getBits128High(c), x2 = x.getBits128Low(c4), x3 = x.getBits128High(c4);
        sum = Math.fma(bf(lo, 0), Float.intBitsToFloat((int) x0), sum);
        sum = Math.fma(bf(lo, 1), Float.intBitsToFloat((int) (x0 >>> 32)), sum);
        sum = Math.fma(bf(lo, 2), Float.intBitsToFloat((int) x1), sum);
        sum = Math.fma(bf(lo, 3), Float.intBitsToFloat((int) (x1 >>> 32)), sum);
        sum = Math.fma(bf(hi, 0), Float.intBitsToFloat((int) x2), sum);
        sum = Math.fma(bf(hi, 1), Float.intBitsToFloat((int) (x2 >>> 32)), sum);
        sum = Math.fma(bf(hi, 2), Float.intBitsToFloat((int) x3), sum);
        return Math.fma(bf(hi, 3), Float.intBitsToFloat((int) (x3 >>> 32)), sum);
    }
}
