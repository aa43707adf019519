package dev.arbor.kernels.attention;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Swizzle;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

import static dev.arbor.kernels.attention.FlashPrefillKernels.BN;
import static dev.arbor.kernels.attention.FlashPrefillKernels.WARP_ROWS;

/**
 * The short tiles of {@link FlashPrefillKernels} (a decode token, a chunk of at most {@link FlashPrefillKernels#WARP_ROWS}{@code / G}
 * tokens: one mma's 16 rows) walked by {@link #WARPS} warps that split each key tile's work, for steps with too few
 * (tile, kv head) walks to fill the GPU (a batch-1 decode: 32 walks on 132 SMs), where the 64-row kernel's four warps each
 * computed the same tile's 16 × 64 S and 16 × headDim O for their own (mostly padding) rows, one latency chain a warp.
 *
 * <h2>Work split, and why the bits are those of {@link FlashPrefillKernels#prefillBf16} and {@link FlashPrefillKernels#warpBf16}</h2>
 * One work-group of {@link #THREADS} per (short tile, kv head), grid (tiles, kvHeads); the tile's 16 rows are the one-warp
 * kernel's ({@code row = token·G + g}, padding rows of the last token, zero Q rows past the tile). Per key tile of {@link
 * FlashPrefillKernels#BN} keys at absolute positions:
 * <ol>
 *   <li>{@code S = Q·Kᵀ}: warp w computes key groups 2w and 2w + 1 (keys 16w .. 16w + 15) for all 16 rows, each S element the same
 *       mma chain over the k-steps in the same order as the one-warp kernel's ({@link FlashPrefillKernels#scores}: zero, then
 *       k-step 0, 1, …) with the same A fragment (all of Q) and the same B fragment (one ldmatrix.x4 of those two groups).</li>
 *   <li>The warps' S accumulators go through shared memory ({@code 16 × BN} fp32, each work-item's 32 values in the mma
 *       layout), so after a barrier every warp holds the one-warp kernel's S registers bit for bit and runs its softmax
 *       unchanged ({@link FlashPrefillKernels#softmax}: the same scale, ALiBi, mask, row max, exponentials, row sum in key
 *       order then the quad, m, l and alpha): every warp computes the same m, l and P (redundantly: 32 exponentials a work-item,
 *       as the one-warp kernel).</li>
 *   <li>{@code O = O·alpha + P·V}: warp w owns dims {@code w·headDim/4 ..} (headDim / 32 groups of 8), each O element the same
 *       chain (scaled by alpha, then one mma per 16 keys in key order) with the same P A fragment and the same V B fragment
 *       (ldmatrix.trans at the same words) as {@link FlashPrefillKernels#accumulatePv}.</li>
 * </ol>
 * Every mma, exponential and add of a row is thus the one-warp kernel's with the same operands (the mma output elements depend
 * only on their own A row and B column: run 39-bm16), and {@code out = O / l} is the same fp32 quotient: the same bits, which
 * {@code FlashSplitTest} checks on the CPU executor and {@code FlashSplitGpuTest} on the device. {@code startTiles}/{@code state}
 * continue a handoff as there ({@link FlashPrefillKernels#sharedBf16}).
 *
 * <h2>Pipeline</h2>
 * {@code stages} K/V stages (a {@code cp.async} ring): tile i + stages - 1's copies go out at the top of tile i, into the stage
 * tile i - 1 used, so {@code stages - 1} tiles are in flight while one is computed (the one-warp kernel has one stage, the
 * 64-row kernel two). Key row offsets (block-table lookups) a ring of {@code stages} tiles' BN words, filled {@code stages}
 * tiles ahead. Two barriers a tile: at the top (tile i's copies landed; every warp done with tile i - 1's stage and the S
 * exchange) and after the S stores. Shared memory {@link #sharedBytes}: 107,264 B at headDim 128 and 3 stages (two work-groups
 * an SM).
 */
public final class FlashSplitKernels {
    private FlashSplitKernels() {}

    /** Warps of a work-group: each S's key groups and O's dims split four ways (BN / 8 = 8 key groups: 2 a warp). */
    public static final int WARPS = 4;
    /** Work-items of a work-group. */
    public static final int THREADS = 32 * WARPS;

