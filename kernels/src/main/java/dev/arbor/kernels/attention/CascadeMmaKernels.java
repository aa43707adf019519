package dev.arbor.kernels.attention;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

import static dev.arbor.kernels.attention.AttentionKernels.SPLIT;

/**
 * The shared-prefix level of cascade attention on tensor cores (FlashAttention-2's loop, Dao 2023, over
 * the group's queries; FlashInfer's cascade / Hydragen for the idea): the same inputs, grid and partial
 * states as {@link CascadeKernels#cascadeSharedBf16}, for 16-bit stores with headDim a multiple of 16 up to
 * 128 and G = heads / kvHeads dividing 64.
 *
 * <p>Work-group: 4 warps, {@link #ROWS} query rows = (query, head-of-the-kv-group) pairs, 16 per warp, against one
 * 256-key split of the shared prefix (or one of its equal key ranges of at most 256 keys, {@link #rangeKeys}) in tiles of {@link #KT} keys staged in shared memory by cp.async, double
 * buffered (the next tile's copy overlaps this tile's arithmetic; {@link #cascadeMmaDeepBf16}: a deeper ring in dynamic shared memory; row stride headDim/2 + 4 words: the fragment
 * reads are free of bank conflicts); the split's block-table lookups are done once up front. Per tile and warp:
 * S = Q·Kᵀ with {@code mma.m16n8k16} (Q from registers), masked (key ≤ the row's position, key in the
 * shared part), ALiBi with each row's own position, the online softmax on the accumulator fragments
 * (row max over the lane quad), then O += P·V with P taken straight from S's fragments.
 *
 * <p>Key halves ({@link #keyHalves}, the launcher's choice by the launch's size): with 2, the 4 warps are 2 row warps (32 query rows) × 2
 * key halves; each half streams its half of the split's tiles (of {@code KT / 2} keys, its own two buffers) and the halves'
 * (O, m, l) are folded through shared memory at the end ({@link #foldHalves}). Twice the work-groups, each warp with the same
 * number of tiles but half the mma work a tile (static shared memory, 48 KiB, holds two halves' double buffers only at KT / 2):
 * it pays where the launch has at most two whole-split work-groups an SM (bench/RESULTS.md "Run 39-casc8", "Run 39-divc").
 *
 * <p>Precision: the 16-bit inputs of the mma are made exact to about 16 bits: Q (fp32) and P are split into
 * a 16-bit high part and a 16-bit remainder, each multiplied on the tensor cores (K and V are exact in
 * their store type), sums in fp32. The result then differs from the CUDA-core paged kernel by summation
 * order only (CascadeAttentionTest bounds it), and by the softmax weights' exp flushing subnormal results to 0
 * ({@link KMath#expFtz}: a weight below 2^-126 of the row's largest, lost in the sums anyway).
 *
 * <p>Launch: overlapping the kernel before (programmatic dependent launch, {@link CascadeAttention#overlapShared}): the index
 * chain (group tokens, key starts, positions, the split's row offsets) runs during that kernel's tail; q and the KV rows are
 * read, and the suffix launch let in, only after {@code gridDependencyWait} (every early exit waits too).
 */
public final class CascadeMmaKernels {
    private CascadeMmaKernels() {}

    /** Work-items per work-group. */
    public static final int THREADS = 128;
    /** Query rows per work-group of one key half (4 warps × 16); ROWS / 2 with two. */
    public static final int ROWS = 64;
    /** Keys per staged tile. */
    public static final int KT = 32;
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /** Whether these kernels serve the shape: 16-bit store, headDim a multiple of 16 up to 128, G dividing 64. */
    public static boolean serves(OffHeapArray store, int heads, int kvHeads, int headDim) {
        boolean sixteen = store instanceof BFloat16Array || store instanceof HalfFloatArray;
        int g = heads / kvHeads;
        return sixteen && headDim % 16 == 0 && headDim <= 128 && ROWS % g == 0;
    }

    /** Query tokens per work-group with the split's keys in {@code halves} key halves: ROWS / halves / G. */
    public static int queries(int heads, int kvHeads, int halves) { return ROWS / halves / (heads / kvHeads); }

    /**
     * Key halves of a work-group (the launcher's choice by the launch's size; both give the cascade's result up to rounding, which
     * is not batch invariant anyway: cascade runs only without batch invariance): 2 where G divides ROWS / 2 and the whole-split
     * form's {@code workGroups} (query tiles of ROWS / G tokens × kv heads × shared splits) are at most two an SM — a work-group is
     * then 2 row warps × 2 key halves (32 query rows; each half streams half the split's keys in tiles of {@code KT / 2}, the halves'
     * states folded at the end): twice the work-groups, each warp half the mma work a tile; else 1. Measured (bench/RESULTS.md
     * "Run 39-casc8", 32 heads × 128): 2 halves 7-13% faster a step (1-3 µs) at 2-32 sequences (32-64 work-groups), 6% at 107 × 240
     * (64), 13% slower at 500 × 752 (768). "Run 39-divc" (accel's division lowering: the whole-split form without bounds now takes
     * 168 registers, not 218): 2 halves 16% faster a step at 107 × 530 (192 work-groups: 51.7 against 61.5 µs) and 11% with 40 heads
     * ALiBi (240: 61.0 against 68.6 µs), where run 39-casc8 had them 1-11% slower; still 4% slower at 768 (198.1 against 189.9 µs).
     */
    public static int keyHalves(int heads, int kvHeads, long workGroups, int sms) {
        return (ROWS / 2) % (heads / kvHeads) == 0 && workGroups <= 2L * sms ? 2 : 1;
    }

