package dev.arbor.kernels.attention;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

import static dev.arbor.kernels.attention.AttentionKernels.SPLIT;

/**
 * {@link DecodeKernels} with its K/V pages streamed into shared memory by Hopper's bulk copy engine
 * ({@link KernelContext#bulkLoad}, {@code cp.async.bulk...mbarrier::complete_tx::bytes}, sm_90) instead of each lane's 16-byte
 * global loads (switch {@code -Darbor.paged.bulkCopy}, {@link PagedAttention#BULK_COPY}).
 *
 * <p>A round (the work-group's warps·KPI keys, whole pages of the KV store: {@code blockSize} rows of one kv head, contiguous)
 * is one stage of a ring of {@code stages} stages in shared memory, each with an mbarrier. One work-item issues a stage's copies
 * (a page of K and a page of V per block the round covers, only blocks that hold a visible key and exist in the store), so a
 * work-group has {@code stages} rounds of K/V in flight from the moment it may read the KV store
 * ({@code gridDependencyWait}); the warps wait on the stage's barrier, read their rows from shared memory, and after the round a
 * block barrier hands the stage back for the round {@code stages} later (whole mode: across split boundaries). Everything else
 * (the index chain, masking by the split's row offsets, scores, online softmax, the row-state fold, partial writes and the fused
 * merge) is {@link DecodeKernels}' code: a row's K/V words are the same whether loaded from global or shared memory, so the
 * same float operations in the same order give the same bits (tested on the CPU executor against {@link DecodeKernels}).
 *
 * <p>With {@code stages} 0 the K/V come by DecodeKernels' own global loads ({@link DecodeKernels#loadKv}); {@code prefetchPages}
 * &gt; 0 (either way) asks the L2 for the first {@code prefetchPages} pages of K and of V of the work-group's first split before
 * {@code gridDependencyWait}, i.e. during the kernel before's tail ({@code cp.async.bulk.prefetch.L2}, a hint: the same bits),
 * switch {@code -Darbor.paged.prefetchPages} ({@link PagedAttention#PREFETCH_PAGES}).
 *
 * <p>Shapes: {@link #serves}: a round of whole blocks inside a split, {@code blockSize · headDim · 2} bytes a multiple of 16,
 * the ring within 48 KiB of static shared memory with the row states.
 */
public final class DecodeBulkKernels {
    private DecodeBulkKernels() {}

    /** Shared bytes of the ring: stages × (K and V of a round of {@code round} keys). */
    static int ringBytes(int headDim, int round, int stages) { return stages * 2 * round * headDim * 2; }

    /**
     * Whether this kernel serves the shape with these warps, keys per lane and stages (see the class comment; stages 0: global
     * loads, for the L2 prefetch alone, which needs splits of whole blocks).
     */
    public static boolean serves(OffHeapArray store, int heads, int kvHeads, int headDim, int blockSize, int keysPerLane, int warps, int stages) {
        if (!DecodeKernels.serves(store, heads, kvHeads, headDim) || !DecodeKernels.fitsWarps(heads, kvHeads, headDim, keysPerLane, warps)) return false;
        if (stages == 0) return SPLIT % blockSize == 0;
        int round = warps * (32 / (headDim / 8)) * keysPerLane;
        return stages >= 1 && round % blockSize == 0 && SPLIT % round == 0 && (blockSize * headDim * 2) % 16 == 0
                && DecodeKernels.sharedBytes(heads, kvHeads, headDim, warps) + ringBytes(headDim, round, stages) + 64 <= 48 * 1024;
    }