    /** Default K/V stages ({@code -Darbor.flash.splitStages=N}, 2..4): see {@link FlashPrefillAttention#SPLIT_STAGES}. */
    public static final int DEFAULT_STAGES = 3;

    /**
     * Dynamic shared memory in bytes: {@code stages} K/V stages ({@code 2·BN·headDim·2} each), Q ({@code 16·headDim·2}), the S
     * exchange ({@code 16·BN·4}), {@code stages} tiles' key row offsets ({@code BN·4} each).
     */
    public static int sharedBytes(int headDim, int stages) {
        return stages * 2 * BN * headDim * 2 + WARP_ROWS * headDim * 2 + WARP_ROWS * BN * 4 + stages * BN * 4;
    }

    /**
     * Short-tile attention, bf16 store: the arguments of {@link FlashPrefillKernels#warpBf16} (tiles: the short tiles) and the
     * K/V stages.
     *
     * @param stages K/V stages of the copy ring (2..4)
     * @param pdl    1: launched overlapping the kernel before it ({@code FlashPrefillAttention#setSplitOverlap}): lets the next launch in
     *               at once, then waits for the previous grid before reading anything; 0: neither (a plain launch)
     */
    public static void splitBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                 IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                 IntArray startTiles, FloatArray state,
                                 int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                 @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int stages, int pdl) {
        attendSplit(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq,
                numBlocks, heads, kvHeads, headDim, blockSize, alibi, stages, 0, pdl);
    }

    /** {@link #splitBf16} writing {@code out} in bf16 (o_proj's X): each fp32 {@code O / l} rounded to nearest even as stored. */
    public static void splitBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                        IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                        IntArray startTiles, FloatArray state,
                                        int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                        @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int stages, int pdl) {
        attendSplit(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq,
                numBlocks, heads, kvHeads, headDim, blockSize, alibi, stages, 0, pdl);
    }

    /** {@link #splitBf16} for an fp16 store (Q and P rounded to fp16, fp16 mma, as {@link FlashPrefillKernels#prefillF16}). */
    public static void splitF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                IntArray startTiles, FloatArray state,
                                int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int stages, int pdl) {
        attendSplit(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state, maxBlocksPerSeq,
                numBlocks, heads, kvHeads, headDim, blockSize, alibi, stages, 1, pdl);
    }

    /** The kernel body; {@code fp16} (a literal) picks the 16-bit type of Q, P and the mma. */
    static void attendSplit(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, IntArray positions,
                            IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes, IntArray startTiles, FloatArray state,
                            int maxBlocksPerSeq, int numBlocks, int heads, int kvHeads, int headDim, int blockSize, int alibi, int stages,
                            int fp16, int pdl) {
        if (pdl != 0) {   // launched overlapping the kernel before (FlashPrefillAttention#setSplitOverlap): let the next in, then wait
            ctx.allowDependentLaunch();   // o_proj may start streaming its weights; it waits for this grid before reading out
            ctx.gridDependencyWait();     // q and the K/V rows are the previous grids' output
        }
        int[] smem = ctx.dynamicIntLocalArray();
        int[] qf = new int[headDim / 16 * 4];          // Q A-fragments (all 16 rows, every k-step)
        float[] sw = new float[8];                     // this warp's S accumulators: key groups 2w, 2w + 1
        float[] s = new float[BN / 8 * 4];             // the whole tile's S (then P), the one-warp kernel's layout
        float[] o = new float[headDim / 8 / WARPS * 4]; // O accumulators of this warp's dims: group j at 4j
        int[] kf = new int[4];
        int[] vf = new int[4];
        int[] pf = new int[4];
        float[] st = new float[4];                     // m (rows g, g+8), l (rows g, g+8)

        int G = heads / kvHeads, tpb = WARP_ROWS / G;
        int tid = ctx.localIdx, lane = tid & 31, warp = tid >> 5;
        int kvh = ctx.groupIdy;
        int tFirst = tiles.get(2 * ctx.groupIdx), tEnd = tiles.get(2 * ctx.groupIdx + 1);
        int nTok = tEnd - tFirst;
        if (nTok <= 0) return;   // an empty tile (planBelow's placeholder): the whole work-group, before any barrier
        int seq = seqOfToken.get(tFirst), p0 = positions.get(tFirst);
        int pMax = p0 + nTok - 1;
        int table = seq * maxBlocksPerSeq;
        int kvWords = BN * headDim / 2;
        int qBase = stages * 2 * kvWords, sBase = qBase + WARP_ROWS * headDim / 2, rb = sBase + WARP_ROWS * BN;
        int it0 = startTiles.get(tFirst);

        int rowA = lane >> 2, rowB = rowA + 8;
        int tokA = Math.min(rowA / G, nTok - 1), tokB = Math.min(rowB / G, nTok - 1);
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = p0 + tokA, posB = p0 + tokB;
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = FlashPrefillKernels.scaleOf(headDim);
        int dimGroups = headDim / 8 / WARPS, d0 = warp * dimGroups * 8;   // this warp's O dims: d0 .. d0 + headDim / 4

        int nTiles = pMax / BN + 1;
        rowRing(smem, rb, blockTables, table, it0, pMax, kvh, numBlocks, kvHeads, headDim, blockSize, stages, tid);
        FlashPrefillKernels.loadQ(ctx, smem, qBase, q, tiles, tFirst, 0, nTok, kvh, tid, heads, G, headDim, fp16, WARP_ROWS, THREADS);
        ctx.localBarrier();   // the row offsets of tiles it0 .. it0 + stages - 1 and Q in shared memory
        prologue(ctx, smem, kc, vc, rb, it0, nTiles, tid, headDim, kvWords, stages);
        FlashPrefillKernels.loadQFragments(ctx, smem, qBase, qf, 0, lane, headDim, WARP_ROWS);
        if (it0 > 0) loadStateDims(state, o, st, tFirst + tokA, headA, tFirst + tokB, headB, lane, heads, headDim, d0, dimGroups);
        else FlashPrefillKernels.initState(o, st, headDim / WARPS);
        int cur = it0 % stages;   // tile it's stage (and row offset buffer)
        for (int it = it0; it < nTiles; it++) {
            ctx.cpAsyncWait(stages - 2);   // this work-item's copies of tile it landed (stages - 2 newer groups may be in flight)
            ctx.localBarrier();   // every work-item's: tile it in shared memory; every warp done with tile it - 1 (its stage, the S exchange)
            int nx = it + stages - 1, nxStage = cur == 0 ? stages - 1 : cur - 1;   // tile it - 1's stage: (it + stages - 1) % stages
            if (nx < nTiles) FlashPrefillKernels.loadKv(ctx, smem, nxStage * 2 * kvWords, kc, vc, rb + nxStage * BN, tid, headDim, kvWords);
            ctx.cpAsyncCommit();
            int ahead = (it + stages) * BN + tid;   // tile it + stages's row offsets into tile it's buffer (its copies went out)
            boolean fill = tid < BN && it + stages < nTiles;
            int block = fill ? FlashPrefillKernels.keyBlock(blockTables, table, ahead, pMax, blockSize) : -1;
            int kBase = cur * 2 * kvWords;
            warpScores(ctx, smem, kBase, qf, sw, kf, lane, warp, headDim, fp16);
            exchange(ctx, smem, sBase, sw, lane, warp);
            ctx.localBarrier();   // every warp's S in shared memory
            gather(ctx, smem, sBase, s, lane);
            // the one-warp kernel's softmax on its S, O scaling over this warp's headDim / WARPS dims only
            FlashPrefillKernels.softmax(ctx, s, o, st, it * BN, posA, posB, slopeA, slopeB, scale, lane, headDim / WARPS, alibi, 1);
            warpPv(ctx, smem, kBase + kvWords, s, o, pf, vf, lane, warp, headDim, fp16);
            if (fill) smem[rb + cur * BN + tid] = FlashPrefillKernels.rowOf(block, ahead, kvh, numBlocks, kvHeads, headDim, blockSize);
            cur = cur + 1 == stages ? 0 : cur + 1;
        }
        ctx.cpAsyncWait(0);
        boolean validA = rowA < tpb * G && rowA / G < nTok, validB = rowB < tpb * G && rowB / G < nTok;
        storeDims(out, o, st, tFirst + tokA, headA, validA, tFirst + tokB, headB, validB, lane, heads, headDim, d0, dimGroups);
    }

    /** Key row offsets ({@link FlashPrefillKernels#keyRow}) of tiles it0 .. it0 + stages - 1 into their ring buffers (tile i's at {@code rb + (i % stages)·BN}). */
    @Unroll
    static void rowRing(int[] smem, int rb, IntArray blockTables, int table, int it0, int pMax, int kvh, int numBlocks, int kvHeads,
                        int headDim, int blockSize, int stages, int tid) {
        int[] r = new int[4];
        int key = tid & (BN - 1), half = tid / BN;   // 128 work-items: tiles it0 + half, it0 + half + 2
        for (int t = 0; t < (stages + 1) / 2; t++) {
            int i = it0 + half + 2 * t;
            r[t] = half + 2 * t < stages ? FlashPrefillKernels.keyRow(blockTables, table, i * BN + key, pMax, kvh, numBlocks, kvHeads, headDim, blockSize) : -1;
        }
        for (int t = 0; t < (stages + 1) / 2; t++) {
            int i = it0 + half + 2 * t;
            if (half + 2 * t < stages) smem[rb + (i % stages) * BN + key] = r[t];
        }
    }

    /** The copies of tiles it0 .. it0 + stages - 2 (those below nTiles), one cp.async group each (committed even when empty). */
    @Unroll
    static void prologue(KernelContext ctx, int[] smem, OffHeapArray kc, OffHeapArray vc, int rb, int it0, int nTiles, int tid, int headDim,
                         int kvWords, int stages) {
        for (int t = 0; t < stages - 1; t++) {
            int i = it0 + t, stage = i % stages;
            if (i < nTiles) FlashPrefillKernels.loadKv(ctx, smem, stage * 2 * kvWords, kc, vc, rb + stage * BN, tid, headDim, kvWords);
            ctx.cpAsyncCommit();
        }
    }

    /**
     * S of the warp's key groups 2w, 2w + 1 (keys 16w .. 16w + 15) for the 16 rows: {@link FlashPrefillKernels#scores} restricted to
     * them (zeroed, then k-step after k-step; the B fragments of both groups from one ldmatrix.x4 at the words scores computes).
     */
    @Unroll
    static void warpScores(KernelContext ctx, int[] smem, int kBase, int[] qf, float[] sw, int[] kf, int lane, int warp, int headDim, int fp16) {
        for (int i = 0; i < 8; i++) sw[i] = 0f;
        int j = 2 * warp;
        int row = (j + (lane >> 4)) * 8 + (lane & 7);
        for (int ks = 0; ks < headDim / 16; ks++) {
            int c = ks * 2 + ((lane >> 3) & 1);
            ctx.ldmatrixX4(kf, 0, smem, kBase + (c >> 3) * (BN * 32) + Swizzle.rowChunk128(row, c & 7));
            if (fp16 != 0) {
                ctx.mmaFp16(sw, 0, qf, ks * 4, kf, 0);
                ctx.mmaFp16(sw, 4, qf, ks * 4, kf, 2);
            } else {
                ctx.mmaBf16(sw, 0, qf, ks * 4, kf, 0);
                ctx.mmaBf16(sw, 4, qf, ks * 4, kf, 2);
            }
        }
    }

    /** The warp's S (groups 2w, 2w + 1) into the exchange: element i of a work-item's S at word {@code sBase + (i / 4)·128 + lane·4 + i % 4}. */
    @Unroll
    static void exchange(KernelContext ctx, int[] smem, int sBase, float[] sw, int lane, int warp) {
        int[] bits = new int[8];
        for (int i = 0; i < 8; i++) bits[i] = Float.floatToRawIntBits(sw[i]);
        ctx.storeShared128(smem, sBase + (2 * warp) * 128 + lane * 4, bits, 0);
        ctx.storeShared128(smem, sBase + (2 * warp + 1) * 128 + lane * 4, bits, 4);
    }

    /** The work-item's 32 S values of the whole tile from the exchange (the one-warp kernel's registers, bit for bit). */
    @Unroll
    static void gather(KernelContext ctx, int[] smem, int sBase, float[] s, int lane) {
        int[] bits = new int[BN / 8 * 4];
        for (int j = 0; j < BN / 8; j++) ctx.loadShared128(bits, j * 4, smem, sBase + j * 128 + lane * 4);
        for (int i = 0; i < BN / 8 * 4; i++) s[i] = Float.intBitsToFloat(bits[i]);
    }

    /**
     * O += P·V for the warp's dims: {@link FlashPrefillKernels#accumulatePv} with dim pairs {@code dp} of the warp's
     * (headDim / 64 of them from {@code w·headDim / 64}), the same P A fragments and V words, 16 keys after 16 keys.
     */
    @Unroll
    static void warpPv(KernelContext ctx, int[] smem, int vBase, float[] s, float[] o, int[] pf, int[] vf, int lane, int warp, int headDim,
                       int fp16) {
        int pairs = headDim / 16 / WARPS;
        for (int kk = 0; kk < BN / 16; kk++) {
            int a = 2 * kk * 4, b = (2 * kk + 1) * 4;
            pf[0] = FlashPrefillKernels.pack(s[a], s[a + 1], fp16);
            pf[1] = FlashPrefillKernels.pack(s[a + 2], s[a + 3], fp16);
            pf[2] = FlashPrefillKernels.pack(s[b], s[b + 1], fp16);
            pf[3] = FlashPrefillKernels.pack(s[b + 2], s[b + 3], fp16);
            for (int p = 0; p < pairs; p++) {
                int dp = warp * pairs + p;
                int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, c = dp * 2 + (lane >> 4);
                ctx.ldmatrixX4Trans(vf, 0, smem, vBase + (c >> 3) * (BN * 32) + Swizzle.rowChunk128(key, c & 7));
                if (fp16 != 0) {
                    ctx.mmaFp16(o, 2 * p * 4, pf, 0, vf, 0);
                    ctx.mmaFp16(o, (2 * p + 1) * 4, pf, 0, vf, 2);
                } else {
                    ctx.mmaBf16(o, 2 * p * 4, pf, 0, vf, 0);
                    ctx.mmaBf16(o, (2 * p + 1) * 4, pf, 0, vf, 2);
                }
            }
        }
    }

    /** {@link FlashPrefillKernels#loadState} for the warp's dims {@code d0 ..} ({@code groups} groups of 8). */
    @Unroll
    static void loadStateDims(FloatArray state, float[] o, float[] st, int tokA, int headA, int tokB, int headB, int lane, int heads,
                              int headDim, int d0, int groups) {
        int t2 = 2 * (lane & 3), stride = FlashPrefillKernels.stateStride(headDim);
        int baseA = (tokA * heads + headA) * stride + d0, baseB = (tokB * heads + headB) * stride + d0;
        for (int j = 0; j < groups; j++) {
            o[j * 4] = state.get(baseA + j * 8 + t2);
            o[j * 4 + 1] = state.get(baseA + j * 8 + t2 + 1);
            o[j * 4 + 2] = state.get(baseB + j * 8 + t2);
            o[j * 4 + 3] = state.get(baseB + j * 8 + t2 + 1);
        }
        st[0] = state.get(baseA - d0 + headDim);
        st[1] = state.get(baseB - d0 + headDim);
        st[2] = state.get(baseA - d0 + headDim + 1);
        st[3] = state.get(baseB - d0 + headDim + 1);
    }

    /** out = O / l for the work-item's valid rows and the warp's dims {@code d0 + 8j + 2t, + 1} ({@link FlashPrefillKernels#store}'s quotients). */
    @Unroll
    static void storeDims(OffHeapArray out, float[] o, float[] st, int tokA, int headA, boolean validA, int tokB, int headB, boolean validB,
                          int lane, int heads, int headDim, int d0, int groups) {
        int t2 = 2 * (lane & 3);
        int baseA = (tokA * heads + headA) * headDim + d0 + t2, baseB = (tokB * heads + headB) * headDim + d0 + t2;
        for (int j = 0; j < groups; j++) {
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
