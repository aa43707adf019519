package dev.arbor.kernels;

import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.OffHeapArray;

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

    /** Work-items per row of {@link #rmsNormRows}. */
    public static final int NORM_GROUP = 256;

    /**
     * RMSNorm with one work-group of {@link #NORM_GROUP} work-items per row, for the GPU (where
     * {@link #rmsNorm}'s one work-item per row leaves a decode step's single row to one thread): each
     * work-item sums x² over a strided slice in double, a tree reduction in local memory adds the slices
     * in a fixed order (so a row's result depends only on the row, never on the batch), then every
     * work-item scales its slice. Launch exactly {@code rows} groups: {@code Launch.of1D(rows, NORM_GROUP)}.
     *
     * @param x   (rows, n)
     * @param w   (n)
     * @param out (rows, n); may be x
     */
    public static void rmsNormRows(KernelContext ctx, FloatArray x, FloatArray w, FloatArray out, int n, double eps) {
        rmsNormRow(ctx, x, w, out, n, eps);
    }

    /** {@link #rmsNormRows}' body for the group's row, into an fp32 or a bf16 {@code out} ({@link #scaleStrided}). */
    private static void rmsNormRow(KernelContext ctx, FloatArray x, FloatArray w, OffHeapArray out, int n, double eps) {
        int r = ctx.groupIdx, t = ctx.localIdx;
        double[] partial = ctx.allocateDoubleLocalArray(NORM_GROUP);
        int o = r * n;
        // a work-item's elements in chunks of NORM_CHUNK, every load of a chunk (x and w) issued before any is used (one
        // memory latency a chunk, not one an element); the sums in the plain loop's order (ascending i), so the same bits.
        // The scaling takes the last chunk's x and w from registers (a row of up to 4096 is one chunk: no reload) and
        // reloads the earlier ones, the last first (out may be x: the earlier chunks' elements are not written before).
        float[] v = new float[NORM_CHUNK];
        float[] ws = new float[NORM_CHUNK];
        double sq = 0;
        for (int i0 = t; i0 < n; i0 += NORM_CHUNK * NORM_GROUP) sq = sumSquaresChunk(x, w, v, ws, o, i0, n, sq);
        partial[t] = sq;
        ctx.localBarrier();
        for (int s = NORM_GROUP / 2; s > 0; s >>= 1) {
            if (t < s) partial[t] += partial[t + s];
            ctx.localBarrier();
        }
        float inv = (float) (1.0 / Math.sqrt(partial[0] / n + eps));
        int last = t + (n - 1) / (NORM_CHUNK * NORM_GROUP) * (NORM_CHUNK * NORM_GROUP);   // the chunk v and ws hold, if this work-item reached it
        if (last < n) scaleStrided(x, w, out, v, ws, o, last, n, inv, 0, NORM_CHUNK, NORM_GROUP);
        for (int i0 = t; i0 < n; i0 += NORM_CHUNK * NORM_GROUP)
            if (i0 != last) scaleStrided(x, w, out, v, ws, o, i0, n, inv, 1, NORM_CHUNK, NORM_GROUP);
    }

    /**
     * {@link #rmsNormRows} writing bf16: the same sums, tree and scaling, each fp32 result rounded to nearest even as it is
     * stored ({@code cvt.rn.bf16.f32}, as {@code GemmKernels.toBf16x8} rounds it), so {@code out} holds exactly the bf16 copy
     * the GEMM's conversion pass would make of {@link #rmsNormRows}' output. For a norm whose only reader is a tensor-core GEMM
     * that converts X first (the TMA tiles): the producer writes half the bytes and the conversion pass (a read of the
     * fp32 rows and a launch) goes. Launch exactly {@code rows} groups: {@code Launch.of1D(rows, NORM_GROUP)}.
     *
     * @param x   (rows, n)
     * @param w   (n)
     * @param out (rows, n) bf16; not x
     */
    public static void rmsNormRowsBf16(KernelContext ctx, FloatArray x, FloatArray w, BFloat16Array out, int n, double eps) {
        rmsNormRow(ctx, x, w, out, n, eps);
    }

    /**
     * {@link #rmsNormRowsBf16} that also zeroes row r of {@code z}, {@code zn} floats (z[r·zn .. r·zn + zn)): the output of the
     * split-K GEMM that reads this norm's rows next (its K slices added into z by atomics), so that GEMM needs no zeroing launch
     * of its own. The norm's sums, tree, scaling and rounding are {@link #rmsNormRowsBf16}'s: the same bits in {@code out}. Launched
     * without programmatic overlap, so every kernel before it (z's last reader among them) has finished. Launch exactly
     * {@code rows} groups: {@code Launch.of1D(rows, NORM_GROUP)}.
     *
     * @param z (rows, zn), not x, w or out
     */
    public static void rmsNormRowsBf16Zero(KernelContext ctx, FloatArray x, FloatArray w, BFloat16Array out, int n, double eps, FloatArray z, int zn) {
        int o = ctx.groupIdx * zn;
        for (int i = ctx.localIdx; i < zn; i += NORM_GROUP) z.set(o + i, 0f);
        rmsNormRow(ctx, x, w, out, n, eps);
    }

    /** Elements of a row one work-item of {@link #rmsNormRows} loads before using any: 16, a 4096-wide row in one chunk. */
    public static final int NORM_CHUNK = 16;

    /** sq + Σ x[o + i]² for i = i0 + j·NORM_GROUP &lt; n by ascending j, the chunk's loads first (x into v, w into ws). */
    @Unroll
    static double sumSquaresChunk(FloatArray x, FloatArray w, float[] v, float[] ws, int o, int i0, int n, double sq) {
        for (int j = 0; j < NORM_CHUNK; j++) {
            int i = i0 + j * NORM_GROUP;
            if (i < n) {
                v[j] = x.get(o + i);
                ws[j] = w.get(i);
            }
        }
        for (int j = 0; j < NORM_CHUNK; j++) {
            if (i0 + j * NORM_GROUP < n) sq += v[j] * v[j];
        }
        return sq;
    }

    /**
     * out[o + i] = w[i] · (x[o + i] · inv) for i = i0 + j·{@code stride} &lt; n, j &lt; {@code count} (out may be x): with
     * {@code reload}, the chunk's loads first, else x and w as the sum's pass left them in v and ws. {@code count} and
     * {@code stride} are the caller's constants (the loops unroll at translation): {@link #rmsNormRows}' chunk of
     * {@link #NORM_CHUNK} at {@link #NORM_GROUP}, {@code FusedKernels.addRmsNormRows}' pass of 4 at 1,024. {@code out} is a
     * {@link FloatArray} or, for a GEMM's X, a {@link BFloat16Array} (each fp32 value rounded to nearest even as stored).
     */
    @Unroll
    public static void scaleStrided(FloatArray x, FloatArray w, OffHeapArray out, float[] v, float[] ws, int o, int i0, int n, float inv,
                                    int reload, int count, int stride) {
        for (int j = 0; j < count; j++) {
            int i = i0 + j * stride;
            if (reload != 0 && i < n) {
                v[j] = x.get(o + i);
                ws[j] = w.get(i);
            }
        }
        for (int j = 0; j < count; j++) {
            int i = i0 + j * stride;
            if (i < n) out.setFloat(o + i, ws[j] * (v[j] * inv));   // fp32 as is, or bf16 rounded to nearest even (the entry point's type)
        }
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
