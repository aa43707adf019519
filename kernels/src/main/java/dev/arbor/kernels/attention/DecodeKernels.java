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
 * Paged attention streamed from registers (flash-decoding, Dao et al. 2023), for 16-bit KV stores
 * (bf16, fp16) with {@code headDim} a multiple of 8 and {@code 32 % (headDim / 8) == 0} (8, 16, 32, 64,
 * 128, 256): the bandwidth-bound decode path. Same semantics, grid, split boundaries, scratch layout
 * and merge ({@link AttentionKernels#mergeSplits}) as {@link AttentionKernels#pagedBf16}, whose
 * CUDA-core tile kernel it replaces for these shapes.
 *
 * <h2>Why the tile kernel was slow (21-31% of the copy rate, bench/RESULTS.md run 9)</h2>
 * It staged each 32-key tile in shared memory through 8-byte loads, then ran 4-6 barriers of dependent
 * phases (scores, one-thread max and sum per head, accumulate) per tile: a work-group had one tile's
 * loads in flight (32 × 512 B) and spent most of its time in barriers and shared-memory traffic.
 *
 * <h2>This kernel</h2>
 * Work-group: 4 warps ({@link #warps}; 8 as an option for benches) per (token, kv head[, split]). A key row (headDim
 * halves) is read by {@code LR = headDim / 8} lanes with one 16-byte load each, so a warp reads
 * {@code RPW = 32 / LR} rows per load instruction; a lane issues {@code U} K loads and {@code U} V loads
 * (U = 4 by default) before using any, so a warp has {@code 2·U·512 B} (4 KiB at headDim 128) in flight with no
 * barrier, and the kernel's 64 registers let 32 warps (8 or 4 work-groups) share an SM. Scores: 8 FMAs per lane then an
 * xor butterfly over the row's LR lanes (every lane ends with the same bits); each lane keeps its row's
 * online-softmax state (m, l per query head; acc for its 8 dims) in registers, rescaled once per U keys.
 * The G query heads of a kv head share every K/V load (GQA). At the end of a split the
 * {@code warps·RPW} row states are folded in row order through shared memory (log-sum-exp, the merge's
 * expressions), then written as the split's partial state (split mode) or folded into the running state
 * (whole mode): the same operations in the same order either way, so a (token, head) gets the same bits
 * whatever the batch, chunking or mode, as the tests check.
 *
 * <p>Split mode merges either in a separate {@link AttentionKernels#mergeSplits} launch or, with {@code fusedMerge > 0}, in
 * the last work-group of a (token, kv head) to finish (each work-group fences its partial writes and counts itself in on an
 * arrival counter; the last one fences again and folds every slot with the merge's loads and expressions in the merge's order:
 * the same bits). Split mode's grid z counts a token's own splits from its first (keyStart's), so a cascade suffix launch
 * needs only as many as the longest suffix spans.
 *
 * <p>Launch: {@link PagedAttention#launch} starts it overlapping the kernel before (programmatic dependent launch): the index
 * chain (positions, seqOfToken, keyStart, the split's block-table row offsets into shared memory) runs before
 * {@code gridDependencyWait}, so during that kernel's tail; q, the KV rows and the scratch only after it, and every early
 * exit waits too (this grid's completion implies the previous one's). The same instructions either way, so the same bits.
 *
 * <p>Pipelined form ({@code *Piped}, {@link #pipelinedRounds}; {@link PagedAttention#pipelineRounds}): a warp issues the next round's
 * K/V loads before the current round's scores and update, two rounds in flight with no barrier, the same arithmetic in the same order
 * (the same bits); 121 registers at 32 × 128, so launched under bounds of 4 work-groups an SM for one-wave launches only, where each
 * work-group's serial chain of round trips is the launch's time (bench/RESULTS.md "Run 80-dec21": b1 × 4,096 24.3 → 21.2 µs). Its
 * variants ({@code pipeForm}, {@code pairedOffsets}; run 85-dec22, the same bits): {@link #skewedRounds} (slower) and
 * {@link #pairedRowOffsets} (b1 × 512-2,048 6-15% faster, 4,096 even; on since run 91). Removed after measuring: session 23's split
 * span (N adjacent splits a work-group, 2-4 rounds in flight across their boundaries, the same bits), slower at every row it served
 * (b1 × 4,096 21.3 → 26.1-39.9 µs, bench/RESULTS.md "Run 92-dec23"); session 24's score sums by reduce-scatter (even) and L2
 * prefetch of the next rounds (slower), "Run 98-dec24".
 *
 * <p>Key j of a split is read by warp {@code (j mod SPLIT) / KPI mod warps} (KPI = RPW·U keys per warp
 * iteration); the split's row offsets (block table lookups) are computed once into shared memory. A round
 * (one iteration of each warp) with no visible key is skipped, and masked keys are not loaded (cascade suffixes, the last split).
 */
public final class DecodeKernels {
    private DecodeKernels() {}

    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /** {@code pipeForm} of the {@code *Piped} entries: two rounds of K/V loads in flight ({@link #pipelinedRounds}, run 80-dec21). */
    public static final int TWO_ROUNDS = 1;
    /** {@code pipeForm}: the next round's K before this round's scores, its V before this round's update ({@link #skewedRounds}). */
    public static final int SKEWED = 2;

    /** Whether these kernels serve a store of this type with this head size (16-bit store, headDim/8 dividing 32, 4 warps' shared memory ≤ 48 KiB). */
    public static boolean serves(OffHeapArray store, int heads, int kvHeads, int headDim) {
        boolean sixteen = store instanceof BFloat16Array || store instanceof HalfFloatArray;
        return sixteen && headDim % 8 == 0 && 32 % (headDim / 8) == 0 && sharedBytes(heads, kvHeads, headDim, 4) <= 48 * 1024;
    }

    /** Shared memory of a work-group of {@code warps} warps in bytes: the split's row offsets and the warps·RPW row states. */
    public static int sharedBytes(int heads, int kvHeads, int headDim, int warps) {
        int g = heads / kvHeads, rows = warps * (32 / Math.max(1, headDim / 8));
        return 4 * (SPLIT + rows * g * (headDim + 2));
    }

    /**
     * Whether a work-group of {@code warps} warps fits the shape: a round of their keys (warps·KPI) within a split and their
     * row states within 48 KiB of shared memory.
     */
    public static boolean fitsWarps(int heads, int kvHeads, int headDim, int keysPerLane, int warps) {
        int kpi = 32 / Math.max(1, headDim / 8) * keysPerLane;
        return warps * kpi <= SPLIT && sharedBytes(heads, kvHeads, headDim, warps) <= 48 * 1024;
    }

    /**
     * Warps per work-group (the launcher's choice; a constant, so batch invariance holds): 4. Eight (64 registers either way, so
     * 32 warps per SM both ways; twice the loads in flight of a grid under one wave, half the serial rounds per work-group) won
     * only at batch 1 below 4k keys and lost elsewhere (bench/RESULTS.md "Run 22-attn3", call 2: batch 1 × 2k 52.7% of the copy
     * rate against 45.3%, but 4k 66.5 / 67.3%, 8k 73.5 / 80.3%, 32k 84.6 / 87.5%, 32 × 1k 87.1 / 91.3%, 128 × 2k 102.9 / 105.2%,
     * and the cascade suffix (about 37 keys per work-group) 43% slower). {@link PagedAttention#decodeWarps} lets a bench set 8.
     */
    public static int warps(int heads, int kvHeads, int headDim, int keysPerLane) { return 4; }

    /**
     * Keys per lane per iteration (the launcher's choice): 4 (bench/RESULTS.md "Run 16-attn-dec", run 1: U = 4 beat 8 and 16
     * at every measured batch, 69% against 62% of the copy rate at batch 1 × 8k, 98% against 98% at 32 × 4k, 105% against 99%
     * at 128 × 2k; a two-deep software pipeline over rounds (run 2) needed 128 registers and lost 4-8 points at every size).
     */
    public static int keysPerLane(int heads, int kvHeads) { return 4; }

    /**
     * Work-groups an SM must hold (launch bounds; 0: none, ptxas's own choice), the launcher's choice by shape: 4 at G = 4 (Llama-3
     * shapes, 32 / 8 heads), where ptxas otherwise takes 160 registers (3 work-groups, 12 warps an SM) and fits 128 without a spill
     * (ptxas -v, headDim 64 and 128); 0 elsewhere (at G = 1, a bound of 1 alone would raise 56-64 registers to 80; G = 8 × 128 and
     * G = 8 × 64 would spill 640 bytes at 128). Registers only: the same instructions, the same bits.
     */
    public static int minBlocksPerSm(int heads, int kvHeads, int headDim) { return heads / kvHeads == 4 ? 4 : 0; }

    /**
     * Whether the pipelined form ({@link #pipelinedRounds}, {@link PagedAttention#pipelineRounds}) serves the shape: one query head a kv
     * head (G = 1), where ptxas fits it in 128 registers (121 at 32 × 128) with no spill; at G = 4 × 128 it spills 768 bytes.
     */
    public static boolean pipelines(int heads, int kvHeads, int headDim) { return heads == kvHeads; }

    /**
     * Split mode while a launch's whole-mode work-groups (tokens × kvHeads) stay below this, whole mode from it on (the launcher's
     * rule, {@link PagedAttention#launch}; both modes give the same bits): {@link PagedAttention#SPLIT_BELOW_GROUPS} but at
     * Llama-3.2-1B's shape (G = 4, headDim 64), where 1,024 (bench/RESULTS.md "Run 48-gqa10", CUDA-graph medians): there a
     * work-group holds 4 of an SM (128 registers) and a split's 256 keys are only 4 rounds of its 4 warps, so the split's
     * fixed costs (the row states' fold, the partial writes, the fused merge's fence, counter and second fold) are a large part of
     * each split's work: whole mode 63.7 against split mode 72.3 µs at 128 tokens × 512 keys, 122.6 / 135.3 at 128 × 1,024, but
     * split mode still faster at 32 × 512 (19.1 against 24.6: 256 whole-mode work-groups fill half a wave).
     */
    public static int splitBelowGroups(int heads, int kvHeads, int headDim) {
        return heads / kvHeads == 4 && headDim == 64 ? 1024 : PagedAttention.SPLIT_BELOW_GROUPS;
    }

    /**
     * bf16 store; parameters as {@link AttentionKernels#pagedBf16}, and {@code keysPerLane} (U: 2, 4, 8 or 16, see {@link #keysPerLane}),
     * {@code warps}; split mode with {@code fusedMerge > 0}: the merge in the last-arriving work-group of each (token, kv head)
     * ({@link #mergeInGroup}, {@code fusedMerge} slots loaded per round trip), counted in {@code arrivals} ((tokens, kvHeads),
     * zero before the launch and left zero after it), the cascade's shared slots from {@code sharedBase} on (useKeyStart = 1);
     * {@code minBlocks} work-groups an SM must hold ({@link #minBlocksPerSm}); tokens at positions below {@code smallBelow} split
     * their keys every {@code smallSplit} (a multiple of the work-group's round, warps·KPI, dividing SPLIT), the others every
     * {@link AttentionKernels#SPLIT} ({@code smallBelow} 0: SPLIT for every token; {@link PagedAttention#smallSplit}).
     */
    public static void decodeBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                  FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                  FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                  @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                  @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                  @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                  @Constant int minBlocks, @Constant int smallSplit, @Constant int smallBelow) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 0, arrivals, sharedBase, fusedMerge,
                smallSplit, smallBelow, 0, 0);
    }

    /**
     * {@link #decodeBf16} writing {@code out} in bf16 ((tokens, heads · headDim), o_proj's X): every fp32 {@code A / L} (whole mode,
     * or the fused merge's) rounded to nearest even as stored, the bits the GEMM's conversion pass makes of {@link #decodeBf16}'s
     * output. Split mode without the fused merge writes partials only ({@link AttentionKernels#mergeSplitsBf16} then).
     */
    public static void decodeBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                         FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                         FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                         @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                         @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                         @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                         @Constant int minBlocks, @Constant int smallSplit, @Constant int smallBelow) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 0, arrivals, sharedBase, fusedMerge,
                smallSplit, smallBelow, 0, 0);
    }

    /** fp16 store; parameters as {@link AttentionKernels#pagedBf16}. */
    public static void decodeF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                 FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                 FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                 @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                 @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                 @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                 @Constant int minBlocks, @Constant int smallSplit, @Constant int smallBelow) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 1, arrivals, sharedBase, fusedMerge,
                smallSplit, smallBelow, 0, 0);
    }

    /**
     * {@link #decodeBf16} with two rounds of K/V loads in flight a warp ({@link #pipelinedRounds}; {@link PagedAttention#pipelineRounds}):
     * the same loads, scores and updates in the same order, so the same bits.
     */
    public static void decodeBf16Piped(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                       FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                       FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                       @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                       @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                       @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                       @Constant int minBlocks, @Constant int smallSplit, @Constant int smallBelow,
                                      @Constant int pipeForm, @Constant int pairedOffsets) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 0, arrivals, sharedBase, fusedMerge,
                smallSplit, smallBelow, pipeForm, pairedOffsets);
    }

    /** {@link #decodeBf16OutBf16} with pipelined rounds (see {@link #decodeBf16Piped}). */
    public static void decodeBf16OutBf16Piped(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                              FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                              FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                              @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                              @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                              @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                              @Constant int minBlocks, @Constant int smallSplit, @Constant int smallBelow,
                                      @Constant int pipeForm, @Constant int pairedOffsets) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 0, arrivals, sharedBase, fusedMerge,
                smallSplit, smallBelow, pipeForm, pairedOffsets);
    }

    /** {@link #decodeF16} with pipelined rounds (see {@link #decodeBf16Piped}). */
    public static void decodeF16Piped(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                      FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                      FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                      @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                      @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                      @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                      @Constant int minBlocks, @Constant int smallSplit, @Constant int smallBelow,
                                      @Constant int pipeForm, @Constant int pairedOffsets) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 1, arrivals, sharedBase, fusedMerge,
                smallSplit, smallBelow, pipeForm, pairedOffsets);
    }

    /** The split's rounds, pipelined or plain (a branch on a constant, folded here: the plain form's code has no pipelined part). */
    @Unroll
    static void rounds(KernelContext ctx, OffHeapArray kc, OffHeapArray vc, int[] kr, int[] vr, int[] off, int[] kr2, int[] vr2,
                       int[] off2, int[] rowBase, float[] qr, float[] sc, float[] slope, float[] m, float[] l, float[] acc,
                       float scale, int j0, int sk, int lo, int hi, int p, int warp, int row, int c8, int RPW, int U, int G,
                       int LR, int KPI, int warps, int alibi, int fp16, int pipeline) {
        if (pipeline == SKEWED) {
            skewedRounds(ctx, kc, vc, kr, vr, off, kr2, vr2, off2, rowBase, qr, sc, slope, m, l, acc, scale, j0, sk, lo, hi, p,
                    warp, row, c8, RPW, U, G, LR, KPI, warps, alibi, fp16);
        } else if (pipeline != 0) {
            pipelinedRounds(ctx, kc, vc, kr, vr, off, kr2, vr2, off2, rowBase, qr, sc, slope, m, l, acc, scale, j0, sk, lo, hi, p,
                    warp, row, c8, RPW, U, G, LR, KPI, warps, alibi, fp16);
        } else {
            plainRounds(ctx, kc, vc, kr, vr, off, rowBase, qr, sc, slope, m, l, acc, scale, j0, sk, lo, hi, p, warp, row, c8, RPW, U, G,
                    LR, KPI, warps, alibi, fp16);
        }
    }

    /**
     * A split's rounds with the next round's K loads issued before this round's scores and its V loads before this round's update
     * (PagedAttention#pipelineSkew): the next round's loads are under way during the whole of this round's arithmetic as in
     * {@link #pipelinedRounds}, but at most three of the four buffers (K and V of two rounds) hold data at once, 16 registers fewer
     * at headDim 128 (U = 4). The same visibility tests, loads, scores and updates in the plain loop's order: the same bits.
     */
    static void skewedRounds(KernelContext ctx, OffHeapArray kc, OffHeapArray vc, int[] kr, int[] vr, int[] off, int[] kr2, int[] vr2,
                             int[] off2, int[] rowBase, float[] qr, float[] sc, float[] slope, float[] m, float[] l, float[] acc,
                             float scale, int j0, int sk, int lo, int hi, int p, int warp, int row, int c8, int RPW, int U, int G,
                             int LR, int KPI, int warps, int alibi, int fp16) {
        int R = warps * KPI, mine = warp * KPI + row;
        // a round with no visible key is skipped by the whole work-group (every work-item reaches the same shuffles)
        if (j0 + R > lo && j0 < hi) {
            rowOffsetsOf(off, rowBase, mine, RPW, U);
            loadRows(ctx, kc, kr, off, c8, U);
            loadRows(ctx, vc, vr, off, c8, U);
        }
        for (int round = 0; round < sk; round += 2 * R) {
            int rb = round + R, rc = round + 2 * R;
            boolean visA = j0 + round + R > lo && j0 + round < hi;
            boolean visB = rb < sk && j0 + rb + R > lo && j0 + rb < hi;
            boolean visC = rc < sk && j0 + rc + R > lo && j0 + rc < hi;
            if (visB) {
                rowOffsetsOf(off2, rowBase, rb + mine, RPW, U);
                loadRows(ctx, kc, kr2, off2, c8, U);
            }
            if (visA) scores(ctx, qr, kr, sc, off, slope, scale, j0 + round + mine, p, RPW, U, G, LR, alibi, fp16);
            if (visB) loadRows(ctx, vc, vr2, off2, c8, U);
            if (visA) update(m, l, acc, sc, vr, U, G, fp16);
            if (visC) {
                rowOffsetsOf(off, rowBase, rc + mine, RPW, U);
                loadRows(ctx, kc, kr, off, c8, U);
            }
            if (visB) scores(ctx, qr, kr2, sc, off2, slope, scale, j0 + rb + mine, p, RPW, U, G, LR, alibi, fp16);
            if (visC) loadRows(ctx, vc, vr, off, c8, U);
            if (visB) update(m, l, acc, sc, vr2, U, G, fp16);
        }
    }

    /** A split's rounds, one round of this warp's K/V loads in flight. {@code j0} is the split's first key. */
    static void plainRounds(KernelContext ctx, OffHeapArray kc, OffHeapArray vc, int[] kr, int[] vr, int[] off, int[] rowBase, float[] qr,
                            float[] sc, float[] slope, float[] m, float[] l, float[] acc, float scale, int j0, int sk, int lo, int hi, int p,
                            int warp, int row, int c8, int RPW, int U, int G, int LR, int KPI, int warps, int alibi, int fp16) {
        for (int round = 0; round < sk; round += warps * KPI) {
            // a round with no visible key is skipped by the whole work-group: every work-item of a group reaches
            // the same shuffles (the CPU executor's shuffles are group barriers); a warp whose part of the
            // round is masked loads nothing and leaves its state alone
            int r0 = j0 + round;
            if (r0 + warps * KPI > lo && r0 < hi) {
                int base = round + warp * KPI;
                loadKv(ctx, kc, vc, kr, vr, off, rowBase, base + row, c8, RPW, U);
                scores(ctx, qr, kr, sc, off, slope, scale, j0 + base + row, p, RPW, U, G, LR, alibi, fp16);
                update(m, l, acc, sc, vr, U, G, fp16);
            }
        }
    }

    /**
     * A split's rounds with two rounds of this warp's K/V loads in flight (double buffering; PagedAttention#pipelineRounds): round
     * r + 1's loads (buffer B) are issued before round r's scores and update (buffer A), then round r + 2's into A before r + 1's
     * scores, so a warp waits on one round trip while the next is already under way. The rounds' visibility tests, loads, scores and
     * updates are the plain loop's, in the same order: the same bits. {@code j0} is the split's first key.
     */
    static void pipelinedRounds(KernelContext ctx, OffHeapArray kc, OffHeapArray vc, int[] kr, int[] vr, int[] off, int[] kr2, int[] vr2,
                                int[] off2, int[] rowBase, float[] qr, float[] sc, float[] slope, float[] m, float[] l, float[] acc,
                                float scale, int j0, int sk, int lo, int hi, int p, int warp, int row, int c8, int RPW, int U, int G,
                                int LR, int KPI, int warps, int alibi, int fp16) {
        int R = warps * KPI, mine = warp * KPI + row;
        // a round with no visible key is skipped by the whole work-group (every work-item reaches the same shuffles)
        if (j0 + R > lo && j0 < hi) loadKv(ctx, kc, vc, kr, vr, off, rowBase, mine, c8, RPW, U);
        for (int round = 0; round < sk; round += 2 * R) {
            int rb = round + R, rc = round + 2 * R;
            boolean visA = j0 + round + R > lo && j0 + round < hi;
            boolean visB = rb < sk && j0 + rb + R > lo && j0 + rb < hi;
            boolean visC = rc < sk && j0 + rc + R > lo && j0 + rc < hi;
            if (visB) loadKv(ctx, kc, vc, kr2, vr2, off2, rowBase, rb + mine, c8, RPW, U);
            if (visA) {
                scores(ctx, qr, kr, sc, off, slope, scale, j0 + round + mine, p, RPW, U, G, LR, alibi, fp16);
                update(m, l, acc, sc, vr, U, G, fp16);
            }
            if (visC) loadKv(ctx, kc, vc, kr, vr, off, rowBase, rc + mine, c8, RPW, U);
            if (visB) {
                scores(ctx, qr, kr2, sc, off2, slope, scale, j0 + rb + mine, p, RPW, U, G, LR, alibi, fp16);
                update(m, l, acc, sc, vr2, U, G, fp16);
            }
        }
    }

    static void body(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, FloatArray partials,
                     IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                     int maxBlocksPerSeq, int numBlocks, int slots, int heads, int kvHeads, int headDim, int blockSize,
                     int alibi, int splitMode, int useKeyStart, int keysPerLane, int warps, int fp16, IntArray arrivals, int sharedBase,
                     int fusedMerge, int smallSplit, int smallBelow, int pipeline, int pairedOffsets) {
        int G = heads / kvHeads;
        int LR = headDim / 8;                 // lanes per key row (one 16-byte load each)
        int RPW = 32 / LR;                    // key rows per warp load instruction
        int U = keysPerLane;                  // keys per lane per iteration
        int KPI = RPW * U;                    // keys per warp iteration
        int T = warps * 32;                   // work-items per work-group
        int NS = warps * RPW;                 // row states per work-group
        int E = (G * headDim + T - 1) / T;    // (head, dim) elements per work-item in the fold
        int[] rowBase = ctx.allocateIntLocalArray(SPLIT);                 // element offset of each key row of the split, -1 if masked
        float[] stAcc = ctx.allocateFloatLocalArray(NS * G * headDim);    // (state, g, d)
        float[] stMl = ctx.allocateFloatLocalArray(NS * G * 2);           // (state, g) -> m, l
        float[] qr = new float[G * 8];        // this lane's 8 dims of each query head
        float[] acc = new float[G * 8];
        float[] m = new float[G];
        float[] l = new float[G];
        float[] slope = new float[G];
        float[] sc = new float[U * G];        // scores, then probabilities, (u, g)
        int[] off = new int[U];
        int[] kr = new int[U * 4];            // U 16-byte K chunks
        int[] vr = new int[U * 4];
        int[] off2 = new int[U];              // pipelined rounds: the second buffer (unused, so gone, in the plain form)
        int[] kr2 = new int[U * 4];
        int[] vr2 = new int[U * 4];
        float[] runA = new float[E];          // whole mode: running (M, L, A) of this work-item's elements
        float[] runM = new float[E];
        float[] runL = new float[E];
        int[] last = ctx.allocateIntLocalArray(1);                        // fused merge: this work-group arrived last

        int t = ctx.groupIdx, kvh = ctx.groupIdy, z = ctx.groupIdz, tid = ctx.localIdx;
        int lane = tid & 31, warp = tid >> 5, row = lane / LR, c8 = (lane - row * LR) * 8;
        int p = positions.get(t), seq = seqOfToken.get(t);
        int ks0 = useKeyStart != 0 ? keyStart.get(seq) : 0;
        // this token's split length: smallSplit keys below position smallBelow, else SPLIT (a function of the position only, so
        // the same split boundaries whatever the batch, mode or chunking: batch invariance; smallBelow 0: SPLIT everywhere)
        int sk = p < smallBelow ? smallSplit : SPLIT;
        // every exit comes after gridDependencyWait (a no-op unless launched overlapping the kernel before): this grid's completion
        // then implies that kernel's, for whatever waits for this grid
        if (ks0 > p) {   // no own key (a cascade member whose keys are all shared): split 0's work-group merges the shared slots
            ctx.gridDependencyWait();
            if (splitMode != 0 && fusedMerge != 0 && z == 0) {
                mergeInGroup(partials, out, t, kvh, ks0, p, slots, sharedBase, tid, T, G, heads, headDim, E, useKeyStart, fusedMerge, sk);
            }
            return;
        }
        int sFrom = ks0 / sk, sTo = p / sk, arriving = sTo - sFrom + 1;
        if (splitMode != 0) {
            // z counts the token's own splits from its first (keyStart's split; 0 without keyStart): a cascade suffix launch
            // needs a grid of its longest suffix's splits only, not the whole context's (the split boundaries stay absolute)
            int zs = sFrom + z;
            if (zs > sTo) {
                ctx.gridDependencyWait();
                return;
            }
            sFrom = zs;
            sTo = zs;
            ctx.allowDependentLaunch();   // the merge may start now: it waits for this grid before reading partials
        } else if (z > 0) {
            ctx.gridDependencyWait();
            return;
        }
        int table = seq * maxBlocksPerSeq;
        int qBase = (t * heads + kvh * G) * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        startRun(runA, runM, runL, E);
        for (int s = sFrom; s <= sTo; s++) {
            int lo = Math.max(s * sk, ks0), hi = Math.min(s * sk + sk, p + 1);
            ctx.localBarrier();   // the previous split's readers of rowBase and the states are done
            rowOffsets(blockTables, rowBase, table, s * sk, sk, lo, hi, kvh, numBlocks, kvHeads, headDim, blockSize, tid, T, pairedOffsets);
            ctx.localBarrier();
            if (s == sFrom) {
                // launched overlapping the kernel before (PagedAttention#overlapPrevious): the index chain above (positions,
                // block table, row offsets: host-written inputs) ran meanwhile; q, the KV rows and the scratch only from here on
                ctx.gridDependencyWait();
                loadQuery(ctx, q, qr, slopes, slope, qBase + c8, kvh * G, G, headDim, alibi);
            }
            startState(m, l, acc, G);
            rounds(ctx, kc, vc, kr, vr, off, kr2, vr2, off2, rowBase, qr, sc, slope, m, l, acc, scale, s * sk, sk, lo, hi, p,
                    warp, row, c8, RPW, U, G, LR, KPI, warps, alibi, fp16, pipeline);
            saveState(stAcc, stMl, acc, m, l, warp * RPW + row, c8, lane - row * LR == 0, G, headDim);
            ctx.localBarrier();
            foldStates(partials, stAcc, stMl, runA, runM, runL, t, s, slots, tid, T, G, kvh, heads, headDim, NS, E, splitMode);
        }
        if (splitMode == 0) {
            finish(out, runA, runL, qBase, tid, T, G, headDim, E);
        } else if (fusedMerge != 0) {
            // the last-arriving work-group pattern: every work-item's partial writes are fenced before the group counts
            // itself in; the group that counts last fences again and folds all the token's slots in split order
            ctx.threadFence();
            ctx.localBarrier();
            if (tid == 0) last[0] = ctx.atomicAdd(arrivals, t * kvHeads + kvh, 1) == arriving - 1 ? 1 : 0;
            ctx.localBarrier();
            if (last[0] != 0) {
                ctx.threadFence();
                mergeInGroup(partials, out, t, kvh, ks0, p, slots, sharedBase, tid, T, G, heads, headDim, E, useKeyStart, fusedMerge, sk);
                if (tid == 0) arrivals.set(t * kvHeads + kvh, 0);   // ready for the next launch
            }
        }
    }

    /**
     * {@link AttentionKernels#mergeSplits} for the G heads of kv head kvh of token t, inside the work-group: the same loads
     * (ahead slots per round trip), the same folds in the same order (shared slots from sharedBase on, then the own splits),
     * so the same bits as the separate merge launch.
     */
    static void mergeInGroup(FloatArray partials, OffHeapArray out, int t, int kvh, int ks0, int p, int slots, int sharedBase, int tid,
                             int T, int G, int heads, int headDim, int E, int useKeyStart, int ahead, int sk) {
        float[] mla = new float[3];
        float[] ms = new float[ahead];
        float[] ls = new float[ahead];
        float[] as = new float[ahead];
        for (int e = 0; e < E; e++) {
            int i = tid + e * T;
            if (i < G * headDim) {
                int g = i / headDim, d = i - g * headDim, th = t * heads + kvh * G + g, rowSlots = th * slots;
                mla[0] = NEG_INF;
                mla[1] = 0f;
                mla[2] = 0f;
                int nShared = useKeyStart != 0 ? (ks0 + SPLIT - 1) / SPLIT : 0;
                for (int c = 0; c < nShared; c += ahead) {
                    AttentionKernels.loadSlots(partials, ms, ls, as, (rowSlots + sharedBase + c) * (headDim + 2), headDim, d, nShared - c, ahead);
                    AttentionKernels.foldSlots(mla, ms, ls, as, nShared - c, 1, ahead);
                }
                if (ks0 <= p) {
                    int s0 = ks0 / sk, n = p / sk - s0 + 1;   // the own splits, of sk keys (the shared slots: SPLIT keys)
                    for (int c = 0; c < n; c += ahead) {
                        AttentionKernels.loadSlots(partials, ms, ls, as, (rowSlots + s0 + c) * (headDim + 2), headDim, d, n - c, ahead);
                        AttentionKernels.foldSlots(mla, ms, ls, as, n - c, 0, ahead);
                    }
                }
                out.setFloat(th * headDim + d, mla[2] / mla[1]);
            }
        }
    }

    /** This lane's 8 dims of the G query heads (two 16-byte loads each) and their ALiBi slopes. */
    @Unroll
    static void loadQuery(KernelContext ctx, FloatArray q, float[] qr, FloatArray slopes, float[] slope, int at, int h0, int G, int headDim,
                          int alibi) {
        int[] w = new int[8];
        for (int g = 0; g < G; g++) {
            ctx.loadGlobal128(w, 0, q, at + g * headDim);
            ctx.loadGlobal128(w, 4, q, at + g * headDim + 4);
            for (int i = 0; i < 8; i++) qr[g * 8 + i] = Float.intBitsToFloat(w[i]);
            slope[g] = alibi != 0 ? slopes.get(h0 + g) : 0f;
        }
    }

    @Unroll
    static void startRun(float[] runA, float[] runM, float[] runL, int E) {
        for (int e = 0; e < E; e++) {
            runA[e] = 0f;
            runM[e] = NEG_INF;
            runL[e] = 0f;
        }
    }

    @Unroll
    static void startState(float[] m, float[] l, float[] acc, int G) {
        for (int g = 0; g < G; g++) {
            m[g] = NEG_INF;
            l[g] = 0f;
            for (int i = 0; i < 8; i++) acc[g * 8 + i] = 0f;
        }
    }

    /** The element offsets of rows {@code r0 + u·RPW} of the split (-1: masked or past the split), as {@link #loadKv} takes them. */
    @Unroll
    static void rowOffsetsOf(int[] off, int[] rowBase, int r0, int RPW, int U) {
        for (int u = 0; u < U; u++) off[u] = r0 + u * RPW < SPLIT ? rowBase[r0 + u * RPW] : -1;
    }

    /** {@link #loadKv}'s half for one cache (K or V): U chunks at {@code off} into {@code r} (all issued before any is used); zeros for masked rows. */
    @Unroll
    static void loadRows(KernelContext ctx, OffHeapArray cache, int[] r, int[] off, int c8, int U) {
        for (int u = 0; u < U; u++) {
            if (off[u] >= 0) {
                ctx.loadGlobal128(r, u * 4, cache, off[u] + c8);
            } else {
                for (int i = 0; i < 4; i++) r[u * 4 + i] = 0;
            }
        }
    }

    /**
     * The split's row offsets into shared memory ({@code rowBase[i]} of key {@code j0 + i}: {@link AttentionKernels#rowOffset}, -1
     * below {@code lo}); with {@code paired}, each work-item issues both of its block-table loads (keys i and i + T) before it uses
     * either (PagedAttention#pairedOffsets), one round trip where the plain loop may take two. The same values either way.
     */
    @Unroll
    static void rowOffsets(IntArray blockTables, int[] rowBase, int table, int j0, int sk, int lo, int hi, int kvh, int numBlocks,
                           int kvHeads, int headDim, int blockSize, int tid, int T, int paired) {
        if (paired != 0) {
            pairedRowOffsets(blockTables, rowBase, table, j0, sk, lo, hi, kvh, numBlocks, kvHeads, headDim, blockSize, tid, T);
        } else {
            plainRowOffsets(blockTables, rowBase, table, j0, sk, lo, hi, kvh, numBlocks, kvHeads, headDim, blockSize, tid, T);
        }
    }

    static void plainRowOffsets(IntArray blockTables, int[] rowBase, int table, int j0, int sk, int lo, int hi, int kvh, int numBlocks,
                                int kvHeads, int headDim, int blockSize, int tid, int T) {
        for (int i = tid; i < sk; i += T) {
            int j = j0 + i;
            rowBase[i] = j < lo ? -1 : AttentionKernels.rowOffset(blockTables, table, j, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
        }
    }

    static void pairedRowOffsets(IntArray blockTables, int[] rowBase, int table, int j0, int sk, int lo, int hi, int kvh, int numBlocks,
                                 int kvHeads, int headDim, int blockSize, int tid, int T) {
        int n = blockTables.length();
        for (int i = tid; i < sk; i += 2 * T) {
            int i2 = i + T, j = j0 + i, j2 = j0 + i2;
            int lg = j / blockSize, lg2 = j2 / blockSize;
            // rowOffset's index tests first, then both loads, then the loaded blocks' tests: no loaded value is used between the loads
            boolean in = j >= lo && j < hi && table + lg < n;
            boolean in2 = i2 < sk && j2 >= lo && j2 < hi && table + lg2 < n;
            int b = in ? blockTables.get(table + lg) : -1;
            int b2 = in2 ? blockTables.get(table + lg2) : -1;
            rowBase[i] = b < 0 || b >= numBlocks ? -1 : ((b * kvHeads + kvh) * blockSize + (j - lg * blockSize)) * headDim;
            if (i2 < sk) rowBase[i2] = b2 < 0 || b2 >= numBlocks ? -1 : ((b2 * kvHeads + kvh) * blockSize + (j2 - lg2 * blockSize)) * headDim;
        }
    }

    /** U K chunks and U V chunks of rows {@code r0 + u·RPW} (all issued before any is used); zeros for masked rows. */
    @Unroll
    static void loadKv(KernelContext ctx, OffHeapArray kc, OffHeapArray vc, int[] kr, int[] vr, int[] off, int[] rowBase, int r0, int c8,
                       int RPW, int U) {
        rowOffsetsOf(off, rowBase, r0, RPW, U);   // past the split: 4·KPI > SPLIT at small headDim
        for (int u = 0; u < U; u++) {
            if (off[u] >= 0) {
                ctx.loadGlobal128(kr, u * 4, kc, off[u] + c8);
                ctx.loadGlobal128(vr, u * 4, vc, off[u] + c8);
            } else {
                for (int i = 0; i < 4; i++) {
                    kr[u * 4 + i] = 0;
                    vr[u * 4 + i] = 0;
                }
            }
        }
    }

    /**
     * sc[u][g] = (q_g · k_u)·scale (+ slope_g·(j - p)), -inf for a masked row: 8 FMAs in increasing dim,
     * then the row's LR partial sums added by an xor butterfly (commutative steps: every lane gets the same bits).
     * Key u's 8 halves are widened once for the G heads (ncu, run 48-gqa10: widening them again per head was ~150 of the
     * 863 instructions an iteration at G = 4); the same FMAs in the same order per (u, g), so the same bits. (With the exp of
     * {@link #update} unchanged this form measured 3% slower at G = 4 × 64, 128 × 512: bench/RESULTS.md "Run 53-gqa11".)
     */
    @Unroll
    static void scores(KernelContext ctx, float[] qr, int[] kr, float[] sc, int[] off, float[] slope, float scale, int j0, int p,
                       int RPW, int U, int G, int LR, int alibi, int fp16) {
        float[] k8 = new float[8];   // key u's 8 dims, widened
        for (int u = 0; u < U; u++) {
            for (int i = 0; i < 4; i++) {
                int pair = kr[u * 4 + i];
                k8[2 * i] = AttentionKernels.low(pair, fp16);
                k8[2 * i + 1] = AttentionKernels.high(pair, fp16);
            }
            for (int g = 0; g < G; g++) {
                float dot = 0f;
                for (int i = 0; i < 8; i++) dot = Math.fma(qr[g * 8 + i], k8[i], dot);
                for (int mask = LR / 2; mask > 0; mask >>= 1) dot += ctx.shuffleXor(dot, mask);
                float s = dot * scale;
                if (alibi != 0) s += slope[g] * (j0 + u * RPW - p);
                sc[u * G + g] = off[u] >= 0 ? s : NEG_INF;
            }
        }
    }

    /**
     * Online softmax of this lane's row over its U keys, per query head g (skipped when all U are masked):
     * m' = max(m, max_u s); alpha = exp(m - m'); p_u = exp(s_u - m'); l = l·alpha + Σ p_u (u order);
     * acc_i = acc_i·alpha + Σ_u p_u·v_u[i] (FMAs in u order). The softmax of every head first, then P·V by dim pair with each
     * V pair widened once for the G heads (as in {@link #scores}); the same expressions in the same order per (g, i). A head whose
     * U keys are all masked keeps its state untouched. The weights' exp flushes subnormal results to 0 ({@link KMath#expFtz}: 2 SASS
     * instructions where {@link KMath#exp} takes 5; ncu, run 48-gqa10: 80 of the 863 an iteration were the fix-up): the bits change
     * only where a weight is below 2^-126 of the running max, lost in its sums anyway, and every mode, batch and chunking runs this
     * same code (the cascade's warp suffix too), so a token's bits still depend on nothing but its own keys. bench/RESULTS.md "Run
     * 53-gqa11": with the widening above, 1-2.5% faster than both before at G = 4 × 64 (128 × 512 63.0 against 63.9 µs).
     */
    @Unroll
    static void update(float[] m, float[] l, float[] acc, float[] sc, int[] vr, int U, int G, int fp16) {
        float[] alpha = new float[G];
        float[] mx = new float[G];   // max_u s of head g; -inf: its U keys are all masked
        for (int g = 0; g < G; g++) {
            mx[g] = NEG_INF;
            for (int u = 0; u < U; u++) mx[g] = Math.max(mx[g], sc[u * G + g]);
            if (mx[g] != NEG_INF) {
                float mNew = Math.max(m[g], mx[g]);
                alpha[g] = KMath.expFtz(m[g] - mNew);
                float sum = 0f;
                for (int u = 0; u < U; u++) {
                    float e = KMath.expFtz(sc[u * G + g] - mNew);
                    sc[u * G + g] = e;
                    sum += e;
                }
                l[g] = l[g] * alpha[g] + sum;
                m[g] = mNew;
            }
        }
        float[] v0 = new float[U];   // V pair i of the U keys, widened
        float[] v1 = new float[U];
        for (int i = 0; i < 4; i++) {
            for (int u = 0; u < U; u++) {
                int pair = vr[u * 4 + i];
                v0[u] = AttentionKernels.low(pair, fp16);
                v1[u] = AttentionKernels.high(pair, fp16);
            }
            for (int g = 0; g < G; g++) {
                if (mx[g] != NEG_INF) {
                    float a0 = acc[g * 8 + 2 * i] * alpha[g], a1 = acc[g * 8 + 2 * i + 1] * alpha[g];
                    for (int u = 0; u < U; u++) {
                        a0 = Math.fma(sc[u * G + g], v0[u], a0);
                        a1 = Math.fma(sc[u * G + g], v1[u], a1);
                    }
                    acc[g * 8 + 2 * i] = a0;
                    acc[g * 8 + 2 * i + 1] = a1;
                }
            }
        }
    }

    /** This lane's part of row state {@code r}: acc for its 8 dims; m and l from the row's first lane. */
    @Unroll
    static void saveState(float[] stAcc, float[] stMl, float[] acc, float[] m, float[] l, int r, int c8, boolean first, int G, int headDim) {
        for (int g = 0; g < G; g++) {
            for (int i = 0; i < 8; i++) stAcc[(r * G + g) * headDim + c8 + i] = acc[g * 8 + i];
            if (first) {
                stMl[(r * G + g) * 2] = m[g];
                stMl[(r * G + g) * 2 + 1] = l[g];
            }
        }
    }

    /**
     * Folds the NS row states of the split in row order (those with keys: l > 0), per (g, d) element,
     * with the merge's expressions; then writes the split's partial (split mode) or folds it into the
     * running state (whole mode), again with the merge's expressions.
     */
    @Unroll
    static void foldStates(FloatArray partials, float[] stAcc, float[] stMl, float[] runA, float[] runM, float[] runL, int t, int s,
                           int slots, int tid, int T, int G, int kvh, int heads, int headDim, int NS, int E, int splitMode) {
        for (int e = 0; e < E; e++) {
            int i = tid + e * T;
            if (i < G * headDim) {
                int g = i / headDim, d = i - g * headDim;
                float M = NEG_INF, L = 0f, A = 0f;
                for (int r = 0; r < NS; r++) {
                    float ls = stMl[(r * G + g) * 2 + 1];
                    if (ls > 0f) {
                        float ms = stMl[(r * G + g) * 2], mn = Math.max(M, ms);
                        float x = KMath.exp(M - mn), y = KMath.exp(ms - mn);
                        A = A * x + stAcc[(r * G + g) * headDim + d] * y;
                        L = L * x + ls * y;
                        M = mn;
                    }
                }
                if (splitMode != 0) {
                    int o = ((t * heads + kvh * G + g) * slots + s) * (headDim + 2);
                    partials.set(o + d, A);
                    if (d == 0) {
                        partials.set(o + headDim, M);
                        partials.set(o + headDim + 1, L);
                    }
                } else {
                    float mn = Math.max(runM[e], M);
                    float x = KMath.exp(runM[e] - mn), y = KMath.exp(M - mn);
                    runA[e] = runA[e] * x + A * y;
                    runL[e] = runL[e] * x + L * y;
                    runM[e] = mn;
                }
            }
        }
    }

    /** Whole mode: out = A / L. */
    @Unroll
    static void finish(OffHeapArray out, float[] runA, float[] runL, int qBase, int tid, int T, int G, int headDim, int E) {
        for (int e = 0; e < E; e++) {
            int i = tid + e * T;
            if (i < G * headDim) out.setFloat(qBase + i, runA[e] / runL[e]);
        }
    }
}
