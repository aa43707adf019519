package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

/**
 * Host-side launcher of paged attention ({@link AttentionKernels}) for one model shape: prefill chunks,
 * decode steps and mixed batches alike. It owns the split scratch, sized once at construction
 * ({@code splitTokens × heads × ceil(maxContext / SPLIT) × (headDim + 2)} floats); a launch allocates
 * nothing on the device. The result of a (token, head) is the same bits in either mode (see
 * {@link AttentionKernels}), so the mode is chosen for speed only: split mode (flash-decoding, one
 * work-group per (token, kv head, 256-key split), then a merge) when the batch has few tokens, whole
 * mode (one work-group per (token, kv head)) otherwise.
 *
 * <p>Constraints: {@code heads % kvHeads == 0}; headDim ≤ 128 and G·headDim ≤ 1024 with G = heads / kvHeads
 * (the shared-memory budget of 48 KiB); headDim a multiple of 4 takes the vector loads.
 * Not read by the kernels: queryStart and contextLens (positions and seqOfToken carry the same).
 * Padding tokens (a graph bucket larger than the batch) need only a position ≥ 0 and a valid block-table
 * row: their rows of {@code out} are finite garbage and no other token's result depends on them.
 */
public final class PagedAttention implements AutoCloseable {
    /**
     * Split mode is used while tokens × kvHeads (whole-mode work-groups) stays below this: about five waves of 6 work-groups on 132 SMs,
     * where whole mode's last partial wave costs little; DecodeKernels' shapes take {@link DecodeKernels#splitBelowGroups}.
     */
    public static final int SPLIT_BELOW_GROUPS = 4096;

    /**
     * The split kernel merges in its last-arriving work-group per (token, kv head) while the launch has at most this many
     * splits (256 keys each), else a separate merge launch follows; the same bits either way. The fused merge loads
     * {@link #FUSED_MERGE_AHEAD} slots per round trip, the separate one {@link AttentionKernels#MERGE_AHEAD}. Measured
     * (bench/RESULTS.md "Run 26-attn4", call 1, fused at 8 vs separate, 32 heads × 128): batch 1 × 2k 16.9 / 17.4 µs, 4k 23.3 /
     * 23.3, 8k 39.7 / 39.2, 16k 76.9 / 75.1, 32k 148.5 / 143.9; 32 × 1k 136.5 / 137.9, 32 × 4k 513.9 / 510.2: even up to 16
     * splits, a loss from 32 (8 slots per round trip against 32); the cascade suffix gains most (one launch fewer).
     */
    public static final int FUSE_MAX_SPLITS = 16;
    private static final int SPLIT_KEYS = AttentionKernels.SPLIT;
    /**
     * Slots per round trip of the fused merge: 8 keeps the decode kernel at 61 registers (ptxas, 32 heads × 128; 56 without the
     * merge), so 8 work-groups per SM as before; 16 takes 80 and 32 takes 128.
     */
    public static final int FUSED_MERGE_AHEAD = 8;

    static final Kernel PAGED_BF16 = Kernel.of(AttentionKernels.class, "pagedBf16");
    static final Kernel PAGED_F16 = Kernel.of(AttentionKernels.class, "pagedF16");
    static final Kernel PAGED_F32 = Kernel.of(AttentionKernels.class, "pagedF32");
    static final Kernel MERGE = Kernel.of(AttentionKernels.class, "mergeSplits");
    static final Kernel DECODE_BF16 = Kernel.of(DecodeKernels.class, "decodeBf16");
    static final Kernel DECODE_F16 = Kernel.of(DecodeKernels.class, "decodeF16");
    static final Kernel DECODE_BF16_OUT_BF16 = Kernel.of(DecodeKernels.class, "decodeBf16OutBf16");
    static final Kernel MERGE_BF16 = Kernel.of(AttentionKernels.class, "mergeSplitsBf16");
    static final Kernel DECODE_PIPED_BF16 = Kernel.of(DecodeKernels.class, "decodeBf16Piped");
    static final Kernel DECODE_PIPED_F16 = Kernel.of(DecodeKernels.class, "decodeF16Piped");
    static final Kernel DECODE_PIPED_BF16_OUT_BF16 = Kernel.of(DecodeKernels.class, "decodeBf16OutBf16Piped");