    /**
     * Work-groups an SM must hold (launch bounds, {@code .minnctapersm}; 0: none, ptxas's own choice), the launcher's choice by the
     * launch's size: 3 with whole splits above headDim 64 when the {@code workGroups} (as {@link #keyHalves}) are more than two an
     * SM — ptxas otherwise took 209-223 registers before run 39-divc (2 work-groups of 4 warps an SM; shared memory, 36,352 bytes a
     * work-group, would allow 6; since accel's division lowering 168 at G = 1, 209 at G = 4) and fits 168 without a spill — else 0. Measured (bench/RESULTS.md "Run 39-casc8"): 2.4% faster a step at 500
     * × 752 (768 work-groups, 2.9 waves at 2 an SM: 197.7 → 192.9 µs, the shared level 92.7 → 86.1), 12-30% slower at two or fewer
     * an SM (107 × 530, ALiBi, the sweep), where it only adds the spill. Registers only: the same arithmetic, the same bits.
     * Also 3 with two key halves at G = 1 above headDim 64 (ptxas: 167-168 registers, no spill, as without the bound): measured
     * (bench/RESULTS.md "Run 57-casc12", the bench's forms in one process) faster at every such row, 107 × 530 49.7 → 48.2 µs a step
     * (the shared level 21.2 → 20.3), 40 heads ALiBi 57.7 → 56.6, 107 × 240 42.1 → 40.6, the 2-32 sequence sweep 5-9%; not at
     * G = 4 (a 12-byte spill there, not measured).
     */
    public static int minBlocksPerSm(int g, int headDim, int halves, long workGroups, int sms) {
        if (headDim <= 64) return 0;
        return halves == 1 ? (workGroups > 2L * sms ? 3 : 0) : g == 1 ? 3 : 0;
    }

    /** Most key ranges of one group's prefix a launch may force ({@link CascadeAttention#sharedRanges}); the scratch holds this many shared slots a (token, head) at least. */
    public static final int MAX_RANGES = 8;
    /** Keys of a range are a multiple of this (whole tiles of {@link #KT} keys, {@code KT / 2} a key half). */
    static final int RANGE_ALIGN = KT;

    /**
     * Keys of each of the key ranges a prefix of {@code shared} keys is cut into when a launch has {@code ranges} ranges (its grid's z;
     * 0: the 256-key splits, {@code SPLIT}): {@code ceil(shared / ranges)} rounded up to a multiple of {@link #RANGE_ALIGN}, at most
     * SPLIT (the work-group's row buffer), at least RANGE_ALIGN (also at {@code shared} = 0). Range c holds keys
     * {@code [c·rk, min((c + 1)·rk, shared))}; a group has {@code ceil(shared / rk) ≤ ranges} non-empty ranges, written to shared slots
     * 0.. of its tokens; {@link CascadeSuffixKernels} recomputes the count from the same two integers. Why equal ranges: 530 keys in
     * 256-key splits are 256 + 256 + 18 keys, so a third of the work-groups idle while the others walk 256 keys; in 3 ranges they
     * are 192 + 192 + 146.
     */
    public static int rangeKeys(int shared, int ranges) {
        if (ranges <= 0) return SPLIT;
        int per = (shared + ranges - 1) / ranges;
        int rk = (per + RANGE_ALIGN - 1) / RANGE_ALIGN * RANGE_ALIGN;
        return Math.min(SPLIT, Math.max(RANGE_ALIGN, rk));
    }

