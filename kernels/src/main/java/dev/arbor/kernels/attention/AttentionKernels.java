package dev.arbor.kernels.attention;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.array.IntArray;

/**
 * Paged attention over the KV store {@code [numBlocks][kvHeads][blockSize][headDim]} (bf16, fp16 or fp32),
 * CUDA-core version. Semantics of {@code models/cpu/Attention}: a token at position p attends to keys
 * 0..p of its sequence, score {@code q·k / sqrt(headDim)} plus, with ALiBi, {@code slope[h] * (j - p)};
 * query head h reads kv head {@code h / (heads / kvHeads)}.
 *
 * <h2>One arithmetic order per (token, head): batch invariance</h2>
 * Keys are cut into splits of {@link #SPLIT} keys at fixed absolute positions (0, 256, 512, ...) and a
 * split into tiles of {@link #TILE} keys from its start. Within a split the work-group runs the online
 * softmax of FlashAttention-2 (Dao 2023, alg. 1: running max m, sum l, unnormalised accumulator, rescaled
 * by {@code exp(m_old - m_new)} once per tile); the splits' partial states (m_s, l_s, acc_s) are then
 * folded in increasing split order, Flash-Decoding's log-sum-exp merge (Dao et al. 2023):
 * {@code M' = max(M, m_s); A = A·e^(M-M') + acc_s·e^(m_s-M'); L = L·e^(M-M') + l_s·e^(m_s-M'); out = A / L}.
 * Every (token, head) goes through exactly these operations whatever the batch, chunking or mode:
 * <ul>
 * <li>split mode ({@code splitMode = 1}): one work-group per (token, kv head, split) writes its partial
 *     state to scratch, {@link #mergeSplits} folds them (decode: a single long sequence fills the GPU);</li>
 * <li>whole mode ({@code splitMode = 0}): one work-group per (token, kv head) walks the splits itself and
 *     folds them with the same expressions (prefill: no scratch).</li>
 * </ul>
 * Both give the same bits, which the tests check; the launcher picks a mode for speed only.
 *
 * <h2>Work-group</h2>
 * {@link #THREADS} work-items per (token, kv head[, split]); grid (tokens, kvHeads, splits or 1). The kv
 * head's K and V tiles are staged once in shared memory for all {@code G = heads / kvHeads} query heads of
 * its group. Per tile (4 barriers, 5 with parts): load K/V; scores (G·TILE dot products; when fewer than
 * THREADS, each is cut into 2 or 4 fixed parts added in order); per head the tile max, probabilities and
 * {@code l[g]}; then {@code acc[g][d]}.
 * Shared memory: {@code 4·(2·G·D + TILE·(2D+1) + G·TILE + THREADS + 8G + TILE)} bytes, at most 48 KiB
 * (G·D ≤ 1024 with D ≤ 128). The cascade kernel is {@link CascadeKernels#cascadeSharedBf16}.
 */
public final class AttentionKernels {
    private AttentionKernels() {}