    /**
     * {@code -Darbor.paged.smallSplit=KEYS} (64 or 128; default 0: off): DecodeKernels splits the keys of a token at a position below
     * {@code -Darbor.paged.smallSplitBelow} (default {@link #SMALL_SPLIT_BELOW}) every KEYS keys instead of every
     * {@link AttentionKernels#SPLIT} (256): more work-groups where a launch has few (batch 1 at a short context). The split length is
     * a function of the token's position only (read once per launcher), so the default mode's batch invariance holds; the bits
     * differ from the 256-key form's (another fold order). Off by default: measured (bench/RESULTS.md "Run 61-dec15", H200, 32 heads ×
     * 128, small splits at every position) faster only at batch 1 up to 1,024 keys (12.5 → 8.6 µs at 512 with 128 keys), equal at
     * 1 × 2,048 and slower everywhere else (1 × 4,096 24.1 → 24.9 µs, 1 × 8,192 38.5 → 45.4, 32 × 2,048 255.5 → 267.6; 64 keys
     * slower still), and the default mode's paged kernel starts at position 1,024 ({@code arbor.cuda.flashBelow}), where no batch
     * gains: no position rule pays there. {@link #narrowSplits} takes the batch-1 gain without batch invariance.
     */
    public static final int SMALL_SPLIT = Integer.getInteger("arbor.paged.smallSplit", 0);
    /** Positions below which {@link #SMALL_SPLIT} applies (the default of {@code -Darbor.paged.smallSplitBelow}). */
    public static final int SMALL_SPLIT_BELOW = Integer.getInteger("arbor.paged.smallSplitBelow", 8192);

    /**
     * {@code -Darbor.paged.pipelineRounds=true|false}: DecodeKernels with two rounds of K/V loads in flight a warp
     * ({@link DecodeKernels#pipelinedRounds}, launch bounds of {@link #PIPE_BLOCKS} work-groups an SM: 121 registers at 32 × 128) for
     * launches of at most {@link #PIPE_WAVE} work-groups an SM's worth (one wave at that occupancy; at 32 × 128 batch 1 up to 4,096
     * keys: 32 × 16 splits = 512 work-groups ≤ 4 × 132), where a work-group's serial chain of round trips is the launch's time; G = 1
     * shapes only ({@link DecodeKernels#pipelines}). The same bits (same loads, scores and updates in the same order), so a rule by
     * launch size keeps the default mode's batch invariance. See bench/RESULTS.md "Run 80-dec21".
     */
    public static final boolean PIPELINE_ROUNDS = Boolean.parseBoolean(System.getProperty("arbor.paged.pipelineRounds", "true"));
    /** Work-groups an SM the pipelined form is bounded to (its registers: at most 128). */
    public static final int PIPE_BLOCKS = 4;
    /**
     * {@code -Darbor.paged.pipelineSkew=true|false}: the pipelined form issues the next round's K loads before this round's scores and
     * its V loads before this round's update ({@link DecodeKernels#skewedRounds}) instead of both before the scores
     * ({@link DecodeKernels#pipelinedRounds}): three of the four K/V buffers live at once. The same bits. <b>Off</b>: ptxas saves no
     * register (123 against 121 at 32 × 128) and it measured slower at every row it serves (bench/RESULTS.md "Run 85-dec22": b1 × 512
     * 11.1 → 13.3 µs, 1 × 4,096 21.6 → 22.2).
     */
    public static final boolean PIPELINE_SKEW = Boolean.parseBoolean(System.getProperty("arbor.paged.pipelineSkew", "false"));
    /**
     * {@code -Darbor.paged.pairedOffsets=true|false}: the pipelined form computes its split's row offsets with both of a work-item's
     * block-table loads issued before either is used ({@link DecodeKernels#pairedRowOffsets}): the same offsets, so the same bits.
     * Measured (bench/RESULTS.md "Run 85-dec22", H200, issue 11's table, forms interleaved in one JVM): b1 × 512 11.1 → 9.4 µs, 1 × 1,024
     * 12.8 → 11.1, 1 × 2,048 15.5 → 14.5, 1 × 4,096 21.6 → 21.6, every other row even (the plain kernel there); in the engine ("Run
     * 91-pair22", llama-7b b1 in the default mode, where this kernel serves positions past FLASH_BELOW = 1,024): a 1,536-token prompt's
     * decode 4.338 → 4.298 ms of device time a step (−0.9%), a 3,500-token prompt's even (4.539 / 4.541), the same tokens. <b>On</b>. Read
     * when a launcher is made (so {@code bench throughput --ab arbor.paged.pairedOffsets} compares both in one JVM).
     */
    public static final String PAIRED_OFFSETS = "arbor.paged.pairedOffsets";
    /**
     * {@code -Darbor.paged.pipeBlocks=N} (default {@link #PIPE_BLOCKS}): the pipelined form's launch bounds, work-groups an SM (5: at
     * most 96 registers at 128 work-items, room for a fifth work-group, e.g. the next grid's index chain under programmatic dependent
     * launch). Registers only: the same bits. The launch rule ({@link #PIPE_WAVE}) does not change with it. 5 measured much slower
     * (bench/RESULTS.md "Run 85-dec22": ptxas spills 72 bytes at 96 registers; b1 × 4,096 21.6 → 29.0 µs, 1 × 512 11.1 → 14.7).
     */
    public static final int PIPE_BLOCKS_NOW = Integer.getInteger("arbor.paged.pipeBlocks", PIPE_BLOCKS);
    // Removed after measuring (session 24): -Darbor.paged.splitsPerGroup / -Darbor.paged.roundsInFlight, the pipelined form's split
    // span (N adjacent splits a work-group, 2-4 rounds of loads in flight across their boundaries; the same bits), slower at every row
    // it served: b1 × 4,096 21.3 µs against 26.1-39.9, b1 × 512 9.6 against 18.4-19.0 (bench/RESULTS.md "Run 92-dec23"; ncu there:
    // the b1 launch is bound by each warp's serial instruction chain, so fewer warps with more rounds each lose).
    // Also removed after measuring (session 24, bench/RESULTS.md "Run 98-dec24", the same bits, CPU and GPU tests there):
    // -Darbor.paged.scatterSums (the pipelined form's 4 score butterflies a round as one reduce-scatter, 9 shuffles instead of 16): even
    // (b1 × 4,096 21.3 / 21.3 µs) and 0.5% more instructions executed; -Darbor.paged.prefetchRounds=2|4|8 (an L2 bulk prefetch of the
    // split's next rounds, the first before the PDL wait): slower at every row it served (b1 × 4,096 21.3 → 23.4-25.7 µs, × 512 9.5 →
    // 11.2-12.2; ncu: L2 hits 3% → 26% but long-scoreboard stalls 3.9 → 5.6 cycles an instruction).
    /** The pipelined form is launched while tokens × kvHeads × splits ≤ PIPE_WAVE × multiprocessors (one wave of PIPE_BLOCKS an SM). */
    public static final int PIPE_WAVE = PIPE_BLOCKS;

