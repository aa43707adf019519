package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

/**
 * Host-side launcher of cascade attention (issue 11; FlashInfer's two-level cascade): groups of sequences
 * whose block tables begin with the same physical blocks attend to that shared prefix once per group
 * ({@link CascadeMmaKernels} on tensor cores for 16-bit stores with headDim a multiple of 16 up to 128,
 * else the CUDA-core {@link CascadeKernels}), to their own keys with the paged kernel in split mode from
 * {@code keyStart[seq]} on, and the partial states are folded by log-sum-exp ({@link AttentionKernels#mergeSplits}).
 * Two launches: where every token owns at most {@link #WARP_SUFFIX_MAX_SPLITS} splits (decode behind a shared prompt), the own
 * keys and the merge run as one warp per (token, kv head) ({@link CascadeSuffixKernels}, launched overlapping the shared level,
 * by default one virtual warp over the token's own keys as one range, up to rounding the split kernel + merge; in that kernel's
 * layout, {@link #suffixReplay}, its bits); otherwise the streamed split kernel merges in its last-arriving work-group (three
 * launches with the separate merge). Nothing allocated per call (scratch sized at construction:
 * {@code tokenCapacity × heads × (ceil(maxContext/256) + max(ceil(maxSharedLen/256), min(8, ceil(maxSharedLen/32)))) × (headDim + 2)}
 * floats: the shared level's slots hold its 256-key splits or its key ranges, {@link #sharedRangeKeys}).
 *
 * <p>Equal to {@link PagedAttention} up to rounding (the shared part's keys are summed in a different
 * grouping, on tensor cores with Q and P split into two 16-bit parts); tests hold the two within 2e-6 of the output's scale. ALiBi uses each query's own position.
 * Sequences in no group have keyStart 0 and are plain paged attention here (bit for bit in a launch without groups or with
 * {@link #suffixReplay}; up to rounding beside a group, where the warp suffix takes their keys as one own range).
 */
public final class CascadeAttention implements AutoCloseable {
    static final Kernel SHARED_BF16 = Kernel.of(CascadeKernels.class, "cascadeSharedBf16");
    static final Kernel SHARED_F16 = Kernel.of(CascadeKernels.class, "cascadeSharedF16");
    static final Kernel SHARED_F32 = Kernel.of(CascadeKernels.class, "cascadeSharedF32");
    static final Kernel SHARED_MMA_BF16 = Kernel.of(CascadeMmaKernels.class, "cascadeMmaBf16");
    static final Kernel SHARED_MMA_F16 = Kernel.of(CascadeMmaKernels.class, "cascadeMmaF16");
    static final Kernel SHARED_MMA_DEEP_BF16 = Kernel.of(CascadeMmaKernels.class, "cascadeMmaDeepBf16");
    static final Kernel SHARED_MMA_DEEP_F16 = Kernel.of(CascadeMmaKernels.class, "cascadeMmaDeepF16");
    static final Kernel SUFFIX_MERGE_BF16 = Kernel.of(CascadeSuffixKernels.class, "suffixMergeBf16");
    static final Kernel SUFFIX_MERGE_F16 = Kernel.of(CascadeSuffixKernels.class, "suffixMergeF16");
    static final Kernel SUFFIX_MERGE_BF16_OUT_BF16 = Kernel.of(CascadeSuffixKernels.class, "suffixMergeBf16OutBf16");

    /**
     * The suffix and the merge run as one warp per (token, kv head) ({@link CascadeSuffixKernels}: no arrival counter, no
     * fence, the same bits) while every token of the launch owns at most this many 256-key splits ({@code maxOwnSplits});
     * longer suffixes take the 4-warp split kernel with its fused merge, one work-group per own split.
     */
    public static final int WARP_SUFFIX_MAX_SPLITS = 2;
    /**
     * The launcher takes the warp suffix for G = heads / kvHeads up to this (measured at G = 1 only, bench/RESULTS.md "Run 30-attn5"; at
     * G = 4 a warp needs ~190 registers, 8 per SM, where the 4-warp kernel keeps its occupancy). {@link #warpSuffix} overrides it.
     */
    public static final int WARP_SUFFIX_MAX_G = 2;