    /**
     * The launch's key ranges a group prefix (the grid's z; {@link #rangeKeys}; 0: the 256-key splits), the launcher's choice by the
     * launch's size: {@code splits} (the 256-key splits of the longest prefix {@code maxShared}) equal ranges, or 2 where the prefix is
     * one split of more than {@code minKeys} keys; 0 where the ranges' work-groups ({@code perRange} a range:
     * groups × query tiles × kv heads) would be more than one wave at 3 an SM (the bound of {@link #minBlocksPerSm}); at most
     * {@code capacity} (the scratch's shared slots). {@code minKeys} 0: always 0.
     *
     * <p>Measured (bench/RESULTS.md "Run 59-casc14", AttentionBench's key-range column, one process): 107 × 530 the shared level
     * alone 21.4 → 18.2 µs (ranges of 192, 192, 146 keys against 256, 256, 18), a step 50.1 → 48.3; 107 × 240 in 2 ranges 42.2 →
     * 40.4 µs a step; 2-32 sequences × 256 in 2 ranges 16.3-18.5 → 11.2-14.3 µs; 2-8 × 128 in 2 ranges of 64 keys 10.9-11.0 → 8.6-10.1
     * (16-32 × 128: 11.6 / 13.0 → 11.7 / 13.5). Not taken: 40 heads ALiBi at 107 × 530 (480
     * work-groups, 1.2 waves: the shared level 21.5 → 29.3 µs, where the splits' 18-key third finishes at once), so the one-wave
     * test; 4 or more ranges with 4 or more sequences (2-16 × 256-512 at 4-8 ranges: the shared level alone faster, 4.7-7.4 µs
     * against 12.5-12.7, but a step 5-11 µs slower, 21-27 µs against 16.3-16.8: not understood, the reason for the cap at 2 beyond the splits).
     */
    public static int sharedRanges(int splits, long perRange, int sms, int maxShared, int minKeys, int capacity) {
        if (minKeys <= 0) return 0;
        long byKeys = Math.max(1, (maxShared + minKeys - 1) / minKeys);
        long r = Math.max(splits, Math.min(byKeys, Math.max(splits, 2)));
        if (r * Math.max(1L, perRange) > 3L * sms) return 0;
        return (int) Math.max(splits, Math.min(r, capacity));
    }

