package dev.arbor.kernels.attention;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Swizzle;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

/**
 * Prefill attention on the tensor cores, FlashAttention-2 style (Dao 2023, alg. 1), over the paged KV
 * store {@code [numBlocks][kvHeads][blockSize][headDim]} (bf16 or fp16): a chunk of new query tokens per
 * sequence (varlen batch) against the sequence's cached prefix plus the chunk itself, causal. Semantics of
 * {@link AttentionReference}: a token at position p attends to keys 0..p of its sequence, score
 * {@code q·k / sqrt(headDim)}, plus {@code slope[h]·(j - p)} with ALiBi. Host side: {@link FlashPrefillAttention}.
 *
 * <h2>Work-group</h2>
 * One work-group of {@link #THREADS} (4 warps) per (query tile, kv head): grid (tiles, kvHeads). A query
 * tile is up to {@code T = BM / G} consecutive new tokens of one sequence ({@code G = heads / kvHeads});
 * its {@link #BM} rows are the (token, query head) pairs {@code row = token·G + g} of the kv head's group
 * (GQA head packing, as FlashInfer does: each K/V tile is loaded once for all G query heads of its kv head,
 * and a decode-sized chunk of a GQA model still fills the mma rows). Warp w owns rows 16w..16w+15.
 * Q (fp32) is rounded to the store's 16-bit type once and kept as mma A fragments in registers
 * ({@code headDim/16 × 4} words). Keys go in tiles of {@link #BN} at absolute positions
 * {@code [i·BN, (i+1)·BN)}, i = 0 .. pMax / BN (pMax: the chunk's last position), K and V of tile i+1
 * arriving by {@code cp.async} (16-byte chunks; rows through the block table, zero-filled past pMax)
 * while tile i is computed. Per tile and warp: {@code S = Q·Kᵀ} (16 × BN fp32 in registers, mma m16n8k16),
 * scale, ALiBi bias, causal mask ({@code -inf} for key > p), online softmax (row max and sum reduced over the
 * row's quad of lanes by two xor shuffles), {@code O = O·e^(m_old - m_new) + P·V} with P rounded to the
 * 16-bit type as the A operand (the S accumulator layout is the A fragment layout) and V read by
 * {@code ldmatrix.trans}. At the end {@code out = O / l} in fp32.
 * Shared memory (dynamic, {@link #sharedBytes}): two stages of K and V {@code 2·2·BN·headDim·2} bytes (64 KiB at headDim 128) + two
 * tiles' key row offsets ({@code 2·BN·4} bytes, filled a tile ahead); Q ({@code BM·headDim·2} bytes) is staged in the stage the
 * first walked tile does not use and read into registers before that stage's first copies. Tiles stored as 128-byte rows
 * ({@code headDim/64} sub-tiles of 64 halves) swizzled by {@link Swizzle#rowChunk128} so every ldmatrix is conflict-free.
 * Launch bounds of {@code minBlocks} work-groups an SM where the launcher asks ({@link #MIN_BLOCKS}).
 * Long chunks in steps without a handoff take {@link #longBf16}: the same rows, tiles and per-tile arithmetic (the same bits)
 * with Q in its own buffer, no launch bounds, the causal select only on diagonal tiles and a banded work order.
 *
 * <h2>One arithmetic order per (token, head): batch invariance</h2>
 * A row's result is a function of its own query, its position and the keys 0..p only: the key tiles are
 * fixed by absolute position, a row's S, softmax state and O live in its own warp's registers (the row's
 * quad reduces in a fixed order), and each mma output element depends only on its own A row. Other rows of
 * the work-group (other tokens of the chunk, padding) change nothing: a tile entirely past a row's
 * position is an exact no-op for it ({@code m} unchanged, {@code alpha = e^0 = 1}, P = 0, so
 * {@code O·1 + 0 = O}). So a token's bits do not depend on the batch, the chunking or whether its prefix
 * was cached, which the tests check bit for bit on the CPU executor and on the GPU. They do differ from
 * the CUDA-core kernel ({@link AttentionKernels}: fp32 query, FMA dot products): Q and P are rounded to
 * 16 bits here, as in every tensor-core attention.
 *
 * <p>Constraints: headDim 64 or 128; G ≤ {@link #BM}; the store bf16 or fp16 (fp32 stores keep the
 * CUDA-core kernel).
 */
public final class FlashPrefillKernels {
    private FlashPrefillKernels() {}

    /** Query rows ((token, head) pairs) per work-group: 4 warps × 16. */
    public static final int BM = 64;
    /** Keys per tile; tile i covers absolute key positions [i·BN, (i+1)·BN). */
    public static final int BN = 64;
    /** Work-items per work-group (4 warps). */
    public static final int THREADS = 128;

    /** Query rows of the one-warp work-group ({@link #warpBf16}): one warp × 16. */
    public static final int WARP_ROWS = 16;
    /** Work-items of the one-warp work-group. */
    public static final int WARP_THREADS = 32;

    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /**
     * Dynamic shared memory of one 64-row work-group in bytes: two stages of K and V, two tiles' key row offsets (66,048 B at
     * headDim 128). Q is staged in the stage the first walked tile does not use and read into registers before that stage is
     * filled ({@link #attend}), so it costs no room of its own: three work-groups fit an SM's 228 KiB (82,432 B with Q apart: two).
     */
    public static int sharedBytes(int headDim) {
        return 4 * BN * headDim * 2 + 2 * BN * 4;
    }

    /**
     * Work-groups an SM of the 64-row kernels' launch bounds ({@code .minnctapersm}) where the launcher asks for them
     * ({@code FlashPrefillAttention.tallMinBlocks}: both 64-row kernels, by default): 3, so ptxas keeps
     * a work-item within 65,536 / (3 · 128) = 170 registers (168; the shared pass needs no more at G = 1, the one-pass kernel
     * spills 36-52 bytes at headDim 128), and with {@link #sharedBytes} three fit by shared memory too: 12 warps an SM walking
     * key tiles instead of 8 (the walk is a latency chain a warp: bench/RESULTS.md runs 39-bm16, 39-casc8, 57-pfa12).
     * Registers only: the same arithmetic, the same bits. 0 declares nothing (ptxas's own count: two an SM at headDim 128).
     */
    public static final int MIN_BLOCKS = 3;

    /** Dynamic shared memory of one one-warp work-group ({@link #warpBf16}) in bytes: Q, one stage of K and V, two tiles' key row offsets. */
    public static int warpSharedBytes(int headDim) {
        return (WARP_ROWS + 2 * BN) * headDim * 2 + 2 * BN * 4;
    }