    private final PagedAttention paged;   // its scratch has the suffix splits then the shared splits per (token, head)
    private final int maxContext, maxSharedLen, sharedBase;
    private boolean runShared = true, runSuffix = true, runMerge = true;   // a bench times the parts alone
    private int warpSuffixMaxSplits = -1;   // -1: WARP_SUFFIX_MAX_SPLITS up to WARP_SUFFIX_MAX_G, else 0; a bench or test may set it
    private boolean overlapSuffix = true;                                   // the warp suffix launched overlapping the shared level (PDL)
    private boolean overlapShared = true;                                   // the tensor-core shared level launched overlapping the kernel before (PDL)
    private int suffixSharedAhead;                                          // its shared slots a lane per load; 0: CascadeSuffixKernels.SHARED_AHEAD
    private boolean suffixReplay;                                           // the warp suffix in the split kernel's layout (its bits); else its own range
    private int sharedMinBlocks = -1;                                       // the tensor-core shared level's launch bounds; -1: its default
    private int sharedKeyHalves;                                            // its key halves a work-group; 0: CascadeMmaKernels.keyHalves
    private boolean sharedInterleave;                                       // its S = Q·Kᵀ mma n-tile-interleaved (the same bits)
    private int sharedRangesForced;                                         // > 0: the shared level's key ranges forced (tests, benches)
    private int sharedRangeKeys = DEFAULT_RANGE_KEYS;                       // its key ranges' least keys (CascadeMmaKernels.sharedRanges); 0: 256-key splits
    private boolean suffixFirst = SUFFIX_FIRST;                             // the warp suffix first, the shared level overlapping it, then the merge
    private int suffixKeysPerLane;                                          // the own-range warp suffix's U; 0: the paged launcher's
    private int suffixMinBlocks = -1;                                       // the warp suffix's launch bounds; -1: CascadeSuffixKernels.minBlocksPerSm
    private int sharedStages = SHARED_STAGES;                               // the tensor-core shared level's cp.async ring depth (2: double buffer)

    /**
     * The tensor-core shared level's cp.async ring depth ({@link #sharedStages}), system property {@code arbor.cascade.sharedStages}
     * (2..{@link CascadeMmaKernels#MAX_STAGES}; default 2, the double buffer of runs 16-62; 3 and 4 run
     * {@link CascadeMmaKernels#cascadeMmaDeepBf16} with its tile buffers in dynamic shared memory). The same bits at every depth.
     * Measured (bench/RESULTS.md "Run 64-casc16", interleaved): the shared level alone no faster at any row (107 × 530 18.8 µs at 2
     * stages, 19.1 at 3 and 4; 500 × 752 76.2 / 76.9 / 77.9), so its time is not the next tile's copy latency; a step 3-10% faster at
     * 4 stages in three rows (107 × 240 38.7 → 35.0 µs, 32 × 128 12.8 → 11.8, ALiBi 40 heads 55.3 → 54.2) with the shared level alone
     * unchanged there (not understood), 3-4% slower at 32 × 256-512: off.
     */
    public static final int SHARED_STAGES = Math.max(2, Math.min(CascadeMmaKernels.MAX_STAGES, Integer.getInteger("arbor.cascade.sharedStages", 2)));

    /**
     * Suffix first ({@link #suffixFirst}), system property {@code arbor.cascade.suffixFirst} (default off: measured slower,
     * bench/RESULTS.md "Run 61-casc15": a step 47.8 → 77.7 µs at 107 × 530, 172.4 → 321.9 at 500 × 752, seed workload 2's decode
     * device step 17.99 → 21.88 ms; the merge launch, {@link AttentionKernels#mergeSplits} with a work-item per (token, head, dim),
     * costs ~34 µs alone at 107 × 530, more than the overlap saves).
     */
    public static final boolean SUFFIX_FIRST = Boolean.getBoolean("arbor.cascade.suffixFirst");

    /**
     * The tensor-core shared level's key ranges ({@link #sharedRangeKeys}): the least keys of a range when the launch's prefix is cut
     * into equal ranges, system property {@code arbor.cascade.rangeKeys} (default 64; 0: the 256-key splits of runs 22-58).
     */
    public static final int DEFAULT_RANGE_KEYS = Integer.getInteger("arbor.cascade.rangeKeys", 64);

