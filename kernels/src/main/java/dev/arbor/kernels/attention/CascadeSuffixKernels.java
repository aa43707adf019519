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
 * The second level of cascade attention as ONE warp per (token, kv head): the token's own keys (from
 * {@code keyStart[seq]} on) and the merge with the shared level's partial states, in one launch without
 * arrival counters or fences (issue 11; bench/RESULTS.md "Run 26-attn4" measured the 4-warp suffix work-group
 * plus its last-arriving merge at 60% of a cascade step: 3,424 work-groups of ~37 keys in 3+ waves, each a chain
 * positions → block table → K/V → fold → partial → fence → arrival → merge loads → out).
 *
 * <h2>Same bits as the split kernel + merge</h2>
 * The warp replays {@link DecodeKernels}' split-mode layout with {@code warps} virtual warps one after the other:
 * virtual warp w reads the keys the split kernel's warp w reads (rounds of {@code warps·KPI} keys, its KPI at
 * {@code w·KPI}), with the same loads, scores, butterflies and online-softmax updates ({@link DecodeKernels}' helpers);
 * its RPW row states are folded into the split's state in row order right after it finishes, which is the split
 * kernel's fold order (rows {@code w·RPW + row}, w increasing) with the same expressions (M and L are the same for every
 * dim of a query head, so computing them once per head instead of once per (head, dim) element changes no bit). The split's (M, L, A) never
 * goes to memory: it is folded into the token's merge state exactly as {@link AttentionKernels#mergeSplits} folds it
 * (shared slots {@code sharedBase + c} first, skipping empty ones, then the own splits in order). A virtual warp's
 * span with no visible key is skipped (the split kernel's warp loads nothing there and leaves its state alone). So a
 * (token, head) gets the bits of the two-launch path, whatever the batch: the CPU and GPU tests compare them.
 *
 * <h2>Its own layout ({@code ownRange}, the launcher's default since run 57-casc12)</h2>
 * Cascade runs only without batch invariance, so the warp need not replay the split kernel: with {@code ownRange} (and the launcher's
 * {@code warps} = 1) the token's own keys {@code [keyStart, position]} are ONE range of rows from keyStart while they are at most
 * {@code SPLIT} keys: one row-offset fill, rounds of KPI keys from keyStart, one fold of the RPW rows' states and one fold into the
 * merge state, where the replayed layout (seed workload 2: own keys 752..~790 straddle the split boundary at 768) filled two splits'
 * rows and folded up to 4 virtual warps' rows per split. The same loads, scores and updates per key; the states are folded in
 * another grouping (equal up to rounding: CascadeAttentionTest, AttentionGpuTest). Longer suffixes walk the splits as below.
 *
 * <p>Work-group: 32 work-items (one warp), grid (tokens, kvHeads, 1). Own splits are walked in order, so a long
 * suffix is correct but serial: the launcher takes this kernel while the batch's tokens own at most
 * {@link CascadeAttention#WARP_SUFFIX_MAX_SPLITS} splits.
 *
 * <h2>Where a row's state lives (bench/RESULTS.md "Run 35-attn7")</h2>
 * A lane of key row {@code row} holds the accumulator of its 8 dims ({@code c8 = 8·col}) and the row's m and l; every lane
 * folds the RPW rows of the same 8 dims into the split's state, row r's values brought by shuffles from lane
 * {@code r·LR + col} (no shared memory, no barrier), so the RPW rows' lanes hold the same states. Between virtual warps, the
 * split's state and the merge state wait in shared memory, each lane in its own column ({@code 10·G} words of A, M, L a
 * state; {@code 4·(SPLIT + (OWN_BUF + 2)·10·G·32)} bytes in all). The shared level's slots come RPW·{@code sharedAhead} a
 * round trip (row r's lanes load slots {@code c + r·SA ..}, folded in slot order through the same shuffles); the block-table
 * lookups of a split are all issued before any row offset is stored (one round trip); the query load does not wait for
 * {@code keyStart}; rounds before the one holding the split's first own key are not visited. Run 30's form (states per
 * (g, d) element in shared memory, two barriers a virtual warp, 8 rounds visited a virtual warp) executed 1.7× the
 * instructions (ncu: 127.7 M against 74.4 M at 500 × 752) and took 1.62× as long alone.
 *
 * <p>Launched overlapping the shared level (programmatic dependent launch; that kernel lets it start at once): the warp
 * computes its first {@link #OWN_BUF} own splits (their keys, the query and the tables were written before the shared level
 * began) and only then waits for the grid before it ({@code gridDependencyWait}) and reads the shared partials; the own
 * splits' states wait in shared memory and are folded after the shared slots, in the merge's order. Without a shared launch
 * just before it, the launcher launches it plainly.
 *
 * <p>Not done, measured: staging a split's own K/V rows in shared memory by cp.async before the fold (all of them requested in one
 * round trip, the same bits) lost at every measured shape, 63 → 86 µs a step at 107 × 530 with 32 rows staged and 260 → 439 µs at
 * 500 × 752, and 12.0 → 12.9 µs even at 2 sequences where occupancy does not bind (bench/RESULTS.md "Run 31-attn6"; the code is
 * commit 438d3a2 on branch attn6). The warp's time is not its K/V round trips: run 35's ncu found it issue-bound (0.81 warps
 * issued a scheduler-cycle at 500 × 752, a third of the instructions integer address arithmetic).
 */
public final class CascadeSuffixKernels {
    private CascadeSuffixKernels() {}

    /** Work-items per work-group: one warp. */
    public static final int THREADS = 32;
    /** Own splits computed before the shared level's partials are waited for (their states kept in shared memory). */
    public static final int OWN_BUF = 2;
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    /** Shared memory of a work-group in bytes. */
    public static int sharedBytes(int heads, int kvHeads, int headDim) {
        return 4 * (SPLIT + (OWN_BUF + 2) * (heads / kvHeads) * 10 * THREADS);
    }

    /** Whether this kernel serves the shape: {@link DecodeKernels#serves} (it replays that kernel's layout) and its shared memory within 48 KiB. */
    public static boolean serves(OffHeapArray store, int heads, int kvHeads, int headDim) {
        return DecodeKernels.serves(store, heads, kvHeads, headDim) && sharedBytes(heads, kvHeads, headDim) <= 48 * 1024;
    }

    /**
     * Blocks (warps) a multiprocessor must hold at once (the launcher's choice, {@code launchBounds}): {@code max(1, 32 / G)}, at G = 1
     * {@link #G1_MIN_BLOCKS} (below). At G = 1, 32 (the most resident blocks of an H100/H200 SM) keeps the kernel within 64 registers (ptxas -v, 32 heads × 128, one
     * shared slot a lane per load: 72 registers without the bound, 64 with it and a 12-byte spill, two stores a split); 25 blocks
     * would leave the seed's 3,424 (token, kv head) warps just over one wave. G query heads hold G times the query, accumulator and
     * scores: at G = 2, 16 blocks (127 registers, no spill).
     *
     * <p>At G = 1 the default is now {@link #G1_MIN_BLOCKS} = 24 (ptxas -v sm_90, 32 heads × 128 own range: 80 registers, no spill; 64 and an 8-byte spill store / 12-byte load at 32; 25 warps an SM by registers): bench/RESULTS.md "Run 61-casc15"
     * measured the cascade step faster at every shape of AttentionBench's rows, interleaved in one process against 32 (107 × 530 47.8 →
     * 46.1 µs, 500 × 752 172.4 → 166.9, 40 heads ALiBi 57.2 → 55.0, 107 × 240 40.6 → 38.4, 2-32 × 128-512 equal to 0.8 µs faster),
     * although the suffix alone is slower (107 × 530 26.6 → 29.3 µs: its 3,424 warps are then just over one wave): in the step the suffix
     * runs overlapping the shared level. Registers only: the same instructions, the same bits.
     */
    public static int minBlocksPerSm(int heads, int kvHeads) {
        int g = heads / kvHeads;
        return g == 1 ? G1_MIN_BLOCKS : Math.max(1, 32 / g);
    }

    /**
     * The warp suffix's launch bounds at G = 1 ({@link #minBlocksPerSm}), system property {@code arbor.cascade.suffixMinBlocks}
     * (default 24, measured faster a step than runs 35-60's 32: bench/RESULTS.md "Run 61-casc15"; 32 restores them).
     */
    public static final int G1_MIN_BLOCKS = Integer.getInteger("arbor.cascade.suffixMinBlocks", 24);

    /**
     * Shared slots a lane loads per round trip (the launcher's choice at every shape): 1, so RPW slots a round trip (2 at
     * headDim 128, 4 at 64). Two a lane (10·G more registers in flight) spill 88 bytes at 32 heads × 128 under
     * {@link #minBlocksPerSm} and were slower (bench/RESULTS.md "Run 35-attn7": 56.0 against 54.0 µs a step at 107 × 530,
     * 205.6 against 198.4 at 500 × 752).
     */
    public static final int SHARED_AHEAD = 1;

    /**
     * bf16 store. Parameters as {@link DecodeKernels#decodeBf16} in split mode with keyStart; {@code keysPerLane} and
     * {@code warps} are the split kernel's U and warps whose bits this reproduces; {@code sharedAhead} shared slots a lane per load;
     * {@code minBlocks} the blocks an SM must hold ({@link #minBlocksPerSm}); {@code ranges} the
     * shared level's key ranges a prefix ({@link CascadeMmaKernels#rangeKeys}: the shared slots a token's merge folds; 0: 256-key splits).
     */
    public static void suffixMergeBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, FloatArray out,
                                       FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                       FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int ranges,
                                       @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                       @Constant int alibi, @Constant int keysPerLane, @Constant int warps, @Constant int sharedAhead,
                                       @Constant int minBlocks, @Constant int ownRange, @Constant int writeOwn) {
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                sharedBase, ranges, heads, kvHeads, headDim, blockSize, alibi, keysPerLane, warps, sharedAhead, minBlocks, ownRange, writeOwn, 0);
    }

    /** {@link #suffixMergeBf16} writing {@code out} in bf16 (o_proj's X): each fp32 {@code A / L} rounded to nearest even as stored. */
    public static void suffixMergeBf16OutBf16(KernelContext ctx, FloatArray q, BFloat16Array kCache, BFloat16Array vCache, BFloat16Array out,
                                              FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                              FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int ranges,
                                              @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                              @Constant int alibi, @Constant int keysPerLane, @Constant int warps, @Constant int sharedAhead,
                                              @Constant int minBlocks, @Constant int ownRange, @Constant int writeOwn) {
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                sharedBase, ranges, heads, kvHeads, headDim, blockSize, alibi, keysPerLane, warps, sharedAhead, minBlocks, ownRange, writeOwn, 0);
    }

    /** fp16 store; as {@link #suffixMergeBf16}. */
    public static void suffixMergeF16(KernelContext ctx, FloatArray q, HalfFloatArray kCache, HalfFloatArray vCache, FloatArray out,
                                      FloatArray partials, IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart,
                                      FloatArray slopes, int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int ranges,
                                      @Constant int heads, @Constant int kvHeads, @Constant int headDim, @Constant int blockSize,
                                      @Constant int alibi, @Constant int keysPerLane, @Constant int warps, @Constant int sharedAhead,
                                      @Constant int minBlocks, @Constant int ownRange, @Constant int writeOwn) {
        body(ctx, q, kCache, vCache, out, partials, positions, seqOfToken, blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slots,
                sharedBase, ranges, heads, kvHeads, headDim, blockSize, alibi, keysPerLane, warps, sharedAhead, minBlocks, ownRange, writeOwn, 1);
    }

    static void body(KernelContext ctx, FloatArray q, OffHeapArray kc, OffHeapArray vc, OffHeapArray out, FloatArray partials,
                     IntArray positions, IntArray seqOfToken, IntArray blockTables, IntArray keyStart, FloatArray slopes,
                     int maxBlocksPerSeq, int numBlocks, int slots, int sharedBase, int ranges, int heads, int kvHeads, int headDim, int blockSize,
                     int alibi, int keysPerLane, int warps, int sharedAhead, int minBlocks, int ownRange, int writeOwn, int fp16) {
        ctx.launchBounds(THREADS, minBlocks);
        // suffix first (CascadeAttention#suffixFirst): the shared level is launched after this grid, overlapping it, and reads nothing it writes
        if (writeOwn != 0) ctx.allowDependentLaunch();
        int G = heads / kvHeads;
        int LR = headDim / 8;                 // lanes per key row (one 16-byte load each)
        int RPW = 32 / LR;                    // key rows per load instruction
        int U = keysPerLane;
        int KPI = RPW * U;                    // keys per (virtual) warp iteration
        int RND = warps * KPI;                // keys per round of the split kernel's warps
        int SW = G * 10;                      // state words of a lane: A of its 8 dims, M and L, per query head
        int SA = sharedAhead;
        int[] rowBase = ctx.allocateIntLocalArray(SPLIT);                    // the split's row offsets, -1 where masked
        // per lane: OWN_BUF buffered split states, the merge state, the state of a split computed after the merge began
        float[] st = ctx.allocateFloatLocalArray((OWN_BUF + 2) * G * 10 * THREADS);
        float[] qr = new float[G * 8];
        float[] acc = new float[G * 8];
        float[] m = new float[G];
        float[] l = new float[G];
        float[] slope = new float[G];
        float[] sc = new float[U * G];
        int[] off = new int[U];
        int[] kr = new int[U * 4];
        int[] vr = new int[U * 4];
        float[] sA = new float[G * 8];        // the split's state of this lane's 8 dims (every row's lanes hold the same)
        float[] sM = new float[G];
        float[] sL = new float[G];
        float[] mA = new float[G * 8];        // the merge state of this lane's 8 dims
        float[] mM = new float[G];
        float[] mL = new float[G];
        float[] ms = new float[SA * G];       // shared slots in flight: m, l, and a of this lane's 8 dims, per (slot, g)
        float[] ls = new float[SA * G];
        float[] as = new float[SA * G * 8];

        int t = ctx.groupIdx, kvh = ctx.groupIdy, lane = ctx.localIdx;
        int row = lane / LR, col = lane - row * LR, c8 = col * 8;
        int th0 = t * heads + kvh * G;        // (token, first query head of the kv head)
        // the query does not depend on the sequence: its loads overlap the positions → keyStart chain
        DecodeKernels.loadQuery(ctx, q, qr, slopes, slope, th0 * headDim + c8, kvh * G, G, headDim, alibi);
        int p = positions.get(t), seq = seqOfToken.get(t);
        int ks0 = keyStart.get(seq);
        int table = seq * maxBlocksPerSeq;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        // the shared level's non-empty slots: its key ranges of this prefix (CascadeMmaKernels#rangeKeys; 256-key splits at ranges 0)
        int rk = CascadeMmaKernels.rangeKeys(ks0, ranges);
        int nShared = (ks0 + rk - 1) / rk;
        // ownRange: the own keys [ks0, p] as ONE range of rows from ks0 (not cut at the 256-key split boundaries) while they fit the
        // row buffer; longer suffixes walk the splits as below
        boolean oneRange = ownRange != 0 && ks0 <= p && p - ks0 < SPLIT;
        int nOwn = oneRange ? 1 : ks0 <= p ? p / SPLIT - ks0 / SPLIT + 1 : 0;
        int buffered = Math.min(nOwn, OWN_BUF);
        // the first OWN_BUF own splits before the shared level's partials are read (launched overlapping the shared level:
        // their keys and the query were written before that launch began), then mergeSplits' order: shared slots, own splits
        for (int k = 0; k <= nOwn; k++) {
            if (k == buffered) {
                DecodeKernels.startState(mM, mL, mA, G);
                if (writeOwn == 0) {   // suffix first: no shared slot here (the merge launch folds them)
                    ctx.gridDependencyWait();   // the shared level's partials
                    // RPW·SA slots a round trip: row r's lanes load slots c + r·SA .. + SA, folded in slot order through shuffles
                    for (int c = 0; c < nShared; c += RPW * SA) {
                        loadSlots(partials, ms, ls, as, th0, slots, sharedBase + c + row * SA, nShared - c - row * SA, c8, headDim, G, SA);
                        foldSlots(ctx, mA, mM, mL, ms, ls, as, nShared - c, col, LR, RPW, G, SA);
                    }
                }
                for (int bk = 0; bk < buffered; bk++) {
                    loadState(st, bk * SW, sA, sM, sL, lane, G);
                    foldSplit(mA, mM, mL, sA, sM, sL, G);
                }
                saveState(st, OWN_BUF * SW, mA, mM, mL, lane, G);
            }
            if (k < nOwn) {
                int s = ks0 / SPLIT + k, sS = oneRange ? ks0 : s * SPLIT;   // the rows' first key (rowBase[0])
                int lo = Math.max(sS, ks0), hi = Math.min(sS + SPLIT, p + 1);
                ctx.localBarrier();   // the previous split's readers of rowBase are done
                fillRows(blockTables, rowBase, table, sS, lo, hi, lane, kvh, numBlocks, kvHeads, headDim, blockSize);
                ctx.localBarrier();
                int so = (k < buffered ? k : OWN_BUF + 1) * SW;   // the split's state, in shared memory while keys stream
                DecodeKernels.startState(sM, sL, sA, G);
                saveState(st, so, sA, sM, sL, lane, G);
                int roundLo = (lo - sS) / RND * RND;   // the rounds before it have no visible key, nor those from hi on
                for (int w = 0; w < warps; w++) {
                    DecodeKernels.startState(m, l, acc, G);
                    for (int round = roundLo; round < hi - sS; round += RND) {
                        int base = round + w * KPI, r0 = sS + base;   // virtual warp w's keys r0 .. r0 + KPI of this round
                        if (r0 + KPI > lo && r0 < hi) {
                            DecodeKernels.loadKv(ctx, kc, vc, kr, vr, off, rowBase, base + row, c8, RPW, U);
                            DecodeKernels.scores(ctx, qr, kr, sc, off, slope, scale, r0 + row, p, RPW, U, G, LR, alibi, fp16);
                            DecodeKernels.update(m, l, acc, sc, vr, U, G, fp16);
                        }
                    }
                    // whether any of virtual warp w's rounds had a visible key (its first reaching lo starts before hi): one without
                    // keys leaves every row empty (recomputed here rather than flagged in the loop, which would cost a register there)
                    int first = roundLo + (sS + roundLo + w * KPI + KPI > lo ? 0 : RND);
                    if (sS + first + w * KPI < hi) {
                        loadState(st, so, sA, sM, sL, lane, G);
                        foldRows(ctx, sA, sM, sL, acc, m, l, col, LR, RPW, G);
                        saveState(st, so, sA, sM, sL, lane, G);
                    }
                }
                if (k >= buffered) {
                    loadState(st, so, sA, sM, sL, lane, G);
                    loadState(st, OWN_BUF * SW, mA, mM, mL, lane, G);
                    foldSplit(mA, mM, mL, sA, sM, sL, G);
                    saveState(st, OWN_BUF * SW, mA, mM, mL, lane, G);
                }
            }
        }
        loadState(st, OWN_BUF * SW, mA, mM, mL, lane, G);
        if (writeOwn != 0) {
            // suffix first: the own keys' folded state into the first own split's slot, the token's other own split slots empty (l = 0,
            // m = -inf: AttentionKernels#mergeSplits folds them as x = 1, y = 0, leaving its state as it was)
            if (row == 0 && ks0 <= p) {
                for (int s = ks0 / SPLIT; s <= p / SPLIT; s++) writeSlot(partials, mA, mM, mL, th0, slots, s, s == ks0 / SPLIT ? 0 : 1, c8, col, headDim, G);
            }
        } else if (row == 0) {
            finish(out, mA, mL, th0 * headDim + c8, G, headDim);
        }
    }

    /**
     * Suffix first: the token's own-key state (A of this lane's 8 dims, M, L per query head) into slot {@code slot}, or an empty state
     * (A = 0, l = 0, m = -inf) with {@code empty}: the layout {@link AttentionKernels#mergeSplits} folds (its own splits after the shared slots).
     */
    @Unroll
    static void writeSlot(FloatArray partials, float[] mA, float[] mM, float[] mL, int th0, int slots, int slot, int empty, int c8, int col,
                          int headDim, int G) {
        for (int g = 0; g < G; g++) {
            int o = ((th0 + g) * slots + slot) * (headDim + 2);
            for (int i = 0; i < 8; i++) partials.set(o + c8 + i, empty == 0 ? mA[g * 8 + i] : 0f);
            if (col == 0) {
                partials.set(o + headDim, empty == 0 ? mM[g] : NEG_INF);
                partials.set(o + headDim + 1, empty == 0 ? mL[g] : 0f);
            }
        }
    }

    /**
     * The split's row offsets ({@link AttentionKernels#rowOffset}: -1 outside [lo, hi) or past the table), SPLIT / 32 per lane, every
     * block-table load issued before any offset is stored (one round trip; a masked position loads the table's first entry, unused).
     * Key {@code j = sS + lane + 32e}'s logical block is {@code j / blockSize}: blockSize is a compile-time constant, which accel
     * lowers to a shift or a multiply-high (bench/RESULTS.md "Run 39-divc"; run 39-casc8 stepped the blocks from e = 0's while it
     * was a full division sequence). The same integers, so the same offsets.
     */
    @Unroll
    static void fillRows(IntArray blockTables, int[] rowBase, int table, int sS, int lo, int hi, int lane, int kvh, int numBlocks, int kvHeads,
                         int headDim, int blockSize) {
        int[] block = new int[SPLIT / THREADS];
        int n = blockTables.length();
        for (int e = 0; e < SPLIT / THREADS; e++) {
            int j = sS + lane + e * THREADS, logical = j / blockSize;
            boolean in = j >= lo && j < hi && table + logical < n;
            block[e] = blockTables.get(in ? table + logical : 0);
        }
        for (int e = 0; e < SPLIT / THREADS; e++) {
            int j = sS + lane + e * THREADS, logical = j / blockSize;
            boolean in = j >= lo && j < hi && table + logical < n && block[e] >= 0 && block[e] < numBlocks;
            rowBase[lane + e * THREADS] = in ? ((block[e] * kvHeads + kvh) * blockSize + (j - logical * blockSize)) * headDim : -1;
        }
    }

    /**
     * {@link DecodeKernels#foldStates}' fold of one virtual warp's RPW row states into the split's state, in row order, with the row states brought
     * to this lane's 8 dims by shuffles (row r's lane {@code r·LR + col} holds them) instead of shared memory: the same expressions
     * per (g, d) element (M and L are the same for every d of a head), so the same bits.
     */
    @Unroll
    static void foldRows(KernelContext ctx, float[] sA, float[] sM, float[] sL, float[] acc, float[] m, float[] l, int col, int LR, int RPW,
                         int G) {
        for (int r = 0; r < RPW; r++) {
            int src = r * LR + col;
            for (int g = 0; g < G; g++) {
                float msr = ctx.shuffleBroadcast(m[g], src), lsr = ctx.shuffleBroadcast(l[g], src);
                float[] a = new float[8];
                for (int i = 0; i < 8; i++) a[i] = ctx.shuffleBroadcast(acc[g * 8 + i], src);
                if (lsr > 0f) fold(sA, sM, sL, g, a, 0, msr, lsr);
            }
        }
    }

    /** Shared slots {@code slot0 + k}, k < min(n, SA): m, l and this lane's 8 dims of a, per query head; all issued before any is used. */
    @Unroll
    static void loadSlots(FloatArray partials, float[] ms, float[] ls, float[] as, int th0, int slots, int slot0, int n, int c8, int headDim,
                          int G, int SA) {
        for (int k = 0; k < SA; k++) {
            if (k < n) {
                for (int g = 0; g < G; g++) {
                    int o = ((th0 + g) * slots + slot0 + k) * (headDim + 2);
                    ms[k * G + g] = partials.get(o + headDim);
                    ls[k * G + g] = partials.get(o + headDim + 1);
                    for (int i = 0; i < 8; i++) as[(k * G + g) * 8 + i] = partials.get(o + c8 + i);
                }
            }
        }
    }

    /**
     * {@link AttentionKernels#foldSlots} (skipping empty slots) of the slots loaded by the RPW rows' lanes (row r: slots r·SA .. r·SA + SA of
     * the n left), brought to this lane by shuffles from lane {@code r·LR + col}, into the merge state, in slot order, per query head.
     */
    @Unroll
    static void foldSlots(KernelContext ctx, float[] mA, float[] mM, float[] mL, float[] ms, float[] ls, float[] as, int n, int col, int LR,
                          int RPW, int G, int SA) {
        for (int r = 0; r < RPW; r++) {
            int src = r * LR + col;
            for (int k = 0; k < SA; k++) {
                for (int g = 0; g < G; g++) {
                    float msr = ctx.shuffleBroadcast(ms[k * G + g], src), lsr = ctx.shuffleBroadcast(ls[k * G + g], src);
                    float[] a = new float[8];
                    for (int i = 0; i < 8; i++) a[i] = ctx.shuffleBroadcast(as[(k * G + g) * 8 + i], src);
                    if (r * SA + k < n && lsr != 0f) fold(mA, mM, mL, g, a, 0, msr, lsr);
                }
            }
        }
    }

    /** The split's state folded into the merge state as {@link AttentionKernels#foldSlots} folds an own split's slot (no skip). */
    @Unroll
    static void foldSplit(float[] mA, float[] mM, float[] mL, float[] sA, float[] sM, float[] sL, int G) {
        for (int g = 0; g < G; g++) fold(mA, mM, mL, g, sA, g * 8, sM[g], sL[g]);
    }

    /**
     * The log-sum-exp fold of one state (m2, l2 and the 8 dims {@code a2[at ..]}) into query head g's state (A of this lane's 8 dims,
     * M, L): {@code mn = max(M, m2); x = exp(M - mn); y = exp(m2 - mn); A = A·x + a2·y; L = L·x + l2·y; M = mn} — the expressions of
     * {@link DecodeKernels#foldStates} and {@link AttentionKernels#foldSlots}, the one place {@link #foldRows}, {@link #foldSlots}
     * and {@link #foldSplit} write them (their callers keep their own skip rules).
     */
    @Unroll
    static void fold(float[] A, float[] M, float[] L, int g, float[] a2, int at, float m2, float l2) {
        float mOld = M[g], mn = Math.max(mOld, m2);
        float x = KMath.exp(mOld - mn), y = KMath.exp(m2 - mn);
        for (int i = 0; i < 8; i++) A[g * 8 + i] = A[g * 8 + i] * x + a2[at + i] * y;
        L[g] = L[g] * x + l2 * y;
        M[g] = mn;
    }

    /** A lane's state (A of its 8 dims, M, L per query head) into its column of shared memory at word {@code at} (conflict-free). */
    @Unroll
    static void saveState(float[] st, int at, float[] a, float[] mm, float[] ll, int lane, int G) {
        for (int g = 0; g < G; g++) {
            for (int i = 0; i < 8; i++) st[(at + g * 8 + i) * THREADS + lane] = a[g * 8 + i];
            st[(at + G * 8 + g) * THREADS + lane] = mm[g];
            st[(at + G * 9 + g) * THREADS + lane] = ll[g];
        }
    }

    @Unroll
    static void loadState(float[] st, int at, float[] a, float[] mm, float[] ll, int lane, int G) {
        for (int g = 0; g < G; g++) {
            for (int i = 0; i < 8; i++) a[g * 8 + i] = st[(at + g * 8 + i) * THREADS + lane];
            mm[g] = st[(at + G * 8 + g) * THREADS + lane];
            ll[g] = st[(at + G * 9 + g) * THREADS + lane];
        }
    }

    /** out = A / L for this lane's 8 dims of each query head. */
    @Unroll
    static void finish(OffHeapArray out, float[] mA, float[] mL, int at, int G, int headDim) {
        for (int g = 0; g < G; g++) {
            for (int i = 0; i < 8; i++) out.setFloat(at + g * headDim + i, mA[g * 8 + i] / mL[g]);
        }
    }
}
