package dev.arbor.kernels.attention;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;

import static dev.arbor.kernels.attention.AttentionKernels.SPLIT;
import static dev.arbor.kernels.attention.AttentionKernels.THREADS;
import static dev.arbor.kernels.attention.AttentionKernels.TILE;

/**
 * The shared-prefix level of cascade attention (FlashInfer's multi-level cascade, Ye et al. 2024;
 * Hydragen, Juravsky et al. 2024): for a group of sequences whose block tables begin with the same
 * physical blocks (the first {@code keyStart[seq]} keys), all the group's query tokens attend to the
 * shared keys as one multi-query attention, so each KV tile is read once per {@code queries} tokens ×
 * G query heads instead of once per (token, head). It writes partial softmax states (m, l, acc) per
 * split of the shared part into scratch slots {@code sharedBase + c}; the sequences' own keys are the
 * paged kernel's suffix (keyStart) and {@link AttentionKernels#mergeSplits} folds both by log-sum-exp.
 * Causal and ALiBi masks use each query's own position, so a query inside the shared part (chunked
 * prefill of a group) is correct too; a split with no visible key leaves (m = -inf, l = 0, acc = 0).
 *
 * <p>Work-group: (group × query tile, kv head, shared split); {@code THREADS} work-items; rows are
 * (query, g) pairs, ROWS = queries·G. Shared memory {@code 4·(2·ROWS·D + TILE·(2D+1) + ROWS·TILE + 3·ROWS + TILE + 2·queries)} bytes.
 */