    /**
     * @param maxContext    the longest context a launch may see (keys)
     * @param maxSharedLen  the longest shared prefix (keys)
     * @param tokenCapacity the most tokens of one launch
     */
    public CascadeAttention(int heads, int kvHeads, int headDim, int blockSize, int maxContext, int maxSharedLen, int tokenCapacity) {
        PagedAttention.checkShape(heads, kvHeads, headDim, blockSize);
        Shapes.positive("maxContext", maxContext);
        Shapes.positive("maxSharedLen", maxSharedLen);
        Shapes.positive("tokenCapacity", tokenCapacity);
        if (maxSharedLen > maxContext) throw new IllegalArgumentException("maxSharedLen " + maxSharedLen + " over maxContext " + maxContext);
        int queries = queriesPerGroup(heads, kvHeads), rows = queries * (heads / kvHeads), t = AttentionKernels.TILE;
        int shared = 4 * (2 * rows * headDim + t * (2 * headDim + 1) + rows * t + 3 * rows + t + 2 * queries);
        if (shared > 48 * 1024) {
            throw new IllegalArgumentException("cascade work-group of " + rows + " query rows x headDim " + headDim + " needs " + shared
                    + " bytes of shared memory, over 48 KiB");
        }
        this.maxContext = maxContext;
        this.maxSharedLen = maxSharedLen;
        this.sharedBase = PagedAttention.splits(maxContext);
        // the shared slots: the prefix's 256-key splits, or up to MAX_RANGES key ranges of at least RANGE_ALIGN keys (sharedRangeKeys)
        int sharedSlots = Math.max(PagedAttention.splits(maxSharedLen),
                Math.min(CascadeMmaKernels.MAX_RANGES, (maxSharedLen + CascadeMmaKernels.RANGE_ALIGN - 1) / CascadeMmaKernels.RANGE_ALIGN));
        int slotKeys = (sharedBase + sharedSlots) * AttentionKernels.SPLIT;
        this.paged = new PagedAttention(heads, kvHeads, headDim, blockSize, slotKeys, tokenCapacity);
    }

    /**
     * Whether cascade pays for a group of {@code sequences} decode sequences sharing {@code sharedKeys} keys:
     * at least {@link #MIN_SEQUENCES} sequences and {@code sequences × sharedKeys ≥} {@link #MIN_SHARED_READS}.
     * Measured (bench/RESULTS.md "Run 22-attn3", call 1, 32 heads × 128, own 20..50 keys): paged / cascade time 0.36-0.60
     * below 8,192 (sequence, shared key) pairs (the paged kernel's repeated prefix reads hit L2; the shared launch costs
     * ~15-25 µs), 0.77-0.79 at 8,192 (32 × 256, 16 × 512), 1.21 at 32 × 512, 1.9 at 107 × 528, 2.3 at 500 × 752. (Run 16's
     * sweep put break-even at 8,192: the merge fix of run 22 made the paged side faster.) 16 × 1,024 is not measured: paged
     * time grows with the shared keys, the shared level's does not (its splits run side by side). Run 26-attn4 (fused merge,
     * call 2): 0.86 at 32 × 256, 0.90 at 16 × 512, 1.40 at 32 × 512, 2.2 at 107 × 528, 2.5 at 500 × 752: the same threshold.
     */
    public static boolean pays(int sequences, int sharedKeys) {
        return sequences >= MIN_SEQUENCES && (long) sequences * sharedKeys >= MIN_SHARED_READS;
    }

    /** Fewest sequences in a cascade group. */
    public static final int MIN_SEQUENCES = 16;
    /** Fewest (sequence, shared key) pairs in a cascade group. */
    public static final long MIN_SHARED_READS = 16384;

    /** The plain paged launcher over this cascade's scratch (a step without groups runs it: one scratch for both). */
    public PagedAttention paged() { return paged; }

    /** Query tokens per cascade work-group for G query heads per kv head: max(1, 8 / G). */
    public static int queriesPerGroup(int heads, int kvHeads) {
        return Math.max(1, 8 / (heads / kvHeads));
    }

