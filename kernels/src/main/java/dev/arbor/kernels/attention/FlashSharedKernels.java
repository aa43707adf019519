package dev.arbor.kernels.attention;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

import static dev.arbor.kernels.attention.FlashPrefillKernels.BM;
import static dev.arbor.kernels.attention.FlashPrefillKernels.BN;
import static dev.arbor.kernels.attention.FlashPrefillKernels.THREADS;

/**
 * The cascade's shared pass ({@link FlashPrefillKernels#sharedBf16}, {@link FlashPrefillKernels#sharedHalfBf16}) with a deeper
 * K/V copy ring (issue 12, session 18 casc18; {@code -Darbor.flash.sharedRing}, {@code FlashPrefillAttention.SHARED_STAGES}):
 * {@code stages} K/V stages instead of two, so {@code stages - 1} key tiles are in flight while one is computed, and one barrier
 * a tile instead of two (the ring of {@link FlashSplitKernels}: tile i + stages - 1's copies go out after the barrier at the top
 * of tile i, into the stage tile i - 1 used). Session 18's step timelines (bench/results/run68-prof18) put the two-stage pass at
 * 3.5 µs a 64-key tile at workload 2's decode (grid (8, 32, 1), 11 tiles) and 2.2 µs at workload 1's (dim split, (2, 32, 2), 8
 * tiles). The hypothesis was that the walk waits on its copies; measured (bench/RESULTS.md "Run 69-casc18") the ring gains only
 * 37.9 → 35.6 µs at workload 2 and 15.7 → 15.5 at workload 1 at 3 stages (4 stages, one work-group an SM: no better), so the walk
 * is bound inside the SM (its per-warp mma / softmax chain), not by the copies. Kept (default on) for the small gain.
 *
 * <p>Same bits: every tile is computed by the same code ({@link FlashPrefillKernels#tile}; the dim split's
 * {@link FlashPrefillKernels#scores}, {@link FlashPrefillKernels#softmax}, {@link FlashPrefillKernels#accumulatePvHalf}) on the same
 * values in the same order; only where the copies land and when they are waited for differ. The state written is
 * {@link FlashPrefillKernels#storeState}'s ({@link FlashPrefillKernels#storeStateHalf}'s).
 * {@code mask} (a literal) 0 leaves out {@link FlashPrefillKernels#softmax}'s causal select, which never selects -inf here (every
 * shared key lies below every row's position: pMax): the same values with fewer instructions a tile ({@code -Darbor.flash.sharedLean},
 * default off until measured); 1 keeps it as the two-stage kernels do. Q is staged in the last stage (the
 * prologue fills stages 0 .. stages - 2; the last is first filled after the loop's first barrier, when every warp holds its Q
 * fragments). Shared memory {@link #sharedBytes}: 99,072 B at headDim 128 and 3 stages (two work-groups an SM), 132,096 B at 4 (one).
 */
public final class FlashSharedKernels {
    private FlashSharedKernels() {}

    /** Dynamic shared memory in bytes: {@code stages} K/V stages ({@code 2·BN·headDim·2} each, Q staged in the last), {@code stages} tiles' key row offsets. */
    public static int sharedBytes(int headDim, int stages) {
        return stages * 2 * BN * headDim * 2 + stages * BN * 4;
    }

