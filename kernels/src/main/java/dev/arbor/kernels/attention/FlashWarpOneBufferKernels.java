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
import static dev.arbor.kernels.attention.FlashPrefillKernels.WARP_THREADS;
import static dev.arbor.kernels.attention.FlashPrefillKernels.accumulatePv;
import static dev.arbor.kernels.attention.FlashPrefillKernels.copyWords;
import static dev.arbor.kernels.attention.FlashPrefillKernels.initState;
import static dev.arbor.kernels.attention.FlashPrefillKernels.keyBlock;
import static dev.arbor.kernels.attention.FlashPrefillKernels.keyRow;
import static dev.arbor.kernels.attention.FlashPrefillKernels.loadQ;
import static dev.arbor.kernels.attention.FlashPrefillKernels.loadQFragments;
import static dev.arbor.kernels.attention.FlashPrefillKernels.loadState;
import static dev.arbor.kernels.attention.FlashPrefillKernels.loadTile;
import static dev.arbor.kernels.attention.FlashPrefillKernels.rowOf;
import static dev.arbor.kernels.attention.FlashPrefillKernels.scaleOf;
import static dev.arbor.kernels.attention.FlashPrefillKernels.scores;
import static dev.arbor.kernels.attention.FlashPrefillKernels.softmax;
import static dev.arbor.kernels.attention.FlashPrefillKernels.stageO;
import static dev.arbor.kernels.attention.FlashPrefillKernels.storeRow;

/**
 * The one-warp short-tile kernels of {@link FlashPrefillKernels} ({@link FlashPrefillKernels#warpBf16}: a decode's per-sequence pass,
 * one warp per (tile, kv head)) with <b>one</b> K/V buffer: tile i's K, then, once its S is computed, tile i's V into the same
 * {@code BN × headDim} buffer (the copy in flight during the softmax), then tile i+1's K once P·V has read V. Q is staged in that
 * buffer too (read into registers before the first K copy) and O / l staged there at the end. With {@code halves} 1 (a literal;
 * {@code -Darbor.flash.warpOneBufferHalves}, default true) by key halves: keys 0..31's V replaces their K once their S is done while
 * keys 32..63's K may still land, and so on (two copies in flight where whole tiles have one). With {@code halves} 2 (the half
 * ring, {@code -Darbor.flash.warpHalfRing}, default off; session 21 walk21): three half-tile regions in a ring, so a tile's K lo, K hi
 * and V lo are in flight together at its top (three copies where key halves have two, V lo no longer waiting for S lo), V hi
 * replaces K lo once S lo is done, the next tile's K lo replaces K hi once S hi is done (not after P·V), its K hi V lo once P·V lo is
 * done, its V lo V hi once P·V hi is done: 24.5 KiB a walk at headDim 128, still 8 walks an SM (by registers). Switch
 * {@code -Darbor.flash.warpOneBuffer} ({@link FlashPrefillAttention#WARP_ONE_BUFFER}, default off).
 *
 * <p>Why (issues 11, 12; bench/RESULTS.md "Run 69-attn18"): the one-warp pass is a latency chain a walk (~4.4 µs a 64-key tile
 * whatever its bytes: K wait, S, V wait, P·V), and an SM holds only 6 walks, by shared memory ({@link FlashPrefillKernels#warpSharedBytes}:
 * Q + K + V = 36.5 KiB at headDim 128; its 214 registers would allow 9). Here a walk needs {@link #sharedBytes} = 16.5 KiB at headDim
 * 128, so registers bound it: ptxas gives it 226 registers at 32/32 × 128 (230 GQA, 254 ALiBi), two one-warp work-groups a
 * sub-partition (16,384 registers each), 8 an SM; {@code minBlocks} 12 (launch bounds) caps it at 168 registers (three a sub-partition,
 * 12 an SM) with ~232 bytes spilled. The cost: a longer chain a tile (V's copy waits for S instead of riding with K's; tile i+1's K for
 * P·V instead of overlapping it), which the key halves shorten.
 *
 * <p>Bits: the body ({@link #attendWarpOneBuffer}) is {@code FlashPrefillKernels.attendWarp}'s with only the shared-memory places and
 * the copies' order changed: the same per-tile helpers ({@code scores}, {@code softmax}, {@code accumulatePv}, laneWords 1, the
 * causal select on; by halves {@link #scoresKeys} and {@link #accumulatePvKeys}: the same mma on the same fragments, each S element's
 * k-steps and O's 16-key steps in the same order) on the same key tiles from the same start tile in the same order, the same state load and store code: every output
 * is the one-warp kernel's bit for bit, hence the 64-row and split kernels' (FlashWarpOneBufferTest on the CPU executor,
 * FlashWarpOneBufferGpuTest on the H200).
 */