    /**
     * @param q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen
     *                         as {@link PagedAttention#launch}
     * @param keyStart         (numSeqs) shared prefix length in keys of each sequence's group (a multiple of blockSize:
     *                         whole shared blocks), 0 for a sequence in no group
     * @param groupTokens      the tokens of each group, group after group (every token of a sequence with keyStart > 0)
     * @param groupTokenStart  (numGroups + 1) offsets into groupTokens
     * @param numGroups        0 runs no shared launch (then the result is PagedAttention's split mode, bit for bit)
     * @param maxGroupTokens   an upper bound of tokens per group (sets the grid)
     * @param maxSharedLenNow  an upper bound of keyStart over the batch (sets the grid)
     */
    public void launch(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                       IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens, int maxContextLen,
                       IntArray keyStart, IntArray groupTokens, IntArray groupTokenStart, int numGroups, int maxGroupTokens, int maxSharedLenNow) {
        launch(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen, keyStart,
                groupTokens, groupTokenStart, numGroups, maxGroupTokens, maxSharedLenNow, PagedAttention.splits(maxContextLen));
    }

    /**
     * Own splits of a token at {@code position} whose keys from {@code keyStart} on are its own (0 in no group): the suffix
     * launch's work-groups for it, {@code position / 256 - keyStart / 256 + 1} (0 when every key is shared).
     */
    public static int ownSplits(int position, int keyStart) {
        return keyStart > position ? 0 : position / AttentionKernels.SPLIT - keyStart / AttentionKernels.SPLIT + 1;
    }

