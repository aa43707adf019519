package dev.arbor.accel.bench;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;

/** Kernels for the bandwidth benchmarks. */
public final class BenchKernels {
    private BenchKernels() {}

    /** y = a·x + y, one element per work-item. */
    public static void saxpy(KernelContext ctx, float a, FloatArray x, FloatArray y, int n) {
        int i = ctx.globalIdx;
        if (i < n) y.set(i, a * x.get(i) + y.get(i));
    }

    /** y = a·x + y, two elements per work-item read with one 8-byte load from each array; n even. */
    public static void saxpy2(KernelContext ctx, float a, FloatArray x, FloatArray y, int n) {
        int i = 2 * ctx.globalIdx;
        if (i >= n) return;
        long xs = x.getBits64(i), ys = y.getBits64(i);
        y.set(i, a * Float.intBitsToFloat((int) xs) + Float.intBitsToFloat((int) ys));
        y.set(i + 1, a * Float.intBitsToFloat((int) (xs >>> 32)) + Float.intBitsToFloat((int) (ys >>> 32)));
    }

    static float lowFloat(long bits) { return Float.intBitsToFloat((int) bits); }

    static float highFloat(long bits) { return Float.intBitsToFloat((int) (bits >>> 32)); }

    /**
     * {@code sum + lo·x[c..c+4) + hi·x[c+4..c+8)} for 8 halves of W packed in (lo, hi): x read with
     * two 16-byte loads (per-lane scalar loads would touch 32 sectors per warp instruction), each half
     * converted from its register half ({@link KernelContext#fp16LowToFloat}: one instruction, where
     * shifting and narrowing first took three), one fused multiply-add per element.
     */
    static float dot8(long lo, long hi, FloatArray x, int c, float sum) {
        int c4 = c + 4;
        long x0 = x.getBits128Low(c), x1 = x.getBits128High(c), x2 = x.getBits128Low(c4), x3 = x.getBits128High(c4);
        int w0 = (int) lo, w1 = (int) (lo >>> 32), w2 = (int) hi, w3 = (int) (hi >>> 32);
        sum = Math.fma(KernelContext.fp16LowToFloat(w0), lowFloat(x0), sum);
        sum = Math.fma(KernelContext.fp16HighToFloat(w0), highFloat(x0), sum);
        sum = Math.fma(KernelContext.fp16LowToFloat(w1), lowFloat(x1), sum);
        sum = Math.fma(KernelContext.fp16HighToFloat(w1), highFloat(x1), sum);
        sum = Math.fma(KernelContext.fp16LowToFloat(w2), lowFloat(x2), sum);
        sum = Math.fma(KernelContext.fp16HighToFloat(w2), highFloat(x2), sum);
        sum = Math.fma(KernelContext.fp16LowToFloat(w3), lowFloat(x3), sum);
        return Math.fma(KernelContext.fp16HighToFloat(w3), highFloat(x3), sum);
    }

    /**
     * y(rows) = W(rows×cols, fp16, row-major) · x(cols): one warp per row. Each lane reads 16 bytes
     * (8 halves) per step of 256 columns; four steps are loaded before any is used, so every lane has
     * 64 bytes of W in flight. cols is a constant, a multiple of 1024. The arithmetic per element
     * matters at 4096×4096, where all 4,096 warps are resident at once: the same loads with no
     * arithmetic ({@link #readRows}) reach 88% of the copy floor; with shift-and-narrow conversions
     * and separate multiply and add (256 SASS instructions) this kernel reached 78%, with
     * {@link #dot8}'s (176 instructions) 86%.
     */
    public static void matvecFp16(KernelContext ctx, HalfFloatArray w, FloatArray x, FloatArray y, int rows, @Constant int cols) {
        int row = ctx.groupIdx * (ctx.localGroupSizeX / 32) + ctx.localIdx / 32;
        int lane = ctx.laneId();
        if (row >= rows) return;
        int base = row * cols;
        float sum = 0f;
        for (int c0 = lane * 8; c0 < cols; c0 += 1024) {
            int c1 = c0 + 256, c2 = c0 + 512, c3 = c0 + 768;
            int o0 = base + c0, o1 = base + c1, o2 = base + c2, o3 = base + c3;
            long a0 = w.getBits128Low(o0), b0 = w.getBits128High(o0);
            long a1 = w.getBits128Low(o1), b1 = w.getBits128High(o1);
            long a2 = w.getBits128Low(o2), b2 = w.getBits128High(o2);
            long a3 = w.getBits128Low(o3), b3 = w.getBits128High(o3);
            sum = dot8(a3, b3, x, c3, dot8(a2, b2, x, c2, dot8(a1, b1, x, c1, dot8(a0, b0, x, c0, sum))));
        }
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) y.set(row, sum);
    }

    /**
     * The read side of {@link #matvecFp16} alone: each warp streams its row of W with the same loads
     * and folds the bits into one word; no x, no conversions. Its bandwidth is the ceiling for a
     * kernel reading a matrix of this size in one launch this way (y gets the folded bits).
     */
    public static void readRows(KernelContext ctx, HalfFloatArray w, FloatArray x, FloatArray y, int rows, @Constant int cols) {
        int row = ctx.groupIdx * (ctx.localGroupSizeX / 32) + ctx.localIdx / 32;
        int lane = ctx.laneId();
        if (row >= rows) return;
        int base = row * cols;
        long acc = 0;
        for (int c0 = lane * 8; c0 < cols; c0 += 1024) {
            int o0 = base + c0, o1 = o0 + 256, o2 = o0 + 512, o3 = o0 + 768;
            long a0 = w.getBits128Low(o0), b0 = w.getBits128High(o0);
            long a1 = w.getBits128Low(o1), b1 = w.getBits128High(o1);
            long a2 = w.getBits128Low(o2), b2 = w.getBits128High(o2);
            long a3 = w.getBits128Low(o3), b3 = w.getBits128High(o3);
            acc += (a0 ^ b0) + (a1 ^ b1) + (a2 ^ b2) + (a3 ^ b3);
        }
        int folded = ctx.warpReduceSum((int) (acc ^ (acc >>> 32)));
        if (lane == 0) y.set(row, Float.intBitsToFloat(folded & 0x007FFFFF));
    }

    /** A kernel that does almost nothing, for launch overhead. */
    public static void tiny(KernelContext ctx, FloatArray x) {
        if (ctx.globalIdx == 0) x.set(0, x.get(0) + 1f);
    }

    /** A kernel compiled for the first time in the benchmark (for first-compile time). */
    public static void firstCompile(KernelContext ctx, FloatArray x, FloatArray y, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float v = x.get(i);
        for (int k = 0; k < 8; k++) v = Math.fma(v, 0.5f, (float) k);
        y.set(i, Math.max(v, 0f));
    }
}