public final class FlashWarpOneBufferKernels {
    private FlashWarpOneBufferKernels() {}

    /** Words between the two 64-byte column halves of a half-tile region (the half ring): {@code BN / 2} rows of 32 words. */
    static final int HALF_COLUMN = BN / 2 * 32;

    /**
     * {@code FlashPrefillKernels.copyWords} for a half-tile region (the half ring): the work-item's chunk {@code c} of region rows
     * {@code i·rps + rl} at word {@code sw[i % (8 / rps)] + (i / (8 / rps))·256}, the column halves {@link #HALF_COLUMN} apart.
     */
    @Unroll
    static void copyWordsHalf(int[] sw, int rl, int c, int headDim) {
        int rps = WARP_THREADS / (headDim / 8);
        for (int k = 0; k < 8 / rps; k++) sw[k] = (c >> 3) * HALF_COLUMN + Swizzle.rowChunk128(k * rps + rl, c & 7);
    }

    /** Dynamic shared memory of one work-group in bytes: one K/V buffer ({@code BN × headDim} 16-bit values) and two tiles' key row offsets. */
    public static int sharedBytes(int headDim) {
        return sharedBytes(headDim, 0);
    }

    /**
     * Dynamic shared memory of one work-group in bytes for {@code halves} 0 / 1 (one {@code BN × headDim} K/V buffer) or 2 (the
     * half ring: three half-tile regions of {@code BN / 2 × headDim}), plus two tiles' key row offsets: 16.5 KiB / 24.5 KiB at headDim 128.
     */
    public static int sharedBytes(int headDim, int halves) {
        int kv = halves == 2 ? 3 * (BN / 2) * headDim * 2 : BN * headDim * 2;
        return kv + 2 * BN * 4;
    }