    /**
     * As above, with {@code maxOwnSplits} an upper bound of {@link #ownSplits} over the batch's tokens (the suffix launch's grid:
     * 107 sequences of ~37 own keys need 1, not the 3 of their 580-key contexts, whose other work-groups would only find nothing
     * to do). Same bits as any larger bound.
     */
    public void launch(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                       IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens, int maxContextLen,
                       IntArray keyStart, IntArray groupTokens, IntArray groupTokenStart, int numGroups, int maxGroupTokens, int maxSharedLenNow,
                       int maxOwnSplits) {
        if (maxContextLen > maxContext) throw new IllegalArgumentException("maxContextLen " + maxContextLen + " over the launcher's maxContext " + maxContext);
        if (maxSharedLenNow > maxSharedLen) throw new IllegalArgumentException("maxSharedLenNow " + maxSharedLenNow + " over the launcher's maxSharedLen " + maxSharedLen);
        if (tokens > paged.splitTokens()) throw new IllegalArgumentException("tokens " + tokens + " over the launcher's tokenCapacity " + paged.splitTokens());
        if (numGroups < 0) throw new IllegalArgumentException("numGroups must be >= 0: " + numGroups);
        int numBlocks = paged.checkBatch(q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen);
        Shapes.need("keyStart", keyStart, 1);
        int heads = paged.heads(), kvHeads = paged.kvHeads(), headDim = paged.headDim(), slots = paged.slots();
        boolean sharedLaunched = numGroups > 0 && runShared;
        // the suffix's form first: the shared level's key ranges go with the warp suffix in its own range layout only (the 4-warp
        // split kernel's merge and the replayed layout fold 256-key splits' slots)
        int ownZ = Math.max(1, Math.min(maxOwnSplits, PagedAttention.splits(maxContextLen)));
        int warpMax = warpSuffixMaxSplits >= 0 ? warpSuffixMaxSplits : heads / kvHeads <= WARP_SUFFIX_MAX_G ? WARP_SUFFIX_MAX_SPLITS : 0;
        boolean warp = ownZ <= warpMax && CascadeSuffixKernels.serves(kCache, heads, kvHeads, headDim);
        boolean replay = suffixReplay || numGroups == 0;
        int ranges = 0;   // the shared level's key ranges (its grid's z; 0: 256-key splits)
        if (numGroups > 0) {
            Shapes.positive("maxGroupTokens", maxGroupTokens);
            Shapes.positive("maxSharedLenNow", maxSharedLenNow);
            Shapes.need("groupTokenStart", groupTokenStart, numGroups + 1L);
            Shapes.need("groupTokens", groupTokens, 1);
            boolean mma = CascadeMmaKernels.serves(kCache, heads, kvHeads, headDim);
            int halves = 1, minBlocks = 0;   // the tensor-core shared level's key halves and launch bounds
            if (mma) {
                // its form by the launch's size (its whole-split work-groups against the SMs): CascadeMmaKernels.keyHalves /
                // minBlocksPerSm; this cascade's knobs override them for benches and tests
                int sms = b.multiprocessors();
                int wholeQueries = CascadeMmaKernels.queries(heads, kvHeads, 1);
                long whole = (long) numGroups * ((maxGroupTokens + wholeQueries - 1) / wholeQueries) * kvHeads * PagedAttention.splits(maxSharedLenNow);
                halves = sharedKeyHalves > 0 ? sharedKeyHalves : CascadeMmaKernels.keyHalves(heads, kvHeads, whole, sms);
                if (CascadeMmaKernels.ROWS / halves % (heads / kvHeads) != 0) halves = 1;   // G must divide the work-group's rows
                minBlocks = sharedMinBlocks >= 0 ? sharedMinBlocks : CascadeMmaKernels.minBlocksPerSm(heads / kvHeads, headDim, halves, whole, sms);
            }
            int queries = mma ? CascadeMmaKernels.queries(heads, kvHeads, halves) : queriesPerGroup(heads, kvHeads);
            int tiles = (maxGroupTokens + queries - 1) / queries;
            long gx = (long) numGroups * tiles;
            if (gx > Integer.MAX_VALUE) throw new IllegalArgumentException("numGroups x query tiles " + gx + " over 2^31-1");
            if (mma && warp && !replay) {
                int splits = PagedAttention.splits(maxSharedLenNow);
                ranges = sharedRangesForced > 0 ? Math.max(splits, Math.min(sharedRangesForced, slots - sharedBase))
                        : CascadeMmaKernels.sharedRanges(splits, gx * kvHeads, b.multiprocessors(), maxSharedLenNow, sharedRangeKeys, slots - sharedBase);
            }
            boolean first = suffixFirst && warp;
            if (first && runSuffix) launchWarpSuffix(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens,
                    keyStart, numBlocks, heads, kvHeads, headDim, slots, ranges, replay, false, true);
            if (sharedLaunched) {
                // suffix first: overlapping the warp suffix (it lets this grid in at once), waiting for it only at the end
                boolean late = first && runSuffix;
                int threads = mma ? CascadeMmaKernels.THREADS : AttentionKernels.THREADS;
                Launch l = Launch.of(new int[] {(int) gx, kvHeads, ranges > 0 ? ranges : PagedAttention.splits(maxSharedLenNow)}, new int[] {threads, 1, 1});
                FloatArray slopes = alibiSlopes != null ? alibiSlopes : q;
                int alibi = alibiSlopes != null ? 1 : 0;
                if (mma && sharedStages > 2) {   // the deeper cp.async ring (same bits): its tile buffers in dynamic shared memory
                    Launch ld = l.withSharedBytes(CascadeMmaKernels.deepSharedBytes(sharedStages, headDim));
                    b.launch(Shapes.byStore(kCache, SHARED_MMA_DEEP_BF16, SHARED_MMA_DEEP_F16, null), overlapShared || late ? ld.overlappingPrevious() : ld, q, kCache, vCache,
                            paged.partials(), positions, seqOfToken, blockTables, keyStart, slopes, groupTokens, groupTokenStart, maxBlocksPerSeq, numBlocks, slots,
                            sharedBase, tiles, ranges, late ? 1 : 0, heads, kvHeads, headDim, paged.blockSize(), alibi, minBlocks, halves, sharedInterleave ? 1 : 0,
                            sharedStages);
                } else if (mma) {   // tensor cores: the shape and store decide, never the batch
                    b.launch(Shapes.byStore(kCache, SHARED_MMA_BF16, SHARED_MMA_F16, null), overlapShared || late ? l.overlappingPrevious() : l, q, kCache, vCache, paged.partials(), positions, seqOfToken,
                            blockTables, keyStart, slopes, groupTokens, groupTokenStart, maxBlocksPerSeq, numBlocks, slots, sharedBase, tiles, ranges, late ? 1 : 0,
                            heads, kvHeads, headDim, paged.blockSize(), alibi, minBlocks, halves, sharedInterleave ? 1 : 0);
                } else {
                    b.launch(Shapes.byStore(kCache, SHARED_BF16, SHARED_F16, SHARED_F32), l, q, kCache, vCache, paged.partials(), positions, seqOfToken,
                            blockTables, keyStart, slopes, groupTokens, groupTokenStart, maxBlocksPerSeq, numBlocks, slots, sharedBase, tiles,
                            heads, kvHeads, headDim, paged.blockSize(), alibi, queries);
                }
            }
            if (first) {   // the merge of the shared slots and the suffix's own slot (AttentionKernels#mergeSplits)
                if (runMerge) paged.launchMerge(b, out, positions, seqOfToken, keyStart, tokens, slots, sharedBase, ranges, true);
                return;
            }
        }
        if (warp) {
            // suffix + merge in one launch, a warp per (token, kv head): over its own keys as one range, or replaying the split kernel's
            // layout (its bits)
            if (runSuffix) launchWarpSuffix(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens,
                    keyStart, numBlocks, heads, kvHeads, headDim, slots, ranges, replay, sharedLaunched && overlapSuffix, false);
            return;
        }
        boolean merged = runSuffix && paged.launchPaged(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, keyStart, maxBlocksPerSeq,
                alibiSlopes, tokens, PagedAttention.splits(maxContextLen), ownZ, numBlocks, true, true, slots, sharedBase, false);
        if (!merged && runMerge) paged.launchMerge(b, out, positions, seqOfToken, keyStart, tokens, slots, sharedBase, 0, true);
    }