    private final int heads, kvHeads, headDim, blockSize, maxContext, splitTokens, slots;
    private final int smallSplit, smallBelow;   // DecodeKernels' split length below position smallBelow (0, 0: SPLIT everywhere)
    private int narrowSplit;   // --no-batch-invariance only: split length of launches with few work-groups (0: off), see narrowSplits
    private int keysPerLane;   // U of DecodeKernels; a bench may override it (keysPerLane)
    private int mergeAhead = AttentionKernels.MERGE_AHEAD;   // slots the merge loads per round trip; a bench may override it
    private boolean overlapMerge = true;             // the merge launched overlapping the split kernel (PDL); a bench may turn it off
    private boolean overlapPrevious = true;          // DecodeKernels launched overlapping the kernel before it (PDL); a bench may turn it off
    private int decodeWarps;   // DecodeKernels' warps per work-group; 0: its choice by shape (DecodeKernels.warps); a bench may set 4 or 8
    private int fuseMaxSplits = FUSE_MAX_SPLITS;     // split mode of DecodeKernels merges in the last-arriving work-group up to this many splits
    private int fusedMergeAhead = FUSED_MERGE_AHEAD; // slots the fused merge loads per round trip
    private int decodeMinBlocks = -1;                // DecodeKernels' launch bounds; -1: DecodeKernels.minBlocksPerSm; a bench may set it
    private int pipeGroupsPerSm = PIPELINE_ROUNDS ? PIPE_WAVE : 0;   // pipelined rounds up to this many work-groups an SM's worth (0: never)
    private int pipeForm = PIPELINE_SKEW ? DecodeKernels.SKEWED : DecodeKernels.TWO_ROUNDS;   // the pipelined form's rounds
    private boolean pairedOffsets = !"false".equals(System.getProperty(PAIRED_OFFSETS));  // the pipelined form's row offsets with both block-table loads issued first
    private int pipeBlocks = PIPE_BLOCKS_NOW;        // the pipelined form's launch bounds, work-groups an SM
    private final FloatArray partials; // (splitTokens, heads, slots, headDim + 2)
    private final IntArray arrivals;   // (splitTokens, kvHeads) work-groups of a (token, kv head) done, for the fused merge; zero between launches

    /**
     * @param maxContext  the longest context (keys) a launch may see
     * @param splitTokens the most tokens a split-mode launch may hold (e.g. the decode batch limit); 0: never split
     */
    public PagedAttention(int heads, int kvHeads, int headDim, int blockSize, int maxContext, int splitTokens) {
        this(heads, kvHeads, headDim, blockSize, maxContext, splitTokens, SMALL_SPLIT, SMALL_SPLIT_BELOW);
    }

