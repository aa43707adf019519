package dev.arbor.kernels;

import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.FloatArray;

/**
 * The element-wise and per-row stages of a transformer layer as accel kernels: run by the accel
 * CPU executor in the CPU forward pass today, compiled to PTX for the GPU. Each mirrors the plain
 * loop in {@link LayerReference} operation for operation, so on the CPU the two agree bit for bit.
 */
public final class LayerKernels {
    private LayerKernels() {}

    /**
     * RMSNorm, one work-item per row: {@code out[r] = w * x[r] / sqrt(mean(x[r]^2) + eps)}. The
     * square sum is accumulated in double, as the reference implementation's float32 result needs.
     * {@code out} may be {@code x}.
     *
     * @param x   (rows, n)
     * @param w   (n)
     * @param out (rows, n)
     */
    public static void rmsNorm(KernelContext ctx, FloatArray x, FloatArray w, FloatArray out, int rows, int n, double eps) {
        int r = ctx.globalIdx;
        if (r >= rows) return;
        int o = r * n;
        double sq = 0;
        for (int i = 0; i < n; i++) {
            float v = x.get(o + i);
            sq += v * v;
        }
        float inv = (float) (1.0 / Math.sqrt(sq / n + eps));
        for (int i = 0; i < n; i++) out.set(o + i, w.get(i) * (x.get(o + i) * inv));
    }

    /** SwiGLU, one work-item per element: {@code gate = silu(gate) * up}. (n) */
    public static void siluMul(KernelContext ctx, FloatArray gate, FloatArray up, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float g = gate.get(i);
        gate.set(i, g / (1f + KMath.exp(-g)) * up.get(i));
    }

    /**
     * Rotary embedding (rotate_half form), in place, one work-item per rotated pair: dimension i of a
     * head turns with dimension i + half by the angle of its token and frequency. Products and sums
     * in the reference's order (Java forbids contracting them into FMAs, so the GPU rounds alike).
     *
     * @param x   (tokens, heads * 2*half)
     * @param cos (tokens, half)
     * @param sin (tokens, half)
     */
    public static void rope(KernelContext ctx, FloatArray x, FloatArray cos, FloatArray sin, int tokens, int heads, int half) {
        int idx = ctx.globalIdx;
        if (idx >= tokens * heads * half) return;
        int i = idx % half, th = idx / half, t = th / heads;
        int o = th * 2 * half;
        float x1 = x.get(o + i), x2 = x.get(o + i + half);
        float cs = cos.get(t * half + i), sn = sin.get(t * half + i);
        x.set(o + i, x1 * cs - x2 * sn);
        x.set(o + i + half, x2 * cs + x1 * sn);
    }

    /** Residual add, one work-item per element: {@code x += y}. (n) */
    public static void add(KernelContext ctx, FloatArray x, FloatArray y, int n) {
        int i = ctx.globalIdx;
        if (i < n) x.set(i, x.get(i) + y.get(i));
    }
}