    /**
     * The warp suffix ({@link CascadeSuffixKernels}): by default one virtual warp over the token's own keys as one range
     * (CascadeSuffixKernels' ownRange); suffixReplay, or a launch without groups (then PagedAttention's split mode, bit for bit): the
     * split kernel's warps over its 256-key splits (that kernel's bits, run 26-55's default). {@code overlap}: launched overlapping the
     * shared level just before it (the kernel reads its own keys before gridDependencyWait, which must not overlap the KV write before a
     * plain launch). {@code writeOwn}: suffix first, its own keys' state into its own split's slot (no shared slot read, no out).
     */
    private void launchWarpSuffix(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                                  IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens, IntArray keyStart,
                                  int numBlocks, int heads, int kvHeads, int headDim, int slots, int ranges, boolean replay, boolean overlap,
                                  boolean writeOwn) {
        int u = !replay && suffixKeysPerLane > 0 ? suffixKeysPerLane : paged.keysPerLaneNow(), w = replay ? paged.decodeWarpsNow() : 1;
        Launch l = Launch.of(new int[] {tokens, kvHeads, 1}, new int[] {CascadeSuffixKernels.THREADS, 1, 1});
        // a bf16 out: the bf16-output twin; writeOwn writes no out (the merge launch does), so the fp32 kernel with q in its place
        boolean ownOnly = writeOwn && !(out instanceof FloatArray);
        Kernel kernel = ownOnly ? Shapes.byStore(kCache, SUFFIX_MERGE_BF16, SUFFIX_MERGE_F16, null)
                : Shapes.byOut(out, kCache, Shapes.byStore(kCache, SUFFIX_MERGE_BF16, SUFFIX_MERGE_F16, null), SUFFIX_MERGE_BF16_OUT_BF16);
        b.launch(kernel, overlap ? l.overlappingPrevious() : l, q, kCache, vCache, ownOnly ? q : out,
                paged.partials(), positions, seqOfToken, blockTables, keyStart, alibiSlopes != null ? alibiSlopes : q, maxBlocksPerSeq,
                numBlocks, slots, sharedBase, ranges, heads, kvHeads, headDim, paged.blockSize(), alibiSlopes != null ? 1 : 0, u, w,
                suffixSharedAhead > 0 ? suffixSharedAhead : CascadeSuffixKernels.SHARED_AHEAD,
                suffixMinBlocks >= 0 ? suffixMinBlocks : CascadeSuffixKernels.minBlocksPerSm(heads, kvHeads), replay ? 0 : 1, writeOwn ? 1 : 0);
    }

