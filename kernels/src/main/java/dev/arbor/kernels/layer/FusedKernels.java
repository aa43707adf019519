package dev.arbor.kernels.layer;

import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
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

    /** Pairs (i, i + half) of head units one work-item of {@link #qkvRopeStoreWideBf16} rotates or copies. */
    public static final int QKV_WIDE_ELEMS = 4;
    /** Work-items a work-group of {@link #qkvRopeStoreWideBf16}. */
    public static final int QKV_WIDE_GROUP = 256;
    /** Pairs of a token's (heads + 2 kvHeads) * half a work-group of {@link #qkvRopeStoreWideBf16} covers. */
    public static final int QKV_WIDE_SPAN = QKV_WIDE_ELEMS * QKV_WIDE_GROUP;

    /**
     * {@link #qkvRopeStoreBf16} with {@link #QKV_WIDE_ELEMS} pairs a work-item, the token from the grid's y and no integer
     * division by a runtime value but one (the slot's block) a work-item: work-group (g, t) takes token t's pairs
     * p = g·{@link #QKV_WIDE_SPAN} + j·{@link #QKV_WIDE_GROUP} + localIdx, j ascending; with {@code half} dividing
     * {@link #QKV_WIDE_GROUP} a work-item's pairs share i = localIdx % half and their units step by GROUP / half, so its
     * angle (cos, sin) and slot are loaded once, and every q|k|v load (all slabs) is issued before any is used. Each element
     * is {@link #qkvRopeStoreBf16}'s arithmetic in its order (the slabs as {@link #summed}, the same rotation): the same bits
     * (FusedKernelsTest, FusedKernelsGpuTest). Why: the one-pair form spends ~4 runtime divisions (~100 instructions) a pair
     * and one load latency a pair: 20.8 µs a layer at 500 tokens of llama-7b, 21% of its bytes' floor (run 68-prof18).
     * Launch: grid (⌈(heads + 2 kvHeads)·half / QKV_WIDE_SPAN⌉, tokens), {@link #QKV_WIDE_GROUP} work-items
     * ({@link FusedOps#qkvWideLaunch}); {@code half} must divide {@link #QKV_WIDE_GROUP} (FusedOps falls back otherwise).
     */
    public static void qkvRopeStoreWideBf16(KernelContext ctx, FloatArray qkv, int slices, FloatArray q, BFloat16Array kCache, BFloat16Array vCache,
                                            FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int half,
                                            int blockSize, int numBlocks, int rope) {
        qkvRopeStoreWide(ctx, qkv, slices, q, kCache, vCache, cos, sin, slots, tokens, heads, kvHeads, half, blockSize, numBlocks, rope);
    }

    /** {@link #qkvRopeStoreWideBf16} for an fp16 store. */
    public static void qkvRopeStoreWideF16(KernelContext ctx, FloatArray qkv, int slices, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache,
                                           FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int half,
                                           int blockSize, int numBlocks, int rope) {
        qkvRopeStoreWide(ctx, qkv, slices, q, kCache, vCache, cos, sin, slots, tokens, heads, kvHeads, half, blockSize, numBlocks, rope);
    }

    /** {@link #qkvRopeStoreWideBf16} for an fp32 store. */
    public static void qkvRopeStoreWideF32(KernelContext ctx, FloatArray qkv, int slices, FloatArray q, FloatArray kCache, FloatArray vCache,
                                           FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int half,
                                           int blockSize, int numBlocks, int rope) {
        qkvRopeStoreWide(ctx, qkv, slices, q, kCache, vCache, cos, sin, slots, tokens, heads, kvHeads, half, blockSize, numBlocks, rope);
    }

    /** {@link #qkvRopeStoreWideBf16}'s work-item, into a bf16, fp16 or fp32 store. */
    private static void qkvRopeStoreWide(KernelContext ctx, FloatArray qkv, int slices, FloatArray q, OffHeapArray kCache, OffHeapArray vCache,
                                         FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int half,
                                         int blockSize, int numBlocks, int rope) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int t = ctx.groupIdy;
        if (t >= tokens) return;
        int units = heads + 2 * kvHeads, headDim = 2 * half, lid = ctx.localIdx;
        int i = lid % half, step = QKV_WIDE_GROUP / half;
        int u0 = ctx.groupIdx * (QKV_WIDE_SPAN / half) + lid / half;   // unit of pair j: u0 + j * step
        int count = tokens * units * headDim, e0 = (t * units + u0) * headDim + i;
        float[] x1 = new float[QKV_WIDE_ELEMS];
        float[] x2 = new float[QKV_WIDE_ELEMS];
        float[] z1 = new float[QKV_WIDE_ELEMS];
        float[] z2 = new float[QKV_WIDE_ELEMS];
        loadQkvWide(qkv, x1, x2, e0, u0, step, units, headDim, half);
        for (int z = 1; z < slices; z++) {   // each element's slabs in order, as summed()
            loadQkvWide(qkv, z1, z2, e0 + z * count, u0, step, units, headDim, half);
            addWide(x1, x2, z1, z2);
        }
        float cs = 0f, sn = 0f;
        if (rope != 0) {
            cs = cos.get(t * half + i);
            sn = sin.get(t * half + i);
        }
        int slot = slots.get(t), block = slot / blockSize;
        int kv0 = slot < 0 || block >= numBlocks ? -1 : (block * kvHeads * blockSize + (slot - block * blockSize)) * headDim + i;
        storeQkvWide(q, kCache, vCache, x1, x2, cs, sn, rope, t, u0, step, i, heads, kvHeads, half, blockSize, kv0);
    }

    /** x1[j] = qkv[e0 + j·step·headDim], x2[j] its partner (+ half) for the work-item's units u0 + j·step, clamped to the last unit. */
    @Unroll
    static void loadQkvWide(FloatArray qkv, float[] x1, float[] x2, int e0, int u0, int step, int units, int headDim, int half) {
        for (int j = 0; j < QKV_WIDE_ELEMS; j++) {
            int e = e0 + (Math.min(u0 + j * step, units - 1) - u0) * headDim;   // always valid: no branch between the loads
            x1[j] = qkv.get(e);
            x2[j] = qkv.get(e + half);
        }
    }

    /**
     * Pair j of unit u = u0 + j·step (&lt; units): rotated (a q or k unit, rope 1) as {@link #qkvRopeStoreBf16} does, then to q,
     * or to the k / v store at {@code kv0 + h·blockSize·headDim} (kv0 -1: padding, no store).
     */
    @Unroll
    static void storeQkvWide(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, float[] x1, float[] x2, float cs, float sn, int rope,
                             int t, int u0, int step, int i, int heads, int kvHeads, int half, int blockSize, int kv0) {
        int headDim = 2 * half, units = heads + 2 * kvHeads;
        for (int j = 0; j < QKV_WIDE_ELEMS; j++) {
            int u = u0 + j * step;
            if (u < units) {
                float a = x1[j], c = x2[j];
                if (rope != 0 && u < heads + kvHeads) {
                    float r1 = a * cs - c * sn, r2 = c * cs + a * sn;
                    a = r1;
                    c = r2;
                }
                if (u < heads) {
                    int o = (t * heads + u) * headDim + i;
                    q.set(o, a);
                    q.set(o + half, c);
                } else if (kv0 >= 0) {
                    int h = u < heads + kvHeads ? u - heads : u - heads - kvHeads;
                    int at = kv0 + h * blockSize * headDim;
                    if (u < heads + kvHeads) {
                        kCache.setFloat(at, a);
                        kCache.setFloat(at + half, c);
                    } else {
                        vCache.setFloat(at, a);
                        vCache.setFloat(at + half, c);
                    }
                }
            }
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
        siluMulRow(ctx, gateUp, slices, out, tokens, inter);
    }

    /** {@link #siluMulRows}' work-item, into an fp32 or a bf16 {@code out} (rounded to nearest even as stored: {@code setFloat}). */
    private static void siluMulRow(KernelContext ctx, FloatArray gateUp, int slices, OffHeapArray out, int tokens, int inter) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int idx = ctx.globalIdx;
        if (idx >= tokens * inter) return;
        int t = idx / inter, i = idx - t * inter, e = t * 2 * inter + i, count = tokens * 2 * inter;
        float g = summed(gateUp, e, slices, count), up = summed(gateUp, e + inter, slices, count);
        out.setFloat(idx, swiGlu(g, up));
    }

    /**
     * SwiGLU of one element, {@code silu(g) · up = g / (1 + e^-g) · up} in fp32 ({@link LayerKernels#siluMul}'s arithmetic): the
     * one formula of {@link #siluMulRows}, {@link #siluMulRowsInterleaved} and the GEMM's SwiGLU epilogue
     * ({@code GemmKernels.storeSwiGluTile}), so the fused and unfused paths round alike.
     */
    public static float swiGlu(float g, float up) {
        return g / (1f + KMath.exp(-g)) * up;
    }

    /**
     * {@link #siluMulRows} on the output of an interleaved gate|up weight ({@code GemmKernels.interleavedGateRow}: each 16 columns
     * hold 8 of gate, then the same 8 of up): {@code out[t, i] = silu(gu[t, c]) · gu[t, c + 8]} with
     * {@code c = 16·⌊i / 8⌋ + i mod 8}. For the plans whose GEMM leaves K slices or has no SwiGLU epilogue
     * ({@code Gemm.swiGluEpilogue}); {@code inter} a multiple of 8. Launch: {@code Launch.cover(tokens * inter, 256)}.
     *
     * @param gateUp (slices, tokens, 2 inter) partial sums, interleaved columns
     * @param out    (tokens, inter)
     */
    public static void siluMulRowsInterleaved(KernelContext ctx, FloatArray gateUp, int slices, FloatArray out, int tokens, int inter) {
        siluMulRowInterleaved(ctx, gateUp, slices, out, tokens, inter);
    }

    /** As {@link #siluMulRowsInterleaved} into bf16 (rounded to nearest even as stored). */
    public static void siluMulRowsInterleavedBf16(KernelContext ctx, FloatArray gateUp, int slices, BFloat16Array out, int tokens, int inter) {
        siluMulRowInterleaved(ctx, gateUp, slices, out, tokens, inter);
    }

    private static void siluMulRowInterleaved(KernelContext ctx, FloatArray gateUp, int slices, OffHeapArray out, int tokens, int inter) {
        ctx.allowDependentLaunch();
        ctx.gridDependencyWait();
        int idx = ctx.globalIdx;
        if (idx >= tokens * inter) return;
        int t = idx / inter, i = idx - t * inter, e = t * 2 * inter + 16 * (i >> 3) + (i & 7), count = tokens * 2 * inter;
        float g = summed(gateUp, e, slices, count), up = summed(gateUp, e + 8, slices, count);
        out.setFloat(idx, swiGlu(g, up));
    }

    /**
     * {@link #siluMulRows} writing bf16: the same fp32 {@code silu(g) * up}, rounded to nearest even as it is stored (the
     * bits {@code GemmKernels.toBf16x8} makes of {@link #siluMulRows}' output), for the down projection's TMA tiles, which
     * read bf16 X (no conversion pass). Launch: {@code Launch.cover(tokens * inter, 256)}.
     *
     * @param gateUp (slices, tokens, 2 inter) partial sums
     * @param out    (tokens, inter) bf16
     */
    public static void siluMulRowsBf16(KernelContext ctx, FloatArray gateUp, int slices, BFloat16Array out, int tokens, int inter) {
        siluMulRow(ctx, gateUp, slices, out, tokens, inter);
    }

    /** Elements of a row one work-item of {@link #siluMulRowsWide} computes (work-group g of a row: {@link #SILU_WIDE_SPAN} elements). */
    public static final int SILU_WIDE_ELEMS = 4;
    /** Work-items a work-group of {@link #siluMulRowsWide}. */
    public static final int SILU_WIDE_GROUP = 256;
    /** Elements of a row a work-group of {@link #siluMulRowsWide} covers. */
    public static final int SILU_WIDE_SPAN = SILU_WIDE_ELEMS * SILU_WIDE_GROUP;

    /**
     * {@link #siluMulRows} with {@link #SILU_WIDE_ELEMS} elements a work-item and the row from the grid's y: work-group
     * (g, t) computes row t's elements i = g·{@link #SILU_WIDE_SPAN} + j·{@link #SILU_WIDE_GROUP} + localIdx, j ascending
     * (coalesced for each j), every gate and up load of its elements issued before any is used, no integer division. Each
     * element is {@link #siluMulRows}' arithmetic in its order (slab 0, then slabs 1.. added in turn; {@code silu(g) * up}):
     * the same bits (FusedKernelsTest, FusedKernelsGpuTest). Why: the one-element form is ~4,096 work-groups of one load
     * latency each at 128 × 8,192 (6.8 µs a launch on the H200, bench/RESULTS.md run 66-prof17, against ~2.5 µs for a
     * norm of the same rows).
     * Launch: grid ({@code ⌈inter / SILU_WIDE_SPAN⌉}, tokens), {@link #SILU_WIDE_GROUP} work-items ({@link FusedOps#siluWideLaunch}).
     *
     * @param gateUp (slices, tokens, 2 inter) partial sums
     * @param out    (tokens, inter)
     */
    public static void siluMulRowsWide(KernelContext ctx, FloatArray gateUp, int slices, FloatArray out, int tokens, int inter) {
        siluMulRowWide(ctx, gateUp, slices, out, tokens, inter);
    }

    /** {@link #siluMulRowsWide} into bf16 (rounded to nearest even as stored), as {@link #siluMulRowsBf16} is {@link #siluMulRows}'. */
    public static void siluMulRowsWideBf16(KernelContext ctx, FloatArray gateUp, int slices, BFloat16Array out, int tokens, int inter) {
        siluMulRowWide(ctx, gateUp, slices, out, tokens, inter);
    }

    /** {@link #siluMulRowsWide}' work-item, into an fp32 or a bf16 {@code out}. */
    private static void siluMulRowWide(KernelContext ctx, FloatArray gateUp, int slices, OffHeapArray out, int tokens, int inter) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int t = ctx.groupIdy;
        if (t >= tokens) return;
        int i0 = ctx.groupIdx * SILU_WIDE_SPAN + ctx.localIdx, e0 = t * 2 * inter + i0, count = tokens * 2 * inter;
        float[] g = new float[SILU_WIDE_ELEMS];
        float[] u = new float[SILU_WIDE_ELEMS];
        float[] gz = new float[SILU_WIDE_ELEMS];
        float[] uz = new float[SILU_WIDE_ELEMS];
        loadWide(gateUp, g, u, e0, i0, inter);
        for (int z = 1; z < slices; z++) {   // each element's slabs in order, as summed()
            loadWide(gateUp, gz, uz, e0 + z * count, i0, inter);
            addWide(g, u, gz, uz);
        }
        storeSiluWide(out, g, u, t * inter + i0, i0, inter);
    }

    /** g[j] = gu[e0 + j·GROUP], u[j] = gu[e0 + inter + j·GROUP] for the row's elements i0 + j·GROUP &lt; inter, all loads first. */
    @Unroll
    static void loadWide(FloatArray gu, float[] g, float[] u, int e0, int i0, int inter) {
        for (int j = 0; j < SILU_WIDE_ELEMS; j++) {
            int e = Math.min(i0 + j * SILU_WIDE_GROUP, inter - 1) - i0 + e0;   // clamped (always valid): no branch between the loads
            g[j] = gu.get(e);
            u[j] = gu.get(e + inter);
        }
    }

    /** g[j] += gz[j], u[j] += uz[j]: a slab's values, loaded by {@link #loadWide}, added. */
    @Unroll
    static void addWide(float[] g, float[] u, float[] gz, float[] uz) {
        for (int j = 0; j < SILU_WIDE_ELEMS; j++) {
            g[j] += gz[j];
            u[j] += uz[j];
        }
    }

    /** out[o0 + j·GROUP] = silu(g[j]) · u[j] for the row's elements i0 + j·GROUP &lt; inter ({@link #siluMulRow}'s expression). */
    @Unroll
    static void storeSiluWide(OffHeapArray out, float[] g, float[] u, int o0, int i0, int inter) {
        for (int j = 0; j < SILU_WIDE_ELEMS; j++) {
            if (i0 + j * SILU_WIDE_GROUP < inter) out.setFloat(o0 + j * SILU_WIDE_GROUP, g[j] / (1f + KMath.exp(-g[j])) * u[j]);
        }
    }

    /**
     * Residual add then RMSNorm, one work-group of {@link #ADD_NORM_GROUP} per row: {@code x[r] += y[r]} (y summed over its
     * slices), then {@code out[r] = w * x[r] / rms(x[r])} as {@link LayerKernels#rmsNormRows} computes it (the same strided
     * double sums of {@link LayerKernels#NORM_GROUP} slices and fixed-order tree). Launch exactly {@code rows} groups:
     * {@code Launch.of1D(rows, ADD_NORM_GROUP)}.
     *
     * <p>The row goes in passes of {@link #ADD_NORM_PASS} elements (a llama-7b row in one): work-item T issues every load of its
     * {@link #ADD_NORM_ELEMS} elements T, T + 1024, ... at once (x, the first {@link #ADD_NORM_PREFETCH} slabs and w), so a pass
     * costs one memory latency, not one a slab (run 35-gemv6: 256 work-items each walking 16 elements through x and 5
     * slabs, then reloading x for the scaling, ~6 L2 round trips, 5 µs a decode stage). The squares go to local memory and
     * the first 256 work-items add them, each its strided slice i = t, t + 256, ... by ascending i, as the plain loop does;
     * the scaling reuses the summed values held in registers (the last pass) or reloads them (earlier passes). So the same
     * sums in the same order: the same bits (FusedKernelsTest, on the CPU executor and the GPU).
     *
     * @param x   (rows, n) the residual stream, updated in place
     * @param y   (slices, rows, n) partial sums of the projection
     * @param w   (n)
     * @param out (rows, n) the normalised x; not x
     */
    public static void addRmsNormRows(KernelContext ctx, FloatArray x, FloatArray y, int slices, FloatArray w, FloatArray out,
                                      int rows, int n, double eps) {
        ctx.launchBounds(ADD_NORM_GROUP);
        addRmsNormRow(ctx, x, y, slices, w, out, rows, n, eps);
    }

    /** {@link #addRmsNormRows}' work-group for its row, into an fp32 or a bf16 {@code out} ({@code LayerKernels.scaleStrided}). */
    private static void addRmsNormRow(KernelContext ctx, FloatArray x, FloatArray y, int slices, FloatArray w, OffHeapArray out,
                                      int rows, int n, double eps) {
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int r = ctx.groupIdx, t = ctx.localIdx;
        double[] partial = ctx.allocateDoubleLocalArray(LayerKernels.NORM_GROUP);
        float[] squares = ctx.allocateFloatLocalArray(ADD_NORM_PASS);
        int o = r * n, count = rows * n;
        float[] v = new float[ADD_NORM_ELEMS];
        float[] s = new float[ADD_NORM_ELEMS];
        float[] ws = new float[ADD_NORM_ELEMS];
        float[] ys = new float[ADD_NORM_ELEMS * (ADD_NORM_PREFETCH - 1)];
        double sq = 0;
        for (int p0 = 0; p0 < n; p0 += ADD_NORM_PASS) {
            addPass(x, y, w, v, s, ws, ys, squares, o, p0 + t, t, slices, count, n);
            ctx.localBarrier();
            if (t < LayerKernels.NORM_GROUP) sq = addSquares(squares, t, p0, n, sq);
            ctx.localBarrier();   // the next pass overwrites the squares
        }
        if (t < LayerKernels.NORM_GROUP) partial[t] = sq;
        ctx.localBarrier();
        for (int h = LayerKernels.NORM_GROUP / 2; h > 0; h >>= 1) {
            if (t < h) partial[t] += partial[t + h];
            ctx.localBarrier();
        }
        float inv = (float) (1.0 / Math.sqrt(partial[0] / n + eps));
        int last = (n - 1) / ADD_NORM_PASS * ADD_NORM_PASS;
        LayerKernels.scaleStrided(x, w, out, v, ws, o, last + t, n, inv, 0, ADD_NORM_ELEMS, ADD_NORM_GROUP);   // the last pass from registers first, then the earlier ones reloaded
        for (int p0 = 0; p0 < last; p0 += ADD_NORM_PASS) LayerKernels.scaleStrided(x, w, out, v, ws, o, p0 + t, n, inv, 1, ADD_NORM_ELEMS, ADD_NORM_GROUP);
    }

    /**
     * {@link #addRmsNormRows} with the normalised row in bf16: x updated in place (fp32, the residual stream) exactly as
     * there, then each fp32 {@code w · (x · inv)} rounded to nearest even as it is stored into {@code out} (the bits the
     * GEMM's conversion pass makes of {@link #addRmsNormRows}' output). Launch exactly {@code rows} groups:
     * {@code Launch.of1D(rows, ADD_NORM_GROUP)}.
     *
     * @param x   (rows, n) the residual stream, updated in place
     * @param y   (slices, rows, n) partial sums of the projection
     * @param w   (n)
     * @param out (rows, n) bf16
     */
    public static void addRmsNormRowsBf16(KernelContext ctx, FloatArray x, FloatArray y, int slices, FloatArray w, BFloat16Array out,
                                          int rows, int n, double eps) {
        ctx.launchBounds(ADD_NORM_GROUP);
        addRmsNormRow(ctx, x, y, slices, w, out, rows, n, eps);
    }

    /**
     * {@link #addRmsNormRows} with a row spread over {@code groupsPerRow = ⌈n / NORM_GROUP⌉} work-groups of
     * {@link LayerKernels#NORM_GROUP}, for launches of few rows (batch-1 decode: one work-group moving 9-10 × 16 KB through one
     * multiprocessor, ~6 µs a launch, run 57-b1-12): work-group g of row r adds columns i = g·256 + t (x, then every slab in
     * slab order, as {@link #addPass}), stores x, fences and counts itself in on {@code arrivals[r]}; the last-arriving group
     * fences again and reads the row's x back (from the L2) — work-item t its strided slice i = t, t + 256, … by ascending i,
     * {@link #SPLIT_NORM_CHUNK} loads in flight — squares each value in fp32 and adds it in double, then the same tree, inverse
     * and {@code w * (x * inv)} as {@link #addRmsNormRows}: the same sums in the same order, so the same bits (FusedKernelsTest,
     * FusedKernelsGpuTest), whatever the rows of the launch. It sets {@code arrivals[r]} back to 0 for the next launch.
     *
     * @param x        (rows, n) the residual stream, updated in place
     * @param y        (slices, rows, n) partial sums of the projection
     * @param w        (n)
     * @param out      (rows, n) the normalised x; not x
     * @param arrivals (rows) zero between launches
     *                 Launch: {@code Launch.of1D(rows * groupsPerRow, NORM_GROUP)}.
     */
    public static void addRmsNormSplitRow(KernelContext ctx, FloatArray x, FloatArray y, int slices, FloatArray w, FloatArray out,
                                          IntArray arrivals, int rows, int n, int groupsPerRow, double eps) {
        ctx.launchBounds(LayerKernels.NORM_GROUP);
        ctx.allowDependentLaunch();   // the next GEMM may start streaming its weights (it waits for this grid before reading X)
        ctx.gridDependencyWait();
        int r = ctx.groupIdx / groupsPerRow, g = ctx.groupIdx - r * groupsPerRow, t = ctx.localIdx;
        double[] partial = ctx.allocateDoubleLocalArray(LayerKernels.NORM_GROUP);
        int[] last = ctx.allocateIntLocalArray(1);
        int o = r * n, count = rows * n, i = g * LayerKernels.NORM_GROUP + t;
        float[] ys = new float[ADD_NORM_PREFETCH];
        if (i < n) x.set(o + i, addedColumn(x, y, ys, o + i, slices, count));
        ctx.threadFence();   // x's stores visible to the last-arriving group before this group counts itself in
        ctx.localBarrier();
        if (t == 0) last[0] = ctx.atomicAdd(arrivals, r, 1) == groupsPerRow - 1 ? 1 : 0;
        ctx.localBarrier();
        if (last[0] == 0) return;
        ctx.threadFence();
        float[] v = new float[SPLIT_NORM_CHUNK];
        float[] ws = new float[SPLIT_NORM_CHUNK];
        double sq = 0;
        for (int c0 = t; c0 < n; c0 += SPLIT_NORM_CHUNK * LayerKernels.NORM_GROUP) sq = squaresOfChunk(x, v, o, c0, n, sq);
        // v holds the last chunk of work-item t's slice (c0 = lastChunk + t); its w is loaded while the tree runs
        int lastChunk = (n - 1 - t) / (SPLIT_NORM_CHUNK * LayerKernels.NORM_GROUP) * (SPLIT_NORM_CHUNK * LayerKernels.NORM_GROUP);
        loadStrided(w, ws, lastChunk + t, n);
        partial[t] = sq;
        ctx.localBarrier();
        for (int h = LayerKernels.NORM_GROUP / 2; h > 0; h >>= 1) {
            if (t < h) partial[t] += partial[t + h];
            ctx.localBarrier();
        }
        float inv = (float) (1.0 / Math.sqrt(partial[0] / n + eps));
        if (t < n) LayerKernels.scaleStrided(x, w, out, v, ws, o, lastChunk + t, n, inv, 0, SPLIT_NORM_CHUNK, LayerKernels.NORM_GROUP);   // the last chunk from registers
        for (int c0 = t; c0 < lastChunk + t; c0 += SPLIT_NORM_CHUNK * LayerKernels.NORM_GROUP)
            LayerKernels.scaleStrided(x, w, out, v, ws, o, c0, n, inv, 1, SPLIT_NORM_CHUNK, LayerKernels.NORM_GROUP);
        if (t == 0) arrivals.set(r, 0);   // ready for the next launch
    }

    /** Columns of a row the last-arriving group of {@link #addRmsNormSplitRow} loads at once a work-item: 16 × 256 = 4,096. */
    static final int SPLIT_NORM_CHUNK = 16;

    /** {@code x[at] + (y0 + y1 + …)} in slab order as {@link #addPass} adds them: x and the first ADD_NORM_PREFETCH slabs loaded first. */
    @Unroll
    public static float addedColumn(FloatArray x, FloatArray y, float[] ys, int at, int slices, int count) {
        float xv = x.get(at);
        for (int z = 0; z < ADD_NORM_PREFETCH; z++)
            if (z < slices) ys[z] = y.get(z * count + at);
        float sum = ys[0];
        for (int z = 1; z < ADD_NORM_PREFETCH; z++)
            if (z < slices) sum += ys[z];
        sum = addSlabsFrom(y, sum, ADD_NORM_PREFETCH, slices, count, at);
        return xv + sum;
    }

    /** ws[j] = w[c0 + 256·j] for those below n. */
    @Unroll
    static void loadStrided(FloatArray w, float[] ws, int c0, int n) {
        for (int j = 0; j < SPLIT_NORM_CHUNK; j++) {
            int i = c0 + j * LayerKernels.NORM_GROUP;
            if (i < n) ws[j] = w.get(i);
        }
    }

    /**
     * sq + Σ (x[o + i])² over i = c0, c0 + 256, … (SPLIT_NORM_CHUNK of them, those below n) by ascending i, each square in fp32
     * and added in double as {@link #addSquares} adds them; the values stay in v for the scaling. Every load first.
     */
    @Unroll
    static double squaresOfChunk(FloatArray x, float[] v, int o, int c0, int n, double sq) {
        for (int j = 0; j < SPLIT_NORM_CHUNK; j++) {
            int i = c0 + j * LayerKernels.NORM_GROUP;
            if (i < n) v[j] = x.get(o + i);
        }
        for (int j = 0; j < SPLIT_NORM_CHUNK; j++) {
            int i = c0 + j * LayerKernels.NORM_GROUP;
            if (i < n) {
                float square = v[j] * v[j];
                sq += square;
            }
        }
        return sq;
    }

    /** Work-items of {@link #addRmsNormRows}' work-group (the most a block holds; 64 registers each). */
    public static final int ADD_NORM_GROUP = 1024;
    /** Elements a work-item of {@link #addRmsNormRows} takes a pass: i0, i0 + ADD_NORM_GROUP, ... */
    static final int ADD_NORM_ELEMS = 4;
    /** Elements of a row a pass of {@link #addRmsNormRows}: 4096, a multiple of {@link LayerKernels#NORM_GROUP}. */
    static final int ADD_NORM_PASS = ADD_NORM_GROUP * ADD_NORM_ELEMS;
    /** Slabs whose loads {@link #addRmsNormRows} issues together with x's (the invariant plan has at most 8); more are added after. */
    public static final int ADD_NORM_PREFETCH = 8;

    /**
     * One pass of {@link #addRmsNormRows} for work-item t: for its elements i = i0 + e·ADD_NORM_GROUP &lt; n, every load first
     * (x, w, slab 0 and slabs 1 .. ADD_NORM_PREFETCH−1 below {@code slices}), then s = y0 + y1 + … in slab order,
     * v = x + s stored to x, v² (fp32, as the plain loop squares) to {@code squares[i − pass start]}.
     */
    @Unroll
    static void addPass(FloatArray x, FloatArray y, FloatArray w, float[] v, float[] s, float[] ws, float[] ys, float[] squares,
                        int o, int i0, int t, int slices, int count, int n) {
        for (int e = 0; e < ADD_NORM_ELEMS; e++) {
            int i = i0 + e * ADD_NORM_GROUP;
            if (i < n) {
                v[e] = x.get(o + i);
                s[e] = y.get(o + i);
                ws[e] = w.get(i);
                for (int z = 1; z < ADD_NORM_PREFETCH; z++)
                    if (z < slices) ys[(z - 1) * ADD_NORM_ELEMS + e] = y.get(z * count + o + i);
            }
        }
        for (int e = 0; e < ADD_NORM_ELEMS; e++) {
            int i = i0 + e * ADD_NORM_GROUP;
            if (i < n) {
                float sum = s[e];
                for (int z = 1; z < ADD_NORM_PREFETCH; z++)
                    if (z < slices) sum += ys[(z - 1) * ADD_NORM_ELEMS + e];
                sum = addSlabsFrom(y, sum, ADD_NORM_PREFETCH, slices, count, o + i);
                float value = v[e] + sum;
                v[e] = value;
                x.set(o + i, value);
                squares[t + e * ADD_NORM_GROUP] = value * value;
            }
        }
    }

    /** sum + y[z·count + at] for z = from .. slices−1 in order (slabs past the prefetched ones). */
    public static float addSlabsFrom(FloatArray y, float sum, int from, int slices, int count, int at) {
        for (int z = from; z < slices; z++) sum += y.get(z * count + at);
        return sum;
    }

    /** sq + Σ squares[t + 256·j] for the pass's elements p0 + t + 256·j &lt; n by ascending j (work-item t's strided slice). */
    @Unroll
    static double addSquares(float[] squares, int t, int p0, int n, double sq) {
        for (int j = 0; j < ADD_NORM_PASS / LayerKernels.NORM_GROUP; j++) {
            int at = t + j * LayerKernels.NORM_GROUP;
            if (p0 + at < n) sq += squares[at];
        }
        return sq;
    }
}