    /**
     * bf16 store; parameters as {@link CascadeKernels#cascadeSharedBf16} (queries per work-group {@link #queries}), {@code minBlocks}
     * work-groups an SM ({@link #minBlocksPerSm}), {@code halves} key halves ({@link #keyHalves}: 1 or 2), {@code ranges} the grid's z
     * key ranges a prefix is cut into ({@link #rangeKeys}; 0: 256-key splits, the partial state of split c in shared slot c).
     */
    public static void cascadeMmaBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray partials,
                                      IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                                      IntArray groupTokens, IntArray groupTokenStart,
                                      int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int tilesPerGroup, int ranges, int waitAtEnd,
                                      @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                      @Constant int alibi, @Constant int minBlocks, @Constant int halves, @Constant int interleave) {
        ctx.launchBounds(THREADS, minBlocks);
        int[] ksw = ctx.allocateIntLocalArray(2 * KT * (headDim / 2 + 4));   // two tile buffers (cp.async double buffering)
        int[] vsw = ctx.allocateIntLocalArray(2 * KT * (headDim / 2 + 4));
        body(ctx, q, kCache, vCache, partials, positions, seqOfToken, blockTables, keyStart, slopes, groupTokens, groupTokenStart,
                maxBlocksPerSeq, numBlocks, slots, sharedBase, tilesPerGroup, ranges, waitAtEnd, heads, kvHeads, headDim, blockSize, alibi, 0, halves, interleave,
                ksw, vsw, 0, 2);
    }

    /** fp16 store. */
    public static void cascadeMmaF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray partials,
                                     IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                                     IntArray groupTokens, IntArray groupTokenStart,
                                     int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int tilesPerGroup, int ranges, int waitAtEnd,
                                     @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                     @Constant int alibi, @Constant int minBlocks, @Constant int halves, @Constant int interleave) {
        ctx.launchBounds(THREADS, minBlocks);
        int[] ksw = ctx.allocateIntLocalArray(2 * KT * (headDim / 2 + 4));
        int[] vsw = ctx.allocateIntLocalArray(2 * KT * (headDim / 2 + 4));
        body(ctx, q, kCache, vCache, partials, positions, seqOfToken, blockTables, keyStart, slopes, groupTokens, groupTokenStart,
                maxBlocksPerSeq, numBlocks, slots, sharedBase, tilesPerGroup, ranges, waitAtEnd, heads, kvHeads, headDim, blockSize, alibi, 1, halves, interleave,
                ksw, vsw, 0, 2);
    }

    /**
     * {@link #cascadeMmaBf16} with a {@code stages}-deep cp.async ring (3..{@link #MAX_STAGES}) in dynamic shared memory
     * ({@link #deepSharedBytes} bytes: K's {@code stages} tile buffers then V's): tiles {@code it + 1 .. it + stages - 1} are in flight while
     * tile {@code it} is computed, where the double buffer has one. The same mma on the same tiles in the same order: the same bits.
     */
    public static void cascadeMmaDeepBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray partials,
                                          IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                                          IntArray groupTokens, IntArray groupTokenStart,
                                          int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int tilesPerGroup, int ranges, int waitAtEnd,
                                          @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                          @Constant int alibi, @Constant int minBlocks, @Constant int halves, @Constant int interleave, @Constant int stages) {
        ctx.launchBounds(THREADS, minBlocks);
        int[] smem = ctx.dynamicIntLocalArray();
        body(ctx, q, kCache, vCache, partials, positions, seqOfToken, blockTables, keyStart, slopes, groupTokens, groupTokenStart,
                maxBlocksPerSeq, numBlocks, slots, sharedBase, tilesPerGroup, ranges, waitAtEnd, heads, kvHeads, headDim, blockSize, alibi, 0, halves, interleave,
                smem, smem, stages * KT * (headDim / 2 + 4), stages);
    }

    /** fp16 store, {@link #cascadeMmaDeepBf16}. */
    public static void cascadeMmaDeepF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray partials,
                                         IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                                         IntArray groupTokens, IntArray groupTokenStart,
                                         int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int tilesPerGroup, int ranges, int waitAtEnd,
                                         @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                         @Constant int alibi, @Constant int minBlocks, @Constant int halves, @Constant int interleave, @Constant int stages) {
        ctx.launchBounds(THREADS, minBlocks);
        int[] smem = ctx.dynamicIntLocalArray();
        body(ctx, q, kCache, vCache, partials, positions, seqOfToken, blockTables, keyStart, slopes, groupTokens, groupTokenStart,
                maxBlocksPerSeq, numBlocks, slots, sharedBase, tilesPerGroup, ranges, waitAtEnd, heads, kvHeads, headDim, blockSize, alibi, 1, halves, interleave,
                smem, smem, stages * KT * (headDim / 2 + 4), stages);
    }

    /** Deepest cp.async ring of {@link #cascadeMmaDeepBf16}. */
    public static final int MAX_STAGES = 4;

    /**
     * Dynamic shared memory of {@link #cascadeMmaDeepBf16} at {@code stages} and {@code headDim}: K's and V's {@code stages} buffers of
     * {@link #KT} keys × (headDim / 2 + 4) words (4 × 17,408 bytes at headDim 128 and 4 stages: 69,632).
     */
    public static int deepSharedBytes(int stages, int headDim) { return 2 * stages * KT * (headDim / 2 + 4) * 4; }

    static void body(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, FloatArray partials,
                     IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                     IntArray groupTokens, IntArray groupTokenStart, int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase,
                     int tilesPerGroup, int ranges, int waitAtEnd, int heads, int kvHeads, int headDim, int blockSize, int alibi, int fp16, int halves, int interleave,
                     int[] ksw, int[] vsw, int vb, int stages) {
        // ksw, vsw: K's and V's ring of `stages` tile buffers (KT keys × KS words each; a key half's KTH-key buffers side by side),
        // V's from word vb of vsw (0: its own array; the deep kernels' one dynamic array holds K's ring then V's)
        int G = heads / kvHeads;
        int RW = 4 / halves;                 // warps of query rows a key half (16 rows each)
        int rows = 16 * RW;                  // query rows per work-group: ROWS / halves
        int Q = rows / G;                    // query tokens per work-group
        int KTH = KT / halves;               // keys per staged tile of a key half
        int HT = THREADS / halves;           // work-items staging a key half's tiles
        int KS = headDim / 2 + 4;            // words per staged key row
        int NT = headDim / 8;                // n-tiles of O
        int KSTEPS = headDim / 16;           // k-steps of S = Q·Kᵀ
        int[] rowBase = ctx.allocateIntLocalArray(SPLIT);            // the split's row offsets, -1 without a key
        int[] rTok = ctx.allocateIntLocalArray(ROWS);
        int[] rPos = ctx.allocateIntLocalArray(ROWS);
        int[] qh = new int[KSTEPS * 4];      // Q fragments, high part
        int[] ql = new int[KSTEPS * 4];      // and remainder
        float[] o = new float[NT * 4];
        float[] s = new float[(KTH / 8) * 4];
        float[] m = new float[2];            // rows r0 = g, r1 = g + 8 of the warp's 16
        float[] l = new float[2];
        int[] ph = new int[4];
        int[] pl = new int[4];
        int[] bf = new int[4];               // B fragments of two k-steps (K) or two n-tiles (V), from one ldmatrix
        int[] bfs = new int[KTH / 8 * 4];    // interleave: every n-tile's K fragments of a k-step pair (unused without it)

        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5, gq = lane >> 2, tq = lane & 3;
        int half = halves > 1 ? warp / RW : 0, rw = warp - half * RW, htid = tid - half * HT;   // key half, row warp, work-item within the half
        int kvh = ctx.groupIdy, c = ctx.groupIdz;
        int grp = ctx.groupIdx / tilesPerGroup, qt = ctx.groupIdx - grp * tilesPerGroup;
        int from = groupTokenStart.get(grp), count = groupTokenStart.get(grp + 1) - from;
        // a work-group without work waits for the kernel before too: the suffix launched overlapping this grid starts once every
        // work-group has either arrived below or exited, so every exit must also come after that kernel is done
        if (qt * Q >= count) {
            ctx.gridDependencyWait();
            return;
        }
        int seq0 = seqOfToken.get(groupTokens.get(from));
        int shared = keyStart.get(seq0), table = seq0 * maxBlocksPerSeq;
        // key range c of the group's prefix: 256-key splits (ranges 0) or the prefix cut in equal ranges (rangeKeys)
        int rk = rangeKeys(shared, ranges);
        int lo = c * rk;
        if (lo >= shared) {
            ctx.gridDependencyWait();
            return;
        }
        int hi = Math.min(lo + rk, shared);
        for (int i = tid; i < SPLIT; i += THREADS) {
            rowBase[i] = AttentionKernels.rowOffset(blockTables, table, lo + i, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
        }
        if (tid < rows) {
            int k = qt * Q + tid / G;
            int tok = k < count ? groupTokens.get(from + k) : -1;
            rTok[tid] = tok;
            rPos[tid] = tok >= 0 ? positions.get(tok) : -1;
        }
        ctx.localBarrier();
        // launched overlapping the kernel before (CascadeAttention#overlapShared): the index chain above (groups, tokens, key
        // starts, the split's row offsets: host-written inputs) ran during its tail; q and the KV rows only after it is done.
        // Only then may the suffix + merge warps start (they read their own keys before waiting for this grid, and those
        // must not overlap the kernel before: the KV write)
        // suffix first (waitAtEnd, CascadeAttention#suffixFirst): launched overlapping the warp suffix, which began after the KV write and
        // writes nothing read here; the wait moves to the end, so this grid completes after the suffix (the merge launch waits for it)
        if (waitAtEnd == 0) ctx.gridDependencyWait();
        ctx.allowDependentLaunch();
        int r0 = rw * 16 + gq, r1 = r0 + 8;
        int tok0 = rTok[r0], tok1 = rTok[r1], p0 = rPos[r0], p1 = rPos[r1];
        int h0 = kvh * G + r0 % G, h1 = kvh * G + r1 % G;
        float sl0 = alibi != 0 ? slopes.get(h0) : 0f, sl1 = alibi != 0 ? slopes.get(h1) : 0f;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        loadQuery(q, qh, ql, tok0, tok1, h0, h1, heads, headDim, tq, KSTEPS, fp16);
        start(o, m, l, NT);
        // tiles it+1 .. it+stages-1 are copied (cp.async) while tile it is computed (stages 2: the double buffer); key half h takes
        // tiles [h·th, (h+1)·th) of the split, both halves the same number of iterations (the barriers), a tile past the split's keys
        // all masked (no shuffle is skipped). One commit group a tile (empty past th), so wait_group(stages - 1) means tile it landed
        int tiles = (hi - lo + KTH - 1) / KTH, th = (tiles + halves - 1) / halves, first = half * th;
        int tileWords = KTH * KS;
        int buf = half * stages * tileWords; // this half's ring of tile buffers
        for (int p = 0; p < stages - 1; p++) {
            if (p < th) loadTile(ctx, kc, vc, ksw, vsw, rowBase, (first + p) * KTH, buf + p * tileWords, vb, htid, KS, headDim, KTH, HT);
            ctx.cpAsyncCommit();
        }
        int fill = stages - 1, cur = 0;      // the ring slots of tile it + stages - 1 (copied now) and of tile it (computed now)
        for (int it = 0; it < th; it++) {
            if (it + stages - 1 < th) loadTile(ctx, kc, vc, ksw, vsw, rowBase, (first + it + stages - 1) * KTH, buf + fill * tileWords, vb, htid, KS, headDim, KTH, HT);
            ctx.cpAsyncCommit();
            ctx.cpAsyncWait(stages - 1);
            ctx.localBarrier();
            int bo = buf + cur * tileWords;
            if (interleave != 0) scoresInterleaved(ctx, qh, ql, ksw, s, bfs, bo, lane, KS, KSTEPS, KTH, fp16);
            else scoreMmas(ctx, qh, ql, ksw, s, bf, bo, lane, KS, KSTEPS, KTH, fp16);
            scores(s, lo + (first + it) * KTH, hi, p0, p1, sl0, sl1, scale, tq, KTH, alibi);
            softmax(ctx, s, o, m, l, NT, KTH);
            accumulate(ctx, s, vsw, o, ph, pl, bf, vb + bo, lane, KS, NT, KTH, fp16);
            ctx.localBarrier();   // the buffer is refilled by a later iteration's copy
            fill = fill + 1 == stages ? 0 : fill + 1;
            cur = cur + 1 == stages ? 0 : cur + 1;
        }
        ctx.cpAsyncWait(0);
        if (halves > 1) foldHalves(ctx, ksw, o, m, l, half, rw * 32 + lane, RW * 32, NT);
        finish(ctx, partials, o, m, l, half == 0 ? tok0 : -1, half == 0 ? tok1 : -1, h0, h1, c, slots, sharedBase, heads, headDim, tq, NT);
        if (waitAtEnd != 0) ctx.gridDependencyWait();
    }

    /** The pair (x0, x1) as 16-bit halves, low index in bits 0-15 (fp16 or bf16, nearest even). */
    @Unroll
    static int pack(float x0, float x1, int fp16) {
        return fp16 != 0 ? KernelContext.packFp16(x0, x1) : KernelContext.packBf16(x0, x1);
    }

    /** The remainder of (x0, x1) after their 16-bit high part {@code hi}, packed again. */
    @Unroll
    static int remainder(float x0, float x1, int hi, int fp16) {
        return pack(x0 - AttentionKernels.low(hi, fp16), x1 - AttentionKernels.high(hi, fp16), fp16);
    }

    /**
     * A fragments of Q (rows r0, r1; per k-step dims 16ks + 2tq (+1) and + 8), from fp32 q, split high + remainder.
     * a[0] = (r0, d), a[1] = (r1, d), a[2] = (r0, d + 8), a[3] = (r1, d + 8).
     */
    @Unroll
    static void loadQuery(FloatArray q, int[] qh, int[] ql, int tok0, int tok1, int h0, int h1, int heads, int headDim, int tq, int KSTEPS,
                          int fp16) {
        for (int ks = 0; ks < KSTEPS; ks++) {
            for (int i = 0; i < 4; i++) {
                int tok = (i & 1) == 0 ? tok0 : tok1, h = (i & 1) == 0 ? h0 : h1;
                int d = ks * 16 + 2 * tq + (i >> 1) * 8;
                long bits = tok >= 0 ? q.getBits64((tok * heads + h) * headDim + d) : 0L;
                float x0 = Float.intBitsToFloat((int) bits), x1 = Float.intBitsToFloat((int) (bits >>> 32));
                int hi = pack(x0, x1, fp16);
                qh[ks * 4 + i] = hi;
                ql[ks * 4 + i] = remainder(x0, x1, hi, fp16);
            }
        }
    }

    @Unroll
    static void start(float[] o, float[] m, float[] l, int NT) {
        for (int i = 0; i < NT * 4; i++) o[i] = 0f;
        for (int r = 0; r < 2; r++) {
            m[r] = NEG_INF;
            l[r] = 0f;
        }
    }

    /**
     * Starts the asynchronous copy (cp.async, 16-byte chunks) of the K and V tile of split keys {@code k0 .. k0+KT}
     * into the buffer at word {@code bo} (V's at {@code vb + bo} of {@code vsw}); zeros for keys without a row.
     */
    @Unroll
    static void loadTile(KernelContext ctx, OffHeapArray kc, OffHeapArray vc, int[] ksw, int[] vsw, int[] rowBase, int k0, int bo, int vb, int tid,
                         int KS, int headDim, int KT, int THREADS) {
        int chunks = headDim / 8;
        for (int i = 0; i < (KT * chunks + THREADS - 1) / THREADS; i++) {
            int e = i * THREADS + tid;
            if (e < KT * chunks) {
                int key = e / chunks, ch = e - key * chunks, r = k0 + key;
                int base = r < SPLIT ? rowBase[r] : -1;
                boolean in = base >= 0;
                ctx.cpAsync16(ksw, bo + key * KS + ch * 4, kc, in ? base + ch * 8 : 0, in);
                ctx.cpAsync16(vsw, vb + bo + key * KS + ch * 4, vc, in ? base + ch * 8 : 0, in);
            }
        }
    }

    /**
     * s = Q·Kᵀ for the tile's KT/8 n-tiles of 8 keys (fragment layout: s[4nt] = (r0, key 8nt + 2tq), s[4nt+1] = (r0, +1),
     * s[4nt+2] = (r1, 2tq), s[4nt+3] = (r1, +1)), n-tile after n-tile: each accumulator's 2·KSTEPS mma (high part, remainder, per
     * k-step) one after the other.
     */
    @Unroll
    static void scoreMmas(KernelContext ctx, int[] qh, int[] ql, int[] ksw, float[] s, int[] bf, int bo, int lane, int KS, int KSTEPS, int KT,
                          int fp16) {
        for (int i = 0; i < (KT / 8) * 4; i++) s[i] = 0f;
        // this lane's ldmatrix word of the tile, less 8nt keys and 8ks dims (the constant parts: immediates of the loads)
        int k2 = bo + (lane & 7) * KS + ((lane >> 3) & 1) * 4, k4 = k2 + (lane >> 4) * 8;
        for (int nt = 0; nt < KT / 8; nt++) {
            // K B fragments by ldmatrix (no .trans: the staged rows are keys = the mma's n): matrix i of an x4 is k-step
            // ks + i/2, dims +8·(i%2); lane l addresses key 8nt + l%8 of matrix l/8. bf[2j], bf[2j+1]: k-step ks + j
            // (the words the fragment reads ksw[key·KS + 8ks + tq] and + 4 gave before run 22, by one instruction per two k-steps)
            for (int ks = 0; ks < KSTEPS; ks += 2) {
                if (ks + 1 < KSTEPS) ctx.ldmatrixX4(bf, 0, ksw, k4 + nt * 8 * KS + ks * 8);
                else ctx.ldmatrixX2(bf, 0, ksw, k2 + nt * 8 * KS + ks * 8);
                for (int j = 0; j < 2; j++) {
                    if (ks + j < KSTEPS) {
                        mma(ctx, s, nt * 4, qh, (ks + j) * 4, bf, 2 * j, fp16);
                        mma(ctx, s, nt * 4, ql, (ks + j) * 4, bf, 2 * j, fp16);
                    }
                }
            }
        }
    }

    /**
     * {@link #scoreMmas} with the n-tiles interleaved (k-step pair after k-step pair: every n-tile's K fragments loaded, then each
     * k-step's high-part mma of every n-tile, then its remainder's), so consecutive mma write different accumulators (KT/8 independent
     * chains in program order instead of one chain of 2·KSTEPS at a time). Each accumulator sees the same mma in the same order: the
     * same bits.
     */
    @Unroll
    static void scoresInterleaved(KernelContext ctx, int[] qh, int[] ql, int[] ksw, float[] s, int[] bfs, int bo, int lane, int KS, int KSTEPS,
                                  int KT, int fp16) {
        for (int i = 0; i < (KT / 8) * 4; i++) s[i] = 0f;
        int k2 = bo + (lane & 7) * KS + ((lane >> 3) & 1) * 4, k4 = k2 + (lane >> 4) * 8;
        for (int ks = 0; ks < KSTEPS; ks += 2) {
            for (int nt = 0; nt < KT / 8; nt++) {
                if (ks + 1 < KSTEPS) ctx.ldmatrixX4(bfs, nt * 4, ksw, k4 + nt * 8 * KS + ks * 8);
                else ctx.ldmatrixX2(bfs, nt * 4, ksw, k2 + nt * 8 * KS + ks * 8);
            }
            for (int j = 0; j < 2; j++) {
                if (ks + j < KSTEPS) {
                    for (int nt = 0; nt < KT / 8; nt++) mma(ctx, s, nt * 4, qh, (ks + j) * 4, bfs, nt * 4 + 2 * j, fp16);
                    for (int nt = 0; nt < KT / 8; nt++) mma(ctx, s, nt * 4, ql, (ks + j) * 4, bfs, nt * 4 + 2 * j, fp16);
                }
            }
        }
    }

    /** The scores s (as {@link #scoreMmas} leaves them) scaled, ALiBi-biased and masked (-inf) per row. */
    @Unroll
    static void scores(float[] s, int t0, int hi, int p0, int p1, float sl0, float sl1, float scale, int tq, int KT, int alibi) {
        // key t0 + 8nt + 2tq + (e & 1) is visible to a row while it is < hi and ≤ the row's position: one compare of the
        // element's constant offset a row (the same values and the same selects as comparing j with hi and p)
        int last0 = Math.min(hi - 1, p0) - t0 - 2 * tq, last1 = Math.min(hi - 1, p1) - t0 - 2 * tq;
        for (int nt = 0; nt < KT / 8; nt++) {
            for (int e = 0; e < 4; e++) {
                int k = nt * 8 + (e & 1);
                float v = s[nt * 4 + e] * scale;
                if (alibi != 0) v += (e < 2 ? sl0 : sl1) * (t0 + 2 * tq + k - (e < 2 ? p0 : p1));
                s[nt * 4 + e] = k <= (e < 2 ? last0 : last1) ? v : NEG_INF;
            }
        }
    }

    @Unroll
    static void mma(KernelContext ctx, float[] acc, int accOff, int[] a, int aOff, int[] b, int bOff, int fp16) {
        if (fp16 != 0) ctx.mmaFp16(acc, accOff, a, aOff, b, bOff);
        else ctx.mmaBf16(acc, accOff, a, aOff, b, bOff);
    }

    /**
     * Online softmax per row over the tile: m' = max(m, row max over the quad), alpha = exp(m - m'),
     * p = exp(s - m') (0 where masked), l (this lane's columns only, summed over the quad at the end) and O rescaled.
     */
    @Unroll
    static void softmax(KernelContext ctx, float[] s, float[] o, float[] m, float[] l, int NT, int KT) {
        for (int r = 0; r < 2; r++) {
            float mx = NEG_INF;
            for (int nt = 0; nt < KT / 8; nt++) mx = Math.max(mx, Math.max(s[nt * 4 + 2 * r], s[nt * 4 + 2 * r + 1]));
            mx = Math.max(mx, ctx.shuffleXor(mx, 1));
            mx = Math.max(mx, ctx.shuffleXor(mx, 2));
            float mNew = Math.max(m[r], mx);
            float alpha = mNew == NEG_INF ? 1f : KMath.expFtz(m[r] - mNew);
            // a masked score (-inf) gives exp(-inf) = 0 against a finite max; a row with no key yet (mNew = -inf) subtracts 0
            // instead, so no NaN: one select a row, not one an element (the same values)
            float mSub = mNew == NEG_INF ? 0f : mNew;
            float sum = 0f;
            for (int nt = 0; nt < KT / 8; nt++) {
                for (int e = 0; e < 2; e++) {
                    float p = KMath.expFtz(s[nt * 4 + 2 * r + e] - mSub);
                    s[nt * 4 + 2 * r + e] = p;
                    sum += p;
                }
            }
            l[r] = l[r] * alpha + sum;
            m[r] = mNew;
            for (int nt = 0; nt < NT; nt++) {
                o[nt * 4 + 2 * r] = o[nt * 4 + 2 * r] * alpha;
                o[nt * 4 + 2 * r + 1] = o[nt * 4 + 2 * r + 1] * alpha;
            }
        }
    }

    /**
     * O += P·V: P's A fragments from the score fragments (high + remainder), V's B fragments by {@code ldmatrix.trans}
     * (the staged rows are keys = the mma's k): matrix i of an x4 holds keys 16kk + 8·(i%2) .. +7 of dims 8(nt + i/2) .. +7,
     * so bf[0], bf[1] are n-tile nt's fragment and bf[2], bf[3] n-tile nt+1's (one instruction where run 16 gathered
     * eight 16-bit halves with four scalar shared loads per n-tile; the same values).
     */
    @Unroll
    static void accumulate(KernelContext ctx, float[] s, int[] vsw, float[] o, int[] ph, int[] pl, int[] bf, int bo, int lane, int KS,
                           int NT, int KT, int fp16) {
        int row = bo + (((lane >> 3) & 1) * 8 + (lane & 7)) * KS + (lane >> 4) * 4;   // this lane's ldmatrix row, less 16kk keys and 8nt dims
        for (int kk = 0; kk < KT / 16; kk++) {
            for (int i = 0; i < 4; i++) {
                int nt = 2 * kk + (i >> 1), e = (i & 1) * 2;   // a[0]: (r0, keys 2tq..), a[1]: (r1, ..), a[2], a[3]: keys + 8
                float x0 = s[nt * 4 + e], x1 = s[nt * 4 + e + 1];
                int hi = pack(x0, x1, fp16);
                ph[i] = hi;
                pl[i] = remainder(x0, x1, hi, fp16);
            }
            for (int nt = 0; nt < NT; nt += 2) {   // NT = headDim / 8 is even (headDim a multiple of 16)
                ctx.ldmatrixX4Trans(bf, 0, vsw, row + kk * 16 * KS + nt * 4);
                for (int j = 0; j < 2; j++) {
                    mma(ctx, o, (nt + j) * 4, ph, 0, bf, 2 * j, fp16);
                    mma(ctx, o, (nt + j) * 4, pl, 0, bf, 2 * j, fp16);
                }
            }
        }
    }

    /**
     * The two key halves' states of the same rows folded (log-sum-exp) into half 0's: half 1's warps put (O, m, l) of each lane in
     * K's tile buffers ({@code NT·4 + 4} words a lane, lane-strided: {@code (headDim/2 + 4)·64} words, all of {@code ksw}), half 0's lanes read their partner's (the same row warp and lane) and fold: mn = max(m0, m1), O = O0·e^(m0-mn) +
     * O1·e^(m1-mn), l likewise (this lane's partial l; the quad sums it after). A row without keys in a half has m = -inf there.
     */
    @Unroll
    static void foldHalves(KernelContext ctx, int[] ksw, float[] o, float[] m, float[] l, int half, int at, int stride, int NT) {
        ctx.localBarrier();   // every half's last tile read
        if (half == 1) {
            for (int i = 0; i < NT * 4; i++) ksw[i * stride + at] = Float.floatToRawIntBits(o[i]);
            for (int r = 0; r < 2; r++) {
                ksw[(NT * 4 + r) * stride + at] = Float.floatToRawIntBits(m[r]);
                ksw[(NT * 4 + 2 + r) * stride + at] = Float.floatToRawIntBits(l[r]);
            }
        }
        ctx.localBarrier();
        if (half == 0) {
            for (int r = 0; r < 2; r++) {
                float m1 = Float.intBitsToFloat(ksw[(NT * 4 + r) * stride + at]), l1 = Float.intBitsToFloat(ksw[(NT * 4 + 2 + r) * stride + at]);
                float mn = Math.max(m[r], m1);
                float x = mn == NEG_INF ? 1f : KMath.expFtz(m[r] - mn), y = mn == NEG_INF ? 0f : KMath.expFtz(m1 - mn);
                for (int nt = 0; nt < NT; nt++) {
                    for (int e = 0; e < 2; e++) {
                        int i = nt * 4 + 2 * r + e;
                        o[i] = o[i] * x + Float.intBitsToFloat(ksw[i * stride + at]) * y;
                    }
                }
                l[r] = l[r] * x + l1 * y;
                m[r] = mn;
            }
        }
    }

    /** l summed over the quad; each valid row's (O, m, l) into its token's slot sharedBase + c. */
    @Unroll
    static void finish(KernelContext ctx, FloatArray partials, float[] o, float[] m, float[] l, int tok0, int tok1, int h0, int h1, int c,
                       int slots, int sharedBase, int heads, int headDim, int tq, int NT) {
        for (int r = 0; r < 2; r++) {
            float sum = l[r];
            sum += ctx.shuffleXor(sum, 1);
            sum += ctx.shuffleXor(sum, 2);
            int tok = r == 0 ? tok0 : tok1, h = r == 0 ? h0 : h1;
            if (tok >= 0) {
                int base = ((tok * heads + h) * slots + sharedBase + c) * (headDim + 2);
                for (int nt = 0; nt < NT; nt++) {
                    partials.set(base + nt * 8 + 2 * tq, o[nt * 4 + 2 * r]);
                    partials.set(base + nt * 8 + 2 * tq + 1, o[nt * 4 + 2 * r + 1]);
                }
                if (tq == 0) {
                    partials.set(base + headDim, m[r]);
                    partials.set(base + headDim + 1, sum);
                }
            }
        }
    }
}