    /** {@link FlashPrefillKernels#warpBf16} with one K/V buffer (same arguments plus the launch bounds {@code minBlocks}, 0: none). */
    public static void warpOneBufferBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                         IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                         IntArray startTiles, FloatArray state,
                                         int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                         @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks,
                                         @Constant int halves) {
        ctx.launchBounds(WARP_THREADS, minBlocks);
        attendWarpOneBuffer(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state,
                maxBlocksPerSeq, numBlocks, heads, kvHeads, headDim, blockSize, alibi, 0, 0, halves);
    }

    /** {@link FlashPrefillKernels#warpBf16OutBf16} with one K/V buffer. */
    public static void warpOneBufferBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                                IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                                IntArray startTiles, FloatArray state,
                                                int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                                @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks,
                                         @Constant int halves) {
        ctx.launchBounds(WARP_THREADS, minBlocks);
        attendWarpOneBuffer(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state,
                maxBlocksPerSeq, numBlocks, heads, kvHeads, headDim, blockSize, alibi, 0, 1, halves);
    }

    /** {@link FlashPrefillKernels#warpF16} with one K/V buffer. */
    public static void warpOneBufferF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                        IntArray positions, IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes,
                                        IntArray startTiles, FloatArray state,
                                        int maxBlocksPerSeq, int numBlocks, @Constant int heads, @Constant int kvHeads,
                                        @Constant int headDim, @Constant int blockSize, @Constant int alibi, @Constant int minBlocks,
                                         @Constant int halves) {
        ctx.launchBounds(WARP_THREADS, minBlocks);
        attendWarpOneBuffer(ctx, q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, startTiles, state,
                maxBlocksPerSeq, numBlocks, heads, kvHeads, headDim, blockSize, alibi, 1, 0, halves);
    }

    /**
     * {@code FlashPrefillKernels.attendWarp} with one K/V buffer at word 0 (Q staged there first, O / l at the end) and the key row
     * offsets after it. Whole tiles ({@code halves} 0): one cp.async group in flight at a time, K(it) from the walk's start or the end of
     * tile it - 1's P·V to the top of tile it, V(it) from the end of tile it's S (every lane's K reads done) to just before its P·V.
     * Key halves ({@code halves} 1): the same per half (rows 0..31, 32..63 of the buffer), two groups in flight: K lo, K hi at the top of
     * a tile; K hi, V lo after S lo; V lo, V hi after S hi; V hi, next K lo after P·V lo; next K lo, next K hi after P·V hi. Every
     * copy into a half is issued after a barrier behind that half's last reads; every read after a wait and a barrier behind its copy.
     */
    static void attendWarpOneBuffer(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, IntArray positions,
                                    IntArray seqOfToken, IntArray tiles, IntArray blockTables, FloatArray slopes, IntArray startTiles, FloatArray state,
                                    int maxBlocksPerSeq, int numBlocks, int heads, int kvHeads, int headDim, int blockSize, int alibi, int fp16, int bf16Out,
                                    int halves) {
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
        if (nTok <= 0) {   // an empty tile (planBelow's placeholder); waits as every path does (the handoff overlap)
            ctx.gridDependencyWait();
            return;
        }
        int seq = seqOfToken.get(tFirst), p0 = positions.get(tFirst);
        int pMax = p0 + nTok - 1;
        int table = seq * maxBlocksPerSeq;
        int kvWords = BN * headDim / 2, regW = kvWords / 2;   // a tile's words, a half-tile region's (the half ring)
        int buf = 0, rb = halves == 2 ? 3 * regW : kvWords;   // the K/V buffer or ring (Q before the walk, O / l after it), two tiles' key row offsets
        int it0 = startTiles.get(tFirst);

        int rowA = lane >> 2, rowB = rowA + 8;
        int tokA = Math.min(rowA / G, nTok - 1), tokB = Math.min(rowB / G, nTok - 1);
        int headA = kvh * G + rowA % G, headB = kvh * G + rowB % G;
        int posA = p0 + tokA, posB = p0 + tokB;
        float slopeA = alibi != 0 ? slopes.get(headA) : 0f, slopeB = alibi != 0 ? slopes.get(headB) : 0f;
        float scale = scaleOf(headDim);

        // key row offsets a tile ahead in attendWarp's layout (tile i's in buffer i & 1)
        int nTiles = pMax / BN + 1;
        int cpr = headDim / 8, rps = WARP_THREADS / cpr, perLane = BN / rps;
        int rl = lane / cpr, c = lane - rl * cpr;
        int[] sw = new int[8];
        if (halves == 2) copyWordsHalf(sw, rl, c, headDim);
        else copyWords(sw, rl, c, headDim);
        int slot = (lane % rps) * perLane + lane / rps;
        int mine = rl * perLane;
        int r0 = rb + (it0 & 1) * BN, r1 = rb + ((it0 + 1) & 1) * BN;
        smem[r0 + slot] = keyRow(blockTables, table, it0 * BN + lane, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        smem[r0 + slot + 32 / rps] = keyRow(blockTables, table, it0 * BN + lane + 32, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        smem[r1 + slot] = keyRow(blockTables, table, (it0 + 1) * BN + lane, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        smem[r1 + slot + 32 / rps] = keyRow(blockTables, table, (it0 + 1) * BN + lane + 32, pMax, kvh, numBlocks, kvHeads, headDim, blockSize);
        loadQ(ctx, smem, buf, q, tiles, tFirst, 0, nTok, kvh, lane, heads, G, headDim, fp16, WARP_ROWS, WARP_THREADS);
        ctx.localBarrier();   // Q staged, the first tiles' row offsets written
        loadQFragments(ctx, smem, buf, qf, 0, lane, headDim, WARP_ROWS);
        ctx.localBarrier();   // every lane's Q reads done: K of the first tile may overwrite the buffer
        if (halves == 0) {
            loadTile(ctx, smem, buf, kc, r0 + mine, sw, 8 * c, headDim);
            ctx.cpAsyncCommit();
        } else if (halves == 1) {
            loadTileHalf(ctx, smem, buf, kc, r0 + mine, sw, 8 * c, headDim, 0, 0);
            ctx.cpAsyncCommit();
            loadTileHalf(ctx, smem, buf, kc, r0 + mine, sw, 8 * c, headDim, 1, 0);
            ctx.cpAsyncCommit();
        } else {   // the half ring: K lo, K hi, V lo of the first tile in regions 0, 1, 2
            loadTileHalf(ctx, smem, buf, kc, r0 + mine, sw, 8 * c, headDim, 0, 1);
            ctx.cpAsyncCommit();
            loadTileHalf(ctx, smem, buf + regW, kc, r0 + mine, sw, 8 * c, headDim, 1, 1);
            ctx.cpAsyncCommit();
            loadTileHalf(ctx, smem, buf + 2 * regW, vc, r0 + mine, sw, 8 * c, headDim, 0, 1);
            ctx.cpAsyncCommit();
        }
        // the handoff overlap as in attendWarp: the above (indices, key rows, Q, the first K copies) may run during the shared pass
        ctx.gridDependencyWait();
        if (it0 > 0) loadState(state, o, st, tFirst + tokA, headA, tFirst + tokB, headB, lane, heads, headDim);
        else initState(o, st, headDim);
        for (int it = it0; it < nTiles; it++) {
            int here = rb + (it & 1) * BN + mine;
            int aheadA = (it + 2) * BN + lane, aheadB = aheadA + 32;
            boolean fill = it + 2 < nTiles;
            if (halves == 0) {
                ctx.cpAsyncWait(0);
                ctx.localBarrier();   // K of tile it landed
                int blockA = fill ? keyBlock(blockTables, table, aheadA, pMax, blockSize) : -1;
                int blockB = fill ? keyBlock(blockTables, table, aheadB, pMax, blockSize) : -1;
                scores(ctx, smem, buf, qf, s, kf, lane, headDim, fp16, 1);
                ctx.localBarrier();   // every lane's K reads done: V of tile it into the same buffer, during the softmax
                loadTile(ctx, smem, buf, vc, here, sw, 8 * c, headDim);
                ctx.cpAsyncCommit();
                softmax(ctx, s, o, st, it * BN, posA, posB, slopeA, slopeB, scale, lane, headDim, alibi, 1);
                ctx.cpAsyncWait(0);
                ctx.localBarrier();   // V of tile it landed
                accumulatePv(ctx, smem, buf, s, o, pf, vf, lane, headDim, fp16, 1);
                if (fill) {   // row buffer it & 1: its last reader, V(it)'s copies, was issued before the barrier above
                    smem[rb + (it & 1) * BN + slot] = rowOf(blockA, aheadA, kvh, numBlocks, kvHeads, headDim, blockSize);
                    smem[rb + (it & 1) * BN + slot + 32 / rps] = rowOf(blockB, aheadB, kvh, numBlocks, kvHeads, headDim, blockSize);
                }
                ctx.localBarrier();   // every lane's V reads done: K of tile it + 1 into the buffer
                if (it + 1 < nTiles) loadTile(ctx, smem, buf, kc, rb + ((it + 1) & 1) * BN + mine, sw, 8 * c, headDim);
                ctx.cpAsyncCommit();
            } else if (halves == 2) {
                // the half ring: regions kLo, kHi, vLo (m, m + 1, m + 2 of three, m = tiles walked mod 3) hold K lo(it), K hi(it),
                // V lo(it), the three groups in flight at the top; V hi(it) goes to kLo, K lo(it + 1) to kHi, K hi(it + 1) to vLo,
                // V lo(it + 1) to kLo, so the next tile finds its K lo, K hi, V lo in regions m + 1, m + 2, m + 3
                int m = (it - it0) % 3;
                int kLo = buf + m * regW, kHi = buf + ((m + 1) % 3) * regW, vLo = buf + ((m + 2) % 3) * regW;
                int nextRows = rb + ((it + 1) & 1) * BN + mine;
                boolean more = it + 1 < nTiles;
                ctx.cpAsyncWait(2);
                ctx.localBarrier();   // K lo(it) landed
                int blockA = fill ? keyBlock(blockTables, table, aheadA, pMax, blockSize) : -1;
                int blockB = fill ? keyBlock(blockTables, table, aheadB, pMax, blockSize) : -1;
                scoresKeys(ctx, smem, kLo, qf, s, kf, lane, headDim, fp16, 0, 1);
                ctx.localBarrier();   // every lane's K lo reads done: V hi(it) into its region
                loadTileHalf(ctx, smem, kLo, vc, here, sw, 8 * c, headDim, 1, 1);
                ctx.cpAsyncCommit();
                ctx.cpAsyncWait(2);
                ctx.localBarrier();   // K hi(it) landed
                scoresKeys(ctx, smem, kHi, qf, s, kf, lane, headDim, fp16, 1, 1);
                ctx.localBarrier();   // every lane's K hi reads done: K lo(it + 1) into its region, during the softmax and P·V
                if (more) loadTileHalf(ctx, smem, kHi, kc, nextRows, sw, 8 * c, headDim, 0, 1);
                ctx.cpAsyncCommit();
                softmax(ctx, s, o, st, it * BN, posA, posB, slopeA, slopeB, scale, lane, headDim, alibi, 1);
                ctx.cpAsyncWait(2);
                ctx.localBarrier();   // V lo(it) landed
                accumulatePvKeys(ctx, smem, vLo, s, o, pf, vf, lane, headDim, fp16, 0, 1);
                ctx.localBarrier();   // every lane's V lo reads done: K hi(it + 1) into its region
                if (more) loadTileHalf(ctx, smem, vLo, kc, nextRows, sw, 8 * c, headDim, 1, 1);
                ctx.cpAsyncCommit();
                ctx.cpAsyncWait(2);
                ctx.localBarrier();   // V hi(it) landed
                accumulatePvKeys(ctx, smem, kLo, s, o, pf, vf, lane, headDim, fp16, 1, 1);
                if (fill) {   // row buffer it & 1: its last reader, V hi(it)'s copies, was issued before the barriers above
                    smem[rb + (it & 1) * BN + slot] = rowOf(blockA, aheadA, kvh, numBlocks, kvHeads, headDim, blockSize);
                    smem[rb + (it & 1) * BN + slot + 32 / rps] = rowOf(blockB, aheadB, kvh, numBlocks, kvHeads, headDim, blockSize);
                }
                ctx.localBarrier();   // every lane's V hi reads done: V lo(it + 1) into its region
                if (more) loadTileHalf(ctx, smem, kLo, vc, nextRows, sw, 8 * c, headDim, 0, 1);
                ctx.cpAsyncCommit();
            } else {
                // by key halves (keys 0..31 at rows 0..31 of the buffer, 32..63 at 32..63): groups in flight at the top, K lo(it), K hi(it);
                // each half's V replaces its K once that half's S is done, each half of the next K its V once that half's P·V is done
                ctx.cpAsyncWait(1);
                ctx.localBarrier();   // K of keys 0..31 landed
                int blockA = fill ? keyBlock(blockTables, table, aheadA, pMax, blockSize) : -1;
                int blockB = fill ? keyBlock(blockTables, table, aheadB, pMax, blockSize) : -1;
                scoresKeys(ctx, smem, buf, qf, s, kf, lane, headDim, fp16, 0, 0);
                ctx.localBarrier();
                loadTileHalf(ctx, smem, buf, vc, here, sw, 8 * c, headDim, 0, 0);
                ctx.cpAsyncCommit();
                ctx.cpAsyncWait(1);
                ctx.localBarrier();   // K of keys 32..63 landed
                scoresKeys(ctx, smem, buf, qf, s, kf, lane, headDim, fp16, 1, 0);
                ctx.localBarrier();
                loadTileHalf(ctx, smem, buf, vc, here, sw, 8 * c, headDim, 1, 0);
                ctx.cpAsyncCommit();
                softmax(ctx, s, o, st, it * BN, posA, posB, slopeA, slopeB, scale, lane, headDim, alibi, 1);
                ctx.cpAsyncWait(1);
                ctx.localBarrier();   // V of keys 0..31 landed
                accumulatePvKeys(ctx, smem, buf, s, o, pf, vf, lane, headDim, fp16, 0, 0);
                ctx.localBarrier();
                if (it + 1 < nTiles) loadTileHalf(ctx, smem, buf, kc, rb + ((it + 1) & 1) * BN + mine, sw, 8 * c, headDim, 0, 0);
                ctx.cpAsyncCommit();
                ctx.cpAsyncWait(1);
                ctx.localBarrier();   // V of keys 32..63 landed
                accumulatePvKeys(ctx, smem, buf, s, o, pf, vf, lane, headDim, fp16, 1, 0);
                if (fill) {   // row buffer it & 1: its last reader, V hi(it)'s copies, was issued before the barriers above
                    smem[rb + (it & 1) * BN + slot] = rowOf(blockA, aheadA, kvh, numBlocks, kvHeads, headDim, blockSize);
                    smem[rb + (it & 1) * BN + slot + 32 / rps] = rowOf(blockB, aheadB, kvh, numBlocks, kvHeads, headDim, blockSize);
                }
                ctx.localBarrier();
                if (it + 1 < nTiles) loadTileHalf(ctx, smem, buf, kc, rb + ((it + 1) & 1) * BN + mine, sw, 8 * c, headDim, 1, 0);
                ctx.cpAsyncCommit();
            }
        }
        ctx.cpAsyncWait(0);
        ctx.localBarrier();   // every copy landed and every read of the buffer done
        stageO(ctx, smem, o, st, lane, headDim);
        ctx.localBarrier();
        int lanesPerRow = headDim / 4, rows = Math.min(tpb, nTok) * G;
        int d = (lane % lanesPerRow) * 4;
        for (int r = lane / lanesPerRow; r < rows; r += WARP_THREADS / lanesPerRow)
            storeRow(ctx, smem, out, r, d, ((tFirst + r / G) * heads + kvh * G + r % G) * headDim + d, headDim, bf16Out);
    }

    /**
     * {@code FlashPrefillKernels.loadTile} for the keys of half {@code h} of the tile (rows {@code 32h .. 32h + 31}): the work-item's
     * rows {@code i·rps + rl} with i in {@code [h·BN/rps/2, (h+1)·BN/rps/2)}, the same chunks to the same words. With {@code compact}
     * 1 (the half ring; {@code sw} from {@link #copyWordsHalf}) to a half-tile region at {@code base} instead: key {@code 32h + r} at
     * row r of the region (its two 64-byte column halves {@link #HALF_COLUMN} words apart).
     */
    @Unroll
    static void loadTileHalf(KernelContext ctx, int[] smem, int base, OffHeapArray src, int rows, int[] sw, int c8, int headDim, int h,
                             int compact) {
        int rps = WARP_THREADS / (headDim / 8), per = 8 / rps, n = BN / rps / 2;
        int[] offs = new int[BN / 4];
        for (int i = 0; i < n; i += 4) ctx.loadShared128(offs, i, smem, rows + h * n + i);
        for (int i = 0; i < n; i++) {
            int at0 = offs[i], ii = compact != 0 ? i : h * n + i;
            boolean valid = at0 >= 0;
            ctx.cpAsync16(smem, base + sw[ii % per] + (ii / per) * 256, src, valid ? at0 + c8 : 0, valid);
        }
    }

    /**
     * {@code FlashPrefillKernels.scores} (laneWords 1) for the keys of half {@code h} alone: the S accumulators of key groups
     * {@code 4h .. 4h + 3} zeroed, then the same k-steps in the same order into each (an mma's n-block is its own accumulation: the
     * same values as the whole tile's S).
     */
    @Unroll
    static void scoresKeys(KernelContext ctx, int[] smem, int kBase, int[] qf, float[] s, int[] kf, int lane, int headDim, int fp16, int h,
                           int compact) {
        int[] ka = new int[4];
        int rowL = (lane >> 4) * 8 + (lane & 7);
        for (int k = 0; k < 4; k++) ka[k] = kBase + Swizzle.rowChunk128(rowL, 2 * k + ((lane >> 3) & 1));
        int j0 = h * (BN / 16);
        for (int i = j0 * 4; i < (j0 + BN / 16) * 4; i++) s[i] = 0f;
        for (int ks = 0; ks < headDim / 16; ks++) {
            for (int j = j0; j < j0 + BN / 16; j += 2) {
                int at = compact != 0 ? ka[ks & 3] + (ks >> 2) * HALF_COLUMN + (j - j0) * 8 * 32 : ka[ks & 3] + (ks >> 2) * (BN * 32) + j * 8 * 32;
                ctx.ldmatrixX4(kf, j * 2, smem, at);
            }
            for (int j = j0; j < j0 + BN / 16; j++) {
                if (fp16 != 0) ctx.mmaFp16(s, j * 4, qf, ks * 4, kf, j * 2);
                else ctx.mmaBf16(s, j * 4, qf, ks * 4, kf, j * 2);
            }
        }
    }

    /**
     * {@code FlashPrefillKernels.accumulatePv} (laneWords 1) for the keys of half {@code h}: the 16-key steps {@code 2h, 2h + 1} of
     * the whole tile's four, in order (so the two halves in turn are the whole tile's steps in its order).
     */
    @Unroll
    static void accumulatePvKeys(KernelContext ctx, int[] smem, int vBase, float[] s, float[] o, int[] pf, int[] vf, int lane, int headDim,
                                 int fp16, int h, int compact) {
        int[] va = new int[4];
        int keyL = (lane & 7) + ((lane >> 3) & 1) * 8;
        for (int k = 0; k < 4; k++) va[k] = vBase + Swizzle.rowChunk128(keyL, 2 * k + (lane >> 4));
        for (int kk = h * (BN / 32); kk < (h + 1) * (BN / 32); kk++) {
            int a = 2 * kk * 4, b = (2 * kk + 1) * 4;
            pf[0] = FlashPrefillKernels.pack(s[a], s[a + 1], fp16);
            pf[1] = FlashPrefillKernels.pack(s[a + 2], s[a + 3], fp16);
            pf[2] = FlashPrefillKernels.pack(s[b], s[b + 1], fp16);
            pf[3] = FlashPrefillKernels.pack(s[b + 2], s[b + 3], fp16);
            for (int dp = 0; dp < headDim / 16; dp++) {
                int at = compact != 0 ? va[dp & 3] + (dp >> 2) * HALF_COLUMN + (kk - h * (BN / 32)) * 16 * 32
                        : va[dp & 3] + (dp >> 2) * (BN * 32) + kk * 16 * 32;
                ctx.ldmatrixX4Trans(vf, 0, smem, at);
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
}
