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

    static float half(long bits, int k) { return KernelContext.fp16ToFloat((short) (bits >>> (16 * k))); }

    static float lowFloat(long bits) { return Float.intBitsToFloat((int) bits); }

    static float highFloat(long bits) { return Float.intBitsToFloat((int) (bits >>> 32)); }

    /**
     * Dot product of 8 halves (lo, hi) with x[c .. c+8), x read with two 16-byte loads: per-lane
     * scalar loads of x would touch 32 sectors per warp instruction, eight times per step.
     */
    static float dot8(long lo, long hi, FloatArray x, int c) {
        int c4 = c + 4;
        long x0 = x.getBits128Low(c), x1 = x.getBits128High(c), x2 = x.getBits128Low(c4), x3 = x.getBits128High(c4);
        return half(lo, 0) * lowFloat(x0) + half(lo, 1) * highFloat(x0) + half(lo, 2) * lowFloat(x1) + half(lo, 3) * highFloat(x1)
                + half(hi, 0) * lowFloat(x2) + half(hi, 1) * highFloat(x2) + half(hi, 2) * lowFloat(x3) + half(hi, 3) * highFloat(x3);
    }

    /**
     * y(rows) = W(rows×cols, fp16, row-major) · x(cols): one warp per row. Each lane reads 16 bytes
     * (8 halves) per step of 256 columns; four steps are loaded before any is used, so every lane has
     * 64 bytes of W in flight (memory latency, not bandwidth, limits a plain loop). cols is a constant,
     * a multiple of 1024.
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
            sum += dot8(a0, b0, x, c0) + dot8(a1, b1, x, c1) + dot8(a2, b2, x, c2) + dot8(a3, b3, x, c3);
        }
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) y.set(row, sum);
    }

    /**
     * {@link #matvecFp16} for programmatic dependent launch: it lets the next launch start at once,
     * issues its first 64 bytes per lane of W (read-only, safe to read early) and only then waits
     * for the previous kernel, so its start-up overlaps that kernel's drain. x and y are touched
     * after the wait. cols is a constant multiple of 1024.
     */
    public static void matvecFp16Overlap(KernelContext ctx, HalfFloatArray w, FloatArray x, FloatArray y, int rows, @Constant int cols) {
        ctx.allowDependentLaunch();
        int row = ctx.groupIdx * (ctx.localGroupSizeX / 32) + ctx.localIdx / 32;
        int lane = ctx.laneId();
        if (row >= rows) return;
        int base = row * cols;
        int c0 = lane * 8;
        int o0 = base + c0, o1 = o0 + 256, o2 = o0 + 512, o3 = o0 + 768;
        long a0 = w.getBits128Low(o0), b0 = w.getBits128High(o0);
        long a1 = w.getBits128Low(o1), b1 = w.getBits128High(o1);
        long a2 = w.getBits128Low(o2), b2 = w.getBits128High(o2);
        long a3 = w.getBits128Low(o3), b3 = w.getBits128High(o3);
        ctx.gridDependencyWait();
        float sum = dot8(a0, b0, x, c0) + dot8(a1, b1, x, c0 + 256) + dot8(a2, b2, x, c0 + 512) + dot8(a3, b3, x, c0 + 768);
        for (c0 += 1024; c0 < cols; c0 += 1024) {
            int p0 = base + c0, p1 = p0 + 256, p2 = p0 + 512, p3 = p0 + 768;
            long e0 = w.getBits128Low(p0), f0 = w.getBits128High(p0);
            long e1 = w.getBits128Low(p1), f1 = w.getBits128High(p1);
            long e2 = w.getBits128Low(p2), f2 = w.getBits128High(p2);
            long e3 = w.getBits128Low(p3), f3 = w.getBits128High(p3);
            sum += dot8(e0, f0, x, c0) + dot8(e1, f1, x, c0 + 256) + dot8(e2, f2, x, c0 + 512) + dot8(e3, f3, x, c0 + 768);
        }
        sum = ctx.warpReduceSum(sum);
        if (lane == 0) y.set(row, sum);
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