    /**
     * As above, DecodeKernels splitting the keys of tokens at positions below {@code smallBelow} every {@code smallSplit} keys
     * (32, 64 or 128; 0: every {@link AttentionKernels#SPLIT}), see {@link #SMALL_SPLIT}. A shape where that split is not a whole
     * number of the kernel's rounds (warps · keys per warp iteration) keeps SPLIT.
     */
    public PagedAttention(int heads, int kvHeads, int headDim, int blockSize, int maxContext, int splitTokens, int smallSplit, int smallBelow) {
        checkShape(heads, kvHeads, headDim, blockSize);
        if (smallSplit != 0 && smallSplit != 32 && smallSplit != 64 && smallSplit != 128) {
            throw new IllegalArgumentException("smallSplit must be 0, 32, 64 or 128: " + smallSplit);
        }
        Shapes.positive("maxContext", maxContext);
        if (splitTokens < 0) throw new IllegalArgumentException("splitTokens must be >= 0: " + splitTokens);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.maxContext = maxContext;
        this.splitTokens = splitTokens;
        this.keysPerLane = DecodeKernels.keysPerLane(heads, kvHeads);
        boolean small = smallSplit > 0 && smallBelow > 0 && headDim % 8 == 0 && 32 % (headDim / 8) == 0
                && smallSplit % keysPerRound(DecodeKernels.warps(heads, kvHeads, headDim, keysPerLane)) == 0;
        this.smallSplit = small ? smallSplit : 0;
        this.smallBelow = small ? smallBelow : 0;
        this.slots = Math.max(splits(maxContext), small ? (Math.min(maxContext, smallBelow) + smallSplit - 1) / smallSplit : 0);
        long n = (long) splitTokens * heads * slots * (headDim + 2);
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("split scratch of " + n + " floats is over 2^31-1: lower splitTokens (" + splitTokens + ")");
        this.partials = new FloatArray((int) Math.max(1, n));
        this.arrivals = new IntArray(Math.max(1, splitTokens * kvHeads));
    }

    /** Splits of a context of {@code keys} keys: ceil(keys / SPLIT). */
    public static int splits(int keys) {
        return (keys + AttentionKernels.SPLIT - 1) / AttentionKernels.SPLIT;
    }

    /** Shared memory of one paged work-group in bytes (must stay within 48 KiB). */
    public static int sharedBytes(int heads, int kvHeads, int headDim) {
        int g = heads / kvHeads, t = AttentionKernels.TILE;
        return 4 * (2 * g * headDim + t * (2 * headDim + 1) + g * t + AttentionKernels.THREADS + 8 * g + t);
    }