    /** {@link FlashPrefillKernels#sharedBf16} with {@code stages} (2..4) K/V stages: the same arguments, state and bits. */
    public static void sharedStagedBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray state,
                                        IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                        int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                        @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks,
                                        @Constant int stages, @Constant int mask) {
        ctx.launchBounds(THREADS, minBlocks);
        staged(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, stages, mask, 0);
    }

    /** {@link #sharedStagedBf16} for an fp16 store ({@link FlashPrefillKernels#sharedF16}'s bits). */
    public static void sharedStagedF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray state,
                                       IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                       int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                       @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks,
                                       @Constant int stages, @Constant int mask) {
        ctx.launchBounds(THREADS, minBlocks);
        staged(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, stages, mask, 1);
    }

    /** {@link FlashPrefillKernels#sharedHalfBf16} (the dim split, grid z = 2) with {@code stages} K/V stages: the same bits. */
    public static void sharedStagedHalfBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray state,
                                            IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                            int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                            @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks,
                                            @Constant int stages, @Constant int mask) {
        ctx.launchBounds(THREADS, minBlocks);
        stagedHalf(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, stages, mask, 0);
    }

    /** {@link #sharedStagedHalfBf16} for an fp16 store. */
    public static void sharedStagedHalfF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray state,
                                           IntArray positions, IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes,
                                           int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                           @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks,
                                           @Constant int stages, @Constant int mask) {
        ctx.launchBounds(THREADS, minBlocks);
        stagedHalf(ctx, q, kCache, vCache, state, positions, groupTokens, rowTiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibi, stages, mask, 1);
    }

    /** The whole-dims body: {@link FlashPrefillKernels#sharedPass} with the ring. */
    static void staged(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, FloatArray state, IntArray positions,
                       IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes, int maxBlocksPerSeq, int numBlocks,
                       int heads, int kvHeads, int headDim, int blockSize, int alibi, int stages, int mask, int fp16) {
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
        int kvWords = BN * headDim / 2, qBase = (stages - 1) * 2 * kvWords, rb = stages * 2 * kvWords;

        int rowA = warp * 16 + (lane >> 2), rowB = rowA + 8;
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = positions.get(groupTokens.get(first + Math.min(rowA / G, nTok - 1)));
        int posB = positions.get(groupTokens.get(first + Math.min(rowB / G, nTok - 1)));
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = FlashPrefillKernels.scaleOf(headDim);

        FlashSplitKernels.rowRing(smem, rb, blockTables, table, 0, pMax, kvh, numBlocks, kvHeads, headDim, blockSize, stages, tid);
        // as in sharedPass: the index chain above may run during the kernel before's tail (an overlapping launch); q and KV after it
        ctx.gridDependencyWait();
        ctx.allowDependentLaunch();
        FlashPrefillKernels.loadQ(ctx, smem, qBase, q, groupTokens, first, 1, nTok, kvh, tid, heads, G, headDim, fp16, BM, THREADS);
        ctx.localBarrier();   // the row offsets of tiles 0 .. stages - 1 and Q in shared memory
        FlashSplitKernels.prologue(ctx, smem, kc, vc, rb, 0, nTiles, tid, headDim, kvWords, stages);
        FlashPrefillKernels.loadQFragments(ctx, smem, qBase, qf, warp, lane, headDim, BM);
        FlashPrefillKernels.initState(o, st, headDim);
        int cur = 0;   // tile it's stage (and row offset buffer)
        for (int it = 0; it < nTiles; it++) {
            ctx.cpAsyncWait(stages - 2);   // this work-item's copies of tile it landed
            ctx.localBarrier();   // every work-item's: tile it in shared memory; every warp done with tile it - 1's stage (and Q's, at it = 0)
            int nx = it + stages - 1, nxStage = cur == 0 ? stages - 1 : cur - 1;   // tile it - 1's stage: (it + stages - 1) % stages
            if (nx < nTiles) FlashPrefillKernels.loadKv(ctx, smem, nxStage * 2 * kvWords, kc, vc, rb + nxStage * BN, tid, headDim, kvWords);
            ctx.cpAsyncCommit();
            int ahead = (it + stages) * BN + tid;   // tile it + stages's row offsets into tile it's buffer (its copies went out)
            boolean fill = tid < BN && it + stages < nTiles;
            int block = fill ? FlashPrefillKernels.keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            FlashPrefillKernels.tile(ctx, smem, cur * 2 * kvWords, qf, s, kf, o, st, pf, vf, it * BN, posA, posB, slopeA, slopeB, scale, lane,
                    headDim, alibi, fp16, 1, mask);
            if (fill) smem[rb + cur * BN + tid] = FlashPrefillKernels.rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            cur = cur + 1 == stages ? 0 : cur + 1;
        }
        ctx.cpAsyncWait(0);
        int f = rowTiles.get(4 * ctx.groupIdx), n = rowTiles.get(4 * ctx.groupIdx + 1) - f;
        FlashPrefillKernels.storeState(state, o, st, groupTokens.get(f + Math.min(rowA / G, n - 1)), headA, rowA < tpb * G && rowA / G < n,
                groupTokens.get(f + Math.min(rowB / G, n - 1)), headB, rowB < tpb * G && rowB / G < n, lane, heads, headDim);
    }

    /** The dim-split body: {@link FlashPrefillKernels#sharedPassHalf} with the ring (K whole, V's half copied). */
    static void stagedHalf(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, FloatArray state, IntArray positions,
                           IntArray groupTokens, IntArray rowTiles, IntArray blockTables, FloatArray slopes, int maxBlocksPerSeq, int numBlocks,
                           int heads, int kvHeads, int headDim, int blockSize, int alibi, int stages, int mask, int fp16) {
        int[] smem = ctx.dynamicIntLocalArray();
        int[] qf = new int[headDim / 16 * 4];
        float[] s = new float[BN / 8 * 4];
        float[] o = new float[headDim / 16 * 4];
        int[] kf = new int[BN / 8 * 2];
        int[] vf = new int[4];
        int[] pf = new int[4];
        float[] st = new float[4];
        int[] va = new int[headDim / 32];

        int G = heads / kvHeads, tpb = BM / G;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int kvh = ctx.groupIdy, half = ctx.groupIdz;
        int first = rowTiles.get(4 * ctx.groupIdx), nTok = rowTiles.get(4 * ctx.groupIdx + 1) - first;
        int nTiles = rowTiles.get(4 * ctx.groupIdx + 3);
        if (nTok <= 0 || nTiles <= 0) {
            ctx.gridDependencyWait();
            return;
        }
        int table = rowTiles.get(4 * ctx.groupIdx + 2) * maxBlocksPerSeq;
        int pMax = nTiles * BN - 1;
        int kvWords = BN * headDim / 2, qBase = (stages - 1) * 2 * kvWords, rb = stages * 2 * kvWords;

        int rowA = warp * 16 + (lane >> 2), rowB = rowA + 8;
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = positions.get(groupTokens.get(first + Math.min(rowA / G, nTok - 1)));
        int posB = positions.get(groupTokens.get(first + Math.min(rowB / G, nTok - 1)));
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = FlashPrefillKernels.scaleOf(headDim);
        FlashPrefillKernels.halfVWords(va, lane, half, headDim);

        FlashSplitKernels.rowRing(smem, rb, blockTables, table, 0, pMax, kvh, numBlocks, kvHeads, headDim, blockSize, stages, tid);
        ctx.gridDependencyWait();
        ctx.allowDependentLaunch();
        FlashPrefillKernels.loadQ(ctx, smem, qBase, q, groupTokens, first, 1, nTok, kvh, tid, heads, G, headDim, fp16, BM, THREADS);
        ctx.localBarrier();
        for (int t = 0; t < stages - 1; t++) {   // FlashSplitKernels.prologue with V's half
            if (t < nTiles) FlashPrefillKernels.loadKvHalf(ctx, smem, t * 2 * kvWords, kc, vc, rb + t * BN, tid, headDim, kvWords, half);
            ctx.cpAsyncCommit();
        }
        FlashPrefillKernels.loadQFragments(ctx, smem, qBase, qf, warp, lane, headDim, BM);
        FlashPrefillKernels.initState(o, st, headDim / 2);
        int cur = 0;
        for (int it = 0; it < nTiles; it++) {
            ctx.cpAsyncWait(stages - 2);
            ctx.localBarrier();
            int nx = it + stages - 1, nxStage = cur == 0 ? stages - 1 : cur - 1;
            if (nx < nTiles) FlashPrefillKernels.loadKvHalf(ctx, smem, nxStage * 2 * kvWords, kc, vc, rb + nxStage * BN, tid, headDim, kvWords, half);
            ctx.cpAsyncCommit();
            int ahead = (it + stages) * BN + tid;
            boolean fill = tid < BN && it + stages < nTiles;
            int block = fill ? FlashPrefillKernels.keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            int kBase = cur * 2 * kvWords;
            FlashPrefillKernels.scores(ctx, smem, kBase, qf, s, kf, lane, headDim, fp16, 1);
            FlashPrefillKernels.softmax(ctx, s, o, st, it * BN, posA, posB, slopeA, slopeB, scale, lane, headDim / 2, alibi, mask);
            FlashPrefillKernels.accumulatePvHalf(ctx, smem, kBase + kvWords, va, s, o, pf, vf, headDim, fp16);
            if (fill) smem[rb + cur * BN + tid] = FlashPrefillKernels.rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            cur = cur + 1 == stages ? 0 : cur + 1;
        }
        ctx.cpAsyncWait(0);
        int f = rowTiles.get(4 * ctx.groupIdx), n = rowTiles.get(4 * ctx.groupIdx + 1) - f;
        FlashPrefillKernels.storeStateHalf(state, o, st, groupTokens.get(f + Math.min(rowA / G, n - 1)), headA, rowA < tpb * G && rowA / G < n,
                groupTokens.get(f + Math.min(rowB / G, n - 1)), headB, rowB < tpb * G && rowB / G < n, lane, heads, headDim, half);
    }
}