public final class CascadeKernels {
    private CascadeKernels() {}

    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /**
     * @param q                 (tokens, heads * headDim)
     * @param kCache            (numBlocks, kvHeads, blockSize, headDim) bf16 (fp16 and fp32: the variants below)
     * @param partials          (tokens, heads, slots, headDim + 2)
     * @param groupTokens       tokens of every cascade group, group after group
     * @param groupTokenStart   (numGroups + 1) offsets into groupTokens
     * @param keyStart          (numSeqs) shared length (keys) of each sequence's group; the blocks are those
     *                          of the group's first token's block table row
     * @param tilesPerGroup     query tiles per group in the grid: ceil(max group size / queries)
     * @param queries           query tokens per work-group (the launcher uses max(1, 8 / G))
     *                          Grid: (numGroups * tilesPerGroup, kvHeads, ceil(max shared length / SPLIT)).
     */
    public static void cascadeSharedBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray partials,
                                         IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                                         IntArray groupTokens, IntArray groupTokenStart,
                                         int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int tilesPerGroup,
                                         @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                         @Constant int alibi, @Constant int queries) {
        int G = heads / kvHeads;
        int rows = queries * G;
        float[] qs = ctx.allocateFloatLocalArray(rows * headDim);
        float[] ks = ctx.allocateFloatLocalArray(TILE * (headDim + 1));
        float[] vs = ctx.allocateFloatLocalArray(TILE * headDim);
        float[] sc = ctx.allocateFloatLocalArray(rows * TILE);
        float[] acc = ctx.allocateFloatLocalArray(rows * headDim);
        float[] st = ctx.allocateFloatLocalArray(3 * rows);
        int[] rowBase = ctx.allocateIntLocalArray(TILE);
        int[] qTok = ctx.allocateIntLocalArray(queries);
        int[] qPos = ctx.allocateIntLocalArray(queries);
        ctx.allowDependentLaunch();   // the suffix + merge warps may start their own keys (they wait for this grid before reading partials)
        int tid = ctx.localIdx, kvh = ctx.groupIdy, c = ctx.groupIdz;
        int grp = ctx.groupIdx / tilesPerGroup, qt = ctx.groupIdx - grp * tilesPerGroup;
        int from = groupTokenStart.get(grp), count = groupTokenStart.get(grp + 1) - from;
        if (qt * queries >= count) return;
        int seq0 = seqOfToken.get(groupTokens.get(from));
        int shared = keyStart.get(seq0), table = seq0 * maxBlocksPerSeq;
        int lo = c * SPLIT;
        if (lo >= shared) return;
        int hi = Math.min(lo + SPLIT, shared);
        if (tid < queries) {
            int k = qt * queries + tid;
            int tok = k < count ? groupTokens.get(from + k) : -1;
            qTok[tid] = tok;
            qPos[tid] = tok >= 0 ? positions.get(tok) : -1;
        }
        for (int i = tid; i < rows * headDim; i += THREADS) acc[i] = 0f;
        if (tid < rows) {
            st[tid] = NEG_INF;
            st[rows + tid] = 0f;
        }
        if (tid < TILE) rowBase[tid] = AttentionKernels.rowOffset(blockTables, table, lo + tid, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
        ctx.localBarrier();
        for (int i = tid; i < rows * headDim; i += THREADS) {
            int row = i / headDim, d = i - row * headDim, qi = row / G, tok = qTok[qi];
            qs[i] = tok >= 0 ? q.get((tok * heads + kvh * G + row - qi * G) * headDim + d) : 0f;
        }
        float scale = (float) (1.0 / Math.sqrt(headDim));
        for (int t0 = lo; t0 < hi; t0 += TILE) {
            int n = Math.min(TILE, hi - t0);
            AttentionKernels.loadTileBf16(kCache, vCache, ks, vs, rowBase, tid, headDim);
            ctx.localBarrier();
            tile(qs, ks, vs, sc, acc, st, rowBase, qPos, slopes, blockTables, table, t0, n, hi, tid, rows, G, kvh, scale, alibi,
                    numBlocks, kvHeads, headDim, blockSize, ctx);
        }
        writeShared(partials, acc, st, qTok, c, slots, sharedBase, tid, rows, G, kvh, heads, headDim);
    }

    /** As {@link #cascadeSharedBf16} for an fp32 store. */
    public static void cascadeSharedF32(KernelContext ctx, FloatArray q, FloatArray kCache, FloatArray vCache, FloatArray partials,
                                        IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                                        IntArray groupTokens, IntArray groupTokenStart,
                                        int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int tilesPerGroup,
                                        @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                        @Constant int alibi, @Constant int queries) {
        int G = heads / kvHeads;
        int rows = queries * G;
        float[] qs = ctx.allocateFloatLocalArray(rows * headDim);
        float[] ks = ctx.allocateFloatLocalArray(TILE * (headDim + 1));
        float[] vs = ctx.allocateFloatLocalArray(TILE * headDim);
        float[] sc = ctx.allocateFloatLocalArray(rows * TILE);
        float[] acc = ctx.allocateFloatLocalArray(rows * headDim);
        float[] st = ctx.allocateFloatLocalArray(3 * rows);
        int[] rowBase = ctx.allocateIntLocalArray(TILE);
        int[] qTok = ctx.allocateIntLocalArray(queries);
        int[] qPos = ctx.allocateIntLocalArray(queries);
        ctx.allowDependentLaunch();   // the suffix + merge warps may start their own keys (they wait for this grid before reading partials)
        int tid = ctx.localIdx, kvh = ctx.groupIdy, c = ctx.groupIdz;
        int grp = ctx.groupIdx / tilesPerGroup, qt = ctx.groupIdx - grp * tilesPerGroup;
        int from = groupTokenStart.get(grp), count = groupTokenStart.get(grp + 1) - from;
        if (qt * queries >= count) return;
        int seq0 = seqOfToken.get(groupTokens.get(from));
        int shared = keyStart.get(seq0), table = seq0 * maxBlocksPerSeq;
        int lo = c * SPLIT;
        if (lo >= shared) return;
        int hi = Math.min(lo + SPLIT, shared);
        if (tid < queries) {
            int k = qt * queries + tid;
            int tok = k < count ? groupTokens.get(from + k) : -1;
            qTok[tid] = tok;
            qPos[tid] = tok >= 0 ? positions.get(tok) : -1;
        }
        for (int i = tid; i < rows * headDim; i += THREADS) acc[i] = 0f;
        if (tid < rows) {
            st[tid] = NEG_INF;
            st[rows + tid] = 0f;
        }
        if (tid < TILE) rowBase[tid] = AttentionKernels.rowOffset(blockTables, table, lo + tid, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
        ctx.localBarrier();
        for (int i = tid; i < rows * headDim; i += THREADS) {
            int row = i / headDim, d = i - row * headDim, qi = row / G, tok = qTok[qi];
            qs[i] = tok >= 0 ? q.get((tok * heads + kvh * G + row - qi * G) * headDim + d) : 0f;
        }
        float scale = (float) (1.0 / Math.sqrt(headDim));
        for (int t0 = lo; t0 < hi; t0 += TILE) {
            int n = Math.min(TILE, hi - t0);
            AttentionKernels.loadTileF32(kCache, vCache, ks, vs, rowBase, tid, headDim);
            ctx.localBarrier();
            tile(qs, ks, vs, sc, acc, st, rowBase, qPos, slopes, blockTables, table, t0, n, hi, tid, rows, G, kvh, scale, alibi,
                    numBlocks, kvHeads, headDim, blockSize, ctx);
        }
        writeShared(partials, acc, st, qTok, c, slots, sharedBase, tid, rows, G, kvh, heads, headDim);
    }

    /**
     * As {@link #cascadeSharedBf16} for an fp16 store. Like the paged variants, the three carry the body
     * and differ only in the tile load; see the NOTE on {@link AttentionKernels#pagedF16} for why.
     */
    public static void cascadeSharedF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray partials,
                                        IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                                        IntArray groupTokens, IntArray groupTokenStart,
                                        int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int tilesPerGroup,
                                        @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                        @Constant int alibi, @Constant int queries) {
        int G = heads / kvHeads;
        int rows = queries * G;
        float[] qs = ctx.allocateFloatLocalArray(rows * headDim);
        float[] ks = ctx.allocateFloatLocalArray(TILE * (headDim + 1));
        float[] vs = ctx.allocateFloatLocalArray(TILE * headDim);
        float[] sc = ctx.allocateFloatLocalArray(rows * TILE);
        float[] acc = ctx.allocateFloatLocalArray(rows * headDim);
        float[] st = ctx.allocateFloatLocalArray(3 * rows);
        int[] rowBase = ctx.allocateIntLocalArray(TILE);
        int[] qTok = ctx.allocateIntLocalArray(queries);
        int[] qPos = ctx.allocateIntLocalArray(queries);
        ctx.allowDependentLaunch();   // the suffix + merge warps may start their own keys (they wait for this grid before reading partials)
        int tid = ctx.localIdx, kvh = ctx.groupIdy, c = ctx.groupIdz;
        int grp = ctx.groupIdx / tilesPerGroup, qt = ctx.groupIdx - grp * tilesPerGroup;
        int from = groupTokenStart.get(grp), count = groupTokenStart.get(grp + 1) - from;
        if (qt * queries >= count) return;
        int seq0 = seqOfToken.get(groupTokens.get(from));
        int shared = keyStart.get(seq0), table = seq0 * maxBlocksPerSeq;
        int lo = c * SPLIT;
        if (lo >= shared) return;
        int hi = Math.min(lo + SPLIT, shared);
        if (tid < queries) {
            int k = qt * queries + tid;
            int tok = k < count ? groupTokens.get(from + k) : -1;
            qTok[tid] = tok;
            qPos[tid] = tok >= 0 ? positions.get(tok) : -1;
        }
        for (int i = tid; i < rows * headDim; i += THREADS) acc[i] = 0f;
        if (tid < rows) {
            st[tid] = NEG_INF;
            st[rows + tid] = 0f;
        }
        if (tid < TILE) rowBase[tid] = AttentionKernels.rowOffset(blockTables, table, lo + tid, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
        ctx.localBarrier();
        for (int i = tid; i < rows * headDim; i += THREADS) {
            int row = i / headDim, d = i - row * headDim, qi = row / G, tok = qTok[qi];
            qs[i] = tok >= 0 ? q.get((tok * heads + kvh * G + row - qi * G) * headDim + d) : 0f;
        }
        float scale = (float) (1.0 / Math.sqrt(headDim));
        for (int t0 = lo; t0 < hi; t0 += TILE) {
            int n = Math.min(TILE, hi - t0);
            AttentionKernels.loadTileF16(kCache, vCache, ks, vs, rowBase, tid, headDim);
            ctx.localBarrier();
            tile(qs, ks, vs, sc, acc, st, rowBase, qPos, slopes, blockTables, table, t0, n, hi, tid, rows, G, kvh, scale, alibi,
                    numBlocks, kvHeads, headDim, blockSize, ctx);
        }
        writeShared(partials, acc, st, qTok, c, slots, sharedBase, tid, rows, G, kvh, heads, headDim);
    }

    /** One staged tile for all rows: masked scores, online-softmax update, accumulation; ends with a barrier. */
    static void tile(float[] qs, float[] ks, float[] vs, float[] sc, float[] acc, float[] st, int[] rowBase, int[] qPos,
                     FloatArray slopes, IntArray blockTables, int table, int t0, int n, int hi, int tid, int rows, int G, int kvh,
                     float scale, int alibi, int numBlocks, int kvHeads, int headDim, int blockSize, KernelContext ctx) {
        for (int pr = tid; pr < rows * TILE; pr += THREADS) {
            int row = pr / TILE, r = pr - row * TILE, p = qPos[row / G], j = t0 + r;
            if (r < n) {
                sc[pr] = j <= p
                        ? AttentionKernels.scoreOf(AttentionKernels.dot(qs, row * headDim, ks, r * (headDim + 1), 0, headDim), scale, slopes,
                                kvh * G + row % G, j, p, alibi)
                        : NEG_INF;
            }
        }
        ctx.localBarrier();
        if (tid < rows) {   // per row: tile max, probabilities (0 for masked or missing keys), l
            int o = tid * TILE;
            float mx = NEG_INF;
            for (int r = 0; r < TILE; r++) {
                float s = sc[o + r];
                mx = r < n ? Math.max(mx, s) : mx;
            }
            float mOld = st[tid], mNew = Math.max(mOld, mx);
            float alpha = mNew == NEG_INF ? 1f : KMath.exp(mOld - mNew);
            float sum = 0f;
            for (int r = 0; r < TILE; r++) {
                float s = sc[o + r];
                float e = r < n && s != NEG_INF ? KMath.exp(s - mNew) : 0f;
                sc[o + r] = e;
                sum += e;
            }
            st[2 * rows + tid] = alpha;
            st[tid] = mNew;
            st[rows + tid] = st[rows + tid] * alpha + sum;
        }
        ctx.localBarrier();
        for (int i = tid; i < rows * headDim; i += THREADS) {
            int row = i / headDim, d = i - row * headDim;
            float a = acc[i] * st[2 * rows + row];
            for (int r = 0; r < TILE; r++) a = Math.fma(sc[row * TILE + r], vs[r * headDim + d], a);   // p = 0 and v = 0 past the n keys
            acc[i] = a;
        }
        if (tid < TILE) rowBase[tid] = AttentionKernels.rowOffset(blockTables, table, t0 + TILE + tid, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
        ctx.localBarrier();
    }

    /** Each valid row's (acc, m, l) into its token's slot sharedBase + c. */
    static void writeShared(FloatArray partials, float[] acc, float[] st, int[] qTok, int c, int slots, int sharedBase, int tid, int rows,
                            int G, int kvh, int heads, int headDim) {
        for (int i = tid; i < rows * headDim; i += THREADS) {
            int row = i / headDim, d = i - row * headDim, qi = row / G, tok = qTok[qi];
            if (tok >= 0) partials.set(((tok * heads + kvh * G + row - qi * G) * slots + sharedBase + c) * (headDim + 2) + d, acc[i]);
        }
        if (tid < rows) {
            int qi = tid / G, tok = qTok[qi];
            if (tok >= 0) {
                int o = ((tok * heads + kvh * G + tid - qi * G) * slots + sharedBase + c) * (headDim + 2) + headDim;
                partials.set(o, st[tid]);
                partials.set(o + 1, st[rows + tid]);
            }
        }
    }
}
