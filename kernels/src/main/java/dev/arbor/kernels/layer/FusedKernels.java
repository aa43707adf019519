package dev.arbor.kernels.layer;

import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.kernels.LayerKernels;

/**
 * The element-wise stages of a decoder layer fused with what comes before and after them, to cut a decode
 * step's launches (a launch inside a CUDA graph still costs its ramp and tail, ~2 µs, and the step has hundreds):
 * each kernel reads a projection's output as it leaves the GEMM, possibly as unsummed K slices ({@code slices}
 * partial sums of (rows, n), slab z at {@code z * rows * n}, added in slice order exactly as
 * {@code GemmKernels.sumSlices} adds them; {@code slices = 1}: the plain output), and does the next stages in one pass:
 * <ul>
 *   <li>{@link #qkvRopeStoreBf16}: the fused q|k|v projection → RoPE of q and k, q to its buffer, k and v to their KV slots
 *       (replaces sumSlices, two rope launches and the KV write);</li>
 *   <li>{@link #siluMulRows}: the fused gate|up projection → {@code silu(gate) * up} (replaces sumSlices and siluMul);</li>
 *   <li>{@link #addRmsNormRows}: a projection → residual add into x, then RMSNorm of x (replaces sumSlices, the add and the
 *       next block's RMSNorm).</li>
 * </ul>
 * Every operation is the unfused kernels' operation in the same order ({@link LayerKernels#rope}, {@link LayerKernels#siluMul},
 * {@link LayerKernels#add} + {@link LayerKernels#rmsNormRows}, {@code KvCacheKernels.writeKv*}), so given the same
 * projection sums the results are the same bits (FusedKernelsTest). Each kernel first lets the next grid launch
 * ({@link KernelContext#allowDependentLaunch}: a GEMM launched overlapping it streams its weights meanwhile and waits for this
 * grid before reading its output) and waits for the previous grid ({@link KernelContext#gridDependencyWait}: a no-op unless
 * launched overlapping it, {@code Launch.overlappingPrevious}).
 */
public final class FusedKernels {
    private FusedKernels() {}

    /** Element {@code e} of (rows, n) summed over {@code slices} slabs of {@code count = rows * n}, slab 0 first. */
    static float summed(FloatArray in, int e, int slices, int count) {
        float s = in.get(e);
        for (int z = 1; z < slices; z++) s += in.get(z * count + e);
        return s;
    }

    /**
     * KV store index of dimension {@code d} of kv head {@code h} of the token at {@code slot}, or -1 for a slot of -1
     * (padding) or a block outside the store; the store is {@code [numBlocks][kvHeads][blockSize][headDim]}.
     */
    static int kvIndex(int slot, int h, int d, int kvHeads, int headDim, int blockSize, int numBlocks) {
        int block = slot / blockSize;
        if (slot < 0 || block >= numBlocks) return -1;
        return ((block * kvHeads + h) * blockSize + (slot - block * blockSize)) * headDim + d;
    }