    /** Work-items per work-group. */
    public static final int THREADS = 128;
    /** Keys per tile staged in shared memory. */
    public static final int TILE = 32;
    /** Keys per split; split s covers absolute key positions [s·SPLIT, (s+1)·SPLIT). */
    public static final int SPLIT = 256;

    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /**
     * Paged attention, bf16 store.
     *
     * @param q               (tokens, heads * headDim) fp32
     * @param kCache          (numBlocks, kvHeads, blockSize, headDim)
     * @param vCache          same shape
     * @param out             (tokens, heads * headDim); written in whole mode
     * @param partials        scratch, (tokens, heads, slots, headDim + 2): acc, m, l; written in split mode
     * @param positions       (tokens) position of each token in its sequence
     * @param seqOfToken      (tokens) sequence (row of blockTables) of each token
     * @param blockTables     (numSeqs, maxBlocksPerSeq) physical block of each logical block
     * @param keyStart        (numSeqs) first key attended (cascade suffix); read only if useKeyStart = 1
     * @param slopes          (heads) ALiBi slopes; read only if alibi = 1
     * @param slots           partial slots per (token, head) in partials (≥ splits of the longest context)
     * @param splitMode       1: grid z = split index, write partials; 0: grid z = 1, write out
     */
    public static void pagedBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                 FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                 FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                 @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                 @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart) {
        int t = ctx.groupIdx, kvh = ctx.groupIdy, z = ctx.groupIdz, tid = ctx.localIdx;
        int G = heads / kvHeads;
        float[] qs = ctx.allocateFloatLocalArray(G * headDim);
        float[] ks = ctx.allocateFloatLocalArray(TILE * (headDim + 1));
        float[] vs = ctx.allocateFloatLocalArray(TILE * headDim);
        float[] sc = ctx.allocateFloatLocalArray(G * TILE);
        float[] sp = ctx.allocateFloatLocalArray(THREADS);
        float[] acc = ctx.allocateFloatLocalArray(G * headDim);
        float[] run = ctx.allocateFloatLocalArray(G * headDim);
        float[] st = ctx.allocateFloatLocalArray(8 * G);
        int[] rowBase = ctx.allocateIntLocalArray(TILE);

        int p = positions.get(t), seq = seqOfToken.get(t);
        int ks0 = useKeyStart != 0 ? keyStart.get(seq) : 0;
        if (ks0 > p) return;
        int sFrom = ks0 / SPLIT, sTo = p / SPLIT;
        if (splitMode != 0) {
            if (z < sFrom || z > sTo) return;
            sFrom = z;
            sTo = z;
        } else if (z > 0) {
            return;
        }
        int table = seq * maxBlocksPerSeq;
        int qBase = (t * heads + kvh * G) * headDim;
        for (int i = tid; i < G * headDim; i += THREADS) {
            qs[i] = q.get(qBase + i);
            run[i] = 0f;
        }
        if (tid < G) {
            st[3 * G + tid] = NEG_INF;
            st[4 * G + tid] = 0f;
        }
        for (int s = sFrom; s <= sTo; s++) {
            int lo = Math.max(s * SPLIT, ks0), hi = Math.min(s * SPLIT + SPLIT, p + 1);
            startSplit(acc, st, rowBase, blockTables, table, lo, hi, tid, G, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
            for (int t0 = lo; t0 < hi; t0 += TILE) {
                int n = Math.min(TILE, hi - t0);
                loadTileBf16(kCache, vCache, ks, vs, rowBase, tid, headDim);
                ctx.localBarrier();
                scores(ctx, qs, ks, sc, sp, slopes, t0, n, p, tid, G, kvh, headDim, alibi);
                ctx.localBarrier();
                softmaxTile(sc, st, n, tid, G);
                ctx.localBarrier();
                accumulate(sc, vs, acc, st, rowBase, blockTables, table, t0 + TILE, hi, n, tid, G, kvh, numBlocks, kvHeads, headDim, blockSize);
                ctx.localBarrier();
            }
            if (splitMode != 0) {
                writePartial(partials, acc, st, t, s, slots, tid, G, kvh, heads, headDim, 0);
            } else {
                foldSplit(ctx, acc, run, st, tid, G, headDim);
            }
        }
        if (splitMode == 0) {
            ctx.localBarrier();
            finish(out, run, st, qBase, tid, G, headDim);
        }
    }

    /** Paged attention, fp32 store: {@link #pagedBf16} with exact fp32 K/V. */
    public static void pagedF32(KernelContext ctx, FloatArray q, FloatArray kCache, FloatArray vCache, FloatArray out,
                                FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart) {
        int t = ctx.groupIdx, kvh = ctx.groupIdy, z = ctx.groupIdz, tid = ctx.localIdx;
        int G = heads / kvHeads;
        float[] qs = ctx.allocateFloatLocalArray(G * headDim);
        float[] ks = ctx.allocateFloatLocalArray(TILE * (headDim + 1));
        float[] vs = ctx.allocateFloatLocalArray(TILE * headDim);
        float[] sc = ctx.allocateFloatLocalArray(G * TILE);
        float[] sp = ctx.allocateFloatLocalArray(THREADS);
        float[] acc = ctx.allocateFloatLocalArray(G * headDim);
        float[] run = ctx.allocateFloatLocalArray(G * headDim);
        float[] st = ctx.allocateFloatLocalArray(8 * G);
        int[] rowBase = ctx.allocateIntLocalArray(TILE);

        int p = positions.get(t), seq = seqOfToken.get(t);
        int ks0 = useKeyStart != 0 ? keyStart.get(seq) : 0;
        if (ks0 > p) return;
        int sFrom = ks0 / SPLIT, sTo = p / SPLIT;
        if (splitMode != 0) {
            if (z < sFrom || z > sTo) return;
            sFrom = z;
            sTo = z;
        } else if (z > 0) {
            return;
        }
        int table = seq * maxBlocksPerSeq;
        int qBase = (t * heads + kvh * G) * headDim;
        for (int i = tid; i < G * headDim; i += THREADS) {
            qs[i] = q.get(qBase + i);
            run[i] = 0f;
        }
        if (tid < G) {
            st[3 * G + tid] = NEG_INF;
            st[4 * G + tid] = 0f;
        }
        for (int s = sFrom; s <= sTo; s++) {
            int lo = Math.max(s * SPLIT, ks0), hi = Math.min(s * SPLIT + SPLIT, p + 1);
            startSplit(acc, st, rowBase, blockTables, table, lo, hi, tid, G, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
            for (int t0 = lo; t0 < hi; t0 += TILE) {
                int n = Math.min(TILE, hi - t0);
                loadTileF32(kCache, vCache, ks, vs, rowBase, tid, headDim);
                ctx.localBarrier();
                scores(ctx, qs, ks, sc, sp, slopes, t0, n, p, tid, G, kvh, headDim, alibi);
                ctx.localBarrier();
                softmaxTile(sc, st, n, tid, G);
                ctx.localBarrier();
                accumulate(sc, vs, acc, st, rowBase, blockTables, table, t0 + TILE, hi, n, tid, G, kvh, numBlocks, kvHeads, headDim, blockSize);
                ctx.localBarrier();
            }
            if (splitMode != 0) {
                writePartial(partials, acc, st, t, s, slots, tid, G, kvh, heads, headDim, 0);
            } else {
                foldSplit(ctx, acc, run, st, tid, G, headDim);
            }
        }
        if (splitMode == 0) {
            ctx.localBarrier();
            finish(out, run, st, qBase, tid, G, headDim);
        }
    }

    /**
     * Paged attention, fp16 store: {@link #pagedBf16} with fp16 K/V (widened exactly, so the arithmetic
     * after the tile load is the same expressions in the same order).
     * NOTE: the three store variants differ only in {@code loadTile*}, yet each carries the body: one
     * helper over {@code OffHeapArray} would do for the vector loads ({@code getBits64}/{@code getBits128*}
     * are declared there) but not for the scalar fallback (headDim % 4 != 0), whose element load
     * {@code get(i)} exists only on the typed array classes, and the kernel language has no casts
     * (checkcast is rejected), so a typed load cannot be reached from an untyped helper.
     */
    public static void pagedF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart) {
        int t = ctx.groupIdx, kvh = ctx.groupIdy, z = ctx.groupIdz, tid = ctx.localIdx;
        int G = heads / kvHeads;
        float[] qs = ctx.allocateFloatLocalArray(G * headDim);
        float[] ks = ctx.allocateFloatLocalArray(TILE * (headDim + 1));
        float[] vs = ctx.allocateFloatLocalArray(TILE * headDim);
        float[] sc = ctx.allocateFloatLocalArray(G * TILE);
        float[] sp = ctx.allocateFloatLocalArray(THREADS);
        float[] acc = ctx.allocateFloatLocalArray(G * headDim);
        float[] run = ctx.allocateFloatLocalArray(G * headDim);
        float[] st = ctx.allocateFloatLocalArray(8 * G);
        int[] rowBase = ctx.allocateIntLocalArray(TILE);

        int p = positions.get(t), seq = seqOfToken.get(t);
        int ks0 = useKeyStart != 0 ? keyStart.get(seq) : 0;
        if (ks0 > p) return;
        int sFrom = ks0 / SPLIT, sTo = p / SPLIT;
        if (splitMode != 0) {
            if (z < sFrom || z > sTo) return;
            sFrom = z;
            sTo = z;
        } else if (z > 0) {
            return;
        }
        int table = seq * maxBlocksPerSeq;
        int qBase = (t * heads + kvh * G) * headDim;
        for (int i = tid; i < G * headDim; i += THREADS) {
            qs[i] = q.get(qBase + i);
            run[i] = 0f;
        }
        if (tid < G) {
            st[3 * G + tid] = NEG_INF;
            st[4 * G + tid] = 0f;
        }
        for (int s = sFrom; s <= sTo; s++) {
            int lo = Math.max(s * SPLIT, ks0), hi = Math.min(s * SPLIT + SPLIT, p + 1);
            startSplit(acc, st, rowBase, blockTables, table, lo, hi, tid, G, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
            for (int t0 = lo; t0 < hi; t0 += TILE) {
                int n = Math.min(TILE, hi - t0);
                loadTileF16(kCache, vCache, ks, vs, rowBase, tid, headDim);
                ctx.localBarrier();
                scores(ctx, qs, ks, sc, sp, slopes, t0, n, p, tid, G, kvh, headDim, alibi);
                ctx.localBarrier();
                softmaxTile(sc, st, n, tid, G);
                ctx.localBarrier();
                accumulate(sc, vs, acc, st, rowBase, blockTables, table, t0 + TILE, hi, n, tid, G, kvh, numBlocks, kvHeads, headDim, blockSize);
                ctx.localBarrier();
            }
            if (splitMode != 0) {
                writePartial(partials, acc, st, t, s, slots, tid, G, kvh, heads, headDim, 0);
            } else {
                foldSplit(ctx, acc, run, st, tid, G, headDim);
            }
        }
        if (splitMode == 0) {
            ctx.localBarrier();
            finish(out, run, st, qBase, tid, G, headDim);
        }
    }

    /**
     * Partial slots a {@link #mergeSplits} work-item loads before folding any (the launcher's default): one memory round trip
     * per this many splits. Any value gives the same bits (the fold's order does not change). bench/RESULTS.md "Run 22-attn3",
     * batch 1 × 8k / 32k keys: 1 (the loop before) 70.2 / 69.5% of the copy rate, 8: 79.3 / 84.1%, 16: 79.1 / 85.6%, 32: 80.0 / 87.5%.
     */
    public static final int MERGE_AHEAD = 32;

    /**
     * Folds the partial states of a token's splits in increasing split order (the same expressions as
     * whole mode's in-kernel fold) and writes {@code out = A / L}. One work-item per (token, head, dim):
     * {@code Launch.cover(tokens * heads * headDim, 128)}. With useKeyStart = 1 (cascade) it first folds
     * the shared part's slots {@code sharedBase + c}, c < ceil(keyStart[seq] / SPLIT) (or, {@code ranges} > 0, the shared level's key
     * ranges, {@link CascadeMmaKernels#rangeKeys}), then the token's
     * own splits from keyStart[seq] on.
     *
     * <p>The slots are loaded {@code ahead} at a time ({@link #MERGE_AHEAD} by default) before any is folded: the fold is a dependent
     * chain, and a loop that loads each slot as it folds it waits one L2 round trip per split (bench/RESULTS.md
     * "Run 22-attn3": ~0.3 µs × 128 splits at 32k keys, a third of the decode step at batch 1). The fold's
     * expressions and order are unchanged, so the bits are. Launched overlapping the split kernel (programmatic
     * dependent launch): the token's indices are read before {@code gridDependencyWait}, partials after.
     *
     * @param partials (tokens, heads, slots, headDim + 2)
     * @param out      (tokens, heads * headDim)
     */
    public static void mergeSplits(KernelContext ctx, FloatArray partials, FloatArray out, IntArray positions, IntArray seqOfToken,
                                   IntArray keyStart, int tokens, int slots, int sharedBase, int ranges,
                                   @Constant int heads, @Constant int headDim, @Constant int useKeyStart, @Constant int ahead) {
        merge(ctx, partials, out, positions, seqOfToken, keyStart, tokens, slots, sharedBase, ranges, heads, headDim, useKeyStart, ahead);
    }

    /**
     * {@link #mergeSplits} writing {@code out} in bf16 ((tokens, heads · headDim), o_proj's X): each fp32 {@code A / L} rounded to
     * nearest even as stored, the bits the GEMM's conversion pass makes of {@link #mergeSplits}' output.
     */
    public static void mergeSplitsBf16(KernelContext ctx, FloatArray partials, BFloat16Array out, IntArray positions, IntArray seqOfToken,
                                       IntArray keyStart, int tokens, int slots, int sharedBase, int ranges,
                                       @Constant int heads, @Constant int headDim, @Constant int useKeyStart, @Constant int ahead) {
        merge(ctx, partials, out, positions, seqOfToken, keyStart, tokens, slots, sharedBase, ranges, heads, headDim, useKeyStart, ahead);
    }

    /** {@link #mergeSplits}' body; {@code out} fp32 or bf16 (the entry point's type). */
    static void merge(KernelContext ctx, FloatArray partials, OffHeapArray out, IntArray positions, IntArray seqOfToken,
                      IntArray keyStart, int tokens, int slots, int sharedBase, int ranges, int heads, int headDim, int useKeyStart, int ahead) {
        int idx = ctx.globalIdx;
        if (idx >= tokens * heads * headDim) return;
        int th = idx / headDim, d = idx - th * headDim, t = th / heads;
        int p = positions.get(t);
        int ks0 = useKeyStart != 0 ? keyStart.get(seqOfToken.get(t)) : 0;
        float[] mla = new float[3];     // running M, L, A
        float[] ms = new float[ahead];  // loaded slots: m, l, acc[d]
        float[] ls = new float[ahead];
        float[] as = new float[ahead];
        mla[0] = NEG_INF;
        mla[1] = 0f;
        mla[2] = 0f;
        int rowSlots = th * slots;
        // the shared level's slots: 256-key splits, or with ranges > 0 its equal key ranges (CascadeMmaKernels#rangeKeys; suffix first)
        int nShared = ranges == 0 ? (ks0 + SPLIT - 1) / SPLIT : (ks0 + CascadeMmaKernels.rangeKeys(ks0, ranges) - 1) / CascadeMmaKernels.rangeKeys(ks0, ranges);
        ctx.gridDependencyWait();   // the split kernel's partials
        for (int c = 0; c < nShared; c += ahead) {
            // a shared split may have no key visible to this query (l = 0, m = -inf): skipped
            loadSlots(partials, ms, ls, as, (rowSlots + sharedBase + c) * (headDim + 2), headDim, d, nShared - c, ahead);
            foldSlots(mla, ms, ls, as, nShared - c, 1, ahead);
        }
        if (ks0 <= p) {
            int s0 = ks0 / SPLIT, n = p / SPLIT - s0 + 1;
            for (int c = 0; c < n; c += ahead) {
                loadSlots(partials, ms, ls, as, (rowSlots + s0 + c) * (headDim + 2), headDim, d, n - c, ahead);
                foldSlots(mla, ms, ls, as, n - c, 0, ahead);
            }
        }
        out.setFloat(idx, mla[2] / mla[1]);
    }

    /** Slots {@code i < min(n, ahead)} from {@code o0} on (stride headDim + 2): m, l and this work-item's acc[d]; all issued before any is used. */
    @Unroll
    static void loadSlots(FloatArray partials, float[] ms, float[] ls, float[] as, int o0, int headDim, int d, int n, int ahead) {
        for (int i = 0; i < ahead; i++) {
            if (i < n) {
                int o = o0 + i * (headDim + 2);
                ms[i] = partials.get(o + headDim);
                ls[i] = partials.get(o + headDim + 1);
                as[i] = partials.get(o + d);
            }
        }
    }

    /** Folds loaded slots {@code i < min(n, ahead)} in order into (M, L, A) = mla, skipping l = 0 slots when {@code skipEmpty}. */
    @Unroll
    static void foldSlots(float[] mla, float[] ms, float[] ls, float[] as, int n, int skipEmpty, int ahead) {
        for (int i = 0; i < ahead; i++) {
            if (i < n && (skipEmpty == 0 || ls[i] != 0f)) {
                float m = mla[0], mn = Math.max(m, ms[i]);
                float x = KMath.exp(m - mn), y = KMath.exp(ms[i] - mn);
                mla[2] = mla[2] * x + as[i] * y;
                mla[1] = mla[1] * x + ls[i] * y;
                mla[0] = mn;
            }
        }
    }

    // ---- phases shared by the kernels (inlined) -------------------------------------------------

    /** Fresh split state (m = -inf, l = 0, acc = 0) and the row offsets of its first tile. */
    static void startSplit(float[] acc, float[] st, int[] rowBase, IntArray blockTables, int table, int lo, int hi, int tid,
                           int G, int kvh, int numBlocks, int kvHeads, int headDim, int blockSize) {
        for (int i = tid; i < G * headDim; i += THREADS) acc[i] = 0f;
        if (tid < G) {
            st[tid] = NEG_INF;
            st[G + tid] = 0f;
        }
        if (tid < TILE) rowBase[tid] = rowOffset(blockTables, table, lo + tid, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
    }

    /**
     * Element offset of key j's row of kv head kvh in the store; -1 (a zero row) past hi, past the end of
     * blockTables (a position beyond the table's capacity) or for a block outside the store, so a bad
     * input never reads out of bounds.
     */
    static int rowOffset(IntArray blockTables, int table, int j, int hi, int kvh, int numBlocks, int kvHeads, int headDim, int blockSize) {
        if (j >= hi) return -1;
        int logical = j / blockSize;
        if (table + logical >= blockTables.length()) return -1;
        int block = blockTables.get(table + logical);
        if (block < 0 || block >= numBlocks) return -1;
        return ((block * kvHeads + kvh) * blockSize + (j - logical * blockSize)) * headDim;
    }

    /**
     * K tile into ks (TILE, headDim + 1 padding), V tile into vs (TILE, headDim); rows without a key
     * (past the range, or a block outside the store) are zero. With headDim a multiple of 4 each
     * work-item moves 4-element (8-byte) chunks {@code e = 4·tid + 512·k}, eight chunks of K and eight of
     * V loaded before any is stored, so a 32 × 128 tile takes one round trip to memory, not eight.
     */
    static void loadTileBf16(BFloat16Array kc, BFloat16Array vc, float[] ks, float[] vs, int[] rowBase, int tid, int headDim) {
        if (headDim % 4 == 0) {
            loadTile16(kc, vc, ks, vs, rowBase, tid, headDim, 0);
        } else {
            for (int e = tid; e < TILE * headDim; e += THREADS) {
                int r = e / headDim, c = e - r * headDim, base = rowBase[r];
                ks[r * (headDim + 1) + c] = base >= 0 ? kc.get(base + c) : 0f;
                vs[e] = base >= 0 ? vc.get(base + c) : 0f;
            }
        }
    }

    /** As {@link #loadTileBf16} for an fp16 store (the same 8-byte chunks, widened as fp16). */
    static void loadTileF16(HalfFloatArray kc, HalfFloatArray vc, float[] ks, float[] vs, int[] rowBase, int tid, int headDim) {
        if (headDim % 4 == 0) {
            loadTile16(kc, vc, ks, vs, rowBase, tid, headDim, 1);
        } else {
            for (int e = tid; e < TILE * headDim; e += THREADS) {
                int r = e / headDim, c = e - r * headDim, base = rowBase[r];
                ks[r * (headDim + 1) + c] = base >= 0 ? kc.get(base + c) : 0f;
                vs[e] = base >= 0 ? vc.get(base + c) : 0f;
            }
        }
    }

    /**
     * The vector path of the 16-bit stores (headDim a multiple of 4): raw 8-byte chunks, so one helper
     * serves bf16 ({@code fp16 = 0}) and fp16 ({@code fp16 = 1}, a literal: {@link #low}/{@link #high} fold it,
     * so the PTX holds only the store's conversion).
     */
    static void loadTile16(OffHeapArray kc, OffHeapArray vc, float[] ks, float[] vs, int[] rowBase, int tid, int headDim, int fp16) {
        int step = THREADS * 4, total = TILE * headDim;
        for (int e = tid * 4; e < total; e += 8 * step) {
            int e1 = e + step, e2 = e + 2 * step, e3 = e + 3 * step, e4 = e + 4 * step, e5 = e + 5 * step, e6 = e + 6 * step, e7 = e + 7 * step;
            long k0 = chunk(kc, rowBase, e, total, headDim), v0 = chunk(vc, rowBase, e, total, headDim);
            long k1 = chunk(kc, rowBase, e1, total, headDim), v1 = chunk(vc, rowBase, e1, total, headDim);
            long k2 = chunk(kc, rowBase, e2, total, headDim), v2 = chunk(vc, rowBase, e2, total, headDim);
            long k3 = chunk(kc, rowBase, e3, total, headDim), v3 = chunk(vc, rowBase, e3, total, headDim);
            long k4 = chunk(kc, rowBase, e4, total, headDim), v4 = chunk(vc, rowBase, e4, total, headDim);
            long k5 = chunk(kc, rowBase, e5, total, headDim), v5 = chunk(vc, rowBase, e5, total, headDim);
            long k6 = chunk(kc, rowBase, e6, total, headDim), v6 = chunk(vc, rowBase, e6, total, headDim);
            long k7 = chunk(kc, rowBase, e7, total, headDim), v7 = chunk(vc, rowBase, e7, total, headDim);
            put(ks, vs, e, total, k0, v0, headDim, fp16);
            put(ks, vs, e1, total, k1, v1, headDim, fp16);
            put(ks, vs, e2, total, k2, v2, headDim, fp16);
            put(ks, vs, e3, total, k3, v3, headDim, fp16);
            put(ks, vs, e4, total, k4, v4, headDim, fp16);
            put(ks, vs, e5, total, k5, v5, headDim, fp16);
            put(ks, vs, e6, total, k6, v6, headDim, fp16);
            put(ks, vs, e7, total, k7, v7, headDim, fp16);
        }
    }

    /** The 4 halves of tile element e..e+3 (one 8-byte load), 0 for a row without a key or e past the tile. */
    static long chunk(OffHeapArray a, int[] rowBase, int e, int total, int headDim) {
        if (e >= total) return 0L;
        int r = e / headDim, base = rowBase[r];
        return base >= 0 ? a.getBits64(base + e - r * headDim) : 0L;
    }

    /** Widens a chunk of K and of V into the tiles (nothing for e past the tile). */
    static void put(float[] ks, float[] vs, int e, int total, long kb, long vb, int headDim, int fp16) {
        if (e < total) {
            int r = e / headDim, c = e - r * headDim;
            int ko = r * (headDim + 1) + c;
            int k0 = (int) kb, k1 = (int) (kb >>> 32), v0 = (int) vb, v1 = (int) (vb >>> 32);
            ks[ko] = low(k0, fp16);
            ks[ko + 1] = high(k0, fp16);
            ks[ko + 2] = low(k1, fp16);
            ks[ko + 3] = high(k1, fp16);
            vs[e] = low(v0, fp16);
            vs[e + 1] = high(v0, fp16);
            vs[e + 2] = low(v1, fp16);
            vs[e + 3] = high(v1, fp16);
        }
    }

    /** The lower half of a packed pair, widened exactly (fp16 or bf16); {@code @Unroll} folds the constant branch while translating. */
    @Unroll
    static float low(int pair, int fp16) {
        return fp16 != 0 ? KernelContext.fp16LowToFloat(pair) : KernelContext.bf16LowToFloat(pair);
    }

    /** The upper half of a packed pair, widened exactly (fp16 or bf16). */
    @Unroll
    static float high(int pair, int fp16) {
        return fp16 != 0 ? KernelContext.fp16HighToFloat(pair) : KernelContext.bf16HighToFloat(pair);
    }

    /** As {@link #loadTileBf16} for an fp32 store (16-byte loads when headDim is a multiple of 4). */
    static void loadTileF32(FloatArray kc, FloatArray vc, float[] ks, float[] vs, int[] rowBase, int tid, int headDim) {
        if (headDim % 4 == 0) {
            for (int e = tid * 4; e < TILE * headDim; e += THREADS * 4) {
                int r = e / headDim, c = e - r * headDim, base = rowBase[r];
                int ko = r * (headDim + 1) + c, vo = r * headDim + c;
                if (base >= 0) {
                    int o = base + c;
                    long ka = kc.getBits128Low(o), kb = kc.getBits128High(o);
                    long va = vc.getBits128Low(o), vb = vc.getBits128High(o);
                    ks[ko] = Float.intBitsToFloat((int) ka);
                    ks[ko + 1] = Float.intBitsToFloat((int) (ka >>> 32));
                    ks[ko + 2] = Float.intBitsToFloat((int) kb);
                    ks[ko + 3] = Float.intBitsToFloat((int) (kb >>> 32));
                    vs[vo] = Float.intBitsToFloat((int) va);
                    vs[vo + 1] = Float.intBitsToFloat((int) (va >>> 32));
                    vs[vo + 2] = Float.intBitsToFloat((int) vb);
                    vs[vo + 3] = Float.intBitsToFloat((int) (vb >>> 32));
                } else {
                    for (int i = 0; i < 4; i++) {
                        ks[ko + i] = 0f;
                        vs[vo + i] = 0f;
                    }
                }
            }
        } else {
            for (int e = tid; e < TILE * headDim; e += THREADS) {
                int r = e / headDim, c = e - r * headDim, base = rowBase[r];
                ks[r * (headDim + 1) + c] = base >= 0 ? kc.get(base + c) : 0f;
                vs[e] = base >= 0 ? vc.get(base + c) : 0f;
            }
        }
    }

    /**
     * sc[g][r] = q_g · k_r · scale (+ slope·(j - p)) for the tile's n keys. With fewer than THREADS
     * (g, r) pairs (G = 1, 2) each dot product is cut into THREADS / pairs fixed parts, added in order.
     */
    static void scores(KernelContext ctx, float[] qs, float[] ks, float[] sc, float[] sp, FloatArray slopes, int t0, int n, int p,
                       int tid, int G, int kvh, int headDim, int alibi) {
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int pairs = G * TILE;
        int parts = pairs >= THREADS ? 1 : THREADS / pairs;
        if (parts == 1) {
            for (int pr = tid; pr < pairs; pr += THREADS) {
                int g = pr / TILE, r = pr - g * TILE;
                if (r < n) {
                    float dot = dot(qs, g * headDim, ks, r * (headDim + 1), 0, headDim);
                    sc[pr] = scoreOf(dot, scale, slopes, kvh * G + g, t0 + r, p, alibi);
                }
            }
        } else {
            int pr = tid % pairs, part = tid / pairs;
            int g = pr / TILE, r = pr - g * TILE;
            int d0 = part * headDim / parts, d1 = (part + 1) * headDim / parts;
            sp[tid] = r < n ? dot(qs, g * headDim, ks, r * (headDim + 1), d0, d1) : 0f;
            ctx.localBarrier();
            if (tid < pairs && r < n) {
                float dot = sp[tid];
                for (int k = 1; k < parts; k++) dot += sp[tid + k * pairs];
                sc[tid] = scoreOf(dot, scale, slopes, kvh * G + g, t0 + r, p, alibi);
            }
        }
    }

    /** {@code Σ_{d0 ≤ d < d1} a[ao + d] · b[bo + d]}, fused multiply-adds in increasing d. */
    static float dot(float[] a, int ao, float[] b, int bo, int d0, int d1) {
        float s = 0f;
        for (int d = d0; d < d1; d++) s = Math.fma(a[ao + d], b[bo + d], s);
        return s;
    }

    /** The score of key j for query position p: {@code dot * scale}, plus {@code slope_h * (j - p)} with ALiBi (Attention.java's order). */
    static float scoreOf(float dot, float scale, FloatArray slopes, int h, int j, int p, int alibi) {
        float s = dot * scale;
        if (alibi != 0) s += slopes.get(h) * (j - p);
        return s;
    }

    /**
     * One work-item per head g, over the whole tile (constant trip counts, so the loads are issued
     * together): m_new = max(m, tile max); alpha = exp(m - m_new) (st[2G + g]); p[g][r] = exp(s - m_new)
     * for the n keys, 0 past them; l = l·alpha + Σ_r p[g][r] (in key order).
     */
    static void softmaxTile(float[] sc, float[] st, int n, int tid, int G) {
        if (tid < G) {
            int o = tid * TILE;
            float mx = NEG_INF;
            for (int r = 0; r < TILE; r++) {
                float s = sc[o + r];
                mx = r < n ? Math.max(mx, s) : mx;
            }
            float mOld = st[tid], mNew = Math.max(mOld, mx);
            float alpha = KMath.exp(mOld - mNew);
            float sum = 0f;
            for (int r = 0; r < TILE; r++) {
                float e = r < n ? KMath.exp(sc[o + r] - mNew) : 0f;
                sc[o + r] = e;
                sum += e;
            }
            st[2 * G + tid] = alpha;
            st[tid] = mNew;
            st[G + tid] = st[G + tid] * alpha + sum;
        }
    }

    /** acc[g][d] = acc·alpha_g + Σ_r p[g][r]·v[r][d] (FMAs in key order, all TILE rows); and the next tile's row offsets. */
    static void accumulate(float[] sc, float[] vs, float[] acc, float[] st, int[] rowBase, IntArray blockTables, int table,
                           int next, int hi, int n, int tid, int G, int kvh, int numBlocks, int kvHeads, int headDim, int blockSize) {
        for (int i = tid; i < G * headDim; i += THREADS) {
            int g = i / headDim, d = i - g * headDim;
            float a = acc[i] * st[2 * G + g];
            for (int r = 0; r < TILE; r++) a = Math.fma(sc[g * TILE + r], vs[r * headDim + d], a);   // p = 0 and v = 0 past the n keys
            acc[i] = a;
        }
        if (tid < TILE) rowBase[tid] = rowOffset(blockTables, table, next + tid, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
    }

    /** Partial state (acc, m, l) of query heads kvh·G + g of token t into slot {@code slot0 + s}. */
    static void writePartial(FloatArray partials, float[] acc, float[] st, int t, int s, int slots, int tid, int G, int kvh,
                             int heads, int headDim, int slot0) {
        for (int i = tid; i < G * headDim; i += THREADS) {
            int g = i / headDim, d = i - g * headDim;
            partials.set(((t * heads + kvh * G + g) * slots + slot0 + s) * (headDim + 2) + d, acc[i]);
        }
        if (tid < G) {
            int o = ((t * heads + kvh * G + tid) * slots + slot0 + s) * (headDim + 2) + headDim;
            partials.set(o, st[tid]);
            partials.set(o + 1, st[G + tid]);
        }
    }

    /** Whole mode: folds the split's (m, l, acc) into the running (M, L, A) exactly as {@link #mergeSplits} does. */
    static void foldSplit(KernelContext ctx, float[] acc, float[] run, float[] st, int tid, int G, int headDim) {
        for (int i = tid; i < G * headDim; i += THREADS) {
            int g = i / headDim;
            float m = st[3 * G + g], ms = st[g], mn = Math.max(m, ms);
            float x = KMath.exp(m - mn), y = KMath.exp(ms - mn);
            run[i] = run[i] * x + acc[i] * y;
        }
        ctx.localBarrier();
        if (tid < G) {
            float m = st[3 * G + tid], ms = st[tid], mn = Math.max(m, ms);
            float x = KMath.exp(m - mn), y = KMath.exp(ms - mn);
            st[4 * G + tid] = st[4 * G + tid] * x + st[G + tid] * y;
            st[3 * G + tid] = mn;
        }
    }

    /** out = A / L for the group's query heads. */
    static void finish(OffHeapArray out, float[] run, float[] st, int qBase, int tid, int G, int headDim) {
        for (int i = tid; i < G * headDim; i += THREADS) out.setFloat(qBase + i, run[i] / st[4 * G + i / headDim]);
    }
}