    static void checkShape(int heads, int kvHeads, int headDim, int blockSize) {
        Shapes.positive("heads", heads);
        Shapes.positive("kvHeads", kvHeads);
        Shapes.positive("headDim", headDim);
        Shapes.positive("blockSize", blockSize);
        if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " is not a multiple of kvHeads " + kvHeads);
        if (headDim > 128) throw new IllegalArgumentException("headDim " + headDim + " is over the CUDA-core kernel's 128");
        if (sharedBytes(heads, kvHeads, headDim) > 48 * 1024) {
            throw new IllegalArgumentException("query heads per kv head (" + heads / kvHeads + ") x headDim (" + headDim + ") needs "
                    + sharedBytes(heads, kvHeads, headDim) + " bytes of shared memory, over 48 KiB");
        }
    }

    /**
     * Attention of {@code tokens} new tokens over their sequences' paged context (their own K/V must
     * already be in the store: {@link KvWrite} first), mode chosen by size.
     *
     * @param q               (tokens, heads * headDim) fp32, after RoPE
     * @param kCache          (numBlocks, kvHeads, blockSize, headDim), BFloat16Array, HalfFloatArray or FloatArray; vCache alike
     * @param out             (tokens, heads * headDim)
     * @param positions       (tokens)
     * @param seqOfToken      (tokens) row of blockTables
     * @param blockTables     (numSeqs, maxBlocksPerSeq), row-major, padded
     * @param alibiSlopes     (heads) ALiBi slopes ({@code models.cpu.Alibi.slopes}), or null for RoPE models
     * @param maxContextLen   an upper bound of position + 1 over the batch (≤ maxContext); sets the split grid
     */
    public void launch(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                       IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens, int maxContextLen) {
        boolean streamed = DecodeKernels.serves(kCache, heads, kvHeads, headDim);
        if (streamed && narrowFits(tokens, maxContextLen)) {   // --no-batch-invariance, few work-groups: narrow splits, split mode
            int numBlocks = checkBatch(q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen);
            launchPaged(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, positions, maxBlocksPerSeq, alibiSlopes, tokens,
                    splits(maxContextLen), (maxContextLen + narrowSplit - 1) / narrowSplit, numBlocks, true, false, slots, 0, overlapPrevious,
                    narrowSplit, Integer.MAX_VALUE);
            return;
        }
        boolean split = ownSplits(maxContextLen) > 1 && tokens <= splitTokens
                && (long) tokens * kvHeads < (streamed ? DecodeKernels.splitBelowGroups(heads, kvHeads, headDim) : SPLIT_BELOW_GROUPS);
        launch(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen, split);
    }

    /**
     * Launches of at most this many SPLIT-key work-groups (tokens × kvHeads × splits, under a quarter of a wave of 8 work-groups on
     * 132 SMs) take {@link #narrowSplits} when it is on.
     */
    public static final int NARROW_BELOW_GROUPS = 256;

    /** Whether a launch of this size takes the narrow splits: on, few work-groups, the split scratch deep enough, whole rounds. */
    boolean narrowFits(int tokens, int maxContextLen) {
        return narrowSplit > 0 && tokens <= splitTokens && (long) tokens * kvHeads * splits(maxContextLen) <= NARROW_BELOW_GROUPS
                && (maxContextLen + narrowSplit - 1) / narrowSplit <= slots
                && narrowSplit % keysPerRound(decodeWarpsNow()) == 0;
    }

    /**
     * {@code --no-batch-invariance} only (the engine sets it there; a batch-dependent split length): a launch of few work-groups
     * ({@link #NARROW_BELOW_GROUPS}; batch 1 at a short context: 32 work-groups of one 256-key split at 133 keys) splits every
     * {@code keys} keys (32, 64 or 128; 0: off), in split mode with the fused merge, while the scratch holds that many splits
     * (contexts up to slots × keys). Another fold order than the 256-key form, and it depends on the batch: never in the default
     * mode. The engine's {@code -Darbor.paged.narrowSplit} (default: see CudaOps); bench/RESULTS.md "Run 61-dec15".
     */
    public PagedAttention narrowSplits(int keys) {
        if (keys != 0 && keys != 32 && keys != 64 && keys != 128) throw new IllegalArgumentException("narrow splits must be 0, 32, 64 or 128 keys: " + keys);
        this.narrowSplit = keys;
        return this;
    }

    /** As {@link #launch(Backend, FloatArray, OffHeapArray, OffHeapArray, OffHeapArray, IntArray, IntArray, IntArray, int, FloatArray, int, int)} in the given mode. */
    public void launch(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                       IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens, int maxContextLen,
                       boolean split) {
        int numBlocks = checkBatch(q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen);
        if (split && tokens > splitTokens) throw new IllegalArgumentException("tokens " + tokens + " over the split scratch's " + splitTokens);
        boolean merged = launchPaged(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, positions, maxBlocksPerSeq, alibiSlopes,
                tokens, splits(maxContextLen), ownSplits(maxContextLen), numBlocks, split, false, slots, 0, overlapPrevious, smallSplit, smallBelow);
        if (split && !merged) launchMerge(b, out, positions, seqOfToken, positions, tokens, slots, 0, 0, false);
    }

    int checkBatch(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions, IntArray seqOfToken,
                   IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens, int maxContextLen) {
        Shapes.positive("tokens", tokens);
        Shapes.positive("maxBlocksPerSeq", maxBlocksPerSeq);
        Shapes.positive("maxContextLen", maxContextLen);
        if (maxContextLen > maxContext) throw new IllegalArgumentException("maxContextLen " + maxContextLen + " over the launcher's maxContext " + maxContext);
        int numBlocks = Shapes.storeBlocks(kCache, vCache, kvHeads, headDim, blockSize);
        Shapes.need("q", q, (long) tokens * heads * headDim);
        Shapes.need("out", out, (long) tokens * heads * headDim);
        Shapes.need("positions", positions, tokens);
        Shapes.need("seqOfToken", seqOfToken, tokens);
        Shapes.need("blockTables", blockTables, maxBlocksPerSeq);
        if (alibiSlopes != null) Shapes.need("alibiSlopes", alibiSlopes, heads);
        return numBlocks;
    }

    /** The paged (split or whole mode) launch; returns whether it also merged the splits (DecodeKernels' fused merge): then no merge launch follows. */
    boolean launchPaged(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                        IntArray seqOfToken, IntArray blockTables, IntArray keyStart, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens,
                        int splitsZ, int ownSplitsZ, int numBlocks, boolean split, boolean useKeyStart, int slotCount, int sharedBase,
                        boolean smallSplits) {
        return launchPaged(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, keyStart, maxBlocksPerSeq, alibiSlopes, tokens, splitsZ,
                ownSplitsZ, numBlocks, split, useKeyStart, slotCount, sharedBase, false, smallSplits ? smallSplit : 0, smallSplits ? smallBelow : 0);
    }

    /**
     * Splits of a token's context of up to {@code keys} keys under this launcher's split lengths (the grid z of split mode): SPLIT-key
     * splits, or {@link #smallSplit}-key ones below its position bound.
     */
    int ownSplits(int keys) {
        return Math.max(splits(keys), smallSplit > 0 ? (Math.min(keys, smallBelow) + smallSplit - 1) / smallSplit : 0);
    }

    /**
     * Keys a DecodeKernels work-group folds per round with {@code warps} warps (each lane loads one 16-byte piece of a key row,
     * keysPerLane rows a round): a split length must be a whole number of them.
     */
    private int keysPerRound(int warps) {
        return warps * 32 / Math.max(1, headDim / 8) * keysPerLane;
    }

    /**
     * Whether every launch of this launcher (and of the cascade and tensor-core prefill over it) can write a bf16 {@code out}
     * (o_proj's X, {@code arbor.gemm.bf16AttentionOut}) over {@code kCache}: a bf16 store of a shape {@link DecodeKernels} serves
     * (its whole mode and fused merge, {@link AttentionKernels#mergeSplitsBf16}, the cascade's warp suffix and the flash kernels
     * have bf16-output twins; the tile kernel {@link AttentionKernels#pagedBf16} has none).
     */
    public boolean writesBf16Out(OffHeapArray kCache) {
        return kCache instanceof BFloat16Array && DecodeKernels.serves(kCache, heads, kvHeads, headDim);
    }

    /** DecodeKernels' split length below {@link #smallBelow} (0: SPLIT everywhere). */
    public int smallSplit() { return smallSplit; }

    /** The position below which {@link #smallSplit} applies (0: nowhere). */
    public int smallBelow() { return smallBelow; }

    /**
     * As above; with {@code overlap}, DecodeKernels is launched overlapping the kernel before it (programmatic dependent launch):
     * its index chain (positions, seqOfToken, keyStart, the block table's row offsets) runs before it waits for that kernel, q,
     * the KV rows and the scratch after. So those index arrays must be host-written before the step (the engine's upload), never
     * by a kernel of the step. DecodeKernels splits tokens below position {@code below} every {@code small} keys (0: SPLIT for
     * every token; the cascade's suffix never, its shared slots being SPLIT-key splits), and the merge is then always fused (the
     * separate merge kernel knows SPLIT-key splits only).
     */
    private boolean launchPaged(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                                IntArray seqOfToken, IntArray blockTables, IntArray keyStart, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens,
                                int splitsZ, int ownSplitsZ, int numBlocks, boolean split, boolean useKeyStart, int slotCount, int sharedBase,
                                boolean overlap, int small, int below) {
        boolean streamed = DecodeKernels.serves(kCache, heads, kvHeads, headDim);
        int warps = decodeWarpsNow();
        int threads = streamed ? warps * 32 : AttentionKernels.THREADS;
        // split mode's grid z: absolute splits for the tile kernel; the streamed kernel counts from each token's first own split
        Launch l = Launch.of(new int[] {tokens, kvHeads, split ? (streamed ? ownSplitsZ : splitsZ) : 1}, new int[] {threads, 1, 1});
        FloatArray slopes = alibiSlopes != null ? alibiSlopes : q;   // not read without ALiBi
        int alibi = alibiSlopes != null ? 1 : 0, splitMode = split ? 1 : 0, keyStarts = useKeyStart ? 1 : 0;
        // the kernel depends on the shape and store type only, never on the batch (batch invariance)
        if (streamed) {
            // the fused merge gives the same bits as the merge launch (same loads and folds in the same order): chosen for speed only
            if (below > 0 && small % keysPerRound(warps) != 0) {
                throw new IllegalStateException("small splits of " + small + " keys are not whole rounds of " + warps + " warps x "
                        + keysPerLane + " keys a lane at headDim " + headDim);
            }
            int fused = split && (splitsZ <= fuseMaxSplits || below > 0) ? fusedMergeAhead : 0;
            long groups = (long) tokens * kvHeads * (split ? ownSplitsZ : 1);
            boolean piped = pipeGroupsPerSm > 0 && groups <= (long) pipeGroupsPerSm * b.multiprocessors() && DecodeKernels.pipelines(heads, kvHeads, headDim);
            Kernel kernel = piped ? Shapes.byOut(out, kCache, Shapes.byStore(kCache, DECODE_PIPED_BF16, DECODE_PIPED_F16, null), DECODE_PIPED_BF16_OUT_BF16)
                    : Shapes.byOut(out, kCache, Shapes.byStore(kCache, DECODE_BF16, DECODE_F16, null), DECODE_BF16_OUT_BF16);
            int bound = decodeMinBlocks >= 0 ? decodeMinBlocks : piped ? pipeBlocks : DecodeKernels.minBlocksPerSm(heads, kvHeads, headDim);
            if (piped) {
                b.launch(kernel, overlap ? l.overlappingPrevious() : l, q, kCache, vCache, out,
                        partials, positions, seqOfToken, blockTables,
                        keyStart, slopes, maxBlocksPerSeq, numBlocks, slotCount, heads, kvHeads, headDim, blockSize, alibi, splitMode, keyStarts,
                        keysPerLane, warps, arrivals, sharedBase, fused, bound, below > 0 ? small : SPLIT_KEYS, below, pipeForm, pairedOffsets ? 1 : 0);
            } else {
                b.launch(kernel, overlap ? l.overlappingPrevious() : l, q, kCache, vCache, out,
                        partials, positions, seqOfToken, blockTables,
                        keyStart, slopes, maxBlocksPerSeq, numBlocks, slotCount, heads, kvHeads, headDim, blockSize, alibi, splitMode, keyStarts,
                        keysPerLane, warps, arrivals, sharedBase, fused, bound, below > 0 ? small : SPLIT_KEYS, below);
            }
            return fused != 0;
        } else {
            b.launch(Shapes.byOut(out, kCache, Shapes.byStore(kCache, PAGED_BF16, PAGED_F16, PAGED_F32), null), l, q, kCache, vCache, out, partials, positions, seqOfToken,
                    blockTables, keyStart, slopes, maxBlocksPerSeq, numBlocks, slotCount, heads, kvHeads, headDim, blockSize, alibi, splitMode, keyStarts);
            return false;
        }
    }

    void launchMerge(Backend b, OffHeapArray out, IntArray positions, IntArray seqOfToken, IntArray keyStart, int tokens, int slotCount,
                     int sharedBase, int ranges, boolean useKeyStart) {
        // overlapping the split kernel (programmatic dependent launch): the merge reads partials only after gridDependencyWait
        Launch l = Launch.cover(tokens * heads * headDim, 128);
        b.launch(Shapes.byOut(out, out, MERGE, MERGE_BF16), overlapMerge ? l.overlappingPrevious() : l, partials, out, positions, seqOfToken, keyStart, tokens, slotCount,
                sharedBase, ranges, heads, headDim, useKeyStart ? 1 : 0, mergeAhead);
    }

    /**
     * Puts the split scratch on the device (a one-time copy). Launches upload it on first use; call this
     * before capturing launches in a CUDA graph ({@code Backend.record}), which needs every array there.
     */
    public void toDevice(Backend b) { b.toDevice(partials, arrivals); }

    FloatArray partials() { return partials; }

    /** Overrides the streamed kernel's keys per lane per iteration (2, 4, 8 or 16): benchmarks compare them; every value gives other bits. */
    public PagedAttention keysPerLane(int u) {
        if (u != 2 && u != 4 && u != 8 && u != 16) throw new IllegalArgumentException("keysPerLane must be 2, 4, 8 or 16: " + u);
        if (headDim % 8 == 0 && 32 / Math.max(1, headDim / 8) * u > AttentionKernels.SPLIT) {
            throw new IllegalArgumentException("keysPerLane " + u + " x rows per warp at headDim " + headDim + " is over a split of " + AttentionKernels.SPLIT);
        }
        this.keysPerLane = u;
        return this;
    }

    /**
     * Overrides the slots the merge loads before folding (1, 4, 8, 16 or 32; default {@link AttentionKernels#MERGE_AHEAD}):
     * benchmarks compare them (1 is the old one-slot-per-round-trip loop); every value gives the same bits.
     */
    public PagedAttention mergeAhead(int n) {
        if (n != 1 && n != 4 && n != 8 && n != 16 && n != 32) throw new IllegalArgumentException("mergeAhead must be 1, 4, 8, 16 or 32: " + n);
        this.mergeAhead = n;
        return this;
    }

    /** Overrides DecodeKernels' warps per work-group (4 or 8, where {@link DecodeKernels#fitsWarps}): benchmarks compare them; each gives other bits. */
    public PagedAttention decodeWarps(int warps) {
        if (warps != 4 && warps != 8) throw new IllegalArgumentException("decodeWarps must be 4 or 8: " + warps);
        if (!DecodeKernels.fitsWarps(heads, kvHeads, headDim, keysPerLane, warps)) {
            throw new IllegalArgumentException(warps + " warps do not fit a split or 48 KiB at heads " + heads + "/" + kvHeads + ", headDim " + headDim);
        }
        this.decodeWarps = warps;
        return this;
    }

    /**
     * Up to how many splits (0: never) split mode of the streamed kernel merges in its last-arriving work-group per (token, kv head),
     * loading {@code ahead} slots per round trip, rather than in a separate {@link AttentionKernels#mergeSplits} launch (defaults
     * {@link #FUSE_MAX_SPLITS}, {@link #FUSED_MERGE_AHEAD}): benchmarks compare; the same bits either way (tests check).
     */
    public PagedAttention fuseMerge(int maxSplits, int ahead) {
        if (ahead != 1 && ahead != 4 && ahead != 8 && ahead != 16 && ahead != 32) throw new IllegalArgumentException("ahead must be 1, 4, 8, 16 or 32: " + ahead);
        this.fuseMaxSplits = maxSplits;
        this.fusedMergeAhead = ahead;
        return this;
    }

    /**
     * DecodeKernels' pipelined rounds ({@link DecodeKernels#pipelinedRounds}) for launches of at most {@code groupsPerSm} work-groups
     * per multiprocessor (0: never; {@link Integer#MAX_VALUE}: always); default {@link #PIPE_WAVE} with {@code -Darbor.paged.pipelineRounds}
     * on, else 0. Benchmarks compare; the same bits either way.
     */
    public PagedAttention pipelineRounds(int groupsPerSm) {
        if (groupsPerSm < 0) throw new IllegalArgumentException("pipelineRounds must be >= 0: " + groupsPerSm);
        this.pipeGroupsPerSm = groupsPerSm;
        return this;
    }

    /**
     * The pipelined form's rounds ({@code skewed}: {@link DecodeKernels#skewedRounds}, else {@link DecodeKernels#pipelinedRounds}), row
     * offsets ({@code pairedOffsets}: {@link DecodeKernels#pairedRowOffsets}) and launch bounds ({@code blocks} work-groups an SM, 1..8);
     * defaults {@code -Darbor.paged.pipelineSkew}, {@code -Darbor.paged.pairedOffsets}, {@code -Darbor.paged.pipeBlocks}. Benchmarks
     * and tests compare; the same bits every way.
     */
    public PagedAttention pipelineForm(boolean skewed, boolean pairedOffsets, int blocks) {
        if (blocks < 1 || blocks > 8) throw new IllegalArgumentException("pipeline blocks must be 1..8: " + blocks);
        this.pipeForm = skewed ? DecodeKernels.SKEWED : DecodeKernels.TWO_ROUNDS;
        this.pairedOffsets = pairedOffsets;
        this.pipeBlocks = blocks;
        return this;
    }

    /** Overrides DecodeKernels' work-groups per SM in its launch bounds (0: none; -1: {@link DecodeKernels#minBlocksPerSm}): benchmarks compare; the same bits. */
    public PagedAttention decodeMinBlocks(int n) {
        if (n < -1 || n > 32) throw new IllegalArgumentException("decodeMinBlocks must be -1..32: " + n);
        this.decodeMinBlocks = n;
        return this;
    }

    /**
     * Whether {@link #launch} starts DecodeKernels overlapping the kernel before it (programmatic dependent launch; default on): its
     * index chain (positions → block table → row offsets, a few dependent round trips) then runs during that kernel's tail, and
     * it waits for that kernel before reading q, the KV rows or the scratch. The index arrays must therefore be written by host
     * copies before the step, not by a kernel of the step. Benchmarks compare; the same bits either way.
     *
     * <p>On at every launch size, no rule by size: measured where the engine launches it (bench/RESULTS.md "Run 48-b1-10",
     * {@code AttentionBench} with {@code -Dattn.chainOnly=true}: the layer's q|k|v GEMM, {@code qkvRopeStore}, this kernel and the
     * o projection in CUDA graphs) the overlap saves 0.4-2.2 µs a layer at batch 1 × 256-8192 keys, batch 32 and 128, 32 × 128
     * and GQA-4 × 64 heads, under both GEMM plans (35 of 36 points; +0.5 µs at the other, GQA-4 b1 × 8192 under the default plan, -0.4 µs with
     * the invariant plan there); the engine's b1 decode (nbi, positions 128-384) 4.225 against 4.268 ms a step in its second
     * pass. Run 46's slower overlapped rows (b1 × 4096 24.6 vs 22.8 µs) timed this kernel after itself, where the kernel before
     * lets the next grid in after its index chain and two attention grids share the multiprocessors: not the engine's order.
     */
    public PagedAttention overlapPrevious(boolean on) {
        this.overlapPrevious = on;
        return this;
    }

    /** Whether the merge is launched overlapping the split kernel (programmatic dependent launch; default on): benchmarks compare; the same bits either way. */
    public PagedAttention overlapMerge(boolean on) {
        this.overlapMerge = on;
        return this;
    }

    int heads() { return heads; }

    /** DecodeKernels' keys per lane this launcher uses (a bench may have overridden it). */
    int keysPerLaneNow() { return keysPerLane; }

    /** DecodeKernels' warps per work-group this launcher uses. */
    int decodeWarpsNow() { return decodeWarps > 0 ? decodeWarps : DecodeKernels.warps(heads, kvHeads, headDim, keysPerLane); }

    int kvHeads() { return kvHeads; }

    int headDim() { return headDim; }

    int blockSize() { return blockSize; }

    int slots() { return slots; }

    int splitTokens() { return splitTokens; }

    @Override public void close() {
        partials.close();
        arrivals.close();
    }
}