    /** bf16 store; parameters as {@link DecodeKernels#decodeBf16} (SPLIT-key splits), and {@code stages} (the ring's rounds in flight). */
    public static void decodeBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                  FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                  FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                  @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                  @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                  @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                  @Constant int minBlocks, @Constant int stages, @Constant int prefetchPages) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 0, arrivals, sharedBase, fusedMerge, stages,
                prefetchPages);
    }

    /** {@link #decodeBf16} writing {@code out} in bf16 (as {@link DecodeKernels#decodeBf16OutBf16}). */
    public static void decodeBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                         FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                         FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                         @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                         @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                         @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                         @Constant int minBlocks, @Constant int stages, @Constant int prefetchPages) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 0, arrivals, sharedBase, fusedMerge, stages,
                prefetchPages);
    }

    /** fp16 store. */
    public static void decodeF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                 FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                 FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots,
                                 @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                 @Constant int alibi, @Constant int splitMode, @Constant int useKeyStart, @Constant int keysPerLane,
                                 @Constant int warps, IntArray arrivals, int sharedBase, @Constant int fusedMerge,
                                 @Constant int minBlocks, @Constant int stages, @Constant int prefetchPages) {
        ctx.launchBounds(warps * 32, minBlocks);
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                heads, kvHeads, headDim, blockSize, alibi, splitMode, useKeyStart, keysPerLane, warps, 1, arrivals, sharedBase, fusedMerge, stages,
                prefetchPages);
    }

    static void body(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, FloatArray partials,
                     IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                     int maxBlocksPerSeq, int numBlocks, int slots, int heads, int kvHeads, int headDim, int blockSize,
                     int alibi, int splitMode, int useKeyStart, int keysPerLane, int warps, int fp16, IntArray arrivals, int sharedBase,
                     int fusedMerge, int stages, int prefetchPages) {
        int G = heads / kvHeads;
        int LR = headDim / 8;                 // lanes per key row (one 16-byte load each)
        int RPW = 32 / LR;                    // key rows per warp load instruction
        int U = keysPerLane;                  // keys per lane per iteration
        int KPI = RPW * U;                    // keys per warp iteration
        int T = warps * 32;                   // work-items per work-group
        int NS = warps * RPW;                 // row states per work-group
        int E = (G * headDim + T - 1) / T;    // (head, dim) elements per work-item in the fold
        int ROUND = warps * KPI;              // keys a round: one stage of the ring
        int PR = ROUND / blockSize;           // pages (blocks of one kv head) a round
        int HW = headDim / 2;                 // words a key row
        int SW = 2 * ROUND * HW;              // words a stage: the round's K rows, then its V rows
        int NR = SPLIT / ROUND;               // rounds a split
        int[] rowBase = ctx.allocateIntLocalArray(SPLIT);                 // element offset of each key row of the split, -1 if masked
        float[] stAcc = ctx.allocateFloatLocalArray(NS * G * headDim);    // (state, g, d)
        float[] stMl = ctx.allocateFloatLocalArray(NS * G * 2);           // (state, g) -> m, l
        // (stage, K|V, key of the round, headDim halves), then the stages' mbarriers (2 words each) from word BAR on
        int BAR = stages * SW;
        int[] ring = ctx.allocateIntLocalArray(BAR + 2 * stages);
        float[] qr = new float[G * 8];
        float[] acc = new float[G * 8];
        float[] m = new float[G];
        float[] l = new float[G];
        float[] slope = new float[G];
        float[] sc = new float[U * G];
        int[] off = new int[U];
        int[] kr = new int[U * 4];
        int[] vr = new int[U * 4];
        float[] runA = new float[E];
        float[] runM = new float[E];
        float[] runL = new float[E];
        int[] last = ctx.allocateIntLocalArray(1);

        int t = ctx.groupIdx, kvh = ctx.groupIdy, z = ctx.groupIdz, tid = ctx.localIdx;
        int lane = tid & 31, warp = tid >> 5, row = lane / LR, c8 = (lane - row * LR) * 8;
        int p = positions.get(t), seq = seqOfToken.get(t);
        int ks0 = useKeyStart != 0 ? keyStart.get(seq) : 0;
        int sk = SPLIT;
        if (ks0 > p) {
            ctx.gridDependencyWait();
            if (splitMode != 0 && fusedMerge != 0 && z == 0) {
                DecodeKernels.mergeInGroup(partials, out, t, kvh, ks0, p, slots, sharedBase, tid, T, G, heads, headDim, E, useKeyStart, fusedMerge, sk);
            }
            return;
        }
        int sFrom = ks0 / sk, sTo = p / sk, arriving = sTo - sFrom + 1;
        if (splitMode != 0) {
            int zs = sFrom + z;
            if (zs > sTo) {
                ctx.gridDependencyWait();
                return;
            }
            sFrom = zs;
            sTo = zs;
            ctx.allowDependentLaunch();
        } else if (z > 0) {
            ctx.gridDependencyWait();
            return;
        }
        if (stages > 0 && tid == 0) {
            for (int st = 0; st < stages; st++) ctx.mbarrierInit(ring, BAR + 2 * st, 1);
            ctx.fenceMbarrierInit();
        }
        int table = seq * maxBlocksPerSeq;
        int qBase = (t * heads + kvh * G) * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        int rounds = (sTo - sFrom + 1) * NR;   // the work-group's rounds, over its splits in order
        DecodeKernels.startRun(runA, runM, runL, E);
        for (int s = sFrom; s <= sTo; s++) {
            int lo = Math.max(s * sk, ks0), hi = Math.min(s * sk + sk, p + 1);
            ctx.localBarrier();   // the previous split's readers of rowBase and the states are done
            for (int i = tid; i < sk; i += T) {
                int j = s * sk + i;
                rowBase[i] = j < lo ? -1 : AttentionKernels.rowOffset(blockTables, table, j, hi, kvh, numBlocks, kvHeads, headDim, blockSize);
            }
            ctx.localBarrier();
            if (s == sFrom) {
                // L2 prefetch of the split's first pages while the kernel before ends (a hint: no value is read, so no order
                // with that kernel's writes is needed: the L2 is where they land)
                if (prefetchPages > 0 && tid < 2 * prefetchPages && 2 * prefetchPages <= T) {
                    int page = tid >> 1, first = page * blockSize;
                    int at = first < sk ? rowBase[first] : -1;
                    if (at >= 0) ctx.prefetchL2((tid & 1) == 0 ? kc : vc, at, blockSize * headDim * 2);
                }
                ctx.gridDependencyWait();   // the KV store is written by the kernels before: copies from here on
                if (stages > 0 && tid == 0) {
                    for (int g = 0; g < stages && g < rounds; g++) {
                        issue(ctx, kc, vc, ring, BAR, blockTables, g, sFrom, sk, ks0, p, table, kvh, numBlocks, kvHeads, headDim,
                                blockSize, g * SW, ROUND, PR, HW, NR, stages);
                    }
                }
                DecodeKernels.loadQuery(ctx, q, qr, slopes, slope, qBase + c8, kvh * G, G, headDim, alibi);
            }
            DecodeKernels.startState(m, l, acc, G);
            for (int round = 0; round < sk; round += ROUND) {
                int gr = (s - sFrom) * NR + round / ROUND, st = stages > 0 ? gr % stages : 0, stageBase = st * SW;
                if (stages > 0) {
                    while (!ctx.mbarrierTryWait(ring, BAR + 2 * st, (gr / stages) & 1)) {}
                }
                int r0 = s * sk + round;
                if (r0 + ROUND > lo && r0 < hi) {
                    int base = round + warp * KPI;
                    if (stages > 0) loadKvShared(ctx, ring, kr, vr, off, rowBase, base + row, stageBase + (warp * KPI + row) * HW + c8 / 2, RPW, U, HW, ROUND * HW);
                    else DecodeKernels.loadKv(ctx, kc, vc, kr, vr, off, rowBase, base + row, c8, RPW, U);
                    DecodeKernels.scores(ctx, qr, kr, sc, off, slope, scale, s * sk + base + row, p, RPW, U, G, LR, alibi, fp16);
                    DecodeKernels.update(m, l, acc, sc, vr, U, G, fp16);
                }
                if (stages > 0) {
                    ctx.fenceProxyAsyncShared();   // this work-item's reads of the stage come before the copy engine's next writes
                    ctx.localBarrier();
                    if (tid == 0 && gr + stages < rounds) {
                        issue(ctx, kc, vc, ring, BAR, blockTables, gr + stages, sFrom, sk, ks0, p, table, kvh, numBlocks, kvHeads, headDim,
                                blockSize, stageBase, ROUND, PR, HW, NR, stages);
                    }
                }
            }
            DecodeKernels.saveState(stAcc, stMl, acc, m, l, warp * RPW + row, c8, lane - row * LR == 0, G, headDim);
            ctx.localBarrier();
            DecodeKernels.foldStates(partials, stAcc, stMl, runA, runM, runL, t, s, slots, tid, T, G, kvh, heads, headDim, NS, E, splitMode);
        }
        if (splitMode == 0) {
            DecodeKernels.finish(out, runA, runL, qBase, tid, T, G, headDim, E);
        } else if (fusedMerge != 0) {
            ctx.threadFence();
            ctx.localBarrier();
            if (tid == 0) last[0] = ctx.atomicAdd(arrivals, t * kvHeads + kvh, 1) == arriving - 1 ? 1 : 0;
            ctx.localBarrier();
            if (last[0] != 0) {
                ctx.threadFence();
                DecodeKernels.mergeInGroup(partials, out, t, kvh, ks0, p, slots, sharedBase, tid, T, G, heads, headDim, E, useKeyStart, fusedMerge, sk);
                if (tid == 0) arrivals.set(t * kvHeads + kvh, 0);
            }
        }
    }

    /**
     * Round {@code gr} of the work-group (split {@code sFrom + gr / NR}, its round {@code gr % NR}) into the stage at word
     * {@code stageBase}: its bytes expected on the stage's barrier, then one bulk copy of K and one of V per page that holds a
     * visible key of the split ([lo, hi)) and is a block of the store (the row offsets' own bounds: {@link AttentionKernels#rowOffset});
     * a round with no such page completes on the arrival alone.
     */
    static void issue(KernelContext ctx, OffHeapArray kc, OffHeapArray vc, int[] ring, int BAR, IntArray blockTables, int gr, int sFrom,
                      int sk, int ks0, int p, int table, int kvh, int numBlocks, int kvHeads, int headDim, int blockSize, int stageBase,
                      int ROUND, int PR, int HW, int NR, int stages) {
        int s = sFrom + gr / NR, r0 = s * sk + (gr - (gr / NR) * NR) * ROUND;
        int lo = Math.max(s * sk, ks0), hi = Math.min(s * sk + sk, p + 1);
        int pageBytes = blockSize * headDim * 2, bar = BAR + 2 * (gr % stages);
        int n = 0;
        for (int i = 0; i < PR; i++) n += pageBlock(blockTables, table, r0 + i * blockSize, lo, hi, numBlocks, blockSize) >= 0 ? 1 : 0;
        ctx.mbarrierArriveExpectTx(ring, bar, 2 * n * pageBytes);
        for (int i = 0; i < PR; i++) {
            int block = pageBlock(blockTables, table, r0 + i * blockSize, lo, hi, numBlocks, blockSize);
            if (block >= 0) {
                int src = (block * kvHeads + kvh) * blockSize * headDim, dst = stageBase + i * blockSize * HW;
                ctx.bulkLoad(ring, dst, bar, kc, src, pageBytes);
                ctx.bulkLoad(ring, dst + ROUND * HW, bar, vc, src, pageBytes);
            }
        }
    }

    /** The store block of the page whose first key is {@code j0}, or -1: no key of it in [lo, hi), past the table, or outside the store. */
    static int pageBlock(IntArray blockTables, int table, int j0, int lo, int hi, int numBlocks, int blockSize) {
        if (j0 >= hi || j0 + blockSize <= lo) return -1;
        int logical = j0 / blockSize;
        if (table + logical >= blockTables.length()) return -1;
        int block = blockTables.get(table + logical);
        return block < 0 || block >= numBlocks ? -1 : block;
    }

    /**
     * {@link DecodeKernels#loadKv} from the stage: U K chunks and U V chunks of the round's rows {@code kk0 + u·RPW}, the K chunk at
     * word {@code at + u·RPW·HW}, V {@code vOffset} words after it; zeros for masked rows (the same words as the global loads).
     */
    @Unroll
    static void loadKvShared(KernelContext ctx, int[] ring, int[] kr, int[] vr, int[] off, int[] rowBase, int r0, int at, int RPW, int U,
                             int HW, int vOffset) {
        for (int u = 0; u < U; u++) off[u] = r0 + u * RPW < SPLIT ? rowBase[r0 + u * RPW] : -1;
        for (int u = 0; u < U; u++) {
            if (off[u] >= 0) {
                ctx.loadShared128(kr, u * 4, ring, at + u * RPW * HW);
                ctx.loadShared128(vr, u * 4, ring, at + u * RPW * HW + vOffset);
            } else {
                for (int i = 0; i < 4; i++) {
                    kr[u * 4 + i] = 0;
                    vr[u * 4 + i] = 0;
                }
            }
        }
    }
}