    /**
     * q, k and v from the fused projection: one work-item per (token, head unit, i < half), the units being the q heads,
     * then the k heads, then the v heads; a q or k unit rotates dimensions (i, i + half) by its token's angle (when
     * {@code rope} is 1: ALiBi models pass 0), a v unit copies them. q goes to {@code q (tokens, heads * headDim)}, k and v
     * to their slots in the bf16 store (rounded to nearest even).
     *
     * @param qkv   (slices, tokens, (heads + 2 kvHeads) * headDim) the fused projection's partial sums
     * @param q     (tokens, heads * headDim)
     * @param cos   (tokens, half) this step's angles; sin alike (unused when rope is 0)
     * @param slots (tokens) block * blockSize + offset of each token, -1 skips its k and v
     *              Launch: {@code Launch.cover(tokens * (heads + 2 kvHeads) * half, 256)}.
     */
    public static void qkvRopeStoreBf16(KernelContext ctx, FloatArray qkv, int slices, FloatArray q, BFloat16Array kCache, BFloat16Array vCache,
                                        FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int half,
                                        int blockSize, int numBlocks, int rope) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int units = heads + 2 * kvHeads, idx = ctx.globalIdx;
        if (idx >= tokens * units * half) return;
        int i = idx % half, tu = idx / half, t = tu / units, u = tu - t * units, headDim = 2 * half;
        int e = tu * headDim + i, count = tokens * units * headDim;
        float x1 = summed(qkv, e, slices, count), x2 = summed(qkv, e + half, slices, count);
        if (rope != 0 && u < heads + kvHeads) {
            float cs = cos.get(t * half + i), sn = sin.get(t * half + i);
            float r1 = x1 * cs - x2 * sn, r2 = x2 * cs + x1 * sn;
            x1 = r1;
            x2 = r2;
        }
        if (u < heads) {
            int o = (t * heads + u) * headDim + i;
            q.set(o, x1);
            q.set(o + half, x2);
            return;
        }
        int h = u < heads + kvHeads ? u - heads : u - heads - kvHeads;
        int at = kvIndex(slots.get(t), h, i, kvHeads, headDim, blockSize, numBlocks);
        if (at < 0) return;
        if (u < heads + kvHeads) {
            kCache.set(at, x1);
            kCache.set(at + half, x2);
        } else {
            vCache.set(at, x1);
            vCache.set(at + half, x2);
        }
    }

    /** As {@link #qkvRopeStoreBf16} for an fp16 store (rounded to nearest even). */
    public static void qkvRopeStoreF16(KernelContext ctx, FloatArray qkv, int slices, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache,
                                       FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int half,
                                       int blockSize, int numBlocks, int rope) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int units = heads + 2 * kvHeads, idx = ctx.globalIdx;
        if (idx >= tokens * units * half) return;
        int i = idx % half, tu = idx / half, t = tu / units, u = tu - t * units, headDim = 2 * half;
        int e = tu * headDim + i, count = tokens * units * headDim;
        float x1 = summed(qkv, e, slices, count), x2 = summed(qkv, e + half, slices, count);
        if (rope != 0 && u < heads + kvHeads) {
            float cs = cos.get(t * half + i), sn = sin.get(t * half + i);
            float r1 = x1 * cs - x2 * sn, r2 = x2 * cs + x1 * sn;
            x1 = r1;
            x2 = r2;
        }
        if (u < heads) {
            int o = (t * heads + u) * headDim + i;
            q.set(o, x1);
            q.set(o + half, x2);
            return;
        }
        int h = u < heads + kvHeads ? u - heads : u - heads - kvHeads;
        int at = kvIndex(slots.get(t), h, i, kvHeads, headDim, blockSize, numBlocks);
        if (at < 0) return;
        if (u < heads + kvHeads) {
            kCache.set(at, x1);
            kCache.set(at + half, x2);
        } else {
            vCache.set(at, x1);
            vCache.set(at + half, x2);
        }
    }

    /** As {@link #qkvRopeStoreBf16} for an fp32 store (exact copies). */
    public static void qkvRopeStoreF32(KernelContext ctx, FloatArray qkv, int slices, FloatArray q, FloatArray kCache, FloatArray vCache,
                                       FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int half,
                                       int blockSize, int numBlocks, int rope) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int units = heads + 2 * kvHeads, idx = ctx.globalIdx;
        if (idx >= tokens * units * half) return;
        int i = idx % half, tu = idx / half, t = tu / units, u = tu - t * units, headDim = 2 * half;
        int e = tu * headDim + i, count = tokens * units * headDim;
        float x1 = summed(qkv, e, slices, count), x2 = summed(qkv, e + half, slices, count);
        if (rope != 0 && u < heads + kvHeads) {
            float cs = cos.get(t * half + i), sn = sin.get(t * half + i);
            float r1 = x1 * cs - x2 * sn, r2 = x2 * cs + x1 * sn;
            x1 = r1;
            x2 = r2;
        }
        if (u < heads) {
            int o = (t * heads + u) * headDim + i;
            q.set(o, x1);
            q.set(o + half, x2);
            return;
        }
        int h = u < heads + kvHeads ? u - heads : u - heads - kvHeads;
        int at = kvIndex(slots.get(t), h, i, kvHeads, headDim, blockSize, numBlocks);
        if (at < 0) return;
        if (u < heads + kvHeads) {
            kCache.set(at, x1);
            kCache.set(at + half, x2);
        } else {
            vCache.set(at, x1);
            vCache.set(at + half, x2);
        }
    }

    /**
     * SwiGLU from the fused gate|up projection: {@code out[t, i] = silu(gu[t, i]) * gu[t, inter + i]}, one work-item per
     * output element.
     *
     * @param gateUp (slices, tokens, 2 inter) partial sums
     * @param out    (tokens, inter)
     *               Launch: {@code Launch.cover(tokens * inter, 256)}.
     */
    public static void siluMulRows(KernelContext ctx, FloatArray gateUp, int slices, FloatArray out, int tokens, int inter) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int idx = ctx.globalIdx;
        if (idx >= tokens * inter) return;
        int t = idx / inter, i = idx - t * inter, e = t * 2 * inter + i, count = tokens * 2 * inter;
        float g = summed(gateUp, e, slices, count), up = summed(gateUp, e + inter, slices, count);
        out.set(idx, g / (1f + KMath.exp(-g)) * up);
    }

    /**
     * Residual add then RMSNorm, one work-group of {@link LayerKernels#NORM_GROUP} per row: {@code x[r] += y[r]} (y summed
     * over its slices), then {@code out[r] = w * x[r] / rms(x[r])} as {@link LayerKernels#rmsNormRows} computes it (the
     * same strided double sums and fixed-order tree). Launch exactly {@code rows} groups: {@code Launch.of1D(rows, NORM_GROUP)}.
     *
     * @param x   (rows, n) the residual stream, updated in place
     * @param y   (slices, rows, n) partial sums of the projection
     * @param w   (n)
     * @param out (rows, n) the normalised x; not x
     */
    public static void addRmsNormRows(KernelContext ctx, FloatArray x, FloatArray y, int slices, FloatArray w, FloatArray out,
                                      int rows, int n, double eps) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int r = ctx.groupIdx, t = ctx.localIdx;
        double[] partial = ctx.allocateDoubleLocalArray(LayerKernels.NORM_GROUP);
        int o = r * n, count = rows * n;
        // A work-item's elements i = t, t + NORM_GROUP, ... in chunks of NORM_CHUNK whose loads are all issued before any is
        // used: one memory latency a slab per chunk instead of one per element and slab (a decode step has one row, one
        // work-group: 18 µs of latencies a call on the H200, run 26-gemv4). Every sum in the order of the plain loop
        // (x[i] + (y0[i] + y1[i] + ...), then sq += v·v by ascending i), so the same bits.
        float[] v = new float[NORM_CHUNK];
        float[] s = new float[NORM_CHUNK];
        double sq = 0;
        for (int i0 = t; i0 < n; i0 += NORM_CHUNK * LayerKernels.NORM_GROUP) {
            loadChunk(x, y, v, s, o, i0, n);
            for (int z = 1; z < slices; z++) addSlabChunk(y, s, z * count + o, i0, n);
            sq = storeChunk(x, v, s, o, i0, n, sq);
        }
        partial[t] = sq;
        ctx.localBarrier();
        for (int h = LayerKernels.NORM_GROUP / 2; h > 0; h >>= 1) {
            if (t < h) partial[t] += partial[t + h];
            ctx.localBarrier();
        }
        float inv = (float) (1.0 / Math.sqrt(partial[0] / n + eps));
        for (int i0 = t; i0 < n; i0 += NORM_CHUNK * LayerKernels.NORM_GROUP) LayerKernels.scaleChunk(x, w, out, v, s, o, i0, n, inv);
    }

    /** Elements of a row one work-item of {@link #addRmsNormRows} loads before using any: {@link LayerKernels#NORM_CHUNK}'s. */
    static final int NORM_CHUNK = LayerKernels.NORM_CHUNK;

    /** v[j] = x[o + i], s[j] = y[o + i] (slab 0) for i = i0 + j·NORM_GROUP &lt; n. */
    @Unroll
    static void loadChunk(FloatArray x, FloatArray y, float[] v, float[] s, int o, int i0, int n) {
        for (int j = 0; j < NORM_CHUNK; j++) {
            int i = i0 + j * LayerKernels.NORM_GROUP;
            if (i < n) {
                v[j] = x.get(o + i);
                s[j] = y.get(o + i);
            }
        }
    }

    /** s[j] += y[at + i] for i = i0 + j·NORM_GROUP &lt; n (one more slab). */
    @Unroll
    static void addSlabChunk(FloatArray y, float[] s, int at, int i0, int n) {
        for (int j = 0; j < NORM_CHUNK; j++) {
            int i = i0 + j * LayerKernels.NORM_GROUP;
            if (i < n) s[j] += y.get(at + i);
        }
    }

    /** x[o + i] = v[j] + s[j], and sq + Σ (v[j] + s[j])² by ascending j; returns the new sq. */
    @Unroll
    static double storeChunk(FloatArray x, float[] v, float[] s, int o, int i0, int n, double sq) {
        for (int j = 0; j < NORM_CHUNK; j++) {
            int i = i0 + j * LayerKernels.NORM_GROUP;
            if (i < n) {
                float sum = v[j] + s[j];
                x.set(o + i, sum);
                sq += sum * sum;
            }
        }
        return sq;
    }
}
