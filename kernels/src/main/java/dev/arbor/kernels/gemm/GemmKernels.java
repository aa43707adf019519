package dev.arbor.kernels.gemm;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Swizzle;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.LongArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.kernels.LayerKernels;
import dev.arbor.kernels.layer.FusedKernels;

/**
 * {@code C[M,N] (=|+=) X[M,K] · W[N,K]ᵀ} on the tensor cores ({@code mma.sync.m16n8k16}, fp32
 * accumulation). Launch and tile choice: {@link Gemm}; plain reference: {@link GemmReference}.
 *
 * <p>A block of {@code wn·wm} warps computes a tile of {@code bn = wn·mt·16} weight rows (columns of C)
 * by {@code bm = wm·nt·8} token rows (rows of C). W is the mma A operand (16 rows of W a fragment) and
 * X the B operand (8 tokens a fragment), so a decode step with few tokens wastes at most 7/8 of an
 * 8-wide fragment, not 15/16 of a 16-high one. The block's K range (all of K, or a slice of
 * {@code kTilesPerSplit} tiles of {@link #BK} for split-K, {@code groupIdz} choosing the slice) goes
 * through a {@code stages}-deep ring of shared-memory tiles: W (and bf16/fp16 X) arrive by 16-byte
 * {@code cp.async}, fp32 X is loaded into registers one stage ahead and stored converted (bf16 or
 * fp16) after the current stage's mma. Tiles hold 128-byte rows (64 halves), swizzled by
 * {@link Swizzle#rowChunk128} so {@code ldmatrix} reads are conflict-free. Rows past N or M and
 * columns past K are zero-filled, so any M and N work; K must be a multiple of 8 (16-byte rows).
 *
 * <p>Grid: x = ⌈N / bn⌉, y = ⌈M / bm⌉, z = number of K slices; block = {@code wn·wm·32} work-items;
 * dynamic shared memory {@code stages·(bn + bm)·128} bytes. With more than one slice the fp32
 * epilogue adds with atomics (C must hold zeros, or the residual to accumulate into).
 */
public final class GemmKernels {
    private GemmKernels() {}

    /** K per pipeline stage: one 128-byte shared row of bf16/fp16 per W row and per token. */
    public static final int BK = 64;
    /** Words (pairs of halves) in one shared row. */
    static final int ROW_WORDS = BK / 2;

    // ---- entry points: one per (X type, W type, C type) -------------------------------------------------