    /**
     * Suffix first (off by default, {@link #SUFFIX_FIRST}): the warp suffix is launched before the shared level and writes its own keys'
     * state to a slot; the tensor-core shared level is launched overlapping it (programmatic dependent launch: its work-groups take the
     * SMs' registers as suffix warps leave, instead of the suffix waiting for the shared level's last work-group), in its splits or key
     * ranges; then {@link AttentionKernels#mergeSplits} folds the shared slots and the own slot. One launch more; equal up to rounding.
     */
    public CascadeAttention suffixFirst(boolean on) {
        this.suffixFirst = on;
        return this;
    }

    /**
     * For benchmarks and tests: the tensor-core shared level's cp.async ring depth (2: the double buffer; 3..{@link CascadeMmaKernels#MAX_STAGES}:
     * {@link CascadeMmaKernels#cascadeMmaDeepBf16}, tiles it+1 .. it+stages-1 in flight while tile it is computed). The same bits.
     */
    public CascadeAttention sharedStages(int n) {
        if (n < 2 || n > CascadeMmaKernels.MAX_STAGES) throw new IllegalArgumentException("sharedStages must be 2.." + CascadeMmaKernels.MAX_STAGES + ": " + n);
        this.sharedStages = n;
        return this;
    }

    /** For benchmarks: the own-range warp suffix's keys a lane a round (U: 2, 4, 8; 0: the paged launcher's, 4). Up to rounding the same. */
    public CascadeAttention suffixKeysPerLane(int u) {
        if (u != 0 && u != 2 && u != 4 && u != 8) throw new IllegalArgumentException("suffixKeysPerLane must be 0, 2, 4 or 8: " + u);
        this.suffixKeysPerLane = u;
        return this;
    }

    /** For benchmarks: the warp suffix's launch bounds (warps an SM; -1: {@link CascadeSuffixKernels#minBlocksPerSm}). Registers only: the same bits. */
    public CascadeAttention suffixMinBlocks(int n) {
        if (n < -1 || n > 32) throw new IllegalArgumentException("suffixMinBlocks must be -1..32: " + n);
        this.suffixMinBlocks = n;
        return this;
    }

    /**
     * For benchmarks (the per-part breakdown): which of the launches {@link #launch} issues: the shared level, the suffix (split
     * kernel, with the merge when it is fused) and the separate merge (when it is not fused). A part alone reads what the
     * previous full launch left in the scratch. All true by default.
     */
    public CascadeAttention partsForBench(boolean shared, boolean suffix, boolean merge) {
        this.runShared = shared;
        this.runSuffix = suffix;
        this.runMerge = merge;
        return this;
    }

    /**
     * For benchmarks and tests: the suffix + merge as one warp per (token, kv head) up to this many own splits at any G (0: never, the
     * 4-warp split kernel and its fused or separate merge always); by default {@link #WARP_SUFFIX_MAX_SPLITS} up to
     * {@link #WARP_SUFFIX_MAX_G}. The same bits either way with {@link #suffixReplay}; up to rounding without it.
     */
    public CascadeAttention warpSuffix(int maxOwnSplits) {
        if (maxOwnSplits < 0) throw new IllegalArgumentException("maxOwnSplits must be >= 0: " + maxOwnSplits);
        this.warpSuffixMaxSplits = maxOwnSplits;
        return this;
    }

    /**
     * For benchmarks and tests: the warp suffix in the split kernel's layout ({@code true}: its {@code warps} virtual warps over each
     * 256-key split, the bits of the 4-warp split kernel + merge, the default of runs 26-55) or, by default ({@code false}), one virtual
     * warp over the token's own keys as one range from {@code keyStart} while they are at most 256 keys (one row-offset fill, one
     * fold of the rows' states, no split boundary inside the suffix: bench/RESULTS.md "Run 57-casc12"). Equal up to rounding (the keys'
     * states are folded in another grouping); the cascade runs only without batch invariance. A launch without groups takes the
     * split kernel's layout either way (PagedAttention's split mode, bit for bit).
     */
    public CascadeAttention suffixReplay(boolean on) {
        this.suffixReplay = on;
        return this;
    }

    /** For benchmarks: whether the warp suffix is launched overlapping the shared level (programmatic dependent launch; default on). The same bits either way. */
    public CascadeAttention overlapSuffix(boolean on) {
        this.overlapSuffix = on;
        return this;
    }