    /**
     * Prefill attention, bf16 store.
     *
     * @param q           (tokens, heads * headDim) fp32, after RoPE
     * @param kCache      (numBlocks, kvHeads, blockSize, headDim)
     * @param vCache      same shape
     * @param out         (tokens, heads * headDim) fp32; rows of tokens in no tile are not written
     * @param positions   (tokens) position of each token in its sequence (consecutive within a tile)
     * @param seqOfToken  (tokens) row of blockTables of each token
     * @param tiles       (numTiles, 2): first token, end token (exclusive) of each query tile, one sequence each
     * @param blockTables (numSeqs, maxBlocksPerSeq) physical block of each logical block
     * @param slopes      (heads) ALiBi slopes; read only if alibi = 1
     * @param startTiles  (tokens) key tiles of each token already done by the shared pass ({@link #sharedBf16}), whose state
     *                    this pass continues from (the same for a tile's tokens: one sequence's); 0: none (the one-pass kernel)
     * @param state       ({@link #stateStride} floats per (token, head)) the shared pass's (O, m, l) of the tokens of sequences
     *                    with startTiles > 0; not read otherwise
     * @param minBlocks   work-groups an SM in the launch bounds ({@link #MIN_BLOCKS}; 0: none); the same bits either way
     */
    public static void prefillBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                   IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                   IntArray startTiles, FloatArray state,
                                   int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                   @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks) {
        ctx.launchBounds(THREADS, minBlocks);
        attend(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 0);
    }

    /** {@link #prefillBf16} writing {@code out} in bf16 (o_proj's X): each fp32 {@code O / l} rounded to nearest even as stored. */
    public static void prefillBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                          IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                          IntArray startTiles, FloatArray state,
                                          int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                          @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks) {
        ctx.launchBounds(THREADS, minBlocks);
        attend(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 0);
    }

    /** Prefill attention, fp16 store: {@link #prefillBf16} with Q and P rounded to fp16 and fp16 mma. */
    public static void prefillF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                  IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                  IntArray startTiles, FloatArray state,
                                  int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                  @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks) {
        ctx.launchBounds(THREADS, minBlocks);
        attend(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 1);
    }

    /** The kernel body; {@code fp16} (a literal) picks the 16-bit type of Q, P and the mma. */
    static void attend(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, IntArray positions,
                       IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes, IntArray startTiles, FloatArray state,
                       int maxBlocksPerSeq, int numBlocks, int heads, int kvHeads, int headDim, int blockSize, int alibi, int fp16) {
        int[] smem = ctx.dynamicIntLocalArray();
        int[] qf = new int[headDim / 16 * 4];   // Q A-fragments, k-step ks at 4·ks
        float[] s = new float[BN / 8 * 4];      // S = Q·Kᵀ accumulators, key group j (8 keys) at 4j
        float[] o = new float[headDim / 8 * 4]; // O accumulators, dims 8j..8j+7 at 4j
        int[] kf = new int[BN / 8 * 2];         // K B-fragments of one k-step
        int[] vf = new int[4];                  // V B-fragments of two dim groups
        int[] pf = new int[4];                  // P A-fragment of 16 keys
        float[] st = new float[4];              // m (rows g, g+8), l (rows g, g+8)

        int G = heads / kvHeads, tpb = BM / G;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int kvh = ctx.groupIdy;
        int tFirst = tiles.get(2 * ctx.groupIdx), tEnd = tiles.get(2 * ctx.groupIdx + 1);
        int nTok = tEnd - tFirst;
        if (nTok <= 0) return;   // an empty tile (FlashPrefillAttention.planBelow's placeholder): the whole work-group, before any barrier
        int seq = seqOfToken.get(tFirst), p0 = positions.get(tFirst);
        int pMax = p0 + nTok - 1;
        int table = seq * maxBlocksPerSeq;
        int kvWords = BN * headDim / 2;
        int it0 = startTiles.get(tFirst);   // key tiles [0, it0) done by the shared pass (sharedBf16): continue from its state
        int qBase = ((it0 + 1) & 1) * 2 * kvWords;   // Q staged in the stage of tile it0 + 1, read into registers before its copies

        // the two rows of this work-item: g and g + 8 of the warp's 16 (padding rows repeat the last token)
        int rowA = warp * 16 + (lane >> 2), rowB = rowA + 8;
        int tokA = Math.min(rowA / G, nTok - 1), tokB = Math.min(rowB / G, nTok - 1);
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = p0 + tokA, posB = p0 + tokB;
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = scaleOf(headDim);

        // key row offsets (block-table lookups) run a tile ahead of the copies they feed, in two buffers of BN words after the
        // K/V stages (tile i's in buffer i & 1): tiles 0 and 1 here, tile it + 2 during tile it, its load issued before the
        // tile's arithmetic and stored after it (the copies no longer wait on a dependent block-table load per 16-byte chunk)
        int rb = 4 * kvWords;
        int nTiles = pMax / BN + 1;
        if (tid < BN) {
            smem[rb + (it0 & 1) * BN + tid] = keyRow(blockTables, table, it0 * BN + tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
            smem[rb + ((it0 + 1) & 1) * BN + tid] = keyRow(blockTables, table, (it0 + 1) * BN + tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        }
        loadQ(ctx, smem, qBase, q, tiles, tFirst, 0, nTok, kvh, tid, heads, G, headDim, fp16, BM, THREADS);
        ctx.localBarrier();
        loadKv(ctx, smem, (it0 & 1) * 2 * kvWords, kc, vc, rb + (it0 & 1) * BN, tid, headDim, kvWords);
        ctx.cpAsyncCommit();
        loadQFragments(ctx, smem, qBase, qf, warp, lane, headDim, BM);
        ctx.localBarrier();   // every warp's Q fragments read: the loop's first copies may refill Q's stage
        if (it0 > 0) loadState(state, o, st, tFirst + tokA, headA, tFirst + tokB, headB, lane, heads, headDim);
        else initState(o, st, headDim);
        for (int it = it0; it < nTiles; it++) {
            if (it + 1 < nTiles) loadKv(ctx, smem, ((it + 1) & 1) * 2 * kvWords, kc, vc, rb + ((it + 1) & 1) * BN, tid, headDim, kvWords);
            ctx.cpAsyncCommit();
            ctx.cpAsyncWait(1);
            ctx.localBarrier();   // tile it's copies landed; every copy of tile it was issued (from buffer it & 1), so it may be refilled
            int ahead = (it + 2) * BN + tid;
            boolean fill = tid < BN && it + 2 < nTiles;
            int block = fill ? keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            tile(ctx, smem, (it & 1) * 2 * kvWords, qf, s, kf, o, st, pf, vf, it * BN, posA, posB, slopeA, slopeB, scale, lane,
                    headDim, alibi, fp16, 0, 1);
            if (fill) smem[rb + (it & 1) * BN + tid] = rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
        }
        ctx.cpAsyncWait(0);
        // the rows' tokens and validity from the tile list again: not held in registers through the walk (MIN_BLOCKS' cap)
        int tF = tiles.get(2 * ctx.groupIdx), nT = tiles.get(2 * ctx.groupIdx + 1) - tF;
        store(out, o, st, tF + Math.min(rowA / G, nT - 1), headA, rowA < tpb * G && rowA / G < nT, tF + Math.min(rowB / G, nT - 1), headB,
                rowB < tpb * G && rowB / G < nT, lane, heads, headDim);
    }

    /**
     * Dynamic shared memory of one work-group of the long-chunk form ({@link #longBf16}) in bytes: two stages of K and V, Q in
     * its own buffer ({@code BM·headDim·2}), two tiles' key row offsets (82,432 B at headDim 128: two work-groups an SM).
     */
    public static int longSharedBytes(int headDim) {
        return (4 * BN + BM) * headDim * 2 + 2 * BN * 4;
    }

    /**
     * The one-pass kernel's form for long chunks (steps without a handoff: {@code startTiles} all 0, a chunk of
     * {@code FlashPrefillAttention.longTokens()} or more): {@link #prefillBf16}'s rows, key tiles, per-tile arithmetic and order,
     * so a row's bits are the same, with (1) no launch bounds (ptxas's own registers, two work-groups an SM), (2) Q in its own
     * shared buffer ({@link #longSharedBytes}, session 11's layout) so the first stage's copies start before Q is read, (3) the
     * causal select only on the tiles that reach past the tile's first position (the others see every key: the select would
     * pass s through, the same values), (4) a one-dimensional grid of {@code numTiles × kvHeads} work-groups in bands of
     * {@code band} tiles: band after band (the tile list's order: a sequence's last, longest tiles first), within a band kv
     * head after kv head, so the work-groups resident together share few kv heads' K/V in L2 while the longest walks still
     * start early (a grid of (tiles, kvHeads) starts the last kv head's longest tile last: a tail of one walk).
     *
     * @param numTiles the tiles in {@code tiles}; the grid is {@code numTiles × kvHeads} work-groups
     * @param band     tiles a band (≥ 1)
     */
    public static void longBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                int maxBlocksPerSeq, int numBlocks, int numTiles, int band, @Constant int heads, @Constant int kvHeads,
                                @Constant int headDim, @Constant int blockSize, @Constant int alibi) {
        attendLong(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, maxBlocksPerSeq, numBlocks, numTiles, band,
                heads, kvHeads, headDim, blockSize, alibi, 0);
    }

    /** {@link #longBf16} writing {@code out} in bf16 (o_proj's X): each fp32 {@code O / l} rounded to nearest even as stored. */
    public static void longBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                       IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                       int maxBlocksPerSeq, int numBlocks, int numTiles, int band, @Constant int heads, @Constant int kvHeads,
                                       @Constant int headDim, @Constant int blockSize, @Constant int alibi) {
        attendLong(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, maxBlocksPerSeq, numBlocks, numTiles, band,
                heads, kvHeads, headDim, blockSize, alibi, 0);
    }

    /** {@link #longBf16} for an fp16 store (as {@link #prefillF16}). */
    public static void longF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                               IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                               int maxBlocksPerSeq, int numBlocks, int numTiles, int band, @Constant int heads, @Constant int kvHeads,
                               @Constant int headDim, @Constant int blockSize, @Constant int alibi) {
        attendLong(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, maxBlocksPerSeq, numBlocks, numTiles, band,
                heads, kvHeads, headDim, blockSize, alibi, 1);
    }

    /** {@link #longBf16}'s body: {@link #attend} from key tile 0, Q apart, the unmasked tiles first. */
    static void attendLong(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, IntArray positions,
                           IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes, int maxBlocksPerSeq, int numBlocks,
                           int numTiles, int band, int heads, int kvHeads, int headDim, int blockSize, int alibi, int fp16) {
        int[] smem = ctx.dynamicIntLocalArray();
        int[] qf = new int[headDim / 16 * 4];
        float[] s = new float[BN / 8 * 4];
        float[] o = new float[headDim / 8 * 4];
        int[] kf = new int[BN / 8 * 2];
        int[] vf = new int[4];
        int[] pf = new int[4];
        float[] st = new float[4];

        // the work-group's (tile, kv head): band b holds tiles [b·band, b·band + inBand), kv head after kv head
        int per = band * kvHeads, g1 = ctx.groupIdx;
        int bandIdx = Math.min(g1 / per, (numTiles - 1) / band);
        int first = bandIdx * band, inBand = Math.min(band, numTiles - first);
        int r = g1 - bandIdx * per;
        int kvh = r / inBand, tile = first + r % inBand;

        int G = heads / kvHeads, tpb = BM / G;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int tFirst = tiles.get(2 * tile), tEnd = tiles.get(2 * tile + 1);
        int nTok = tEnd - tFirst;
        if (nTok <= 0) return;   // an empty tile (planBelow's placeholder): the whole work-group, before any barrier
        int seq = seqOfToken.get(tFirst), p0 = positions.get(tFirst);
        int pMax = p0 + nTok - 1;
        int table = seq * maxBlocksPerSeq;
        int kvWords = BN * headDim / 2;
        int qBase = 4 * kvWords, rb = qBase + BM * headDim / 2;   // K/V stages, Q, two tiles' key row offsets

        int rowA = warp * 16 + (lane >> 2), rowB = rowA + 8;
        int tokA = Math.min(rowA / G, nTok - 1), tokB = Math.min(rowB / G, nTok - 1);
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = p0 + tokA, posB = p0 + tokB;
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = scaleOf(headDim);

        int nTiles = pMax / BN + 1;
        int nFull = Math.min((p0 + 1) / BN, nTiles);   // tiles whose last key (i + 1)·BN - 1 is at or below p0, every row's position
        if (tid < BN) {
            smem[rb + tid] = keyRow(blockTables, table, tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
            smem[rb + BN + tid] = keyRow(blockTables, table, BN + tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        }
        loadQ(ctx, smem, qBase, q, tiles, tFirst, 0, nTok, kvh, tid, heads, G, headDim, fp16, BM, THREADS);
        ctx.localBarrier();
        loadKv(ctx, smem, 0, kc, vc, rb, tid, headDim, kvWords);
        ctx.cpAsyncCommit();
        loadQFragments(ctx, smem, qBase, qf, warp, lane, headDim, BM);
        initState(o, st, headDim);
        // attend's walk, twice: the tiles every row sees whole without the causal select, then the diagonal ones with it
        for (int it = 0; it < nFull; it++) {
            if (it + 1 < nTiles) loadKv(ctx, smem, ((it + 1) & 1) * 2 * kvWords, kc, vc, rb + ((it + 1) & 1) * BN, tid, headDim, kvWords);
            ctx.cpAsyncCommit();
            ctx.cpAsyncWait(1);
            ctx.localBarrier();
            int ahead = (it + 2) * BN + tid;
            boolean fill = tid < BN && it + 2 < nTiles;
            int block = fill ? keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            tile(ctx, smem, (it & 1) * 2 * kvWords, qf, s, kf, o, st, pf, vf, it * BN, posA, posB, slopeA, slopeB, scale, lane,
                    headDim, alibi, fp16, 0, 0);
            if (fill) smem[rb + (it & 1) * BN + tid] = rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
        }
        for (int it = nFull; it < nTiles; it++) {
            if (it + 1 < nTiles) loadKv(ctx, smem, ((it + 1) & 1) * 2 * kvWords, kc, vc, rb + ((it + 1) & 1) * BN, tid, headDim, kvWords);
            ctx.cpAsyncCommit();
            ctx.cpAsyncWait(1);
            ctx.localBarrier();
            int ahead = (it + 2) * BN + tid;
            boolean fill = tid < BN && it + 2 < nTiles;
            int block = fill ? keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            tile(ctx, smem, (it & 1) * 2 * kvWords, qf, s, kf, o, st, pf, vf, it * BN, posA, posB, slopeA, slopeB, scale, lane,
                    headDim, alibi, fp16, 0, 1);
            if (fill) smem[rb + (it & 1) * BN + tid] = rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
        }
        ctx.cpAsyncWait(0);
        store(out, o, st, tFirst + tokA, headA, rowA < tpb * G && rowA / G < nTok, tFirst + tokB, headB, rowB < tpb * G && rowB / G < nTok,
                lane, heads, headDim);
    }

    /**
     * The one-warp form of {@link #prefillBf16} for short tiles (a decode token, a chunk of at most {@link #WARP_ROWS}{@code / G}
     * tokens): one work-group of {@link #WARP_THREADS} work-items (one warp, {@link #WARP_ROWS} rows) per (tile, kv head), the
     * same arguments with {@code tiles} the short tiles. Each warp walks its row's key tiles alone, so an SM holds six such
     * rows' walks at once (shared memory {@link #warpSharedBytes}: 36.5 KiB at headDim 128) where the 64-row work-group
     * holds two: the per-sequence pass of a decode step is latency-bound (run 39-bm16, run 41), not short of mma rows.
     * One K/V stage, K and V in their own cp.async groups: tile i+1's K is requested once tile i's S is computed (its K
     * buffer read) and overlaps the softmax and P·V, its V once P·V is done and overlaps the next S. The rows' arithmetic is
     * the tall kernel's per-tile code ({@link #scores}, {@link #softmax}, {@link #accumulatePv}) on the same key tiles in
     * the same order, each row in its own warp either way (run 39-bm16 proved the height free for bits on the GPU), so a
     * token's bits are those of the 64-row kernel; {@code startTiles}/{@code state} continue a handoff as there.
     */
    public static void warpBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                IntArray startTiles, FloatArray state,
                                int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                @Constant int headDim, @Constant int blockSize, @Constant int alibi) {
        attendWarp(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 0, 0);
    }

    /** {@link #warpBf16} writing {@code out} in bf16 (o_proj's X): each fp32 {@code O / l} rounded to nearest even as stored. */
    public static void warpBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                       IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                       IntArray startTiles, FloatArray state,
                                       int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                       @Constant int headDim, @Constant int blockSize, @Constant int alibi) {
        attendWarp(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 0, 1);
    }

    /** {@link #warpBf16} for an fp16 store (as {@link #prefillF16}). */
    public static void warpF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                               IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                               IntArray startTiles, FloatArray state,
                               int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                               @Constant int headDim, @Constant int blockSize, @Constant int alibi) {
        attendWarp(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 1, 0);
    }

    /** {@link #warpBf16}'s body: {@link #attend} for one warp, one K/V stage. */
    static void attendWarp(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, IntArray positions,
                           IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes, IntArray startTiles, FloatArray state,
                           int maxBlocksPerSeq, int numBlocks, int heads, int kvHeads, int headDim, int blockSize, int alibi, int fp16, int bf16Out) {
        int[] smem = ctx.dynamicIntLocalArray();
        int[] qf = new int[headDim / 16 * 4];
        float[] s = new float[BN / 8 * 4];
        float[] o = new float[headDim / 8 * 4];
        int[] kf = new int[BN / 8 * 2];
        int[] vf = new int[4];
        int[] pf = new int[4];
        float[] st = new float[4];

        int G = heads / kvHeads, tpb = WARP_ROWS / G;
        int lane = ctx.localIdx;
        int kvh = ctx.groupIdy;
        int tFirst = tiles.get(2 * ctx.groupIdx), tEnd = tiles.get(2 * ctx.groupIdx + 1);
        int nTok = tEnd - tFirst;
        if (nTok <= 0) {   // an empty tile (planBelow's placeholder); waits as every path does (handoff overlap, below)
            ctx.gridDependencyWait();
            return;
        }
        int seq = seqOfToken.get(tFirst), p0 = positions.get(tFirst);
        int pMax = p0 + nTok - 1;
        int table = seq * maxBlocksPerSeq;
        int qWords = WARP_ROWS * headDim / 2, kvWords = BN * headDim / 2;
        int kBase = qWords, vBase = qWords + kvWords, rb = qWords + 2 * kvWords;   // Q, K, V, two tiles' key row offsets
        int it0 = startTiles.get(tFirst);

        int rowA = lane >> 2, rowB = rowA + 8;
        int tokA = Math.min(rowA / G, nTok - 1), tokB = Math.min(rowB / G, nTok - 1);
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = p0 + tokA, posB = p0 + tokB;
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        boolean validA = rowA < tpb * G && rowA / G < nTok, validB = rowB < tpb * G && rowB / G < nTok;
        float scale = scaleOf(headDim);

        // key row offsets a tile ahead as in attend (tile i's in buffer i & 1), keys lane and lane + 32 of a tile per work-item,
        // each buffer in loadTile's order: the work-item that copies key j's chunks reads its row offsets 4 at a time
        int nTiles = pMax / BN + 1;
        int cpr = headDim / 8, rps = WARP_THREADS / cpr, perLane = BN / rps;   // 16-byte chunks a key row; key rows a copy step; a work-item's rows a tile
        int rl = lane / cpr, c = lane - rl * cpr;                               // the work-item's row within a step and its chunk (fixed for the walk)
        int[] sw = new int[8];
        copyWords(sw, rl, c, headDim);
        int slot = (lane % rps) * perLane + lane / rps;                         // table slot of keys lane and lane + 32 (+ 32 / rps)
        int mine = rl * perLane;                                                // this work-item's first slot
        int r0 = rb + (it0 & 1) * BN, r1 = rb + ((it0 + 1) & 1) * BN;
        smem[r0 + slot] = keyRow(blockTables, table, it0 * BN + lane, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        smem[r0 + slot + 32 / rps] = keyRow(blockTables, table, it0 * BN + lane + 32, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        smem[r1 + slot] = keyRow(blockTables, table, (it0 + 1) * BN + lane, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        smem[r1 + slot + 32 / rps] = keyRow(blockTables, table, (it0 + 1) * BN + lane + 32, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        loadQ(ctx, smem, 0, q, tiles, tFirst, 0, nTok, kvh, lane, heads, G, headDim, fp16, WARP_ROWS, WARP_THREADS);
        ctx.localBarrier();
        loadTile(ctx, smem, kBase, kc, r0 + mine, sw, 8 * c, headDim);
        ctx.cpAsyncCommit();
        loadTile(ctx, smem, vBase, vc, r0 + mine, sw, 8 * c, headDim);
        ctx.cpAsyncCommit();
        loadQFragments(ctx, smem, 0, qf, 0, lane, headDim, WARP_ROWS);
        // the handoff overlap (FlashPrefillAttention#handoffOverlap): launched overlapping the shared pass, everything above (indices,
        // key rows, Q, the first tile's copies: written before the shared pass began) ran during its walk; its state only after
        // it. Every path waits, so this grid's completion implies the shared pass's. A no-op in a plain launch.
        ctx.gridDependencyWait();
        if (it0 > 0) loadState(state, o, st, tFirst + tokA, headA, tFirst + tokB, headB, lane, heads, headDim);
        else initState(o, st, headDim);
        // cp.async groups in flight at the top of tile it: K(it), then V(it) (issue order), so wait(1) waits for K(it) alone
        for (int it = it0; it < nTiles; it++) {
            int next = rb + ((it + 1) & 1) * BN + mine;
            ctx.cpAsyncWait(1);
            ctx.localBarrier();   // K of tile it landed (its V may still be in flight)
            int aheadA = (it + 2) * BN + lane, aheadB = aheadA + 32;
            boolean fill = it + 2 < nTiles;
            int blockA = fill ? keyBlock(blockTables, table, aheadA, pMax, blockSize) : -1;
            int blockB = fill ? keyBlock(blockTables, table, aheadB, pMax, blockSize) : -1;
            scores(ctx, smem, kBase, qf, s, kf, lane, headDim, fp16, 1);
            ctx.localBarrier();   // every lane's K reads done: K of tile it + 1 overlaps the softmax and P·V
            if (it + 1 < nTiles) loadTile(ctx, smem, kBase, kc, next, sw, 8 * c, headDim);
            ctx.cpAsyncCommit();
            softmax(ctx, s, o, st, it * BN, posA, posB, slopeA, slopeB, scale, lane, headDim, alibi, 1);
            ctx.cpAsyncWait(1);
            ctx.localBarrier();   // V of tile it landed
            accumulatePv(ctx, smem, vBase, s, o, pf, vf, lane, headDim, fp16, 1);
            if (fill) {   // buffer it & 1: its last reader, V(it)'s copies, was issued before the barriers above
                smem[rb + (it & 1) * BN + slot] = rowOf(blockA, aheadA, kvh, numBlocks, kvHeads, headDim, blockSize);
                smem[rb + (it & 1) * BN + slot + 32 / rps] = rowOf(blockB, aheadB, kvh, numBlocks, kvHeads, headDim, blockSize);
            }
            ctx.localBarrier();   // every lane's V reads done: V of tile it + 1 overlaps the next S
            if (it + 1 < nTiles) loadTile(ctx, smem, vBase, vc, next, sw, 8 * c, headDim);
            ctx.cpAsyncCommit();
        }
        ctx.cpAsyncWait(0);
        ctx.localBarrier();   // every copy landed and every read of Q, K and V done (the loop's last barrier, or none if it ran no tile)
        // out = O / l through shared memory: the valid rows' O and l
        // staged, then each row's headDim values divided and stored by headDim / 4 work-items, 4 each (one 16-byte store) —
        // a decode tile's one row costs 4 divisions a work-item instead of 32 on its row's quad. The same fp32 quotients.
        stageO(ctx, smem, o, st, lane, headDim);
        ctx.localBarrier();
        int lanesPerRow = headDim / 4, rows = Math.min(tpb, nTok) * G;
        int d = (lane % lanesPerRow) * 4;
        for (int r = lane / lanesPerRow; r < rows; r += WARP_THREADS / lanesPerRow)
            storeRow(ctx, smem, out, r, d, ((tFirst + r / G) * heads + kvh * G + r % G) * headDim + d, headDim, bf16Out);
    }

    /**
     * The score scale 1 / sqrt(headDim) as a literal for the supported head sizes (128, 64): the value of
     * {@code (float) (1.0 / Math.sqrt(headDim))} (FlashPrefillTest), which ptxas computed in fp64 in every walk.
     */
    static float scaleOf(int headDim) {
        return headDim == 128 ? 0x1.6a09e6p-4f : 0x1.0p-3f;
    }

    /**
     * The shared words of a one-warp copy's 16-byte chunks ({@link #loadTile}): the work-item copies chunk {@code c} of rows
     * {@code i·rps + rl} (i = 0 .. BN / rps - 1, rps = 32 / (headDim / 8) rows a step), whose swizzled word is
     * {@code sw[i % (8 / rps)] + (i / (8 / rps))·256} (the swizzle repeats every 8 rows).
     */
    @Unroll
    static void copyWords(int[] sw, int rl, int c, int headDim) {
        int rps = WARP_THREADS / (headDim / 8);
        for (int k = 0; k < 8 / rps; k++) sw[k] = (c >> 3) * (BN * 32) + Swizzle.rowChunk128(k * rps + rl, c & 7);
    }

    /**
     * The warp's O (fp32, row r at word {@code r·(headDim + 4)}) and l (at word {@code 16·(headDim + 4) + r}) into shared
     * memory from the mma layout: the work-item's two rows g, g + 8, dims 8j + 2t, 8j + 2t + 1.
     */
    @Unroll
    static void stageO(KernelContext ctx, int[] smem, float[] o, float[] st, int lane, int headDim) {
        int stride = headDim + 4, rowA = lane >> 2, t2 = 2 * (lane & 3);
        for (int j = 0; j < headDim / 8; j++) {
            ctx.storeShared64(smem, rowA * stride + j * 8 + t2, Float.floatToRawIntBits(o[j * 4]), Float.floatToRawIntBits(o[j * 4 + 1]));
            ctx.storeShared64(smem, (rowA + 8) * stride + j * 8 + t2, Float.floatToRawIntBits(o[j * 4 + 2]), Float.floatToRawIntBits(o[j * 4 + 3]));
        }
        if (t2 == 0) {
            smem[WARP_ROWS * stride + rowA] = Float.floatToRawIntBits(st[2]);
            smem[WARP_ROWS * stride + rowA + 8] = Float.floatToRawIntBits(st[3]);
        }
    }

    /** Dims d .. d + 3 of staged row r ({@link #stageO}) divided by the row's l, stored at element {@code at} of {@code out} (fp32; bf16 where {@code bf16Out} is 1). */
    @Unroll
    static void storeRow(KernelContext ctx, int[] smem, OffHeapArray out, int r, int d, int at, int headDim, int bf16Out) {
        int[] v = new int[4];
        int stride = headDim + 4;
        ctx.loadShared128(v, 0, smem, r * stride + d);
        float l = Float.intBitsToFloat(smem[WARP_ROWS * stride + r]);
        if (bf16Out != 0) {   // a bf16 out (o_proj's X): the same fp32 quotients, each rounded to nearest even as stored
            for (int k = 0; k < 4; k++) out.setFloat(at + k, Float.intBitsToFloat(v[k]) / l);
        } else {
            for (int k = 0; k < 4; k++) v[k] = Float.floatToRawIntBits(Float.intBitsToFloat(v[k]) / l);
            ctx.storeGlobal128(out, at, v, 0);
        }
    }

    /**
     * The cascade's shared pass, bf16 store: for a cascade group whose sequences share their first key tiles
     * ({@code [0, sharedTiles·BN)}, whole tiles inside the shared blocks), the group's new tokens stacked as the query rows
     * of one tile set (decode tokens of many sequences in one 64-row tile: the shared K and V tiles loaded once for them
     * all, their mma rows filled) run the same per-tile code ({@link #tile}) over those tiles as the one-pass kernel, each
     * row with its own position (causal mask, ALiBi), and write each row's fp32 online-softmax state (O, m, l) to
     * {@code state} instead of O / l. {@link #prefillBf16} with {@code startTiles[seq] = sharedTiles} loads it and goes on
     * from tile sharedTiles: the same tiles in the same order with the same arithmetic, the state carried bit for bit
     * through memory, so the result is the one-pass result bit for bit (a state handoff, not a log-sum-exp merge).
     *
     * @param groupTokens (tokens) the groups' token indices, group after group
     * @param rowTiles    (numRowTiles, 4): first and end (exclusive) index into groupTokens (at most BM / G tokens), the
     *                    block-table row whose first blocks the tile's tokens share, the shared key tiles
     * @param state       (tokens, heads, {@link #stateStride}) fp32; the rows of the tiles' tokens are written
     * @param minBlocks   work-groups an SM in the launch bounds ({@link #MIN_BLOCKS}; 0: none); the same bits either way
     */
    public static void sharedBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray state,
                                  IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                  int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                  @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks) {
        ctx.launchBounds(THREADS, minBlocks);
        sharedPass(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 0);
    }

    /** The shared pass, fp16 store ({@link #sharedBf16} with fp16 rounding and mma, as {@link #prefillF16}). */
    public static void sharedF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray state,
                                 IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                 int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                 @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks) {
        ctx.launchBounds(THREADS, minBlocks);
        sharedPass(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 1);
    }

    /**
     * The shared pass with its O split over two work-groups by dims ({@code FlashPrefillAttention}'s dim split, for launches of at most
     * half the SMs' work-groups: a decode step's few row tiles): grid (row tiles, kvHeads, 2), work-group z computing O's dims
     * {@code [z·headDim/2, (z+1)·headDim/2)} and (z = 0) m and l. Each work-group runs {@link #sharedBf16}'s walk with the same S = Q·Kᵀ,
     * softmax and state chain on every row (the same instructions on the same values: m, l, alpha and P equal in both), and P·V for
     * its dims alone (the same mma on the same P and V fragments, O scaled by the same alpha), copying all of K and its half of V: so
     * every value it writes has {@link #sharedBf16}'s bits, with twice the SMs walking and half the P·V and V copies a walk.
     * Same arguments and {@code state} layout as {@link #sharedBf16}.
     */
    public static void sharedHalfBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray state,
                                      IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                      int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                      @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks) {
        ctx.launchBounds(THREADS, minBlocks);
        sharedPassHalf(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 0);
    }

    /** {@link #sharedHalfBf16} for an fp16 store (as {@link #sharedF16}). */
    public static void sharedHalfF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray state,
                                     IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                     int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                     @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks) {
        ctx.launchBounds(THREADS, minBlocks);
        sharedPassHalf(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, 1);
    }

    /** {@link #sharedHalfBf16}'s body: {@link #sharedPass} with O's dims of half {@code groupIdz} (K whole, V's half copied). */
    static void sharedPassHalf(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, FloatArray state, IntArray positions,
                               IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes, int maxBlocksPerSeq, int numBlocks,
                               int heads, int kvHeads, int headDim, int blockSize, int alibi, int fp16) {
        int[] smem = ctx.dynamicIntLocalArray();
        int[] qf = new int[headDim / 16 * 4];
        float[] s = new float[BN / 8 * 4];
        float[] o = new float[headDim / 16 * 4];   // O accumulators of the half's dims, dims 8j..8j+7 of the half at 4j
        int[] kf = new int[BN / 8 * 2];
        int[] vf = new int[4];
        int[] pf = new int[4];
        float[] st = new float[4];
        int[] va = new int[headDim / 32];          // the lane's V ldmatrix words of the half's 16-dim groups (accumulatePvHalf)

        int G = heads / kvHeads, tpb = BM / G;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int kvh = ctx.groupIdy, half = ctx.groupIdz;
        int first = rowTiles.get(4 * ctx.groupIdx), nTok = rowTiles.get(4 * ctx.groupIdx + 1) - first;
        int nTiles = rowTiles.get(4 * ctx.groupIdx + 3);
        if (nTok <= 0 || nTiles <= 0) {   // the whole work-group, before any barrier; waits as every path does (below)
            ctx.gridDependencyWait();
            return;
        }
        int table = rowTiles.get(4 * ctx.groupIdx + 2) * maxBlocksPerSeq;
        int pMax = nTiles * BN - 1;
        int kvWords = BN * headDim / 2, qBase = 2 * kvWords;

        int rowA = warp * 16 + (lane >> 2), rowB = rowA + 8;
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = positions.get(groupTokens.get(first + Math.min(rowA / G, nTok - 1)));
        int posB = positions.get(groupTokens.get(first + Math.min(rowB / G, nTok - 1)));
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = scaleOf(headDim);
        halfVWords(va, lane, half, headDim);

        int rb = 4 * kvWords;
        if (tid < BN) {
            smem[rb + tid] = keyRow(blockTables, table, tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
            smem[rb + BN + tid] = keyRow(blockTables, table, BN + tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        }
        ctx.gridDependencyWait();     // as in sharedPass: q and the KV rows after the kernel before; then the next grid may start
        ctx.allowDependentLaunch();
        loadQ(ctx, smem, qBase, q, groupTokens, first, 1, nTok, kvh, tid, heads, G, headDim, fp16, BM, THREADS);
        ctx.localBarrier();
        loadKvHalf(ctx, smem, 0, kc, vc, rb, tid, headDim, kvWords, half);
        ctx.cpAsyncCommit();
        loadQFragments(ctx, smem, qBase, qf, warp, lane, headDim, BM);
        ctx.localBarrier();
        initState(o, st, headDim / 2);
        for (int it = 0; it < nTiles; it++) {
            if (it + 1 < nTiles) loadKvHalf(ctx, smem, ((it + 1) & 1) * 2 * kvWords, kc, vc, rb + ((it + 1) & 1) * BN, tid, headDim, kvWords, half);
            ctx.cpAsyncCommit();
            ctx.cpAsyncWait(1);
            ctx.localBarrier();
            int ahead = (it + 2) * BN + tid;
            boolean fill = tid < BN && it + 2 < nTiles;
            int block = fill ? keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            int kBase = (it & 1) * 2 * kvWords;
            scores(ctx, smem, kBase, qf, s, kf, lane, headDim, fp16, 1);
            softmax(ctx, s, o, st, it * BN, posA, posB, slopeA, slopeB, scale, lane, headDim / 2, alibi, 1);
            accumulatePvHalf(ctx, smem, kBase + kvWords, va, s, o, pf, vf, headDim, fp16);
            if (fill) smem[rb + (it & 1) * BN + tid] = rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
        }
        ctx.cpAsyncWait(0);
        int f = rowTiles.get(4 * ctx.groupIdx), n = rowTiles.get(4 * ctx.groupIdx + 1) - f;
        storeStateHalf(state, o, st, groupTokens.get(f + Math.min(rowA / G, n - 1)), headA, rowA < tpb * G && rowA / G < n,
                groupTokens.get(f + Math.min(rowB / G, n - 1)), headB, rowB < tpb * G && rowB / G < n, lane, heads, headDim, half);
    }

    /** The lane's V words ({@link #accumulatePv}'s laneWords form, less vBase) of 16-dim group {@code half·headDim/32 + i} in {@code va[i]}. */
    @Unroll
    static void halfVWords(int[] va, int lane, int half, int headDim) {
        int keyL = (lane & 7) + ((lane >> 3) & 1) * 8;
        for (int i = 0; i < headDim / 32; i++) {
            int dp = half * (headDim / 32) + i;
            va[i] = Swizzle.rowChunk128(keyL, 2 * (dp & 3) + (lane >> 4)) + (dp >> 2) * (BN * 32);
        }
    }

    /**
     * {@link #loadKv} copying all of K and, of V, the 16-byte chunks of dims {@code [half·headDim/2, (half+1)·headDim/2)} (the rest of
     * V's stage is not written: {@link #accumulatePvHalf} reads only those).
     */
    @Unroll
    static void loadKvHalf(KernelContext ctx, int[] smem, int kBase, OffHeapArray kc, OffHeapArray vc, int rows, int tid, int headDim, int kvWords,
                           int half) {
        int cpr = headDim / 8;
        int[] offs = new int[BN / 8];
        for (int i = 0; i < BN * cpr / THREADS; i++) offs[i] = smem[rows + (i * THREADS + tid) / cpr];
        for (int i = 0; i < BN * cpr / THREADS; i++) {
            int qi = i * THREADS + tid, row = qi / cpr, c = qi % cpr;
            int base = offs[i];
            boolean valid = base >= 0;
            int at = valid ? base + c * 8 : 0;
            int w = kBase + (c >> 3) * (BN * 32) + Swizzle.rowChunk128(row, c & 7);
            ctx.cpAsync16(smem, w, kc, at, valid);
            if (c / (cpr / 2) == half) ctx.cpAsync16(smem, w + kvWords, vc, at, valid);
        }
    }

    /**
     * {@link #accumulatePv} (laneWords form) for the 16-dim groups of one half of the dims: group i of the half at the lane's word
     * {@code vBase + va[i]} (+ kk·512), its two 8-dim groups into {@code o} at 8i, 8i + 4. The same P fragments, ldmatrix words and
     * mma per dim group as there.
     */
    @Unroll
    static void accumulatePvHalf(KernelContext ctx, int[] smem, int vBase, int[] va, float[] s, float[] o, int[] pf, int[] vf, int headDim, int fp16) {
        for (int kk = 0; kk < BN / 16; kk++) {
            int a = 2 * kk * 4, b = (2 * kk + 1) * 4;
            pf[0] = pack(s[a], s[a + 1], fp16);
            pf[1] = pack(s[a + 2], s[a + 3], fp16);
            pf[2] = pack(s[b], s[b + 1], fp16);
            pf[3] = pack(s[b + 2], s[b + 3], fp16);
            for (int i = 0; i < headDim / 32; i++) {
                ctx.ldmatrixX4Trans(vf, 0, smem, vBase + va[i] + kk * 16 * 32);
                if (fp16 != 0) {
                    ctx.mmaFp16(o, 2 * i * 4, pf, 0, vf, 0);
                    ctx.mmaFp16(o, (2 * i + 1) * 4, pf, 0, vf, 2);
                } else {
                    ctx.mmaBf16(o, 2 * i * 4, pf, 0, vf, 0);
                    ctx.mmaBf16(o, (2 * i + 1) * 4, pf, 0, vf, 2);
                }
            }
        }
    }

    /** {@link #storeState} for half {@code half} of the dims (O's dims {@code half·headDim/2 + 8j + 2t, + 1}); m and l by half 0. */
    @Unroll
    static void storeStateHalf(FloatArray state, float[] o, float[] st, int tokA, int headA, boolean validA, int tokB, int headB, boolean validB,
                               int lane, int heads, int headDim, int half) {
        int t2 = 2 * (lane & 3), stride = headDim + 2, d0 = half * (headDim / 2);
        int baseA = (tokA * heads + headA) * stride, baseB = (tokB * heads + headB) * stride;
        for (int j = 0; j < headDim / 16; j++) {
            if (validA) {
                state.set(baseA + d0 + j * 8 + t2, o[j * 4]);
                state.set(baseA + d0 + j * 8 + t2 + 1, o[j * 4 + 1]);
            }
            if (validB) {
                state.set(baseB + d0 + j * 8 + t2, o[j * 4 + 2]);
                state.set(baseB + d0 + j * 8 + t2 + 1, o[j * 4 + 3]);
            }
        }
        if (validA && t2 == 0 && half == 0) {
            state.set(baseA + headDim, st[0]);
            state.set(baseA + headDim + 1, st[2]);
        }
        if (validB && t2 == 0 && half == 0) {
            state.set(baseB + headDim, st[1]);
            state.set(baseB + headDim + 1, st[3]);
        }
    }

    /** Floats of one (token, head)'s handed-off state: O (headDim), m, l. */
    public static int stateStride(int headDim) { return headDim + 2; }

    /** The shared pass's body: {@link #attend}'s pipeline over gathered rows and the shared tiles, the state written at the end. */
    static void sharedPass(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, FloatArray state, IntArray positions,
                           IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes, int maxBlocksPerSeq, int numBlocks,
                           int heads, int kvHeads, int headDim, int blockSize, int alibi, int fp16) {
        int[] smem = ctx.dynamicIntLocalArray();
        int[] qf = new int[headDim / 16 * 4];
        float[] s = new float[BN / 8 * 4];
        float[] o = new float[headDim / 8 * 4];
        int[] kf = new int[BN / 8 * 2];
        int[] vf = new int[4];
        int[] pf = new int[4];
        float[] st = new float[4];

        int G = heads / kvHeads, tpb = BM / G;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int kvh = ctx.groupIdy;
        int first = rowTiles.get(4 * ctx.groupIdx), nTok = rowTiles.get(4 * ctx.groupIdx + 1) - first;
        int nTiles = rowTiles.get(4 * ctx.groupIdx + 3);
        if (nTok <= 0 || nTiles <= 0) {   // the whole work-group, before any barrier; waits as every path does (below)
            ctx.gridDependencyWait();
            return;
        }
        int table = rowTiles.get(4 * ctx.groupIdx + 2) * maxBlocksPerSeq;
        int pMax = nTiles * BN - 1;   // every key of the shared tiles is below every row's position
        int kvWords = BN * headDim / 2, qBase = 2 * kvWords;   // Q staged in tile 1's stage, as in attend

        int rowA = warp * 16 + (lane >> 2), rowB = rowA + 8;
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = positions.get(groupTokens.get(first + Math.min(rowA / G, nTok - 1)));
        int posB = positions.get(groupTokens.get(first + Math.min(rowB / G, nTok - 1)));
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = scaleOf(headDim);

        int rb = 4 * kvWords;
        if (tid < BN) {
            smem[rb + tid] = keyRow(blockTables, table, tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
            smem[rb + BN + tid] = keyRow(blockTables, table, BN + tid, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        }
        // the handoff overlap (FlashPrefillAttention#handoffOverlap): launched overlapping the kernel before (the q/KV write), the
        // index chain above (host-written arrays) ran during its tail; q and the KV rows only after it. Then the per-sequence pass
        // may start (its indices, Q and own tiles need nothing of this grid; it waits for this grid before reading the state):
        // after the wait, so that it never reads q or KV before the kernel before this one is done. No-ops in a plain launch.
        ctx.gridDependencyWait();
        ctx.allowDependentLaunch();
        loadQ(ctx, smem, qBase, q, groupTokens, first, 1, nTok, kvh, tid, heads, G, headDim, fp16, BM, THREADS);
        ctx.localBarrier();
        loadKv(ctx, smem, 0, kc, vc, rb, tid, headDim, kvWords);
        ctx.cpAsyncCommit();
        loadQFragments(ctx, smem, qBase, qf, warp, lane, headDim, BM);
        ctx.localBarrier();   // every warp's Q fragments read: the loop's first copies may refill Q's stage
        initState(o, st, headDim);
        for (int it = 0; it < nTiles; it++) {
            if (it + 1 < nTiles) loadKv(ctx, smem, ((it + 1) & 1) * 2 * kvWords, kc, vc, rb + ((it + 1) & 1) * BN, tid, headDim, kvWords);
            ctx.cpAsyncCommit();
            ctx.cpAsyncWait(1);
            ctx.localBarrier();
            int ahead = (it + 2) * BN + tid;
            boolean fill = tid < BN && it + 2 < nTiles;
            int block = fill ? keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            tile(ctx, smem, (it & 1) * 2 * kvWords, qf, s, kf, o, st, pf, vf, it * BN, posA, posB, slopeA, slopeB, scale, lane,
                    headDim, alibi, fp16, 1, 1);
            if (fill) smem[rb + (it & 1) * BN + tid] = rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            ctx.localBarrier();
        }
        ctx.cpAsyncWait(0);
        // the rows' tokens and validity from the row tile again: not held in registers through the walk (MIN_BLOCKS' cap)
        int f = rowTiles.get(4 * ctx.groupIdx), n = rowTiles.get(4 * ctx.groupIdx + 1) - f;
        storeState(state, o, st, groupTokens.get(f + Math.min(rowA / G, n - 1)), headA, rowA < tpb * G && rowA / G < n,
                groupTokens.get(f + Math.min(rowB / G, n - 1)), headB, rowB < tpb * G && rowB / G < n, lane, heads, headDim);
    }

    /**
     * One key tile for the warp's 16 rows, the per-tile math of both passes (one copy): {@code S = Q·Kᵀ}
     * ({@link #scores}), scale, ALiBi, causal mask and the online softmax ({@link #softmax}), {@code O += P·V}
     * ({@link #accumulatePv}); K at shared word {@code kBase}, V after it, keys from absolute position {@code j0}; {@code laneWords}
     * as in {@link #scores}; {@code mask} (a literal) as in {@link #softmax}.
     */
    @Unroll
    static void tile(KernelContext ctx, int[] smem, int kBase, int[] qf, float[] s, int[] kf, float[] o, float[] st, int[] pf, int[] vf,
                     int j0, int posA, int posB, float slopeA, float slopeB, float scale, int lane, int headDim, int alibi, int fp16,
                     int laneWords, int mask) {
        scores(ctx, smem, kBase, qf, s, kf, lane, headDim, fp16, laneWords);
        softmax(ctx, s, o, st, j0, posA, posB, slopeA, slopeB, scale, lane, headDim, alibi, mask);
        accumulatePv(ctx, smem, kBase + BN * headDim / 2, s, o, pf, vf, lane, headDim, fp16, laneWords);
    }

    /**
     * The work-item's two rows' state into {@code state} (the shared pass's output): its O values (dims 8j + 2t, 8j + 2t + 1),
     * and m, l from the quad's first lane (the quad holds the same m and l: its reductions end in the same sums on every lane).
     */
    @Unroll
    static void storeState(FloatArray state, float[] o, float[] st, int tokA, int headA, boolean validA, int tokB, int headB, boolean validB,
                           int lane, int heads, int headDim) {
        int t2 = 2 * (lane & 3), stride = headDim + 2;
        int baseA = (tokA * heads + headA) * stride, baseB = (tokB * heads + headB) * stride;
        for (int j = 0; j < headDim / 8; j++) {
            if (validA) {
                state.set(baseA + j * 8 + t2, o[j * 4]);
                state.set(baseA + j * 8 + t2 + 1, o[j * 4 + 1]);
            }
            if (validB) {
                state.set(baseB + j * 8 + t2, o[j * 4 + 2]);
                state.set(baseB + j * 8 + t2 + 1, o[j * 4 + 3]);
            }
        }
        if (validA && t2 == 0) {
            state.set(baseA + headDim, st[0]);
            state.set(baseA + headDim + 1, st[2]);
        }
        if (validB && t2 == 0) {
            state.set(baseB + headDim, st[1]);
            state.set(baseB + headDim + 1, st[3]);
        }
    }

    /** {@link #storeState}'s inverse in place of {@link #initState}: the two rows' O, m and l as the shared pass left them. */
    @Unroll
    static void loadState(FloatArray state, float[] o, float[] st, int tokA, int headA, int tokB, int headB, int lane, int heads, int headDim) {
        int t2 = 2 * (lane & 3), stride = headDim + 2;
        int baseA = (tokA * heads + headA) * stride, baseB = (tokB * heads + headB) * stride;
        for (int j = 0; j < headDim / 8; j++) {
            o[j * 4] = state.get(baseA + j * 8 + t2);
            o[j * 4 + 1] = state.get(baseA + j * 8 + t2 + 1);
            o[j * 4 + 2] = state.get(baseB + j * 8 + t2);
            o[j * 4 + 3] = state.get(baseB + j * 8 + t2 + 1);
        }
        st[0] = state.get(baseA + headDim);
        st[1] = state.get(baseB + headDim);
        st[2] = state.get(baseA + headDim + 1);
        st[3] = state.get(baseB + headDim + 1);
    }

    /**
     * The tile's Q rows (fp32) rounded to 16 bits into shared memory from word {@code qBase} on: 8 floats (two 16-byte loads) per
     * 16-byte chunk, {@code rows·headDim/8} chunks over {@code threads} work-items; padding rows are zeros. Tile token i is token {@code tFirst + i}, or with
     * {@code gather} (a literal) 1, token {@code tokenList[tFirst + i]} (the shared pass's rows).
     */
    @Unroll
    static void loadQ(KernelContext ctx, int[] smem, int qBase, FloatArray q, IntArray tokenList, int tFirst, int gather, int nTok, int kvh, int tid,
                      int heads, int G, int headDim, int fp16, int rows, int threads) {
        int[] xr = new int[8];
        int[] packed = new int[4];
        int cpr = headDim / 8;   // chunks per row
        for (int i = 0; i < rows * cpr / threads; i++) {
            int qi = i * threads + tid, row = qi / cpr, c = qi % cpr;
            int tok = row / G, g = row % G;
            if (tok < nTok && row < rows / G * G) {
                int token = gather != 0 ? tokenList.get(tFirst + tok) : tFirst + tok;
                int at = (token * heads + kvh * G + g) * headDim + c * 8;
                ctx.loadGlobal128(xr, 0, q, at);
                ctx.loadGlobal128(xr, 4, q, at + 4);
            } else {
                for (int j = 0; j < 8; j++) xr[j] = 0;
            }
            for (int j = 0; j < 4; j++) {
                float lo = Float.intBitsToFloat(xr[2 * j]), hi = Float.intBitsToFloat(xr[2 * j + 1]);
                packed[j] = fp16 != 0 ? KernelContext.packFp16(lo, hi) : KernelContext.packBf16(lo, hi);
            }
            ctx.storeShared128(smem, qBase + (c >> 3) * (rows * 32) + Swizzle.rowChunk128(row, c & 7), packed, 0);
        }
    }

    /** The warp's 16 Q rows as A fragments (of a tile of {@code rows} rows at word {@code qBase}): one ldmatrix.x4 per k-step of 16 dims. */
    @Unroll
    static void loadQFragments(KernelContext ctx, int[] smem, int qBase, int[] qf, int warp, int lane, int headDim, int rows) {
        for (int ks = 0; ks < headDim / 16; ks++) {
            int row = warp * 16 + (lane & 15), c = ks * 2 + (lane >> 4);
            ctx.ldmatrixX4(qf, ks * 4, smem, qBase + (c >> 3) * (rows * 32) + Swizzle.rowChunk128(row, c & 7));
        }
    }

    /** O = 0, m = -inf, l = 0. */
    @Unroll
    static void initState(float[] o, float[] st, int headDim) {
        for (int i = 0; i < headDim / 8 * 4; i++) o[i] = 0f;
        st[0] = NEG_INF;
        st[1] = NEG_INF;
        st[2] = 0f;
        st[3] = 0f;
    }

    /**
     * cp.async of the K and V rows of a tile's BN keys into the stage at word {@code kBase} (K, then V at
     * {@code kBase + kvWords}), row offsets from shared word {@code rows} on ({@link #keyRow}); rows with offset -1
     * (past pMax, past the block table or in a block outside the store) are zero-filled (a masked key's V must be
     * finite: P·V multiplies it by 0). The work-item's row offsets are all read first (at most BN / 8: headDim ≤ 128 over
     * THREADS work-items), as in {@link #loadTile}: a cp.async writes shared memory, so the compiler keeps every shared read
     * after the copies before it, and read between them each offset's load latency is paid once a chunk, one after the other.
     */
    @Unroll
    static void loadKv(KernelContext ctx, int[] smem, int kBase, OffHeapArray kc, OffHeapArray vc, int rows, int tid, int headDim, int kvWords) {
        int cpr = headDim / 8;
        int[] offs = new int[BN / 8];
        for (int i = 0; i < BN * cpr / THREADS; i++) offs[i] = smem[rows + (i * THREADS + tid) / cpr];
        for (int i = 0; i < BN * cpr / THREADS; i++) {
            int qi = i * THREADS + tid, row = qi / cpr, c = qi % cpr;
            int base = offs[i];
            boolean valid = base >= 0;
            int at = valid ? base + c * 8 : 0;
            int w = kBase + (c >> 3) * (BN * 32) + Swizzle.rowChunk128(row, c & 7);
            ctx.cpAsync16(smem, w, kc, at, valid);
            ctx.cpAsync16(smem, w + kvWords, vc, at, valid);
        }
    }

    /**
     * cp.async of one array's rows of a tile's BN keys (K or V alone, {@link #loadKv}'s layout) into shared word {@code base} by
     * the one-warp work-group: the work-item copies chunk {@code c} (its lane's, {@code c8 = 8·c} elements) of its BN / rps
     * rows, the chunks' shared words from {@link #copyWords} plus constants, the rows' offsets (-1 zero-filled) read 4 at a
     * time from shared word {@code rows} on (the work-item's slots of the tile's table, {@link #attendWarp}'s order). All the
     * offsets are read first: a cp.async writes shared memory, so the compiler keeps every shared read after the copies
     * before it (run 44-dec9b's ncu: read between them, each chunk paid its offset load's latency in turn).
     */
    @Unroll
    static void loadTile(KernelContext ctx, int[] smem, int base, OffHeapArray src, int rows, int[] sw, int c8, int headDim) {
        int rps = WARP_THREADS / (headDim / 8), per = 8 / rps;
        int[] offs = new int[BN / 2];
        for (int i = 0; i < BN / rps; i += 4) ctx.loadShared128(offs, i, smem, rows + i);
        for (int i = 0; i < BN / rps; i++) {
            int at0 = offs[i];
            boolean valid = at0 >= 0;
            ctx.cpAsync16(smem, base + sw[i % per] + (i / per) * 256, src, valid ? at0 + c8 : 0, valid);
        }
    }

    /**
     * Element offset of key j's row of kv head kvh in the store; -1 (a zero row) past pMax, past the end
     * of blockTables or for a block outside the store, so a bad input never reads out of bounds.
     */
    static int keyRow(IntArray blockTables, int table, int j, int pMax, int kvh, int numBlocks, int kvHeads, int headDim, int blockSize) {
        return rowOf(keyBlock(blockTables, table, j, pMax, blockSize), j, kvh, numBlocks, kvHeads, headDim, blockSize);
    }

    /** The first half of {@link #keyRow}: key j's physical block (the block-table load), -1 past pMax or past the end of blockTables. */
    static int keyBlock(IntArray blockTables, int table, int j, int pMax, int blockSize) {
        if (j > pMax) return -1;
        int logical = j / blockSize;
        if (table + logical >= blockTables.length()) return -1;
        return blockTables.get(table + logical);
    }

    /** The second half of {@link #keyRow}: key j's row offset in physical block {@code block}, -1 for a block outside the store (or -1). */
    static int rowOf(int block, int j, int kvh, int numBlocks, int kvHeads, int headDim, int blockSize) {
        if (block < 0 || block >= numBlocks) return -1;
        int logical = j / blockSize;
        return ((block * kvHeads + kvh) * blockSize + (j - logical * blockSize)) * headDim;
    }

    /**
     * s = Q·Kᵀ for the warp's 16 rows and the tile's BN keys (zeroed first), k-steps of 16 dims in order. {@code laneWords} (a
     * literal) 1: each ldmatrix's word is one of four per-lane words plus a constant (the same words as 0, which computes each
     * from the lane; run 48-dec10: 1 is faster in the one-warp kernel and the shared pass, 0 in the 64-row one-pass kernel).
     */
    @Unroll
    static void scores(KernelContext ctx, int[] smem, int kBase, int[] qf, float[] s, int[] kf, int lane, int headDim, int fp16, int laneWords) {
        // the lane's ldmatrix row is (j + (lane >> 4))·8 + (lane & 7) and its chunk c = 2·ks + ((lane >> 3) & 1): the swizzled
        // word Swizzle.rowChunk128(row, c & 7) + (c >> 3)·BN·32 is one of four per-lane words (by ks & 3) plus j·256 + (ks >> 2)·BN·32
        int[] ka = new int[4];
        if (laneWords != 0) {
            int rowL = (lane >> 4) * 8 + (lane & 7);
            for (int k = 0; k < 4; k++) ka[k] = kBase + Swizzle.rowChunk128(rowL, 2 * k + ((lane >> 3) & 1));
        }
        for (int i = 0; i < BN / 8 * 4; i++) s[i] = 0f;
        for (int ks = 0; ks < headDim / 16; ks++) {
            for (int j = 0; j < BN / 8; j += 2) {
                if (laneWords != 0) {
                    ctx.ldmatrixX4(kf, j * 2, smem, ka[ks & 3] + (ks >> 2) * (BN * 32) + j * 8 * 32);
                } else {
                    int row = (j + (lane >> 4)) * 8 + (lane & 7), c = ks * 2 + ((lane >> 3) & 1);
                    ctx.ldmatrixX4(kf, j * 2, smem, kBase + (c >> 3) * (BN * 32) + Swizzle.rowChunk128(row, c & 7));
                }
            }
            for (int j = 0; j < BN / 8; j++) {
                if (fp16 != 0) ctx.mmaFp16(s, j * 4, qf, ks * 4, kf, j * 2);
                else ctx.mmaBf16(s, j * 4, qf, ks * 4, kf, j * 2);
            }
        }
    }

    /**
     * Scores to probabilities for the work-item's two rows (elements 0, 1: row g; 2, 3: row g + 8):
     * {@code s·scale (+ slope·(j - p))}, -inf past p; m_new = max(m, row max over the quad); alpha =
     * e^(m - m_new); p = e^(s - m_new) in place of s; l = l·alpha + row sum (the work-item's 16 values
     * in key order, then the quad by xor 1, xor 2); O rows scaled by alpha. {@code mask} (a literal) 0 leaves out the causal
     * select, for a tile whose every key is at or below both rows' positions (where it selects s: the same values).
     */
    @Unroll
    static void softmax(KernelContext ctx, float[] s, float[] o, float[] st, int j0, int posA, int posB, float slopeA, float slopeB,
                        float scale, int lane, int headDim, int alibi, int mask) {
        int t2 = 2 * (lane & 3);
        float mxA = NEG_INF, mxB = NEG_INF;
        for (int j = 0; j < BN / 8; j++) {
            for (int r = 0; r < 4; r++) {
                int key = j0 + j * 8 + t2 + (r & 1);
                int pos = r < 2 ? posA : posB;
                float v = s[j * 4 + r] * scale;
                if (alibi != 0) v += (r < 2 ? slopeA : slopeB) * (key - pos);
                if (mask != 0) v = key <= pos ? v : NEG_INF;
                s[j * 4 + r] = v;
                if (r < 2) mxA = Math.max(mxA, v);
                else mxB = Math.max(mxB, v);
            }
        }
        mxA = Math.max(mxA, ctx.shuffleXor(mxA, 1));
        mxA = Math.max(mxA, ctx.shuffleXor(mxA, 2));
        mxB = Math.max(mxB, ctx.shuffleXor(mxB, 1));
        mxB = Math.max(mxB, ctx.shuffleXor(mxB, 2));
        float mA = Math.max(st[0], mxA), mB = Math.max(st[1], mxB);
        float alphaA = KMath.exp(st[0] - mA), alphaB = KMath.exp(st[1] - mB);
        float sumA = 0f, sumB = 0f;
        for (int j = 0; j < BN / 8; j++) {
            for (int r = 0; r < 4; r++) {
                float e = KMath.exp(s[j * 4 + r] - (r < 2 ? mA : mB));
                s[j * 4 + r] = e;
                if (r < 2) sumA += e;
                else sumB += e;
            }
        }
        sumA += ctx.shuffleXor(sumA, 1);
        sumA += ctx.shuffleXor(sumA, 2);
        sumB += ctx.shuffleXor(sumB, 1);
        sumB += ctx.shuffleXor(sumB, 2);
        st[0] = mA;
        st[1] = mB;
        st[2] = st[2] * alphaA + sumA;
        st[3] = st[3] * alphaB + sumB;
        for (int j = 0; j < headDim / 8; j++) {
            o[j * 4] *= alphaA;
            o[j * 4 + 1] *= alphaA;
            o[j * 4 + 2] *= alphaB;
            o[j * 4 + 3] *= alphaB;
        }
    }

    /**
     * O += P·V: per 16 keys, P's A fragment packed from the S accumulators of key groups 2kk and 2kk+1,
     * then per 16 dims one ldmatrix.x4.trans of V (keys × dims, row-major) giving the B fragments of two
     * 8-dim groups; {@code laneWords} as in {@link #scores}.
     */
    @Unroll
    static void accumulatePv(KernelContext ctx, int[] smem, int vBase, float[] s, float[] o, int[] pf, int[] vf, int lane, int headDim,
                             int fp16, int laneWords) {
        // the lane's key kk·16 + keyL and chunk c = 2·dp + (lane >> 4): the swizzled word is one of four per-lane words (by dp & 3)
        // plus kk·512 + (dp >> 2)·BN·32, as in scores
        int[] va = new int[4];
        if (laneWords != 0) {
            int keyL = (lane & 7) + ((lane >> 3) & 1) * 8;
            for (int k = 0; k < 4; k++) va[k] = vBase + Swizzle.rowChunk128(keyL, 2 * k + (lane >> 4));
        }
        for (int kk = 0; kk < BN / 16; kk++) {
            int a = 2 * kk * 4, b = (2 * kk + 1) * 4;
            pf[0] = pack(s[a], s[a + 1], fp16);
            pf[1] = pack(s[a + 2], s[a + 3], fp16);
            pf[2] = pack(s[b], s[b + 1], fp16);
            pf[3] = pack(s[b + 2], s[b + 3], fp16);
            for (int dp = 0; dp < headDim / 16; dp++) {
                if (laneWords != 0) {
                    ctx.ldmatrixX4Trans(vf, 0, smem, va[dp & 3] + (dp >> 2) * (BN * 32) + kk * 16 * 32);
                } else {
                    int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, c = dp * 2 + (lane >> 4);
                    ctx.ldmatrixX4Trans(vf, 0, smem, vBase + (c >> 3) * (BN * 32) + Swizzle.rowChunk128(key, c & 7));
                }
                if (fp16 != 0) {
                    ctx.mmaFp16(o, 2 * dp * 4, pf, 0, vf, 0);
                    ctx.mmaFp16(o, (2 * dp + 1) * 4, pf, 0, vf, 2);
                } else {
                    ctx.mmaBf16(o, 2 * dp * 4, pf, 0, vf, 0);
                    ctx.mmaBf16(o, (2 * dp + 1) * 4, pf, 0, vf, 2);
                }
            }
        }
    }

    /** Two floats rounded to the 16-bit type and packed (lo in bits 0-15). */
    @Unroll
    static int pack(float lo, float hi, int fp16) {
        return fp16 != 0 ? KernelContext.packFp16(lo, hi) : KernelContext.packBf16(lo, hi);
    }

    /** out = O / l for the work-item's valid rows: dims 8j + 2t, 8j + 2t + 1. */
    @Unroll
    static void store(OffHeapArray out, float[] o, float[] st, int tokA, int headA, boolean validA, int tokB, int headB, boolean validB,
                      int lane, int heads, int headDim) {
        int t2 = 2 * (lane & 3);
        int baseA = (tokA * heads + headA) * headDim + t2, baseB = (tokB * heads + headB) * headDim + t2;
        for (int j = 0; j < headDim / 8; j++) {
            if (validA) {
                out.setFloat(baseA + j * 8, o[j * 4] / st[2]);
                out.setFloat(baseA + j * 8 + 1, o[j * 4 + 1] / st[2]);
            }
            if (validB) {
                out.setFloat(baseB + j * 8, o[j * 4 + 2] / st[3]);
                out.setFloat(baseB + j * 8 + 1, o[j * 4 + 3] / st[3]);
            }
        }
    }
}