    /** fp32 X (converted to bf16 on load), bf16 W, fp32 C; {@code accumulate} != 0 adds to C. */
    public static void xf32Wbf16(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray c, int m, int n, int k,
                                 int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                 @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        storeF32(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /**
     * {@link #xf32Wbf16} letting the next launch on the stream in first thing ({@link KernelContext#allowDependentLaunch}; the
     * engine's decode GEMMs under {@code -Darbor.gemm.earlyTrigger}, {@code Gemm#earlyTrigger}; off: measured slower): a next kernel launched
     * overlapping this one may then be placed, and run its own weight-only prologue, on the multiprocessors this grid leaves
     * free and while its last blocks finish (with no trigger it launches once every block of this grid has exited). A launch
     * permission only: that kernel still waits for this whole grid before it reads anything this one writes. The same loads,
     * the same sums, the same bits.
     */
    public static void xf32Wbf16Trigger(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray c, int m, int n, int k,
                                        int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                        @Constant int nt, @Constant int stages, @Constant int xRegs) {
        ctx.allowDependentLaunch();   // the next launch may start (it waits for this grid before reading what this one writes)
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        storeF32(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /**
     * The slab split-K of {@link #xf32Wbf16} ({@code accumulate == SLABS}) with the residual add and RMSNorm that
     * {@code FusedKernels.addRmsNormSplitRow} would run after it, in its epilogue: one launch where that pair takes two.
     * Each K slice's block stores its slab, fences and counts itself in on {@code arrivals[tile]}; the last-arriving slice of
     * a (column, token) tile fences again, adds the tile's slabs in slab order to the residual {@code resid} as
     * {@code addedColumn} adds them ({@code x + (s0 + s1 + …)}), fences and counts the tile in on its token tile's counter
     * ({@code arrivals[tiles + tileM]}); the last column tile of a token tile normalises its rows as the last-arriving group of
     * addRmsNormSplitRow does ({@link #normRows}): the same sums in the same order, so the same bits. Every counter is set back
     * to 0 by the block that read it last. Grid and block as the plan's ({@link #xf32Wbf16} with slabs).
     *
     * @param slabs    (slices, m, n) the K slices' partial sums (scratch)
     * @param resid    (m, n) the residual stream, updated in place
     * @param normW    (n) the norm's weight
     * @param out      (m, n) the normalised rows; not resid
     * @param arrivals (⌈n/bn⌉·⌈m/bm⌉ + ⌈m/bm⌉) zero between launches
     */
    public static void xf32Wbf16AddNorm(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray slabs, int m, int n, int k,
                                        int kTilesPerSplit, int slices, FloatArray resid, FloatArray normW, FloatArray out, IntArray arrivals,
                                        double eps, @Constant int wn, @Constant int wm, @Constant int mt, @Constant int nt,
                                        @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        // the products are done: the next GEMM (launched overlapping, it waits for this grid before reading X) may start
        // streaming its weights while the last slices add the slabs and the last tile normalises, as it did behind the norm kernel
        ctx.allowDependentLaunch();
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        addNormEpilogue(ctx, slabs, slices, resid, normW, out, arrivals, m, n, eps, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /** {@link #xf32Wbf16AddNorm}'s epilogue after the block stored its slab: the tile's slab sum, then the rows' norm. */
    static void addNormEpilogue(KernelContext ctx, FloatArray slabs, int slices, FloatArray resid, FloatArray normW, FloatArray out,
                                IntArray arrivals, int m, int n, double eps, int bn, int bm, int threads) {
        int[] last = ctx.allocateIntLocalArray(1);
        double[] partial = ctx.allocateDoubleLocalArray(LayerKernels.NORM_GROUP);
        int tid = ctx.localIdx;
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm, tile = ctx.groupIdy * tilesN + ctx.groupIdx;
        int n0 = ctx.groupIdx * bn, m0 = ctx.groupIdy * bm, cols = Math.min(bn, n - n0), rows = Math.min(bm, m - m0), count = m * n;
        ctx.threadFence();   // the slab's stores visible to the last-arriving slice before this block counts itself in
        ctx.localBarrier();
        if (tid == 0) last[0] = ctx.atomicAdd(arrivals, tile, 1) == slices - 1 ? 1 : 0;
        ctx.localBarrier();
        if (last[0] == 0) return;
        ctx.threadFence();
        for (int e = tid; e < rows * cols; e += threads) {   // resid + (s0 + s1 + …), slab order
            int r = e / cols, at = (m0 + r) * n + n0 + (e - r * cols);
            float xv = resid.get(at);
            float sum = slabs.get(at);
            for (int z = 1; z < slices; z++) sum += slabs.get(z * count + at);
            resid.set(at, xv + sum);
        }
        if (tid == 0) arrivals.set(tile, 0);   // ready for the next launch
        ctx.threadFence();   // the tile's residual visible to the last column tile before this one counts itself in
        ctx.localBarrier();
        if (tid == 0) last[0] = ctx.atomicAdd(arrivals, tilesN * tilesM + ctx.groupIdy, 1) == tilesN - 1 ? 1 : 0;
        ctx.localBarrier();
        if (last[0] == 0) return;
        ctx.threadFence();
        normRows(ctx, partial, resid, normW, out, m0, rows, n, eps);
        if (tid == 0) arrivals.set(tilesN * tilesM + ctx.groupIdy, 0);
    }

    /**
     * {@code out = w · (x · inv)} for rows m0 .. m0 + rows − 1 of x, as the last-arriving group of
     * {@code FusedKernels.addRmsNormSplitRow} computes them with its {@link LayerKernels#NORM_GROUP} work-items, here by
     * {@link #ADD_NORM_THREADS}: work-item t is that group's work-items t and t + 128 (the two halves of a pair, h = 0, 1), each
     * adding its strided slice i = t + 128h, t + 128h + 256, … by ascending i, each square in fp32 added in double; then the same
     * tree over the 256 partial sums, the same inverse and the same products. A chunk of both halves' loads (2 ×
     * {@link #NORM_CHUNK}) in flight at once; the last chunk's values stay in registers for the scaling, its weights load while
     * the tree runs (at n ≤ 4096 the only chunk: one round trip for x, none more before the stores).
     */
    static void normRows(KernelContext ctx, double[] partial, FloatArray x, FloatArray w, FloatArray out, int m0, int rows, int n,
                         double eps) {
        int tid = ctx.localIdx, g = LayerKernels.NORM_GROUP, step = NORM_CHUNK * g;
        float[] v = new float[2 * NORM_CHUNK];
        float[] ws = new float[2 * NORM_CHUNK];
        for (int r = m0; r < m0 + rows; r++) {
            int o = r * n, last = -1;
            double sq0 = 0, sq1 = 0;
            for (int c0 = tid; c0 < n; c0 += step) {
                loadPair(x, v, o, c0, n);
                sq0 = squaresOf(v, 0, c0, n, sq0);
                sq1 = squaresOf(v, 1, c0, n, sq1);
                last = c0;
            }
            if (last >= 0) loadPair(w, ws, 0, last, n);   // the last chunk's weights, while the tree runs
            partial[tid] = sq0;
            partial[tid + ADD_NORM_THREADS] = sq1;
            ctx.localBarrier();
            for (int h = g / 2; h > 0; h >>= 1) {
                for (int vt = tid; vt < h; vt += ADD_NORM_THREADS) partial[vt] += partial[vt + h];
                ctx.localBarrier();
            }
            float inv = (float) (1.0 / Math.sqrt(partial[0] / n + eps));
            if (last >= 0) scalePair(out, v, ws, o, last, n, inv);   // the last chunk from registers
            for (int c0 = tid; c0 < last; c0 += step) {
                loadPair(x, v, o, c0, n);
                loadPair(w, ws, 0, c0, n);
                scalePair(out, v, ws, o, c0, n, inv);
            }
            ctx.localBarrier();   // partial[0] read by every work-item before the next row's sums overwrite it
        }
    }

    /** Work-items of the one tiles {@link Gemm#addNormEpilogue} takes (SMALL: 4 warps): half the norm's group. */
    static final int ADD_NORM_THREADS = LayerKernels.NORM_GROUP / 2;
    /** Columns of a row {@link #normRows} loads at once a half of a work-item (as FusedKernels.SPLIT_NORM_CHUNK). */
    static final int NORM_CHUNK = 16;

    /** v[16h + j] = a[base + c0 + 128h + 256j] for h = 0, 1 and j &lt; NORM_CHUNK, those with the index below n. */
    @Unroll
    static void loadPair(FloatArray a, float[] v, int base, int c0, int n) {
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < NORM_CHUNK; j++) {
                int i = c0 + h * ADD_NORM_THREADS + j * LayerKernels.NORM_GROUP;
                if (i < n) v[h * NORM_CHUNK + j] = a.get(base + i);
            }
    }

    /** sq + Σ v[16h + j]² over j by ascending j (those with the index below n), each square in fp32 and added in double. */
    @Unroll
    static double squaresOf(float[] v, int h, int c0, int n, double sq) {
        for (int j = 0; j < NORM_CHUNK; j++) {
            int i = c0 + h * ADD_NORM_THREADS + j * LayerKernels.NORM_GROUP;
            if (i < n) {
                float square = v[h * NORM_CHUNK + j] * v[h * NORM_CHUNK + j];
                sq += square;
            }
        }
        return sq;
    }

    /** out[o + i] = ws · (v · inv) at loadPair's places. */
    @Unroll
    static void scalePair(FloatArray out, float[] v, float[] ws, int o, int c0, int n, float inv) {
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < NORM_CHUNK; j++) {
                int i = c0 + h * ADD_NORM_THREADS + j * LayerKernels.NORM_GROUP;
                if (i < n) out.set(o + i, ws[h * NORM_CHUNK + j] * (v[h * NORM_CHUNK + j] * inv));
            }
    }

    // ---- the RMSNorm in the next GEMM's prologue ---------------------------------------------------------

    /**
     * The slab split-K of {@link #xf32Wbf16} ({@code accumulate == SLABS}) adding its own K slices into the residual, no norm:
     * {@link #xf32Wbf16AddNorm}'s epilogue up to the residual (the last-arriving slice of a tile adds the tile's slabs in slab
     * order, {@code x + (s0 + s1 + …)}, as {@code FusedKernels.addedColumn}); the RMSNorm of the new rows is left to the next
     * GEMM's prologue ({@link #xf32Wbf16Norm}, {@link #xf32Wbf16NormSwiGlu}). Grid and block as the plan's.
     *
     * @param slabs    (slices, m, n) the K slices' partial sums (scratch)
     * @param resid    (m, n) the residual stream, updated in place
     * @param arrivals (⌈n/bn⌉·⌈m/bm⌉) zero between launches (left zero)
     */
    public static void xf32Wbf16AddSlabs(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray slabs, int m, int n, int k,
                                         int kTilesPerSplit, int slices, FloatArray resid, IntArray arrivals, @Constant int wn,
                                         @Constant int wm, @Constant int mt, @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        ctx.allowDependentLaunch();   // the next GEMM may stream its first weights while the slabs are stored and added
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        addSlabsEpilogue(ctx, slabs, slices, resid, arrivals, m, n, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /** {@link #xf32Wbf16AddSlabs}' epilogue after the block stored its slab: the last-arriving slice adds the tile's slabs. */
    static void addSlabsEpilogue(KernelContext ctx, FloatArray slabs, int slices, FloatArray resid, IntArray arrivals, int m, int n,
                                 int bn, int bm, int threads) {
        int[] last = ctx.allocateIntLocalArray(1);
        int tid = ctx.localIdx;
        int tilesN = (n + bn - 1) / bn, tile = ctx.groupIdy * tilesN + ctx.groupIdx;
        int n0 = ctx.groupIdx * bn, m0 = ctx.groupIdy * bm, cols = Math.min(bn, n - n0), rows = Math.min(bm, m - m0), count = m * n;
        ctx.threadFence();   // the slab's stores visible to the last-arriving slice before this block counts itself in
        ctx.localBarrier();
        if (tid == 0) last[0] = ctx.atomicAdd(arrivals, tile, 1) == slices - 1 ? 1 : 0;
        ctx.localBarrier();
        if (last[0] == 0) return;
        ctx.threadFence();
        float[] ys = new float[FusedKernels.ADD_NORM_PREFETCH];
        for (int e = tid; e < rows * cols; e += threads) {   // resid + (s0 + s1 + …), slab order
            int r = e / cols, at = (m0 + r) * n + n0 + (e - r * cols);
            resid.set(at, FusedKernels.addedColumn(resid, slabs, ys, at, slices, count));   // the slabs loaded at once (run 86-norm22)
        }
        if (tid == 0) arrivals.set(tile, 0);   // ready for the next launch
    }

    // ---- RoPE and the paged KV store in the q|k|v product's epilogue -------------------------------------------

    /**
     * The stacked q|k|v product ({@link #xf32Wbf16} on slabs, {@code accumulate == SLABS}, or one slice) with
     * {@code FusedKernels.qkvRopeStoreWideBf16}'s work in its epilogue: one launch where that pair takes two. Each K slice's block
     * stores its slab, fences and counts itself in on the counter of its head group ({@link #qkvRopeEpilogue}: whole heads and
     * whole column tiles, so both halves of every rotation pair); the last-arriving block of the group adds the group's slabs in
     * slab order, rotates q and k by the token's angle (rotate-half pairs (i, i + half), the same products in the same order) and
     * stores q and the k / v rows into the paged store at the token's slot exactly as qkvRopeStoreWide does: the same bits
     * (GemmQkvRopeTest, GemmQkvRopeGpuTest). n = (heads + 2 kvHeads)·2·half; head dimension a multiple of the tile's bn or a
     * divisor of it. Grid and block as the plan's.
     *
     * @param slabs    (slices, m, n) the K slices' partial sums (scratch)
     * @param q        (m, heads·headDim) the rotated queries
     * @param kCache   (numBlocks, kvHeads, blockSize, headDim) bf16 here (fp16 / fp32: {@link #xf32Wbf16QkvRopeF16} / {@link #xf32Wbf16QkvRopeF32}); vCache alike
     * @param cos      (m, half) the step's angles, sin alike; unread with rope 0
     * @param slots    (m) the tokens' KV slots (-1 or past the store: no k / v store)
     * @param arrivals ({@link Gemm#qkvRopeArrivals}) zero between launches (left zero)
     */
    public static void xf32Wbf16QkvRopeBf16(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray slabs, int m, int n, int k,
                                            int kTilesPerSplit, int slices, FloatArray q, BFloat16Array kCache, BFloat16Array vCache,
                                            FloatArray cos, FloatArray sin, IntArray slots, IntArray arrivals, int heads, int kvHeads, int half,
                                            int blockSize, int numBlocks, int rope, @Constant int wn, @Constant int wm, @Constant int mt,
                                            @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        ctx.allowDependentLaunch();   // the attention may launch; it waits for this grid before reading q or the store
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        qkvRopeEpilogue(ctx, slabs, slices, q, kCache, vCache, cos, sin, slots, arrivals, m, n, heads, kvHeads, half, blockSize, numBlocks,
                rope, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /** {@link #xf32Wbf16QkvRopeBf16} into an fp16 store. */
    public static void xf32Wbf16QkvRopeF16(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray slabs, int m, int n, int k,
                                           int kTilesPerSplit, int slices, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache,
                                           FloatArray cos, FloatArray sin, IntArray slots, IntArray arrivals, int heads, int kvHeads, int half,
                                           int blockSize, int numBlocks, int rope, @Constant int wn, @Constant int wm, @Constant int mt,
                                           @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        ctx.allowDependentLaunch();
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        qkvRopeEpilogue(ctx, slabs, slices, q, kCache, vCache, cos, sin, slots, arrivals, m, n, heads, kvHeads, half, blockSize, numBlocks,
                rope, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /** {@link #xf32Wbf16QkvRopeBf16} into an fp32 store. */
    public static void xf32Wbf16QkvRopeF32(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray slabs, int m, int n, int k,
                                           int kTilesPerSplit, int slices, FloatArray q, FloatArray kCache, FloatArray vCache,
                                           FloatArray cos, FloatArray sin, IntArray slots, IntArray arrivals, int heads, int kvHeads, int half,
                                           int blockSize, int numBlocks, int rope, @Constant int wn, @Constant int wm, @Constant int mt,
                                           @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        ctx.allowDependentLaunch();
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        qkvRopeEpilogue(ctx, slabs, slices, q, kCache, vCache, cos, sin, slots, arrivals, m, n, heads, kvHeads, half, blockSize, numBlocks,
                rope, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /**
     * {@link #xf32Wbf16QkvRopeBf16} on X = RMSNorm(resid) · normW computed in the prologue ({@link #xf32Wbf16Norm}'s
     * {@link #normMainloop}): the norm prologue and the RoPE epilogue in one launch, the bits of xf32Wbf16Norm's slabs through
     * FusedKernels.qkvRopeStoreWideBf16. m ≤ bm. Dynamic shared memory as xf32Wbf16Norm's.
     */
    public static void xf32Wbf16NormQkvRopeBf16(KernelContext ctx, FloatArray resid, FloatArray normW, BFloat16Array w, FloatArray slabs, int m,
                                                int n, int k, int kTilesPerSplit, int slices, double eps, FloatArray q, BFloat16Array kCache,
                                                BFloat16Array vCache, FloatArray cos, FloatArray sin, IntArray slots, IntArray arrivals, int heads,
                                                int kvHeads, int half, int blockSize, int numBlocks, int rope, @Constant int wn, @Constant int wm,
                                                @Constant int mt, @Constant int nt, @Constant int stages) {
        float[] acc = new float[mt * nt * 4];
        normMainloop(ctx, resid, normW, w, acc, m, n, k, kTilesPerSplit, eps, wn, wm, mt, nt, stages);
        ctx.allowDependentLaunch();
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        qkvRopeEpilogue(ctx, slabs, slices, q, kCache, vCache, cos, sin, slots, arrivals, m, n, heads, kvHeads, half, blockSize, numBlocks,
                rope, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /** {@link #xf32Wbf16NormQkvRopeBf16} into an fp16 store. */
    public static void xf32Wbf16NormQkvRopeF16(KernelContext ctx, FloatArray resid, FloatArray normW, BFloat16Array w, FloatArray slabs, int m,
                                               int n, int k, int kTilesPerSplit, int slices, double eps, FloatArray q, HalfFloatArray kCache,
                                               HalfFloatArray vCache, FloatArray cos, FloatArray sin, IntArray slots, IntArray arrivals, int heads,
                                               int kvHeads, int half, int blockSize, int numBlocks, int rope, @Constant int wn, @Constant int wm,
                                               @Constant int mt, @Constant int nt, @Constant int stages) {
        float[] acc = new float[mt * nt * 4];
        normMainloop(ctx, resid, normW, w, acc, m, n, k, kTilesPerSplit, eps, wn, wm, mt, nt, stages);
        ctx.allowDependentLaunch();
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        qkvRopeEpilogue(ctx, slabs, slices, q, kCache, vCache, cos, sin, slots, arrivals, m, n, heads, kvHeads, half, blockSize, numBlocks,
                rope, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /** {@link #xf32Wbf16NormQkvRopeBf16} into an fp32 store. */
    public static void xf32Wbf16NormQkvRopeF32(KernelContext ctx, FloatArray resid, FloatArray normW, BFloat16Array w, FloatArray slabs, int m,
                                               int n, int k, int kTilesPerSplit, int slices, double eps, FloatArray q, FloatArray kCache,
                                               FloatArray vCache, FloatArray cos, FloatArray sin, IntArray slots, IntArray arrivals, int heads,
                                               int kvHeads, int half, int blockSize, int numBlocks, int rope, @Constant int wn, @Constant int wm,
                                               @Constant int mt, @Constant int nt, @Constant int stages) {
        float[] acc = new float[mt * nt * 4];
        normMainloop(ctx, resid, normW, w, acc, m, n, k, kTilesPerSplit, eps, wn, wm, mt, nt, stages);
        ctx.allowDependentLaunch();
        storeF32(ctx, slabs, acc, m, n, SLABS, wn, wm, mt, nt);
        qkvRopeEpilogue(ctx, slabs, slices, q, kCache, vCache, cos, sin, slots, arrivals, m, n, heads, kvHeads, half, blockSize, numBlocks,
                rope, wn * mt * 16, wm * nt * 8, wn * wm * 32);
    }

    /**
     * The q|k|v epilogue after the block stored its slab (shared by every q|k|v entry: {@link #xf32Wbf16QkvRopeBf16} and its
     * forms; a prologue variant takes it as is). A head group spans max(bn, headDim) columns: one column tile holding whole
     * heads, or the headDim / bn tiles of one head. Every (slice, tile) block of the group counts itself in on
     * {@code arrivals[tileM · groups + group]}; the last of the slices · tiles it expects adds the group's slabs and stores the
     * rotated pairs of its token rows ({@link #storeRopedPair}), then sets the counter back to 0.
     */
    static void qkvRopeEpilogue(KernelContext ctx, FloatArray slabs, int slices, FloatArray q, OffHeapArray kCache, OffHeapArray vCache,
                                FloatArray cos, FloatArray sin, IntArray slots, IntArray arrivals, int m, int n, int heads, int kvHeads,
                                int half, int blockSize, int numBlocks, int rope, int bn, int bm, int threads) {
        int[] last = ctx.allocateIntLocalArray(1);
        int tid = ctx.localIdx, headDim = 2 * half;
        int span = Math.max(bn, headDim), tilesPer = span / bn, groups = (n + span - 1) / span;
        int group = ctx.groupIdx / tilesPer, counter = ctx.groupIdy * groups + group;
        int g0 = group * span, m0 = ctx.groupIdy * bm, rows = Math.min(bm, m - m0), pairs = Math.min(span, n - g0) / 2, count = m * n;
        ctx.threadFence();   // the slab's stores visible to the last-arriving block before this one counts itself in
        ctx.localBarrier();
        if (tid == 0) last[0] = ctx.atomicAdd(arrivals, counter, 1) == slices * tilesPer - 1 ? 1 : 0;
        ctx.localBarrier();
        if (last[0] == 0) return;
        ctx.threadFence();
        for (int e = tid; e < rows * pairs; e += threads) {
            int r = e / pairs, p = e - r * pairs, hu = p / half, i = p - hu * half;
            int t = m0 + r, at = t * n + g0 + hu * headDim + i;
            float x1 = slabs.get(at), x2 = slabs.get(at + half);
            for (int z = 1; z < slices; z++) {   // slab order, as FusedKernels.summed
                float z1 = slabs.get(z * count + at), z2 = slabs.get(z * count + at + half);
                x1 += z1;
                x2 += z2;
            }
            storeRopedPair(q, kCache, vCache, cos, sin, slots, x1, x2, t, g0 / headDim + hu, i, heads, kvHeads, half, blockSize, numBlocks, rope);
        }
        if (tid == 0) arrivals.set(counter, 0);   // ready for the next launch
    }

    /**
     * Pair (i, i + half) of head unit u (q heads, then k, then v) of token t, its slabs summed: rotated where a q or k unit and
     * rope 1 ({@code r1 = x1·cos − x2·sin, r2 = x2·cos + x1·sin}, FusedKernels.storeQkvWide's products), then into q or into the
     * k / v store at the token's slot (FusedKernels.kvIndex's place; none for a slot of -1 or past the store).
     */
    static void storeRopedPair(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, FloatArray cos, FloatArray sin, IntArray slots,
                               float x1, float x2, int t, int u, int i, int heads, int kvHeads, int half, int blockSize, int numBlocks, int rope) {
        int headDim = 2 * half;
        float a = x1, c = x2;
        if (rope != 0 && u < heads + kvHeads) {
            float cs = cos.get(t * half + i), sn = sin.get(t * half + i);
            float r1 = a * cs - c * sn, r2 = c * cs + a * sn;
            a = r1;
            c = r2;
        }
        if (u < heads) {
            int o = (t * heads + u) * headDim + i;
            q.set(o, a);
            q.set(o + half, c);
        } else {
            int slot = slots.get(t), block = slot / blockSize;
            if (slot >= 0 && block < numBlocks) {
                int h = u < heads + kvHeads ? u - heads : u - heads - kvHeads;
                int at = ((block * kvHeads + h) * blockSize + (slot - block * blockSize)) * headDim + i;
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

    /**
     * {@link #xf32Wbf16} on X = RMSNorm(resid) · normW computed in the prologue: every block, after its first weight stages
     * are in flight and the grid before it is done, forms the sum of squares of each of its token rows of {@code resid} (k
     * wide) exactly as the last-arriving group of {@code FusedKernels.addRmsNormSplitRow} does (work-item t of 128 as that
     * group's t and t + 128, each its strided slice by ascending i, fp32 squares added in double; the same tree and inverse),
     * then {@code w · (x · inv)} (fp32, the same products) of its own K slice, rounded to bf16 as the main loop's conversion
     * rounds fp32 X, into a region of shared memory after the ring ({@link #normRegionWords}); the main loop takes its X
     * stages from there. So the bits of addRmsNormSplitRow's output through {@link #xf32Wbf16}. {@code accumulate}: 0 or
     * {@link #SLABS} (grid z = slices); m ≤ bm. Dynamic shared memory: the plan's plus {@code 4·min(m, bm)·kTilesPerSplit·BK/2}.
     *
     * @param resid (m, k) the residual rows (fp32)
     * @param normW (k) the norm's weight
     */
    public static void xf32Wbf16Norm(KernelContext ctx, FloatArray resid, FloatArray normW, BFloat16Array w, FloatArray c, int m, int n,
                                     int k, int kTilesPerSplit, int accumulate, double eps, @Constant int wn, @Constant int wm,
                                     @Constant int mt, @Constant int nt, @Constant int stages) {
        float[] acc = new float[mt * nt * 4];
        normMainloop(ctx, resid, normW, w, acc, m, n, k, kTilesPerSplit, eps, wn, wm, mt, nt, stages);
        storeF32(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /** {@link #xf32Wbf16Norm} with {@link #xf32Wbf16SwiGlu}'s epilogue (interleaved gate|up, one K slice): h = silu(g)·u. */
    public static void xf32Wbf16NormSwiGlu(KernelContext ctx, FloatArray resid, FloatArray normW, BFloat16Array w, FloatArray h, int m,
                                           int n, int k, int kTilesPerSplit, int accumulate, double eps, @Constant int wn,
                                           @Constant int wm, @Constant int mt, @Constant int nt, @Constant int stages) {
        float[] acc = new float[mt * nt * 4];
        normMainloop(ctx, resid, normW, w, acc, m, n, k, kTilesPerSplit, eps, wn, wm, mt, nt, stages);
        storeSwiGluTile(ctx, h, acc, m, n, wn, wm, mt, nt, ctx.groupIdx, ctx.groupIdy);
    }

    /** Words of shared memory {@link #xf32Wbf16Norm}'s normalised X takes after the ring: bf16 pairs of min(m, bm) rows of a K slice. */
    public static int normRegionWords(int rows, int kTilesPerSplit) { return rows * kTilesPerSplit * ROW_WORDS; }

    /**
     * {@link #mainloop} for fp32 X normalised in the prologue ({@link #xf32Wbf16Norm}): W's first stages by cp.async, the wait
     * for the previous grid, the norm into the region, then the same ring with each X stage copied from the region (the same
     * bf16 values in the same places as the fp32 register path stores: the same mma operands, the same sums).
     */
    static void normMainloop(KernelContext ctx, FloatArray resid, FloatArray normW, BFloat16Array w, float[] acc, int m, int n, int k,
                             int kTilesPerSplit, double eps, int wn, int wm, int mt, int nt, int stages) {
        int[] smem = ctx.dynamicIntLocalArray();
        double[] partial = ctx.allocateDoubleLocalArray(LayerKernels.NORM_GROUP);
        int[] af = new int[mt * 4];
        int[] bf = new int[nt * 2];
        int threads = wn * wm * 32, bn = wn * mt * 16, bm = wm * nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS, xOffset = bn * ROW_WORDS;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int warpN = warp % wn, warpM = warp / wn;
        int n0 = ctx.groupIdx * bn, m0 = ctx.groupIdy * bm;
        int kTiles = (k + BK - 1) / BK, kt0 = ctx.groupIdz * kTilesPerSplit;
        int count = Math.min(kTilesPerSplit, kTiles - kt0);
        int rows = Math.min(bm, m - m0), sliceWords = kTilesPerSplit * ROW_WORDS, region = stages * stageWords;

        for (int s = 0; s < stages - 1; s++) {
            if (s < count) loadRows(ctx, smem, s * stageWords, w, n0, n, k, (kt0 + s) * BK, tid, bn, threads);
        }
        ctx.gridDependencyWait();   // the residual is the previous grid's output
        for (int r = 0; r < rows; r++)
            normSliceIntoShared(ctx, partial, smem, region + r * sliceWords, resid, normW, (m0 + r) * k, k, kt0 * BK, count * BK, eps, tid, threads);
        ctx.localBarrier();   // the region complete before any stage copies from it
        for (int s = 0; s < stages - 1; s++) {
            if (s < count) copyXStage(ctx, smem, s * stageWords + xOffset, region + s * ROW_WORDS, sliceWords, rows, tid, bm, threads);
            ctx.cpAsyncCommit();
        }
        for (int t = 0; t < count; t++) {
            ctx.cpAsyncWait(stages - 2);
            ctx.localBarrier();
            int next = t + stages - 1;
            int nextBase = (next % stages) * stageWords;
            if (next < count) loadRows(ctx, smem, nextBase, w, n0, n, k, (kt0 + next) * BK, tid, bn, threads);
            ctx.cpAsyncCommit();
            int base = (t % stages) * stageWords;
            computeStage(ctx, smem, base, base + xOffset, acc, af, bf, warpN * mt * 16, warpM * nt * 8, lane, mt, nt, 0);
            if (next < count) copyXStage(ctx, smem, nextBase + xOffset, region + next * ROW_WORDS, sliceWords, rows, tid, bm, threads);
        }
        ctx.cpAsyncWait(0);
    }

    /**
     * One row's norm into the region: the sum of squares of x = resid[o .. o + k) as addRmsNormSplitRow's last group forms it
     * ({@link #loadPair}, {@link #squaresOf}: 128 work-items as its 256), the tree, the inverse; then for columns
     * [kLo, kLo + cols) of the row, chunks of 8: {@code bf16(normW · (x · inv))} packed in pairs at word (column − kLo) / 2,
     * zeros for columns past k.
     */
    static void normSliceIntoShared(KernelContext ctx, double[] partial, int[] smem, int at, FloatArray x, FloatArray normW, int o, int k,
                                    int kLo, int cols, double eps, int tid, int threads) {
        int g = LayerKernels.NORM_GROUP, step = NORM_CHUNK * g, chunks = cols / 8;
        float[] v = new float[2 * NORM_CHUNK];
        double sq0 = 0, sq1 = 0;
        for (int c0 = tid; c0 < k; c0 += step) {
            loadPair(x, v, o, c0, k);
            sq0 = squaresOf(v, 0, c0, k, sq0);
            sq1 = squaresOf(v, 1, c0, k, sq1);
        }
        int[] xs = new int[8 * SCALE_GROUP];
        int[] ws = new int[8 * SCALE_GROUP];
        int[] packed = new int[4];
        loadScaleGroup(ctx, xs, ws, x, normW, o, kLo, k, chunks, tid, threads);   // the first group's x and w while the tree runs
        partial[tid] = sq0;
        partial[tid + ADD_NORM_THREADS] = sq1;
        ctx.localBarrier();
        for (int h = g / 2; h > 0; h >>= 1) {
            for (int vt = tid; vt < h; vt += ADD_NORM_THREADS) partial[vt] += partial[vt + h];
            ctx.localBarrier();
        }
        float inv = (float) (1.0 / Math.sqrt(partial[0] / k + eps));
        storeScaleGroup(ctx, xs, ws, packed, smem, at, kLo, k, chunks, tid, threads, inv);
        for (int q0 = tid + SCALE_GROUP * threads; q0 < chunks; q0 += SCALE_GROUP * threads) {
            loadScaleGroup(ctx, xs, ws, x, normW, o, kLo, k, chunks, q0, threads);
            storeScaleGroup(ctx, xs, ws, packed, smem, at, kLo, k, chunks, q0, threads, inv);
        }
        ctx.localBarrier();   // partial[0] read by every work-item before the next row's sums overwrite it
    }

    /** Chunks of 8 columns a work-item of {@link #normSliceIntoShared} scales at once (every load first): a 4096-wide slice in one group. */
    static final int SCALE_GROUP = 4;

    /** x and w of chunks q0 + g·threads (g &lt; SCALE_GROUP, below {@code chunks} and k) into xs[8g ..], ws[8g ..]: every load issued first. */
    @Unroll
    static void loadScaleGroup(KernelContext ctx, int[] xs, int[] ws, FloatArray x, FloatArray normW, int o, int kLo, int k, int chunks,
                               int q0, int threads) {
        for (int g = 0; g < SCALE_GROUP; g++) {
            int q = q0 + g * threads, kk = kLo + q * 8;
            if (q < chunks && kk < k) {
                ctx.loadGlobal128(xs, 8 * g, x, o + kk);
                ctx.loadGlobal128(xs, 8 * g + 4, x, o + kk + 4);
                ctx.loadGlobal128(ws, 8 * g, normW, kk);
                ctx.loadGlobal128(ws, 8 * g + 4, normW, kk + 4);
            }
        }
    }

    /**
     * The region's words of chunks q0 + g·threads: bf16 pairs of {@code w · (x · inv)} (fp32 products, as addRmsNormSplitRow's),
     * zeros for columns past k (the last slice's last stage, as the fp32 path loads them).
     */
    @Unroll
    static void storeScaleGroup(KernelContext ctx, int[] xs, int[] ws, int[] packed, int[] smem, int at, int kLo, int k, int chunks, int q0,
                                int threads, float inv) {
        for (int g = 0; g < SCALE_GROUP; g++) {
            int q = q0 + g * threads, kk = kLo + q * 8;
            if (q < chunks) {
                for (int j = 0; j < 4; j++) {
                    float lo = Float.intBitsToFloat(ws[8 * g + 2 * j]) * (Float.intBitsToFloat(xs[8 * g + 2 * j]) * inv);
                    float hi = Float.intBitsToFloat(ws[8 * g + 2 * j + 1]) * (Float.intBitsToFloat(xs[8 * g + 2 * j + 1]) * inv);
                    packed[j] = kk < k ? KernelContext.packBf16(lo, hi) : 0;
                }
                ctx.storeShared128(smem, at + q * 4, packed, 0);
            }
        }
    }

    /**
     * X of one stage (64 of K, bm token rows) into the ring's swizzled X tile at {@code base}, from the region's bf16 rows
     * (word {@code from} of row 0, {@code sliceWords} a row): rows past {@code rows} zeros, as the fp32 path zero-fills them
     * (columns past K hold zeros in the region: {@link #normSliceIntoShared}).
     */
    @Unroll
    static void copyXStage(KernelContext ctx, int[] smem, int base, int from, int sliceWords, int rows, int tid, int bm, int threads) {
        int[] chunk = new int[4];
        for (int i = 0; i < (bm * 8 + threads - 1) / threads; i++) {
            int q = i * threads + tid, row = q >> 3, c = q & 7;
            if (bm * 8 % threads == 0 || q < bm * 8) {
                if (row < rows) ctx.loadShared128(chunk, 0, smem, from + row * sliceWords + c * 4);
                else for (int j = 0; j < 4; j++) chunk[j] = 0;
                ctx.storeShared128(smem, base + Swizzle.rowChunk128(row, c), chunk, 0);
            }
        }
    }

    /** fp32 X (converted to fp16 on load), fp16 W, fp32 C. */
    public static void xf32Wf16(KernelContext ctx, FloatArray x, HalfFloatArray w, FloatArray c, int m, int n, int k,
                                int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 1);
        storeF32(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /** bf16 X, bf16 W, fp32 C. */
    public static void xbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, int m, int n, int k,
                                  int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                  @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 0, 0);
        storeF32(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /** fp16 X, fp16 W, fp32 C. */
    public static void xf16Wf16(KernelContext ctx, HalfFloatArray x, HalfFloatArray w, FloatArray c, int m, int n, int k,
                                int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 0, 1);
        storeF32(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /** bf16 X, bf16 W, bf16 C (rounded to nearest even once, after the fp32 sum; no split-K). */
    public static void xbf16Wbf16Obf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, BFloat16Array c, int m, int n, int k,
                                       int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                       @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 0, 0);
        storeBf16(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /** fp32 X, bf16 W, bf16 C (no split-K). */
    public static void xf32Wbf16Obf16(KernelContext ctx, FloatArray x, BFloat16Array w, BFloat16Array c, int m, int n, int k,
                                      int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                      @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        storeBf16(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt);
    }

    /**
     * bf16 X, bf16 W, fp32 C on Hopper's warpgroup MMA ({@code wgmma.m64nNk16}, sm_90a): a block of
     * {@code wn / 4} warpgroups computes {@code bn = wn·16} weight rows (64 a warpgroup, the wgmma A operand)
     * by {@code bm = nt·8} tokens (the wgmma B operand, N = bm ≤ 256), both read by the tensor cores straight
     * from the same 128-byte-swizzled shared tiles the mma.sync path fills ({@link #loadRows}, cp.async,
     * {@code stages} deep). One wgmma batch (the stage's four k16 steps) stays in flight while the next stage
     * is issued, so loads run {@code stages − 2} tiles ahead. The accumulators' layout is the mma.sync one
     * with {@code mt = 1} (see {@link dev.arbor.accel.KernelContext#wgmmaBf16}), so the epilogue is
     * {@link #storeF32} with {@code wm = mt = 1}. {@code wm}, {@code mt} and {@code xRegs} are unused (the
     * launch arguments are those of the other entry points). Not batch-invariant with the mma.sync kernels:
     * the tensor cores may sum a k16 step in another order.
     */
    public static void wgmmaXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, int m, int n, int k,
                                       int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                       @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[nt * 4];
        wgmmaMainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, nt, stages);
        storeF32(ctx, c, acc, m, n, accumulate, wn, 1, 1, nt);
    }

    static void wgmmaMainloop(KernelContext ctx, OffHeapArray x, OffHeapArray w, float[] acc, int m, int n, int k, int kTilesPerSplit,
                              int wn, int nt, int stages) {
        int[] smem = ctx.dynamicIntLocalArray();
        int threads = wn * 32, bn = wn * 16, bm = nt * 8, ahead = stages - 2;
        int stageWords = (bn + bm) * ROW_WORDS, xOffset = bn * ROW_WORDS;
        int tid = ctx.localIdx, group = tid >> 7;
        int n0 = ctx.groupIdx * bn, m0 = ctx.groupIdy * bm;
        int kTiles = (k + BK - 1) / BK, kt0 = ctx.groupIdz * kTilesPerSplit;
        int count = Math.min(kTilesPerSplit, kTiles - kt0);

        for (int s = 0; s < ahead; s++) {
            if (s < count) {
                int base = s * stageWords, k0 = (kt0 + s) * BK;
                loadRows(ctx, smem, base, w, n0, n, k, k0, tid, bn, threads);
                loadRows(ctx, smem, base + xOffset, x, m0, m, k, k0, tid, bm, threads);
            }
            ctx.cpAsyncCommit();
        }
        for (int t = 0; t < count; t++) {
            ctx.cpAsyncWait(stages - 3);      // tile t has landed (this work-item's part)
            ctx.fenceProxyAsyncShared();      // ... and is visible to the tensor cores' (async) proxy
            ctx.localBarrier();               // everyone's part; and every warpgroup is done with tile t-2
            int next = t + ahead;
            if (next < count) {
                int nextBase = (next % stages) * stageWords, k0 = (kt0 + next) * BK;
                loadRows(ctx, smem, nextBase, w, n0, n, k, k0, tid, bn, threads);
                loadRows(ctx, smem, nextBase + xOffset, x, m0, m, k, k0, tid, bm, threads);
            }
            ctx.cpAsyncCommit();
            int base = (t % stages) * stageWords;
            long descW = ctx.wgmmaDescriptorSw128(smem, base + group * 64 * ROW_WORDS);
            long descX = ctx.wgmmaDescriptorSw128(smem, base + xOffset);
            ctx.wgmmaFence();
            wgmmaStage(ctx, acc, smem, descW, descX, bm, bn);
            ctx.wgmmaCommit();
            ctx.wgmmaWait(1);                 // the batch of tile t-1 is done: its stage may be refilled after the next barrier
        }
        ctx.wgmmaWait(0);
        ctx.cpAsyncWait(0);
    }

    /**
     * bf16 X, bf16 W, fp32 C on Hopper's warpgroup MMA fed by the bulk tensor copy engine (TMA), warp-specialized:
     * a block of {@code wn} consumer warps ({@code wn / 4} warpgroups, each 64 W rows by {@code bm = nt·8} tokens,
     * as in {@link #wgmmaXbf16Wbf16}) and one producer warpgroup after them, of which one work-item issues, per K
     * tile, two 2-D bulk copies (W rows {@code n0 ..+bn}, X rows {@code m0 ..+bm}, 64 of K each, straight into the
     * 128-byte-swizzled stage the wgmma descriptors read) completing on the stage's "full" mbarrier. The consumers
     * wait on "full", issue the stage's four k16 wgmma, keep one batch in flight, and release the previous stage
     * on its "empty" mbarrier (one arrival per consumer work-item), which the producer waits on before refilling it.
     * No cp.async, no block-wide barrier in the main loop: the tensor cores never wait on address arithmetic.
     *
     * <p>{@code mapX}, {@code mapW}: tensor maps ({@code TensorMaps.tile128}) of X as {@code xRows × k} (xRows ≥ m:
     * rows past m may hold anything, their sums are never stored) with boxes of bm rows, and of W as {@code n × k}
     * with boxes of bn rows. Shared memory: {@code stages·(bn + bm)·128} bytes of tiles, then 2·stages mbarriers
     * (16·stages bytes). Block: {@code wn·32 + 128} work-items. Grid and split-K as {@link #wgmmaXbf16Wbf16}; block (x, y) computes
     * the output tile {@code raster} puts there ({@link #rasterTileN}; 1: tile (x, y)). Three consumer warpgroups ({@code wn = 12})
     * take the producer warpgroup's registers by setmaxnreg ({@link #consumerRegisters}).
     */
    public static void wgmmaTmaXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, LongArray mapX, LongArray mapW,
                                          int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                          @Constant int wn, @Constant int nt, @Constant int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages;   // mbarrier words after the tiles
        int tid = ctx.localIdx, consumers = wn * 32;
        int kTiles = (k + BK - 1) / BK, kt0 = ctx.groupIdz * kTilesPerSplit;
        int count = Math.min(kTilesPerSplit, kTiles - kt0);
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm;
        int tileN = rasterTileN(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        int tileM = rasterTileM(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        tmaBarriersInit(ctx, smem, full, empty, stages, consumers);
        if (tid >= consumers) {
            producerRegisters(ctx, wn);
            if (tid == consumers) tmaProduce(ctx, smem, x, w, mapX, mapW, xRows, n, k, tileN * bn, tileM * bm, kt0, count, bn, bm, stageWords, full, empty, stages);
        } else {
            consumerRegisters(ctx, wn);
            float[] acc = new float[nt * 4];
            for (int t = 0; t < count; t++) tmaConsume(ctx, smem, acc, t, bn, bm, stageWords, full, empty, stages);
            ctx.wgmmaWait(0);
            storeF32Tile(ctx, c, acc, m, n, accumulate, wn, 1, 1, nt, tileN, tileM);
        }
    }

    /**
     * {@link #wgmmaTmaXbf16Wbf16}'s split-K with the K slices of an output tile reduced in the cluster's shared memory, not by
     * atomic adds into C zeroed first ({@code Gemm#clusterPlan}, {@code -Darbor.gemm.clusterSplitK}): the grid's z = the
     * {@code slices} K slices of a tile run as one thread-block cluster of (1, 1, slices) blocks (block z, cluster rank z, K
     * tiles {@code z·kTilesPerSplit ..}). After its main loop each block writes its fp32 partial tile into its own (drained)
     * stage ring, {@code bm} token rows of {@code bn + 4} words (the pad keeps the fragments' stores off one bank); after a
     * cluster barrier, block z sums the z-th share of the tile's 16-byte quads over the slices' shared tiles (distributed
     * shared memory) in slice order, slice 0 first, and stores it, or with {@code accumulate} adds C: each element of C is
     * written once by one work-item, so no zeroing launch, no atomics, and the sum is the one {@link #sumSlices} forms from
     * the slab form's slabs: the same bits as the slab plan of the same tiles and slices. A second cluster barrier keeps every
     * block's shared memory alive until its peers have read it. Two consumer warpgroups at most ({@code wn ≤ 8}: every
     * work-item, the producer warpgroup's too, takes part in the sum with the registers it was launched with). Arguments as
     * {@link #wgmmaTmaXbf16Wbf16}, with {@code slices} (1-8) the cluster's depth. Measured 1.20-1.79× slower than the atomics at
     * llama3.2-1b's and llama-7b's split products at 48-128 tokens (bench/RESULTS.md run 88-small22): off by default.
     */
    public static void wgmmaTmaClusterXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, LongArray mapX, LongArray mapW,
                                                 int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                                 @Constant int wn, @Constant int nt, @Constant int stages, @Constant int slices) {
        ctx.launchBounds(wn * 32 + 128);
        ctx.clusterDims(1, 1, slices);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32, threads = consumers + 128;
        int kTiles = (k + BK - 1) / BK, kt0 = ctx.groupIdz * kTilesPerSplit;
        int count = Math.min(kTilesPerSplit, kTiles - kt0);
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm;
        int tileN = rasterTileN(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        int tileM = rasterTileM(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        int pitch = bn + 4;
        tmaBarriersInit(ctx, smem, full, empty, stages, consumers);
        float[] acc = new float[nt * 4];
        if (tid < consumers) {
            for (int t = 0; t < count; t++) tmaConsume(ctx, smem, acc, t, bn, bm, stageWords, full, empty, stages);
            ctx.wgmmaWait(0);
        } else if (tid == consumers) tmaProduce(ctx, smem, x, w, mapX, mapW, xRows, n, k, tileN * bn, tileM * bm, kt0, count, bn, bm, stageWords, full, empty, stages);
        ctx.localBarrier();   // every consumer's wgmma has read its last stage: the ring may be overwritten
        if (tid < consumers) storePartialShared(ctx, smem, acc, nt, wn, pitch);
        ctx.clusterBarrier();   // every slice's partial tile is in its block's shared memory
        ctx.gridDependencyWait();   // launched overlapping the kernel before it: wait for it before touching C
        int rowQuads = bn / 4, quads = bm * rowQuads, share = (quads + slices - 1) / slices;
        int q1 = Math.min(quads, (ctx.groupIdz + 1) * share);
        for (int q = ctx.groupIdz * share + tid; q < q1; q += threads) {
            int lt = q / rowQuads, lr = (q - lt * rowQuads) * 4;
            int tok = tileM * bm + lt;
            if (tok < m) sumQuad(ctx, smem, c, lt * pitch + lr, tok * n, tileN * bn + lr, n, accumulate, slices);
        }
        ctx.clusterBarrier();   // no block leaves while a peer may still read its shared memory
    }

    /**
     * One 16-byte quad of the cluster's partial tiles: words {@code word..+3} of every slice's block summed in slice order (slice 0
     * first, as {@link #sumSlices}), stored at C[rowBase + row0 ..+3] (or added to C with {@code accumulate}), columns past n skipped.
     */
    @Unroll
    static void sumQuad(KernelContext ctx, int[] smem, FloatArray c, int word, int rowBase, int row0, int n, int accumulate, int slices) {
        int[] v = new int[4];
        float[] sum = new float[4];
        ctx.loadSharedCluster128(v, 0, smem, word, 0);
        for (int i = 0; i < 4; i++) sum[i] = Float.intBitsToFloat(v[i]);
        for (int z = 1; z < slices; z++) {
            ctx.loadSharedCluster128(v, 0, smem, word, z);
            for (int i = 0; i < 4; i++) sum[i] += Float.intBitsToFloat(v[i]);
        }
        if ((n & 3) == 0 && row0 + 3 < n) {   // a whole 16-byte quad of C (16-byte aligned: n and row0 multiples of 4): one access
            if (accumulate != 0) {
                ctx.loadGlobal128(v, 0, c, rowBase + row0);
                for (int i = 0; i < 4; i++) sum[i] = Float.intBitsToFloat(v[i]) + sum[i];
            }
            for (int i = 0; i < 4; i++) v[i] = Float.floatToRawIntBits(sum[i]);
            ctx.storeGlobal128(c, rowBase + row0, v, 0);
        } else {
            if (accumulate != 0)
                for (int i = 0; i < 4; i++) if (row0 + i < n) sum[i] = c.get(rowBase + row0 + i) + sum[i];
            for (int i = 0; i < 4; i++) if (row0 + i < n) c.set(rowBase + row0 + i, sum[i]);
        }
    }

    /** A consumer's fragments (layout as {@link #storeF32Tile}) into the block's shared tile: token rows of {@code pitch} words. */
    @Unroll
    static void storePartialShared(KernelContext ctx, int[] smem, float[] acc, int nt, int wn, int pitch) {
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
        int row0 = (warp % wn) * 16 + g;
        for (int j = 0; j < nt; j++)
            for (int r = 0; r < 4; r++)
                smem[(2 * t + j * 8 + (r & 1)) * pitch + row0 + (r >= 2 ? 8 : 0)] = Float.floatToRawIntBits(acc[j * 4 + r]);
    }

    /**
     * {@link #wgmmaTmaXbf16Wbf16} as a persistent kernel: a 1-D grid of at most one block a multiprocessor, block b computing
     * output tiles b, b + blocks, b + 2·blocks, … (in the raster's order, {@link #rasterTileN}), all of K each (no split-K:
     * {@code kTilesPerSplit} is unused). The producer runs on through the block's tiles without stopping, so the next tile's
     * first K tiles stream in while the consumers store the last one's C (the epilogue, ~128 KiB of fp32 a 128×256 tile, no
     * longer leaves the tensor cores idle), and a block's pipeline fills once, not once a tile. The stage ring's position
     * carries over between tiles; after a tile's last batch the consumers release its stage, zero their accumulators and
     * store. Each tile's sums are those of the plain kernel: the same bits.
     */
    public static void wgmmaTmaPersistentXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, LongArray mapX, LongArray mapW,
                                                    int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                                    @Constant int wn, @Constant int nt, @Constant int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32;
        int count = (k + BK - 1) / BK;
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm, tiles = tilesN * tilesM;
        int blocks = ctx.globalGroupSizeX / ctx.localGroupSizeX;
        tmaBarriersInit(ctx, smem, full, empty, stages, consumers);
        if (tid >= consumers) {
            if (tid == consumers) tmaProducePersistent(ctx, smem, x, w, mapX, mapW, xRows, n, k, tilesN, tilesM, blocks, raster, bn, bm, stageWords, full, empty, stages);
        } else {
            float[] acc = new float[nt * 4];
            int it = 0;
            for (int tile = ctx.groupIdx; tile < tiles; tile += blocks) {
                int bx = tile % tilesN, by = tile / tilesN;
                int tileN = rasterTileN(bx, by, tilesN, tilesM, raster), tileM = rasterTileM(bx, by, tilesN, tilesM, raster);
                for (int t = 0; t < count; t++) tmaConsumeRing(ctx, smem, acc, it + t, t > 0, bn, bm, stageWords, full, empty, stages);
                ctx.wgmmaWait(0);
                ctx.mbarrierArrive(smem, empty + 2 * ((it + count - 1) % stages));   // the tile's last stage: the producer may refill it
                it += count;
                storeF32Tile(ctx, c, acc, m, n, accumulate, wn, 1, 1, nt, tileN, tileM);
                zeroAccumulators(acc, nt);
            }
        }
    }

    /**
     * The batch-invariant slab form of {@link #wgmmaTmaXbf16Wbf16} with {@code slicesPerBlock} K slices a block
     * ({@code Gemm#slabGroupPlan}): block (x, y, z) computes the output tile of (x, y) ({@link #rasterTileN}) over K slices
     * {@code z·slicesPerBlock ..} (at most slicesPerBlock, fewer in the last group), each summed from zero in order over its
     * {@code kTilesPerSplit} K tiles (the last slice shorter when they do not divide K) and stored into its own slab
     * {@code slabs[slice·m·n + token·n + row]}, exactly as the plain kernel's block z = slice stores it: the same
     * wgmma sequence, the same sums, the same bits, for {@code GemmKernels#sumSlices} or a fused consumer to add in
     * slice order. What changes is the schedule: where the slab grid (tiles × slices blocks) would run as two or more
     * waves of short blocks (llama-7b's o and down at 65-128 tokens: 512 TMA_64X2 blocks of 8-22 K tiles for 264
     * resident slots), a block runs its slices one after the other through one stage ring carried across them (as
     * {@link #wgmmaTmaPersistentXbf16Wbf16} across tiles): one launch ramp and ring fill instead of one a wave, and
     * the producer streams the next slice's first K tiles while the consumers store a slab. Arguments as
     * {@link #wgmmaTmaXbf16Wbf16} with {@code accumulate}'s place taken by {@code slicesPerBlock} (C is the slab
     * scratch, (slices, m, n); the slabs are always stored, never added to).
     */
    public static void wgmmaTmaSlabGroupXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray slabs, LongArray mapX, LongArray mapW,
                                                   int m, int xRows, int n, int k, int kTilesPerSplit, int slicesPerBlock, int raster,
                                                   @Constant int wn, @Constant int nt, @Constant int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32;
        int kTiles = (k + BK - 1) / BK, slices = (kTiles + kTilesPerSplit - 1) / kTilesPerSplit;
        int z0 = ctx.groupIdz * slicesPerBlock, z1 = Math.min(slices, z0 + slicesPerBlock);
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm;
        int tileN = rasterTileN(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        int tileM = rasterTileM(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        tmaBarriersInit(ctx, smem, full, empty, stages, consumers);
        if (tid >= consumers) {
            producerRegisters(ctx, wn);
            if (tid == consumers) {
                int it = 0;
                for (int z = z0; z < z1; z++) {
                    int kt0 = z * kTilesPerSplit, count = Math.min(kTilesPerSplit, kTiles - kt0);
                    tmaProduceRing(ctx, smem, x, w, mapX, mapW, xRows, n, k, tileN * bn, tileM * bm, kt0, count, it, bn, bm, stageWords, full, empty, stages);
                    it += count;
                }
            }
        } else {
            consumerRegisters(ctx, wn);
            float[] acc = new float[nt * 4];
            int it = 0;
            for (int z = z0; z < z1; z++) {
                int count = Math.min(kTilesPerSplit, kTiles - z * kTilesPerSplit);
                for (int t = 0; t < count; t++) tmaConsumeRing(ctx, smem, acc, it + t, t > 0, bn, bm, stageWords, full, empty, stages);
                ctx.wgmmaWait(0);
                ctx.mbarrierArrive(smem, empty + 2 * ((it + count - 1) % stages));   // the slice's last stage: the producer may refill it
                it += count;
                storeSlabTile(ctx, slabs, acc, m, n, wn, nt, tileN, tileM, z);
                zeroAccumulators(acc, nt);   // the next slice sums from zero, as its own block would
            }
        }
    }

    /**
     * Stores a wgmma tile's fragments (one warpgroup row of {@code wn / 4}, 64 W rows × {@code nt·8} tokens each, layout as
     * {@link #storeF32Tile}) into slab {@code z} of {@code slabs}, (slices, m, n): the values {@link #storeF32Tile} stores
     * with {@code accumulate == SLABS} at block z, at the same places.
     */
    @Unroll
    static void storeSlabTile(KernelContext ctx, FloatArray slabs, float[] acc, int m, int n, int wn, int nt, int tileN, int tileM, int z) {
        ctx.gridDependencyWait();   // a no-op unless launched overlapping the kernel before it
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
        int row0 = tileN * (wn * 16) + (warp % wn) * 16 + g;
        int tok0 = tileM * (nt * 8) + 2 * t;
        int base = z * m * n;
        for (int j = 0; j < nt; j++)
            for (int r = 0; r < 4; r++) {
                int row = row0 + (r >= 2 ? 8 : 0), tok = tok0 + j * 8 + (r & 1);
                if (row < n && tok < m) slabs.set(base + tok * n + row, acc[j * 4 + r]);
            }
    }

    /**
     * Stream-K ({@code Gemm#streamKPlan}): a persistent 1-D grid of {@code blocks} blocks sharing the product's MAC iterations
     * (one K tile of one output tile: {@code tiles × ⌈k / 64⌉} of them, output tile-major, K ascending within a tile) in equal
     * contiguous ranges: block b runs iterations {@code ⌊total·b / blocks⌋ .. ⌊total·(b+1) / blocks⌋ - 1}, so every
     * multiprocessor gets the same number of K tiles whatever the tile count (32-128 output tiles of 128 × 128 for 132 SMs: the
     * shapes the one-wave split-K rule leaves with idle or half-idle multiprocessors). A block's range crosses output tiles: per
     * tile segment the consumers run its K tiles through one stage ring carried across segments (as
     * {@link #wgmmaTmaPersistentXbf16Wbf16}), then store: a whole tile as the plain kernel does (a store, or C + sum with
     * {@code accumulate}), a partial one (the tile shared with the neighbouring blocks) by atomic adds into C zeroed first (or
     * holding the residual): the split-K fix-up, in no fixed order, so the default ({@code --no-batch-invariance}) plan only,
     * never the invariant one. Arguments as {@link #wgmmaTmaPersistentXbf16Wbf16} ({@code kTilesPerSplit} unused). Measured
     * slower than the plans everywhere it was tried (bench/RESULTS.md run 61-gemm15; off by default, {@code -Darbor.gemm.streamK}):
     * kept as the base of a data-parallel + stream-K hybrid (full waves tile by tile, the remainder streamed), the form not tried.
     */
    public static void wgmmaTmaStreamKXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, LongArray mapX, LongArray mapW,
                                                 int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                                 @Constant int wn, @Constant int nt, @Constant int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32;
        int count = (k + BK - 1) / BK;
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm;
        int blocks = ctx.globalGroupSizeX / ctx.localGroupSizeX;
        long total = (long) tilesN * tilesM * count;
        int begin = (int) (total * ctx.groupIdx / blocks), end = (int) (total * (ctx.groupIdx + 1) / blocks);
        tmaBarriersInit(ctx, smem, full, empty, stages, consumers);
        if (tid >= consumers) {
            producerRegisters(ctx, wn);
            if (tid == consumers) tmaProduceStreamK(ctx, smem, x, w, mapX, mapW, xRows, n, k, tilesN, tilesM, begin, end, raster, bn, bm, stageWords, full, empty, stages);
        } else {
            consumerRegisters(ctx, wn);
            float[] acc = new float[nt * 4];
            int it = 0, pos = begin;
            while (pos < end) {
                int tile = pos / count, seg = Math.min(end, (tile + 1) * count) - pos;
                int bx = tile % tilesN, by = tile / tilesN;
                int tileN = rasterTileN(bx, by, tilesN, tilesM, raster), tileM = rasterTileM(bx, by, tilesN, tilesM, raster);
                for (int t = 0; t < seg; t++) tmaConsumeRing(ctx, smem, acc, it + t, t > 0, bn, bm, stageWords, full, empty, stages);
                ctx.wgmmaWait(0);
                ctx.mbarrierArrive(smem, empty + 2 * ((it + seg - 1) % stages));   // the segment's last stage: the producer may refill it
                it += seg;
                if (seg < count) atomicAddF32Tile(ctx, c, acc, m, n, wn, nt, tileN, tileM);   // a tile shared with other blocks
                else storeF32Tile(ctx, c, acc, m, n, accumulate, wn, 1, 1, nt, tileN, tileM);   // grid z = 1: a store, or C + sum
                zeroAccumulators(acc, nt);
                pos += seg;
            }
        }
    }

    /**
     * CUTLASS's ping-pong schedule on the TMA tiles: a persistent block (1-D grid of at most one block a multiprocessor, block b
     * taking output tiles b, b + blocks, b + 2·blocks, … in the raster's order, as {@link #wgmmaTmaPersistentXbf16Wbf16}) of a
     * producer warpgroup and two consumer warpgroups that each compute a WHOLE output tile of {@code bn = 128} W rows (two m64
     * halves a k16 step) × {@code bm = nt·8} tokens, warpgroup 0 the block's even tiles, warpgroup 1 its odd ones. Their main
     * loops take turns on the tensor cores through an ordered barrier (two mbarriers of 128 arrivals: warpgroup g waits on
     * its own, the other arrives on it once it has issued a tile's last K tile), so while one warpgroup runs a tile's main loop
     * the other waits for its last batch, releases its stage and stores its C: the epilogue (64 KiB of fp32 a 128×128 tile) under
     * the other's wgmma, which the cooperative tiles (both warpgroups on one tile) leave with the tensor cores idle. The producer
     * fills one ring with the block's tiles in order (tile j's K tile t is the ring's {@code j·count + t}-th copy), so the
     * warpgroups' stages interleave in the ring as their turns do; each stage's "empty" barrier counts one warpgroup's 128
     * arrivals. The producer warpgroup gives its registers to the consumers by setmaxnreg (40 / 232, CUTLASS's split): a
     * 128×192 tile holds 192 accumulators a work-item.
     *
     * <p>Each W row's sums are those of the plain kernel's warpgroup on the same 64 rows (the same m64nN k16 steps in the same
     * K order): the same bits as {@link #wgmmaTmaXbf16Wbf16} on a 128 × bm tile ({@code GemmPingPongGpuTest}). Arguments as
     * {@link #wgmmaTmaPersistentXbf16Wbf16} ({@code wn = 8}: two consumer warpgroups; {@code kTilesPerSplit} unused).
     * Shared memory: {@code stages·(bn + bm)·128} bytes of tiles, 2·stages mbarriers, then the two ordered-barrier mbarriers.
     */
    public static void wgmmaTmaPingPongXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, LongArray mapX, LongArray mapW,
                                                  int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                                  @Constant int wn, @Constant int nt, @Constant int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages, order = empty + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32;
        int count = (k + BK - 1) / BK;
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm, tiles = tilesN * tilesM;
        int blocks = ctx.globalGroupSizeX / ctx.localGroupSizeX;
        if (tid == 0) {
            for (int s = 0; s < stages; s++) {
                ctx.mbarrierInit(smem, full + 2 * s, 1);
                ctx.mbarrierInit(smem, empty + 2 * s, 128);   // one warpgroup consumes a stage
            }
            ctx.mbarrierInit(smem, order, 128);
            ctx.mbarrierInit(smem, order + 2, 128);
            ctx.fenceMbarrierInit();
        }
        ctx.localBarrier();
        if (tid >= consumers) {
            ctx.setMaxRegistersDec(PING_PONG_PRODUCER_REGISTERS);
            if (tid == consumers) tmaProducePersistent(ctx, smem, x, w, mapX, mapW, xRows, n, k, tilesN, tilesM, blocks, raster, bn, bm, stageWords, full, empty, stages);
        } else {
            ctx.setMaxRegistersInc(PING_PONG_CONSUMER_REGISTERS);
            int wg = tid >> 7;
            float[] acc = new float[nt * 8];
            int turn = 0;   // this warpgroup's tiles so far; it runs the block's tile 2·turn + wg
            for (int tile = ctx.groupIdx + wg * blocks; tile < tiles; tile += 2 * blocks) {
                int bx = tile % tilesN, by = tile / tilesN;
                int tileN = rasterTileN(bx, by, tilesN, tilesM, raster), tileM = rasterTileM(bx, by, tilesN, tilesM, raster);
                int it = (2 * turn + wg) * count;
                // the ordered barrier: warpgroup 0's turn `turn` follows warpgroup 1's turn − 1 (its phase turn − 1), warpgroup 1's
                // follows warpgroup 0's turn `turn` (phase turn); warpgroup 0 starts the block's first tile at once
                if (wg == 1 || turn > 0) while (!ctx.mbarrierTryWait(smem, order + 2 * wg, (wg == 1 ? turn : turn - 1) & 1)) {}
                for (int t = 0; t < count; t++) pingPongConsume(ctx, smem, acc, it + t, t > 0, bm, stageWords, full, empty, stages);
                ctx.mbarrierArrive(smem, order + 2 * (1 - wg));   // every K tile issued: the other warpgroup's main loop may start
                ctx.wgmmaWait(0);
                ctx.mbarrierArrive(smem, empty + 2 * ((it + count - 1) % stages));   // the tile's last stage: the producer may refill it
                storePingPong(ctx, c, acc, m, n, accumulate, nt, tileN * bn, tileM * bm);
                zeroAccumulators(acc, 2 * nt);
                turn++;
            }
        }
    }

    // ---- SwiGLU in the epilogue: gate|up stored interleaved (SWIGLU_ROWS rows of gate, then the matching rows of up) ----

    /**
     * Rows of gate, then as many rows of up, in each 16-row group of an interleaved gate|up weight ({@link #interleaveGateUp}):
     * a 16-row mma / wgmma fragment puts rows g and g + 8 (g = lane / 4) in the same work-item's registers (elements r and
     * r + 2), so a work-item holds gate row i and up row i of the same tokens, and the epilogue writes {@code silu(g)·u} itself.
     */
    public static final int SWIGLU_ROWS = 8;

    /**
     * W row of the interleaved gate|up weight holding gate row {@code i} (up row i is 8 rows after it):
     * {@code 16·⌊i / 8⌋ + i mod 8}. The intermediate size must be a multiple of {@link #SWIGLU_ROWS}.
     */
    public static int interleavedGateRow(int i) { return 2 * SWIGLU_ROWS * (i / SWIGLU_ROWS) + i % SWIGLU_ROWS; }

    /**
     * fp32 X (bf16 on load), interleaved bf16 gate|up W ({@code n = 2·inter} rows), fp32 {@code h (m, inter) = silu(g)·u}: the
     * mma.sync product of {@link #xf32Wbf16} with {@link #storeSwiGluTile} as its epilogue, all of K in one slice (grid z = 1,
     * {@code accumulate} unused: 0). Arguments otherwise as {@link #xf32Wbf16}.
     */
    public static void xf32Wbf16SwiGlu(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray h, int m, int n, int k,
                                       int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                       @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        storeSwiGluTile(ctx, h, acc, m, n, wn, wm, mt, nt, ctx.groupIdx, ctx.groupIdy);
    }

    /**
     * {@link #xf32Wbf16SwiGlu} letting the next launch in first thing, as {@link #xf32Wbf16Trigger}, rather than once its sums
     * are done ({@link #storeSwiGluTile}'s trigger, then a no-op): the same bits.
     */
    public static void xf32Wbf16SwiGluTrigger(KernelContext ctx, FloatArray x, BFloat16Array w, FloatArray h, int m, int n, int k,
                                              int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                              @Constant int nt, @Constant int stages, @Constant int xRegs) {
        ctx.allowDependentLaunch();   // the next launch may start (it waits for this grid before reading what this one writes)
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 1, 0);
        storeSwiGluTile(ctx, h, acc, m, n, wn, wm, mt, nt, ctx.groupIdx, ctx.groupIdy);
    }

    /** As {@link #xf32Wbf16SwiGlu} for bf16 X ({@link #xbf16Wbf16}'s product). */
    public static void xbf16Wbf16SwiGlu(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray h, int m, int n, int k,
                                        int kTilesPerSplit, int accumulate, @Constant int wn, @Constant int wm, @Constant int mt,
                                        @Constant int nt, @Constant int stages, @Constant int xRegs) {
        float[] acc = new float[mt * nt * 4];
        mainloop(ctx, x, w, acc, m, n, k, kTilesPerSplit, wn, wm, mt, nt, stages, xRegs, 0, 0);
        storeSwiGluTile(ctx, h, acc, m, n, wn, wm, mt, nt, ctx.groupIdx, ctx.groupIdy);
    }

    /**
     * {@link #wgmmaTmaXbf16Wbf16} (all of K, grid z = 1) on an interleaved gate|up W writing fp32 {@code h (m, n / 2)} =
     * silu(g)·u ({@link #storeSwiGluTile}) in place of C: the same sums, the same SwiGLU arithmetic as the GEMM then
     * {@code FusedKernels.siluMulRowsInterleaved}, so the same bits, without C's write and read (4·m·n bytes each).
     * Arguments as {@link #wgmmaTmaXbf16Wbf16} ({@code accumulate} unused: 0).
     */
    public static void wgmmaTmaSwiGlu(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray h, LongArray mapX, LongArray mapW,
                                      int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                      @Constant int wn, @Constant int nt, @Constant int stages) {
        wgmmaTmaSwiGluBody(ctx, x, w, h, mapX, mapW, m, xRows, n, k, raster, wn, nt, stages);
    }

    /** As {@link #wgmmaTmaSwiGlu} into bf16 h (rounded to nearest even as stored: down's X). */
    public static void wgmmaTmaSwiGluBf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, BFloat16Array h, LongArray mapX, LongArray mapW,
                                          int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                          @Constant int wn, @Constant int nt, @Constant int stages) {
        wgmmaTmaSwiGluBody(ctx, x, w, h, mapX, mapW, m, xRows, n, k, raster, wn, nt, stages);
    }

    /** {@link #wgmmaTmaXbf16Wbf16}'s body over all of K with the SwiGLU epilogue. */
    private static void wgmmaTmaSwiGluBody(KernelContext ctx, BFloat16Array x, BFloat16Array w, OffHeapArray h, LongArray mapX, LongArray mapW,
                                           int m, int xRows, int n, int k, int raster, int wn, int nt, int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32;
        int count = (k + BK - 1) / BK;
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm;
        int tileN = rasterTileN(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        int tileM = rasterTileM(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        tmaBarriersInit(ctx, smem, full, empty, stages, consumers);
        if (tid >= consumers) {
            producerRegisters(ctx, wn);
            if (tid == consumers) tmaProduce(ctx, smem, x, w, mapX, mapW, xRows, n, k, tileN * bn, tileM * bm, 0, count, bn, bm, stageWords, full, empty, stages);
        } else {
            consumerRegisters(ctx, wn);
            float[] acc = new float[nt * 4];
            for (int t = 0; t < count; t++) tmaConsume(ctx, smem, acc, t, bn, bm, stageWords, full, empty, stages);
            ctx.wgmmaWait(0);
            storeSwiGluTile(ctx, h, acc, m, n, wn, 1, 1, nt, tileN, tileM);
        }
    }

    /**
     * {@link #wgmmaTmaPingPongXbf16Wbf16} on an interleaved gate|up W writing fp32 {@code h (m, n / 2)} = silu(g)·u
     * ({@link #storeSwiGluPingPong}) in place of C. Arguments as the ping-pong kernel ({@code accumulate} unused: 0).
     */
    public static void wgmmaTmaPingPongSwiGlu(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray h, LongArray mapX, LongArray mapW,
                                              int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                              @Constant int wn, @Constant int nt, @Constant int stages) {
        pingPongSwiGluBody(ctx, x, w, h, mapX, mapW, m, xRows, n, k, raster, wn, nt, stages);
    }

    /** As {@link #wgmmaTmaPingPongSwiGlu} into bf16 h. */
    public static void wgmmaTmaPingPongSwiGluBf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, BFloat16Array h, LongArray mapX, LongArray mapW,
                                                  int m, int xRows, int n, int k, int kTilesPerSplit, int accumulate, int raster,
                                                  @Constant int wn, @Constant int nt, @Constant int stages) {
        pingPongSwiGluBody(ctx, x, w, h, mapX, mapW, m, xRows, n, k, raster, wn, nt, stages);
    }

    /** {@link #wgmmaTmaPingPongXbf16Wbf16}'s body with the SwiGLU epilogue (the schedule, barriers and ring unchanged). */
    private static void pingPongSwiGluBody(KernelContext ctx, BFloat16Array x, BFloat16Array w, OffHeapArray h, LongArray mapX, LongArray mapW,
                                           int m, int xRows, int n, int k, int raster, int wn, int nt, int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages, order = empty + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32;
        int count = (k + BK - 1) / BK;
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm, tiles = tilesN * tilesM;
        int blocks = ctx.globalGroupSizeX / ctx.localGroupSizeX;
        if (tid == 0) {
            for (int s = 0; s < stages; s++) {
                ctx.mbarrierInit(smem, full + 2 * s, 1);
                ctx.mbarrierInit(smem, empty + 2 * s, 128);
            }
            ctx.mbarrierInit(smem, order, 128);
            ctx.mbarrierInit(smem, order + 2, 128);
            ctx.fenceMbarrierInit();
        }
        ctx.localBarrier();
        if (tid >= consumers) {
            ctx.setMaxRegistersDec(PING_PONG_PRODUCER_REGISTERS);
            if (tid == consumers) tmaProducePersistent(ctx, smem, x, w, mapX, mapW, xRows, n, k, tilesN, tilesM, blocks, raster, bn, bm, stageWords, full, empty, stages);
        } else {
            ctx.setMaxRegistersInc(PING_PONG_CONSUMER_REGISTERS);
            int wg = tid >> 7;
            float[] acc = new float[nt * 8];
            int turn = 0;
            for (int tile = ctx.groupIdx + wg * blocks; tile < tiles; tile += 2 * blocks) {
                int bx = tile % tilesN, by = tile / tilesN;
                int tileN = rasterTileN(bx, by, tilesN, tilesM, raster), tileM = rasterTileM(bx, by, tilesN, tilesM, raster);
                int it = (2 * turn + wg) * count;
                if (wg == 1 || turn > 0) while (!ctx.mbarrierTryWait(smem, order + 2 * wg, (wg == 1 ? turn : turn - 1) & 1)) {}
                for (int t = 0; t < count; t++) pingPongConsume(ctx, smem, acc, it + t, t > 0, bm, stageWords, full, empty, stages);
                ctx.mbarrierArrive(smem, order + 2 * (1 - wg));
                ctx.wgmmaWait(0);
                ctx.mbarrierArrive(smem, empty + 2 * ((it + count - 1) % stages));
                storeSwiGluPingPong(ctx, h, acc, m, n, nt, tileN * bn, tileM * bm);
                zeroAccumulators(acc, 2 * nt);
                turn++;
            }
        }
    }

    /**
     * The SwiGLU epilogue of a tile laid out as {@link #storeF32Tile}'s (mma.sync fragments, or wgmma with {@code wm = mt = 1}):
     * fragment (i, j)'s elements r = 0, 1 are W row {@code R + g} (R = the fragment's first row, a multiple of 16) and r = 2, 3
     * row {@code R + g + 8}: on the interleaved weight gate and up row {@code R / 2 + g}, so
     * {@code h[tok, R/2 + g] = silu(acc[r]) · acc[r + 2]} for the tokens {@code 2t + r} ({@link dev.arbor.kernels.layer.FusedKernels#swiGlu},
     * the arithmetic of the unfused kernel). {@code h}: (m, n / 2), fp32 or bf16 (rounded to nearest even as stored). Lets the
     * next grid launch first (programmatic dependent launch: down, which waits for this grid before reading h, streams its
     * weights meanwhile, as it did behind siluMulRows).
     */
    @Unroll
    static void storeSwiGluTile(KernelContext ctx, OffHeapArray h, float[] acc, int m, int n, int wn, int wm, int mt, int nt, int tileN, int tileM) {
        ctx.allowDependentLaunch();   // the sums are done: down (launched overlapping) may start streaming its weights, as after siluMulRows
        ctx.gridDependencyWait();
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3, inter = n / 2;
        int col0 = (tileN * (wn * mt * 16) + (warp % wn) * mt * 16) / 2 + g;
        int tok0 = tileM * (wm * nt * 8) + (warp / wn) * nt * 8 + 2 * t;
        for (int i = 0; i < mt; i++)
            for (int j = 0; j < nt; j++)
                for (int r = 0; r < 2; r++) {
                    int col = col0 + i * SWIGLU_ROWS, tok = tok0 + j * 8 + r;
                    if (col < inter && tok < m)
                        h.setFloat(tok * inter + col, dev.arbor.kernels.layer.FusedKernels.swiGlu(acc[(i * nt + j) * 4 + r], acc[(i * nt + j) * 4 + r + 2]));
                }
    }

    /**
     * The SwiGLU epilogue of a ping-pong warpgroup's 128-row tile ({@link #storePingPong}'s layout: acc {@code hh·bm/2 + 4j + r} is
     * W row {@code n0 + 64hh + 16w + g + 8·(r ≥ 2)}, token {@code m0 + 8j + 2t + (r & 1)}), as {@link #storeSwiGluTile}.
     */
    @Unroll
    static void storeSwiGluPingPong(KernelContext ctx, OffHeapArray h, float[] acc, int m, int n, int nt, int n0, int m0) {
        ctx.allowDependentLaunch();
        ctx.gridDependencyWait();
        int tid = ctx.localIdx, lane = tid & 31, w = (tid >> 5) & 3, g = lane >> 2, t = lane & 3, inter = n / 2;
        for (int hh = 0; hh < 2; hh++)
            for (int j = 0; j < nt; j++)
                for (int r = 0; r < 2; r++) {
                    int col = (n0 + 64 * hh + 16 * w) / 2 + g, tok = m0 + 8 * j + 2 * t + r;
                    if (col < inter && tok < m)
                        h.setFloat(tok * inter + col, dev.arbor.kernels.layer.FusedKernels.swiGlu(acc[hh * nt * 4 + j * 4 + r], acc[hh * nt * 4 + j * 4 + r + 2]));
                }
    }

    /** The ping-pong producer warpgroup's registers after {@code setmaxnreg.dec} (CUTLASS's 40 with two consumer warpgroups). */
    static final int PING_PONG_PRODUCER_REGISTERS = 40;
    /** The ping-pong consumers' registers after {@code setmaxnreg.inc}: (65,536 − 128·40) / 256 = 236, rounded down to 8 (CUTLASS's 232). */
    static final int PING_PONG_CONSUMER_REGISTERS = 232;

    /**
     * A ping-pong consumer warpgroup's {@code it}-th K tile of the block's ring: as {@link #tmaConsumeRing} on the warpgroup's
     * whole 128-row W tile, each k16 step two m64 wgmma (W rows 0-63 into acc[0 .. bm/2), rows 64-127, 8 KiB = 512 descriptor
     * units on, into acc[bm/2 .. bm)); {@code releasePrevious}: release K tile it-1's stage (this warpgroup's) once its batch is done.
     */
    static void pingPongConsume(KernelContext ctx, int[] smem, float[] acc, int it, boolean releasePrevious, int bm, int stageWords, int full,
                                int empty, int stages) {
        int s = it % stages;
        while (!ctx.mbarrierTryWait(smem, full + 2 * s, (it / stages) & 1)) {}
        int base = s * stageWords;
        long descW = ctx.wgmmaDescriptorSw128(smem, base);
        long descX = ctx.wgmmaDescriptorSw128(smem, base + 128 * ROW_WORDS);
        ctx.wgmmaFence();
        pingPongStage(ctx, acc, smem, descW, descX, bm);
        ctx.wgmmaCommit();
        ctx.wgmmaWait(1);
        if (releasePrevious) ctx.mbarrierArrive(smem, empty + 2 * ((it - 1) % stages));
    }

    /** One stage's four k16 steps on a 128 × bm warpgroup tile: W rows 0-63, then rows 64-127, each m64n{bm}. */
    @Unroll
    static void pingPongStage(KernelContext ctx, float[] acc, int[] smem, long descW, long descX, int bm) {
        for (int ks = 0; ks < 4; ks++) {
            ctx.wgmmaBf16(acc, 0, bm, smem, descW + 2 * ks, descX + 2 * ks);
            ctx.wgmmaBf16(acc, bm / 2, bm, smem, descW + 64 * 8 + 2 * ks, descX + 2 * ks);
        }
    }

    /**
     * A ping-pong warpgroup's C tile (W rows n0 ..+128, tokens m0 ..+bm) to fp32 C, a store or (accumulate) an add: acc element
     * {@code h·bm/2 + 4j + r} is W row {@code n0 + 64h + 16w + g + 8·(r ≥ 2)}, token {@code m0 + 8j + 2t + (r & 1)} (w the warp
     * in its warpgroup; the wgmma layout, {@link KernelContext#wgmmaBf16}). With {@code accumulate}, each m64 half's C loads
     * go before its stores, as in {@link #storeF32Tile} (a half at a time: all 192 of a 128 × 192 tile at once spilled); acc
     * is left holding C + sum.
     */
    @Unroll
    static void storePingPong(KernelContext ctx, FloatArray c, float[] acc, int m, int n, int accumulate, int nt, int n0, int m0) {
        ctx.gridDependencyWait();
        int tid = ctx.localIdx, lane = tid & 31, w = (tid >> 5) & 3, g = lane >> 2, t = lane & 3;
        for (int h = 0; h < 2; h++) {
            if (accumulate != 0)   // acc += C: the half's loads before its stores (storeF32Tile)
                for (int j = 0; j < nt; j++)
                    for (int r = 0; r < 4; r++) {
                        int row = Math.min(n0 + 64 * h + 16 * w + g + (r >= 2 ? 8 : 0), n - 1), tok = Math.min(m0 + 8 * j + 2 * t + (r & 1), m - 1);
                        acc[h * nt * 4 + j * 4 + r] += c.get(tok * n + row);
                    }
            for (int j = 0; j < nt; j++)
                for (int r = 0; r < 4; r++) {
                    int row = n0 + 64 * h + 16 * w + g + (r >= 2 ? 8 : 0), tok = m0 + 8 * j + 2 * t + (r & 1);
                    if (row < n && tok < m) c.set(tok * n + row, acc[h * nt * 4 + j * 4 + r]);
                }
        }
    }

    /**
     * Registers a work-item of the producer warpgroup keeps after {@code setmaxnreg.dec}: the least there is (CUTLASS takes 40
     * with two consumer warpgroups); one work-item issues the bulk copies, the other 127 only wait. It leaves three consumer
     * warpgroups 160 each, not 152 (ptxas asked 154 for the single m64n256 step, before {@link #wgmmaStage} split it).
     */
    static final int PRODUCER_REGISTERS = 24;

    /**
     * A block of three consumer warpgroups ({@code wn = 12}) and the producer warpgroup has 512 work-items: a cap of 128
     * registers at entry, which two 64-float accumulator sets (the sliced kernel) or one of 128 (a 64×256 warpgroup tile)
     * fill alone. The producer warpgroup gives its share back ({@link #PRODUCER_REGISTERS}) and the consumers take it:
     * (65,536 − 128·24) / 384 rounded down to 8 = 160 ({@link #consumerRegisters}). Two consumer warpgroups ({@code wn = 8},
     * 384 work-items, a cap of 168) need no move: TMA_128's and TMA_256's 90-154 registers fit, and their code is left as it was.
     */
    @Unroll
    static void producerRegisters(KernelContext ctx, int wn) {
        if (wn > 8) ctx.setMaxRegistersDec(PRODUCER_REGISTERS);
    }

    /** The consumer warpgroups' side of {@link #producerRegisters}: {@code setmaxnreg.inc} to 160 when {@code wn = 12}. */
    @Unroll
    static void consumerRegisters(KernelContext ctx, int wn) {
        if (wn > 8) ctx.setMaxRegistersInc((65536 - 128 * PRODUCER_REGISTERS) / (wn * 32) / 8 * 8);
    }

    @Unroll
    static void zeroAccumulators(float[] acc, int nt) {
        for (int i = 0; i < nt * 4; i++) acc[i] = 0f;
    }

    /**
     * The batch-invariant form of {@link #wgmmaTmaXbf16Wbf16}: a block runs all of K (grid z = 1) as K slices of
     * {@code sliceTiles} tiles, each summed from zero in its own accumulators (as one block of the slab plan sums its
     * slice) and folded into a running total in registers in {@link #sumSlices}' order: total = slice 0, then
     * total + slice 1, ..., so C gets the bits of the slab plan's {@code c (=|+=) slab₀ + slab₁ + …} with no slab stored or
     * read (wgmma over a slice gives the mma.sync tiles' bits: {@code GemmInvarianceGpuTest}). The last tiles of K form a
     * shorter slice when sliceTiles does not divide the K tiles, as the slab plan's last slice. At least twice the
     * accumulators of the plain kernel, so 128-token tiles only (two accumulator sets of TMA_256 would be 256 a work-item).
     * Before a fold the consumers wait for all their batches (wgmma wait 0: ptxas serializes every wgmma of a kernel whose
     * other instructions read an accumulator set while a batch may be in flight, C7514, so the fold cannot overlap the next
     * slice's first batch). The block: the consumer warpgroups, then a producer warpgroup (as the plain kernel); with three
     * consumer warpgroups ({@code Gemm.TMA_192}) the producer's registers go to the consumers by setmaxnreg
     * ({@link #consumerRegisters}: 512 work-items cap a work-item at 128 at entry, the two accumulator sets' 128 alone).
     * {@code accumulate}: 0 stores, 1 adds C (as sumSlices does). Tokens a block: {@code nt·8}, any multiple of 8 up to 128
     * (the balanced token tiles of {@code Gemm.slicedBalanced}: the same sums a token, so the same bits). Arguments otherwise as
     * {@link #wgmmaTmaXbf16Wbf16}.
     */
    public static void wgmmaTmaSlicedXbf16Wbf16(KernelContext ctx, BFloat16Array x, BFloat16Array w, FloatArray c, LongArray mapX, LongArray mapW,
                                                int m, int xRows, int n, int k, int sliceTiles, int accumulate, int raster,
                                                @Constant int wn, @Constant int nt, @Constant int stages) {
        ctx.launchBounds(wn * 32 + 128);
        int[] smem = ctx.dynamicIntLocalArray();
        int bn = wn * 16, bm = nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS;
        int full = stages * stageWords, empty = full + 2 * stages;
        int tid = ctx.localIdx, consumers = wn * 32;
        int count = (k + BK - 1) / BK;
        int tilesN = (n + bn - 1) / bn, tilesM = (m + bm - 1) / bm;
        int tileN = rasterTileN(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        int tileM = rasterTileM(ctx.groupIdx, ctx.groupIdy, tilesN, tilesM, raster);
        int n0 = tileN * bn, m0 = tileM * bm;
        tmaBarriersInit(ctx, smem, full, empty, stages, consumers);
        if (tid >= consumers) {
            producerRegisters(ctx, wn);
            if (tid == consumers) tmaProduce(ctx, smem, x, w, mapX, mapW, xRows, n, k, n0, m0, 0, count, bn, bm, stageWords, full, empty, stages);
        } else {
            consumerRegisters(ctx, wn);
            float[] acc = new float[nt * 4];
            float[] total = new float[nt * 4];
            for (int t = 0; t < count; t++) {
                if (t > 0 && t % sliceTiles == 0) {   // slice t / sliceTiles - 1 is complete: fold it, start the next from zero
                    ctx.wgmmaWait(0);
                    foldSlice(acc, total, t == sliceTiles ? 1 : 0, nt);
                }
                tmaConsume(ctx, smem, acc, t, bn, bm, stageWords, full, empty, stages);
            }
            ctx.wgmmaWait(0);
            foldSlice(acc, total, count <= sliceTiles ? 1 : 0, nt);
            storeF32Tile(ctx, c, total, m, n, accumulate, wn, 1, 1, nt, tileN, tileM);
        }
    }

    /** total = acc (the first slice, as sumSlices starts from slab 0, not from 0.0f) or total + acc; then acc = 0 for the next slice. */
    @Unroll
    static void foldSlice(float[] acc, float[] total, int first, int nt) {
        for (int i = 0; i < nt * 4; i++) {
            total[i] = first != 0 ? acc[i] : total[i] + acc[i];
            acc[i] = 0f;
        }
    }

    /**
     * The W-row tile (along N) a block computes under a grouped raster: blocks in launch order {@code id = by·tilesN + bx}
     * walk {@code group} token tiles (along M) before the next W-row tile, group after group of token tiles (the last group
     * may be shorter), so the blocks resident at once share a few X and W tiles instead of streaming every W tile through
     * the L2 once per token tile (Llama-2-7B gate|up, 22,016 × 4096 bf16 = 180 MB, is over the H200's 50 MB L2: row-major
     * order reads it from memory ⌈M / bm⌉ times). A bijection of the grid's tiles for any group ≥ 1; group ≤ 1 (or a single
     * token tile) is the plain order, x = W-row tile, y = token tile. Each tile's sums do not change: the same bits.
     */
    static int rasterTileN(int bx, int by, int tilesN, int tilesM, int group) {
        if (group <= 1) return bx;
        int id = by * tilesN + bx, perGroup = group * tilesN, g = id / perGroup, first = g * group;
        int rows = Math.min(tilesM - first, group);
        return (id - g * perGroup) / rows;
    }

    /** The token tile (along M) of {@link #rasterTileN}'s order. */
    static int rasterTileM(int bx, int by, int tilesN, int tilesM, int group) {
        if (group <= 1) return by;
        int id = by * tilesN + bx, perGroup = group * tilesN, g = id / perGroup, first = g * group;
        int rows = Math.min(tilesM - first, group);
        return first + (id - g * perGroup) % rows;
    }

    /** Work-item 0 sets up the stages' "full" (one arrival: the producer's, with its bytes) and "empty" (every consumer work-item) mbarriers. */
    static void tmaBarriersInit(KernelContext ctx, int[] smem, int full, int empty, int stages, int consumers) {
        if (ctx.localIdx == 0) {
            for (int s = 0; s < stages; s++) {
                ctx.mbarrierInit(smem, full + 2 * s, 1);
                ctx.mbarrierInit(smem, empty + 2 * s, consumers);
            }
            ctx.fenceMbarrierInit();
        }
        ctx.localBarrier();
    }

    /**
     * The producer: for K tiles {@code kt0 .. kt0+count-1}, waits until the stage is empty (from the second round on),
     * expects its bytes on "full" and issues the two bulk copies (W rows {@code n0 ..+bn}, X rows {@code m0 ..+bm}).
     */
    static void tmaProduce(KernelContext ctx, int[] smem, BFloat16Array x, BFloat16Array w, LongArray mapX, LongArray mapW, int xRows, int n, int k,
                           int n0, int m0, int kt0, int count, int bn, int bm, int stageWords, int full, int empty, int stages) {
        tmaProduceRing(ctx, smem, x, w, mapX, mapW, xRows, n, k, n0, m0, kt0, count, 0, bn, bm, stageWords, full, empty, stages);
    }

    /**
     * As {@link #tmaProduce} with the ring's position carried over from earlier output tiles of the block (the persistent
     * kernel): K tile t of this output tile is the block's {@code it0 + t}-th, in stage {@code (it0 + t) % stages}, round
     * {@code (it0 + t) / stages} (the empty wait from the second round of the block on).
     */
    static void tmaProduceRing(KernelContext ctx, int[] smem, BFloat16Array x, BFloat16Array w, LongArray mapX, LongArray mapW, int xRows, int n,
                               int k, int n0, int m0, int kt0, int count, int it0, int bn, int bm, int stageWords, int full, int empty, int stages) {
        for (int t = 0; t < count; t++) tmaIssue(ctx, smem, x, w, mapX, mapW, xRows, n, k, n0, m0, it0 + t, kt0 + t, bn, bm, stageWords, full, empty, stages);
    }

    /**
     * A persistent block's producer ({@link #wgmmaTmaPersistentXbf16Wbf16}, {@link #wgmmaTmaPingPongXbf16Wbf16}): output tiles
     * b, b + blocks, b + 2·blocks, … of the {@code tilesN × tilesM} grid (b = this block, in the raster's order,
     * {@link #rasterTileN}), all K tiles of each, one ring across them (the block's j-th tile's K tile t is the ring's
     * {@code j·count + t}-th copy).
     */
    static void tmaProducePersistent(KernelContext ctx, int[] smem, BFloat16Array x, BFloat16Array w, LongArray mapX, LongArray mapW, int xRows,
                                     int n, int k, int tilesN, int tilesM, int blocks, int raster, int bn, int bm, int stageWords, int full,
                                     int empty, int stages) {
        int count = (k + BK - 1) / BK, it = 0;
        for (int tile = ctx.groupIdx; tile < tilesN * tilesM; tile += blocks) {
            int bx = tile % tilesN, by = tile / tilesN;
            int tileN = rasterTileN(bx, by, tilesN, tilesM, raster), tileM = rasterTileM(bx, by, tilesN, tilesM, raster);
            tmaProduceRing(ctx, smem, x, w, mapX, mapW, xRows, n, k, tileN * bn, tileM * bm, 0, count, it, bn, bm, stageWords, full, empty, stages);
            it += count;
        }
    }

    /**
     * A stream-K block's producer ({@link #wgmmaTmaStreamKXbf16Wbf16}): MAC iterations {@code begin .. end-1} (output tile
     * {@code i / count}, K tile {@code i % count}) in order, one ring across its tile segments.
     */
    static void tmaProduceStreamK(KernelContext ctx, int[] smem, BFloat16Array x, BFloat16Array w, LongArray mapX, LongArray mapW, int xRows,
                                  int n, int k, int tilesN, int tilesM, int begin, int end, int raster, int bn, int bm, int stageWords, int full,
                                  int empty, int stages) {
        int count = (k + BK - 1) / BK, it = 0, pos = begin;
        while (pos < end) {
            int tile = pos / count, kt0 = pos - tile * count, seg = Math.min(end, (tile + 1) * count) - pos;
            int bx = tile % tilesN, by = tile / tilesN;
            int tileN = rasterTileN(bx, by, tilesN, tilesM, raster), tileM = rasterTileM(bx, by, tilesN, tilesM, raster);
            tmaProduceRing(ctx, smem, x, w, mapX, mapW, xRows, n, k, tileN * bn, tileM * bm, kt0, seg, it, bn, bm, stageWords, full, empty, stages);
            it += seg;
            pos += seg;
        }
    }

    /**
     * The ring's {@code it}-th copy, K tile {@code kt}: into stage {@code it % stages} once its previous K tile (round − 1) is
     * released (from the second round on), with its bytes expected on the stage's "full" mbarrier.
     */
    static void tmaIssue(KernelContext ctx, int[] smem, BFloat16Array x, BFloat16Array w, LongArray mapX, LongArray mapW, int xRows, int n,
                         int k, int n0, int m0, int it, int kt, int bn, int bm, int stageWords, int full, int empty, int stages) {
        int s = it % stages, round = it / stages;
        if (round > 0) while (!ctx.mbarrierTryWait(smem, empty + 2 * s, (round - 1) & 1)) {}
        ctx.mbarrierArriveExpectTx(smem, full + 2 * s, (bn + bm) * 128);
        int base = s * stageWords, k0 = kt * BK;
        ctx.tmaLoadTile128(smem, base, full + 2 * s, mapW, w, n, k, n0, k0, bn);
        ctx.tmaLoadTile128(smem, base + bn * ROW_WORDS, full + 2 * s, mapX, x, xRows, k, m0, k0, bm);
    }

    /**
     * A consumer's K tile t: waits on the stage's "full", issues its four k16 wgmma into {@code acc}, keeps that batch in
     * flight and, once the batch of tile t-1 is done, releases tile t-1's stage on its "empty" mbarrier. Every work-item
     * arrives, not one per warp: a lane may only vouch for itself (on the CPU executor the lanes run apart: one lane's
     * arrival let the producer refill a stage that its warp's other lanes still read).
     */
    static void tmaConsume(KernelContext ctx, int[] smem, float[] acc, int t, int bn, int bm, int stageWords, int full, int empty, int stages) {
        tmaConsumeRing(ctx, smem, acc, t, t > 0, bn, bm, stageWords, full, empty, stages);
    }

    /**
     * As {@link #tmaConsume} for the block's {@code it}-th K tile of the ring (the persistent kernel counts on across its
     * output tiles); {@code releasePrevious}: release the stage of K tile it-1 once its batch is done (not at an output
     * tile's first K tile: the previous tile's last stage was released after its final wait).
     */
    static void tmaConsumeRing(KernelContext ctx, int[] smem, float[] acc, int it, boolean releasePrevious, int bn, int bm, int stageWords, int full,
                               int empty, int stages) {
        int s = it % stages;
        while (!ctx.mbarrierTryWait(smem, full + 2 * s, (it / stages) & 1)) {}
        int base = s * stageWords;
        long descW = ctx.wgmmaDescriptorSw128(smem, base + (ctx.localIdx >> 7) * 64 * ROW_WORDS);
        long descX = ctx.wgmmaDescriptorSw128(smem, base + bn * ROW_WORDS);
        ctx.wgmmaFence();
        wgmmaStage(ctx, acc, smem, descW, descX, bm, bn);
        ctx.wgmmaCommit();
        ctx.wgmmaWait(1);
        if (releasePrevious) ctx.mbarrierArrive(smem, empty + 2 * ((it - 1) % stages));
    }

    /**
     * One stage's four k16 steps: the descriptors move on 32 bytes (+2) a step, within the swizzled 128-byte rows. A block of
     * three consumer warpgroups ({@code bn = 192}) with 256 tokens issues each step as two m64n128 halves (tokens 0-127 into
     * acc[0..63], tokens 128-255, 16 KiB = 1024 descriptor units on, into acc[64..127]: the m64n256 layout, so the epilogue is
     * the same): ptxas checks one instruction's registers against the kernel's cap at entry (128 for 512 work-items), which a
     * single m64n256 (128 accumulators and its operands) is over, though the consumers hold 160 after setmaxnreg.
     */
    @Unroll
    static void wgmmaStage(KernelContext ctx, float[] acc, int[] smem, long descW, long descX, int bm, int bn) {
        for (int ks = 0; ks < 4; ks++) {
            if (bn > 128 && bm > 128) {
                ctx.wgmmaBf16(acc, 0, bm / 2, smem, descW + 2 * ks, descX + 2 * ks);
                ctx.wgmmaBf16(acc, bm / 4, bm / 2, smem, descW + 2 * ks, descX + bm / 2 * 8 + 2 * ks);
            } else {
                ctx.wgmmaBf16(acc, 0, bm, smem, descW + 2 * ks, descX + 2 * ks);
            }
        }
    }

    /**
     * c[i] = 0 for i < n, before a split-K launch that overwrites C. Lets that launch start at once
     * (programmatic dependent launch): it streams W while this runs and waits only before its atomics.
     */
    public static void zero(KernelContext ctx, FloatArray c, int n) {
        ctx.allowDependentLaunch();
        ctx.gridDependencyWait();   // itself launched overlapping the kernel before it (Gemm#overlapPrevious): C may still be read there
        int i = ctx.globalIdx;
        if (i < n) c.set(i, 0f);
    }

    /** y[i] = bf16(x[i]) for i < n, rounding to nearest even. */
    public static void toBf16(KernelContext ctx, FloatArray x, BFloat16Array y, int n) {
        int i = ctx.globalIdx;
        if (i < n) y.set(i, x.get(i));
    }

    /**
     * As {@link #toBf16} with 8 elements a work-item (work-item i converts elements 8i .. 8i+7): two 16-byte loads, one
     * 16-byte store, the same rounding ({@link KernelContext#packBf16}); {@code n} a multiple of 8 (Gemm's k is).
     */
    public static void toBf16x8(KernelContext ctx, FloatArray x, BFloat16Array y, int n) {
        int i = ctx.globalIdx * 8;
        if (i >= n) return;
        int[] v = new int[8];
        int[] packed = new int[4];
        ctx.loadGlobal128(v, 0, x, i);
        ctx.loadGlobal128(v, 4, x, i + 4);
        packPairs(v, packed);
        ctx.storeGlobal128(y, i, packed, 0);
    }

    @Unroll
    static void packPairs(int[] v, int[] packed) {
        for (int j = 0; j < 4; j++) packed[j] = KernelContext.packBf16(Float.intBitsToFloat(v[2 * j]), Float.intBitsToFloat(v[2 * j + 1]));
    }

    /** y[i] = fp16(x[i]) for i < n, rounding to nearest even. */
    public static void toFp16(KernelContext ctx, FloatArray x, HalfFloatArray y, int n) {
        int i = ctx.globalIdx;
        if (i < n) y.set(i, x.get(i));
    }

    // ---- the pipelined main loop ----------------------------------------------------------------------

    /**
     * Fills {@code acc} (this work-item's mt·nt fragments of 4 fp32) with its part of X·Wᵀ over the
     * block's K slice. {@code xF32}: X is fp32 (register path) rather than 16-bit (cp.async);
     * {@code fp16}: the 16-bit type is fp16 rather than bf16.
     */
    static void mainloop(KernelContext ctx, OffHeapArray x, OffHeapArray w, float[] acc, int m, int n, int k, int kTilesPerSplit,
                         int wn, int wm, int mt, int nt, int stages, int xRegs, int xF32, int fp16) {
        int[] smem = ctx.dynamicIntLocalArray();
        int[] af = new int[mt * 4];
        int[] bf = new int[nt * 2];
        int[] xr = new int[xRegs];
        int threads = wn * wm * 32, bn = wn * mt * 16, bm = wm * nt * 8;
        int stageWords = (bn + bm) * ROW_WORDS, xOffset = bn * ROW_WORDS;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int warpN = warp % wn, warpM = warp / wn;
        int n0 = ctx.groupIdx * bn, m0 = ctx.groupIdy * bm;
        int kTiles = (k + BK - 1) / BK, kt0 = ctx.groupIdz * kTilesPerSplit;
        int count = Math.min(kTilesPerSplit, kTiles - kt0);

        // W first: the weights are no kernel's output, so their first stages stream while a kernel this one was launched
        // overlapping (Launch.overlappingPrevious) still finishes; X (that kernel's output, maybe) only after the wait.
        // cp.async groups: the first holds W of every prologue stage and X of stage 0, so waiting for group t still means
        // stage t has landed. The same loads into the same places as loading stage by stage: the sums do not change.
        for (int s = 0; s < stages - 1; s++) {
            if (s < count) loadRows(ctx, smem, s * stageWords, w, n0, n, k, (kt0 + s) * BK, tid, bn, threads);
        }
        ctx.gridDependencyWait();   // a no-op unless launched overlapping the previous kernel
        for (int s = 0; s < stages - 1; s++) {
            if (s < count) {
                int base = s * stageWords, k0 = (kt0 + s) * BK;
                if (xF32 == 0) loadRows(ctx, smem, base + xOffset, x, m0, m, k, k0, tid, bm, threads);
                else {
                    loadXRegisters(ctx, xr, x, m0, m, k, k0, tid, bm, threads);
                    storeXRegisters(ctx, smem, base + xOffset, xr, tid, bm, threads, fp16);
                }
            }
            ctx.cpAsyncCommit();
        }
        for (int t = 0; t < count; t++) {
            ctx.cpAsyncWait(stages - 2);
            ctx.localBarrier();
            int next = t + stages - 1;
            int nextBase = (next % stages) * stageWords;
            if (next < count) {
                int k0 = (kt0 + next) * BK;
                loadRows(ctx, smem, nextBase, w, n0, n, k, k0, tid, bn, threads);
                if (xF32 == 0) loadRows(ctx, smem, nextBase + xOffset, x, m0, m, k, k0, tid, bm, threads);
                else loadXRegisters(ctx, xr, x, m0, m, k, k0, tid, bm, threads);
            }
            ctx.cpAsyncCommit();
            int base = (t % stages) * stageWords;
            computeStage(ctx, smem, base, base + xOffset, acc, af, bf, warpN * mt * 16, warpM * nt * 8, lane, mt, nt, fp16);
            if (xF32 != 0 && next < count) storeXRegisters(ctx, smem, nextBase + xOffset, xr, tid, bm, threads, fp16);
        }
        ctx.cpAsyncWait(0);
    }

    /**
     * cp.async of {@code rows} rows × 64 halves of a 16-bit matrix with row length {@code k},
     * starting at row {@code r0} and column {@code k0}, into the swizzled tile at word {@code base};
     * rows ≥ {@code limit} and columns ≥ k become zeros.
     */
    @Unroll
    static void loadRows(KernelContext ctx, int[] smem, int base, OffHeapArray a, int r0, int limit, int k, int k0,
                         int tid, int rows, int threads) {
        for (int i = 0; i < (rows * 8 + threads - 1) / threads; i++) {
            int q = i * threads + tid, row = q >> 3, chunk = q & 7;
            if (rows * 8 % threads == 0 || q < rows * 8) {
                int gr = r0 + row, kk = k0 + chunk * 8;
                boolean valid = gr < limit && kk < k;
                ctx.cpAsync16(smem, base + Swizzle.rowChunk128(row, chunk), a, valid ? gr * k + kk : 0, valid);
            }
        }
    }

    /** 16-byte loads of the next stage's fp32 X chunks (8 floats each, two loads) into registers; zeros outside the matrix. */
    @Unroll
    static void loadXRegisters(KernelContext ctx, int[] xr, OffHeapArray x, int m0, int m, int k, int k0, int tid, int rows, int threads) {
        for (int i = 0; i < (rows * 8 + threads - 1) / threads; i++) {
            int q = i * threads + tid, row = q >> 3, chunk = q & 7;
            int gr = m0 + row, kk = k0 + chunk * 8;
            if (q < rows * 8 && gr < m && kk < k) {
                ctx.loadGlobal128(xr, i * 8, x, gr * k + kk);
                ctx.loadGlobal128(xr, i * 8 + 4, x, gr * k + kk + 4);
            } else {
                for (int j = 0; j < 8; j++) xr[i * 8 + j] = 0;
            }
        }
    }

    /** Packs the staged fp32 values to bf16 (or fp16) pairs and stores each chunk with one 16-byte store. */
    @Unroll
    static void storeXRegisters(KernelContext ctx, int[] smem, int base, int[] xr, int tid, int rows, int threads, int fp16) {
        int[] packed = new int[4];
        for (int i = 0; i < (rows * 8 + threads - 1) / threads; i++) {
            int q = i * threads + tid, row = q >> 3, chunk = q & 7;
            for (int j = 0; j < 4; j++) {
                float lo = Float.intBitsToFloat(xr[i * 8 + 2 * j]), hi = Float.intBitsToFloat(xr[i * 8 + 2 * j + 1]);
                packed[j] = fp16 != 0 ? KernelContext.packFp16(lo, hi) : KernelContext.packBf16(lo, hi);
            }
            if (rows * 8 % threads == 0 || q < rows * 8) ctx.storeShared128(smem, base + Swizzle.rowChunk128(row, chunk), packed, 0);
        }
    }

    /**
     * One stage (64 of K, four k16 steps): ldmatrix x4 of the warp's mt W fragments (rows
     * {@code wRow0 ..}), ldmatrix x4 (x2 for an odd last one) of its nt X fragments (tokens
     * {@code xRow0 ..}), then mt·nt mma.
     */
    @Unroll
    static void computeStage(KernelContext ctx, int[] smem, int wBase, int xBase, float[] acc, int[] af, int[] bf,
                             int wRow0, int xRow0, int lane, int mt, int nt, int fp16) {
        for (int ks = 0; ks < 4; ks++) {
            for (int i = 0; i < mt; i++) {
                int row = wRow0 + i * 16 + (lane & 15);
                ctx.ldmatrixX4(af, i * 4, smem, wBase + Swizzle.rowChunk128(row, ks * 2 + (lane >> 4)));
            }
            for (int j = 0; j < nt; j += 2) {
                if (j + 1 < nt) {
                    int row = xRow0 + (j + (lane >> 4)) * 8 + (lane & 7);
                    ctx.ldmatrixX4(bf, j * 2, smem, xBase + Swizzle.rowChunk128(row, ks * 2 + ((lane >> 3) & 1)));
                } else {
                    int row = xRow0 + j * 8 + (lane & 7);
                    ctx.ldmatrixX2(bf, j * 2, smem, xBase + Swizzle.rowChunk128(row, ks * 2 + ((lane >> 3) & 1)));
                }
            }
            for (int i = 0; i < mt; i++)
                for (int j = 0; j < nt; j++) {
                    if (fp16 != 0) ctx.mmaFp16(acc, (i * nt + j) * 4, af, i * 4, bf, j * 2);
                    else ctx.mmaBf16(acc, (i * nt + j) * 4, af, i * 4, bf, j * 2);
                }
        }
    }

    /** {@code accumulate} value asking each K slice to store its own slab (deterministic split-K). */
    public static final int SLABS = 2;

    /**
     * The deterministic split-K reduction: {@code c[i] (=|+=) slabs[0][i] + slabs[1][i] + … + slabs[S-1][i]},
     * added in slab order, so the result depends only on the slice boundaries, never on the timing of the
     * slices (the atomics' order) or on M. One work-item per element.
     *
     * @param slabs (slices, count) partial sums, slab z from K slice z
     * @param c     (count)
     */
    public static void sumSlices(KernelContext ctx, FloatArray slabs, FloatArray c, int count, int slices, int accumulate) {
        int i = ctx.globalIdx;
        if (i >= count) return;
        float s = slabs.get(i);
        for (int z = 1; z < slices; z++) s += slabs.get(z * count + i);
        c.set(i, accumulate != 0 ? c.get(i) + s : s);
    }

    // ---- epilogues ---------------------------------------------------------------------------------

    /**
     * Writes the fragments to fp32 C: fragment element r of (i, j) is C[token][row] with
     * row = n0 + wRow0 + 16i + g + 8·(r ≥ 2) and token = m0 + xRow0 + 8j + 2t + (r & 1)
     * (g = lane / 4, t = lane % 4). With {@code accumulate == SLABS}, slice z stores its partial sums in
     * slab z of C, (slices, m, n), for {@link #sumSlices} to add in a fixed order; otherwise, with K slices
     * (gridDim.z > 1): atomic adds; otherwise a store or, with {@code accumulate}, an add. Waits first for the previous kernel when launched
     * overlapping it ({@code Launch.overlappingPrevious}; a no-op otherwise).
     */
    static void storeF32(KernelContext ctx, FloatArray c, float[] acc, int m, int n, int accumulate, int wn, int wm, int mt, int nt) {
        storeF32Tile(ctx, c, acc, m, n, accumulate, wn, wm, mt, nt, ctx.groupIdx, ctx.groupIdy);
    }

    /**
     * As {@link #storeF32} for the tile (tileN, tileM) of the grid rather than (groupIdx, groupIdy): a raster's order
     * ({@link #rasterTileN}). With {@code accumulate} (C += sum, unsplit: the engine's residual adds, o and down under
     * {@code matmulAddNorm}), a work-item loads a group of its C elements into acc before it stores any of them, from clamped
     * (always valid) addresses with no branch between the loads, so they issue back to back; values of rows or tokens past the
     * matrix are never stored. Written as one load-add-store an element, each load came after the previous element's store,
     * which ptxas may not move it above (the addresses may alias, as far as it knows), and the add waited for it: one full
     * global-load latency an element, in turn, 64 a work-item on a 64 × 128 warpgroup tile, 128 on a ping-pong 128 × 128 one
     * (bench/RESULTS.md run 53-pp11: the ping-pong kernel's loss in the engine's decode steps, and 4-8% of workload 2's steps).
     * The group: all of a work-item's elements on the wgmma tiles of two or more warpgroups × 128 or more tokens (one block a
     * multiprocessor: TMA_128 90 → 168 registers, the cap of its 384 work-items), {@link #C_LOAD_GROUP} fragments (16 elements,
     * 16 loads in flight) of one W fragment row on the other tiles, whose occupancy the registers can set (all at once, TMA_N64
     * would go 90 → 202 and lose its second block): serial latencies a work-item 32 → 2 on TMA_64X2 / TMA_64, 64 → 4 on TMA_N64,
     * 8-128 → 1-8 on the mma.sync tiles; the residual's cost on an unsplit 4096² product 7.5-15.2 → 1.0-1.7 µs at 64-256 tokens
     * (run 57-ores12). {@code acc + C} is the same float as {@code C + acc}: the same bits in any grouping. acc is left holding
     * what was stored.
     */
    @Unroll
    static void storeF32Tile(KernelContext ctx, FloatArray c, float[] acc, int m, int n, int accumulate, int wn, int wm, int mt, int nt,
                             int tileN, int tileM) {
        ctx.gridDependencyWait();   // launched overlapping the zeroing of C: wait for it before touching C
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
        int row0 = tileN * (wn * mt * 16) + (warp % wn) * mt * 16 + g;
        int tok0 = tileM * (wm * nt * 8) + (warp / wn) * nt * 8 + 2 * t;
        boolean split = ctx.globalGroupSizeZ > 1;
        boolean addC = accumulate != 0 && accumulate != SLABS && !split;   // C + sum, unsplit: the loads below
        // fragments a group (a divisor of nt): all nt on two+ warpgroups × 128+ tokens (one block a multiprocessor), else C_LOAD_GROUP
        int group = wn >= 8 && nt >= 16 || nt % C_LOAD_GROUP != 0 ? nt : C_LOAD_GROUP;
        for (int i = 0; i < mt; i++)
            for (int j0 = 0; j0 < nt; j0 += group) {
                if (addC)   // acc += C: the group's loads before any of its stores
                    for (int j = j0; j < j0 + group; j++)
                        for (int r = 0; r < 4; r++) {
                            int row = Math.min(row0 + i * 16 + (r >= 2 ? 8 : 0), n - 1), tok = Math.min(tok0 + j * 8 + (r & 1), m - 1);
                            acc[(i * nt + j) * 4 + r] += c.get(tok * n + row);
                        }
                for (int j = j0; j < j0 + group; j++)
                    for (int r = 0; r < 4; r++) {
                        int row = row0 + i * 16 + (r >= 2 ? 8 : 0), tok = tok0 + j * 8 + (r & 1);
                        if (row < n && tok < m) {
                            int at = tok * n + row;
                            float v = acc[(i * nt + j) * 4 + r];
                            if (accumulate == SLABS) c.set(ctx.groupIdz * m * n + at, v);   // this slice's own slab of C
                            else if (split) ctx.atomicAdd(c, at, v);
                            else c.set(at, v);   // with accumulate: C + sum, added above
                        }
                    }
            }
    }

    /**
     * Stream-K's partial tiles ({@link #wgmmaTmaStreamKXbf16Wbf16}): a wgmma tile's fragments (one warpgroup row of {@code wn / 4},
     * 64 W rows × {@code nt·8} tokens each, layout as {@link #storeF32Tile}) added atomically into C, which holds zeros or the
     * residual.
     */
    @Unroll
    static void atomicAddF32Tile(KernelContext ctx, FloatArray c, float[] acc, int m, int n, int wn, int nt, int tileN, int tileM) {
        ctx.gridDependencyWait();   // launched overlapping the zeroing of C: wait for it before touching C
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
        int row0 = tileN * (wn * 16) + (warp % wn) * 16 + g;
        int tok0 = tileM * (nt * 8) + 2 * t;
        for (int j = 0; j < nt; j++)
            for (int r = 0; r < 4; r++) {
                int row = row0 + (r >= 2 ? 8 : 0), tok = tok0 + j * 8 + (r & 1);
                if (row < n && tok < m) ctx.atomicAdd(c, tok * n + row, acc[j * 4 + r]);
            }
    }

    /**
     * Fragments (of 4 C elements) a work-item of the smaller tiles loads before storing them, in the residual epilogue
     * ({@link #storeF32Tile}): 16 loads in flight, 16 registers more at most.
     */
    static final int C_LOAD_GROUP = 4;

    /** As {@link #storeF32} into bf16 C (one rounding after the fp32 sum; with accumulate, of C + sum). */
    @Unroll
    static void storeBf16(KernelContext ctx, BFloat16Array c, float[] acc, int m, int n, int accumulate, int wn, int wm, int mt, int nt) {
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
        int row0 = ctx.groupIdx * (wn * mt * 16) + (warp % wn) * mt * 16 + g;
        int tok0 = ctx.groupIdy * (wm * nt * 8) + (warp / wn) * nt * 8 + 2 * t;
        for (int i = 0; i < mt; i++)
            for (int j = 0; j < nt; j++)
                for (int r = 0; r < 4; r++) {
                    int row = row0 + i * 16 + (r >= 2 ? 8 : 0), tok = tok0 + j * 8 + (r & 1);
                    if (row < n && tok < m) {
                        int at = tok * n + row;
                        float v = acc[(i * nt + j) * 4 + r];
                        c.set(at, accumulate != 0 ? c.get(at) + v : v);
                    }
                }
    }
}