    /**
     * Whether the tensor-core shared level is launched overlapping the kernel before it (programmatic dependent launch; default
     * on): its index chain (group tokens, key starts, positions, the split's row offsets) runs during that kernel's tail, and it
     * waits for that kernel before reading q or the KV rows; so those index arrays must be host-written before the step (the
     * engine's upload), not by a kernel of the step. Benchmarks compare; the same bits either way.
     */
    public CascadeAttention overlapShared(boolean on) {
        this.overlapShared = on;
        return this;
    }

    /** For benchmarks and tests: the warp suffix's shared slots a lane per load (1..16; 0: its default, {@link CascadeSuffixKernels#SHARED_AHEAD}). The same bits either way. */
    public CascadeAttention suffixSharedAhead(int n) {
        if (n < 0 || n > 16) throw new IllegalArgumentException("suffixSharedAhead must be 0..16: " + n);
        this.suffixSharedAhead = n;
        return this;
    }

    /**
     * For benchmarks: work-groups an SM the tensor-core shared level must hold (0: no bound; -1: the launcher's choice by the
     * launch's size, {@link CascadeMmaKernels#minBlocksPerSm}). Registers only: the same bits either way.
     */
    public CascadeAttention sharedMinBlocks(int n) {
        if (n < -1 || n > 16) throw new IllegalArgumentException("sharedMinBlocks must be -1..16: " + n);
        this.sharedMinBlocks = n;
        return this;
    }

    /**
     * For benchmarks and tests: the tensor-core shared level's key halves a work-group (1 or 2; 0: the launcher's choice by the
     * launch's size, {@link CascadeMmaKernels#keyHalves}). The keys are summed in another grouping: equal up to rounding (tests bound it).
     */
    public CascadeAttention sharedKeyHalves(int n) {
        if (n < 0 || n > 2) throw new IllegalArgumentException("sharedKeyHalves must be 0..2: " + n);
        this.sharedKeyHalves = n;
        return this;
    }

    /**
     * For benchmarks and tests: the tensor-core shared level's S = Q·Kᵀ mma n-tile-interleaved (every n-tile's high-part mma of a
     * k-step, then their remainders': independent accumulators back to back; CascadeMmaKernels#scoresInterleaved) or, by default,
     * n-tile after n-tile. Each accumulator gets the same mma in the same order: the same bits either way.
     */
    public CascadeAttention sharedInterleave(boolean on) {
        this.sharedInterleave = on;
        return this;
    }

    /**
     * For benchmarks and tests: the least keys of a key range of the tensor-core shared level ({@link CascadeMmaKernels#sharedRanges}:
     * the prefix cut into equal ranges, 2 for a one-split prefix of at least twice this, where they fit one wave); 0: the 256-key splits
     * (runs 22-58's layout). Only with the warp suffix in its own-range layout (the others fold 256-key splits). The keys are summed in
     * another grouping: equal up to rounding (tests bound it). Default {@link #DEFAULT_RANGE_KEYS}.
     */
    public CascadeAttention sharedRangeKeys(int minKeys) {
        if (minKeys < 0) throw new IllegalArgumentException("sharedRangeKeys must be >= 0: " + minKeys);
        this.sharedRangeKeys = minKeys;
        return this;
    }

    /**
     * For tests and benchmarks: the tensor-core shared level's key ranges forced to {@code n} (at least the prefix's 256-key splits, at most
     * the scratch's shared slots, {@code max(splits(maxSharedLen), min(}{@link CascadeMmaKernels#MAX_RANGES}{@code , ceil(maxSharedLen / 32)))});
     * 0: the launcher's rule ({@link #sharedRangeKeys}). Where the launch takes the warp suffix in its own-range layout only.
     */
    public CascadeAttention sharedRanges(int n) {
        if (n < 0 || n > CascadeMmaKernels.MAX_RANGES) throw new IllegalArgumentException("sharedRanges must be 0.." + CascadeMmaKernels.MAX_RANGES + ": " + n);
        this.sharedRangesForced = n;
        return this;
    }

    /** Puts the scratch on the device; see {@link PagedAttention#toDevice}. */
    public void toDevice(Backend b) { paged.toDevice(b); }

    @Override public void close() { paged.close(); }
}
