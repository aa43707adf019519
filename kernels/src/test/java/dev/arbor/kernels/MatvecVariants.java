package dev.arbor.kernels;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;

/**
 * Experiments beside {@link MatvecKernels#matvecBf16} for the bench (one token, cols a multiple of
 * 1024): the same rounds without the general paths and with accel's benchmark indexing, to find what
 * separates it from accel's fp16 benchmark kernel at 4096×4096.
 */
public final class MatvecVariants {
    private MatvecVariants() {}

    /** One warp per row, rows from the block index as in accel's benchmark, {@link MatvecKernels#round4} only. */
    public static void lean(KernelContext ctx, BFloat16Array w, FloatArray x, FloatArray out, int rows, @Constant int cols, int tokens) {
        rowPerWarp(ctx, w, x, out, rows, cols, false);
    }

    /** {@link #lean} with the bf16 halves widened by shifts of the 64-bit word (no pair intrinsics). */
    public static void leanShifts(KernelContext ctx, BFloat16Array w, FloatArray x, FloatArray out, int rows, @Constant int cols, int tokens) {
        rowPerWarp(ctx, w, x, out, rows, cols, true);
    }

    private static void rowPerWarp(KernelContext ctx, BFloat16Array w, FloatArray x, FloatArray out, int rows, int cols, boolean shifts) {
        int row = ctx.groupIdx * (ctx.localGroupSizeX / 32) + ctx.localIdx / 32;
        int lane = ctx.laneId();
        if (row >= rows) return;
        int base = row * cols;
        float sum = 0f;
        for (int c = lane * 8; c < cols; c += 1024) {
            sum = shifts ? round4Shifts(w, base + c, x, c, sum) : MatvecKernels.round4(w, base + c, x, c, sum);
        }
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) out.set(row, sum);
    }

    /** {@link MatvecKernels#round4} with {@link #dot8Shifts}. */
    static float round4Shifts(BFloat16Array w, int o, FloatArray x, int xc, float sum) {
        int o1 = o + 256, o2 = o + 512, o3 = o + 768;
        long a0 = w.getBits128Low(o), b0 = w.getBits128High(o);
        long a1 = w.getBits128Low(o1), b1 = w.getBits128High(o1);
        long a2 = w.getBits128Low(o2), b2 = w.getBits128High(o2);
        long a3 = w.getBits128Low(o3), b3 = w.getBits128High(o3);
        return dot8Shifts(a3, b3, x, xc + 768, dot8Shifts(a2, b2, x, xc + 512, dot8Shifts(a1, b1, x, xc + 256, dot8Shifts(a0, b0, x, xc, sum))));
    }

    /** bf16 k of a 64-bit word: its 16 bits moved to the top of a float. */
    static float bf(long bits, int k) { return Float.intBitsToFloat((int) (bits >>> (16 * k)) << 16); }

    static float dot8Shifts(long lo, long hi, FloatArray x, int c, float sum) {
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
