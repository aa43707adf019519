package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

/**
 * Host-side launcher of the tensor-core prefill attention ({@link FlashPrefillKernels}) for one model
 * shape. A step is planned first ({@link #plan}: the chosen sequences' new tokens cut into query tiles of
 * {@link #tokensPerTile} tokens, uploaded as one small array), then launched per layer
 * ({@link #launch}). It owns the tile array, sized once at construction ({@code 2·(⌈maxTokens / T⌉ + maxSeqs)}
 * ints), and the short tiles' ({@link #warpTokens}: the one-warp kernel's, {@code 2·maxSeqs} ints); a launch allocates
 * nothing on the device.
 *
 * <p>Constraints ({@link #supports}): headDim 64 or 128, {@code heads % kvHeads == 0},
 * {@code heads / kvHeads ≤ 64}; a bf16 or fp16 store. Not read by the kernel: queryStart and contextLens
 * (the tiles, positions and seqOfToken carry the same). Every token of a planned sequence must already
 * have its K/V in the store ({@link KvWrite} first).
 */
public final class FlashPrefillAttention implements AutoCloseable {
    static final Kernel PREFILL_BF16 = Kernel.of(FlashPrefillKernels.class, "prefillBf16");
    static final Kernel PREFILL_F16 = Kernel.of(FlashPrefillKernels.class, "prefillF16");
    static final Kernel SHARED_BF16 = Kernel.of(FlashPrefillKernels.class, "sharedBf16");
    static final Kernel SHARED_F16 = Kernel.of(FlashPrefillKernels.class, "sharedF16");
    static final Kernel SHARED_HALF_BF16 = Kernel.of(FlashPrefillKernels.class, "sharedHalfBf16");
    static final Kernel SHARED_HALF_F16 = Kernel.of(FlashPrefillKernels.class, "sharedHalfF16");
    static final Kernel STAGED_BF16 = Kernel.of(FlashSharedKernels.class, "sharedStagedBf16");
    static final Kernel STAGED_F16 = Kernel.of(FlashSharedKernels.class, "sharedStagedF16");
    static final Kernel STAGED_HALF_BF16 = Kernel.of(FlashSharedKernels.class, "sharedStagedHalfBf16");
    static final Kernel STAGED_HALF_F16 = Kernel.of(FlashSharedKernels.class, "sharedStagedHalfF16");
    static final Kernel WARP_BF16 = Kernel.of(FlashPrefillKernels.class, "warpBf16");
    static final Kernel WARP_F16 = Kernel.of(FlashPrefillKernels.class, "warpF16");
    static final Kernel LONG_BF16 = Kernel.of(FlashPrefillKernels.class, "longBf16");
    static final Kernel LONG_F16 = Kernel.of(FlashPrefillKernels.class, "longF16");
    static final Kernel PREFILL_BF16_OUT_BF16 = Kernel.of(FlashPrefillKernels.class, "prefillBf16OutBf16");
    static final Kernel WARP_BF16_OUT_BF16 = Kernel.of(FlashPrefillKernels.class, "warpBf16OutBf16");
    static final Kernel LONG_BF16_OUT_BF16 = Kernel.of(FlashPrefillKernels.class, "longBf16OutBf16");
    static final Kernel WARP_ONE_BUFFER_BF16 = Kernel.of(FlashWarpOneBufferKernels.class, "warpOneBufferBf16");
    static final Kernel WARP_ONE_BUFFER_F16 = Kernel.of(FlashWarpOneBufferKernels.class, "warpOneBufferF16");
    static final Kernel WARP_ONE_BUFFER_BF16_OUT_BF16 = Kernel.of(FlashWarpOneBufferKernels.class, "warpOneBufferBf16OutBf16");
    static final Kernel SPLIT_BF16 = Kernel.of(FlashSplitKernels.class, "splitBf16");
    static final Kernel SPLIT_F16 = Kernel.of(FlashSplitKernels.class, "splitF16");
    static final Kernel SPLIT_BF16_OUT_BF16 = Kernel.of(FlashSplitKernels.class, "splitBf16OutBf16");

    /**
     * Whether short tiles that do not take the one-warp kernel ({@link #WARP_WAVES}: too few walks, e.g. a batch-1 decode) take
     * the split form ({@link FlashSplitKernels}: 16 rows, four warps splitting each key tile's S by keys and O by dims, a ring of
     * {@link #SPLIT_STAGES} K/V stages) instead of 64-row tiles; {@code -Darbor.flash.splitDecode=false}: 64-row tiles (main's
     * path before session 17). The same bits either way (FlashSplitTest, FlashSplitGpuTest). Measured (bench/RESULTS.md "Run
     * 66-attn17"): one llama-7b layer at one decode 13.3 → 8.0 µs (256 keys), 35.3 → 19.8 (1,024), 130.9 → 77.3 (4,096); the b1
     * default-mode step 4.353 → 4.191 ms.
     */
    public static final boolean SPLIT_DECODE = Boolean.parseBoolean(System.getProperty("arbor.flash.splitDecode", "true"));
    /**
     * K/V stages of the split form ({@link FlashSplitKernels#sharedBytes}); {@code -Darbor.flash.splitStages=N}, 2..4. 3: the same
     * as 2 and 4 at 1-4 decodes (a latency chain a tile, not the copies), 1.2-1.3x faster than either at 16 (two work-groups an SM at
     * 107 KB, where 4 stages fit one) — run 66-attn17.
     */
    public static final int SPLIT_STAGES = Math.max(2, Math.min(4, Integer.getInteger("arbor.flash.splitStages", FlashSplitKernels.DEFAULT_STAGES)));

    /**
     * The fewest new tokens of a planned sequence (its chunk) that send a step's tall tiles to the long-chunk form
     * ({@link FlashPrefillKernels#longBf16}) where the step has no handoff; {@code -Darbor.flash.longTokens=N}, 0 or less: never.
     * The same bits as the one-pass kernel (same per-tile arithmetic and order), so the choice may depend on the step.
     * 1,024: the seed workloads' steps (chunks of 20-107 tokens behind a handoff, and decodes) keep the bounded one-pass
     * kernel their handoff is tuned for; measured in bench/RESULTS.md "Run 59-pfa14".
     */
    public static final int LONG_TOKENS = Integer.getInteger("arbor.flash.longTokens", 1024);
    /** Tiles a band of the long-chunk form's work order ({@link FlashPrefillKernels#longBf16}); {@code -Darbor.flash.longBand=N}. */
    public static final int LONG_BAND = Math.max(1, Integer.getInteger("arbor.flash.longBand", 32));

    /**
     * The handoff overlap ({@link #setHandoffOverlap}), system property {@code arbor.flash.handoffOverlap} (default on; false: the
     * plain launches of runs 39-65). Programmatic dependent launches of the state handoff: the shared pass ({@link #launchShared})
     * overlapping the kernel before it (its index chain and key-row lookups during that kernel's tail), and a one-warp
     * per-sequence pass right after it ({@link #launch}) overlapping the shared pass (the shared pass lets it in once its own
     * work-groups have waited for the kernel before; a per-sequence warp's indices, key rows, Q and first own tile's copies run
     * during the shared pass's walk, its state load after it). The same kernels' arithmetic: the same bits either way. Measured
     * (bench/RESULTS.md "Run 66-casc17", FlashDecodeBench overlap, interleaved): workload 1's decode handoff 46.3 → 44.1 µs a layer alone,
     * 42.4 → 39.9 with the dim split; workload 2's 202.6 → 200.4. The engine A/B of that call (one run each) did not show it (see there).
     */
    public static final boolean HANDOFF_OVERLAP = !"false".equals(System.getProperty("arbor.flash.handoffOverlap"));
    /**
     * The one-warp short-tile kernel with one K/V buffer ({@link FlashWarpOneBufferKernels}: 16.5 KiB of shared memory a walk at
     * headDim 128 instead of 36.5, so more walks an SM), system property {@code arbor.flash.warpOneBuffer} (default on; false: the
     * two-buffer kernels. Session 18 attn18b; 8 walks an SM by registers instead of 6 by shared memory. Measured in bench/RESULTS.md
     * "Run 70-closing": workload 2's pass 173.2 → 150.2 µs a layer, workload 1's 35.8 → 30.7, llama3.2-1b b128's 39.5 → 38.7, key halves,
     * the same bits; workload 2 1.06 → 1.03 s); {@code -Darbor.flash.warpOneBufferBlocks=N}
     * declares launch bounds of N work-groups an SM (0: none; 12: 168 registers, some spilled, 12 walks an SM);
     * {@code -Darbor.flash.warpOneBufferHalves=false} copies whole tiles instead of key halves. The same bits either way (the same per-tile code in the same order: FlashWarpOneBufferTest, FlashWarpOneBufferGpuTest).
     */
    public static final boolean WARP_ONE_BUFFER = !"false".equals(System.getProperty("arbor.flash.warpOneBuffer"));
    /** {@code -Darbor.flash.warpOneBufferBlocks}: the one-buffer kernel's launch bounds (work-groups an SM; 0: none). */
    public static final int WARP_ONE_BUFFER_BLOCKS = Math.max(0, Integer.getInteger("arbor.flash.warpOneBufferBlocks", 0));
    /**
     * {@code -Darbor.flash.warpOneBufferHalves} (default true): the one-buffer kernel copies and computes by key halves (each half's V
     * replaces its K once that half's S is done, each half of the next K its V once that half's P·V is done: two copies in flight);
     * false: whole tiles (one copy in flight). The same bits.
     */
    public static final boolean WARP_ONE_BUFFER_HALVES = !"false".equals(System.getProperty("arbor.flash.warpOneBufferHalves"));
    /**
     * The one-buffer kernel's half ring (issue 12, session 21 walk21), system property {@code arbor.flash.warpHalfRing} (read when a
     * launcher is made, so {@code bench --ab} can switch it; default off until measured faster): three half-tile K/V regions instead
     * of one tile buffer ({@link FlashWarpOneBufferKernels}' {@code halves} 2: 24.5 KiB a walk at headDim 128, still 8 walks an SM),
     * so a tile's K lo, K hi and V lo copies are in flight together and the next tile's K lo starts after S instead of after P·V:
     * fewer serial round trips in workload 2's one- and two-tile walks. Taken only with the one-buffer kernel. The same bits (the same
     * per-half helpers in the same order: FlashWarpOneBufferTest's and FlashWarpOneBufferGpuTest's half-ring forms). Measured
     * (bench/RESULTS.md "Run 81-walk21", one A/B): workload 2's decode steps 19.78 → 19.32 ms of device time a step, the same tokens;
     * its total flat (1.0124 → 1.0125 s, the mixed steps' spread); the pass alone ({@code FlashDecodeBench halfring}) not yet.
     */
    public static final String WARP_HALF_RING = "arbor.flash.warpHalfRing";
    /**
     * The half ring for decode plans only (session 22), system property {@code arbor.flash.decodeHalfRing} (read when a launcher is
     * made; default off until measured faster): {@link #WARP_HALF_RING}'s kernel where the last plan gave every sequence at most one
     * token (a decode step, the CUDA graph a decode bucket captures), the launcher's other form for mixed and prefill steps. Why:
     * run 84-lead22's two A/Bs of workload 2 saw the ring cut the decode steps by 3% (19.75 → 19.15 ms of device time a step) while
     * the mixed steps came out 14-27 ms slower in all. The same bits either way (the halves change copies, not arithmetic).
     */
    public static final String DECODE_HALF_RING = "arbor.flash.decodeHalfRing";

    /**
     * The shared pass's dim split ({@link FlashPrefillKernels#sharedHalfBf16}: O's dims over two work-groups a row tile, each walking
     * the same tiles with the same S, softmax and state chain, the same bits), system property {@code arbor.flash.sharedDimSplit}
     * (default on; false: {@link FlashPrefillKernels#sharedBf16} always). Taken where the doubled launch fits one work-group an SM
     * ({@link #dimSplitPays}): a decode step's shared pass (seed workload 1: 2 row tiles × 32 kv heads = 64 work-groups walking 8
     * tiles on 64 of 132 SMs), not a prefill step's. Measured (bench/RESULTS.md "Run 66-casc17"): workload 1's shared pass 19.4 → 15.7 µs,
     * its handoff 46.3 → 42.4 µs a layer; at workload 2's 7 row tiles (not taken) the shared pass 36.7 → 53.5.
     */
    public static final boolean SHARED_DIM_SPLIT = !"false".equals(System.getProperty("arbor.flash.sharedDimSplit"));

    /**
     * The shared pass's deeper K/V copy ring ({@link FlashSharedKernels}, session 18 casc18), system property {@code arbor.flash.sharedRing}
     * (default on; false: the two-stage {@link FlashPrefillKernels#sharedBf16} / {@link FlashPrefillKernels#sharedHalfBf16});
     * {@code -Darbor.flash.sharedStages=N} (2..4) forces N stages wherever the ring is taken. By rule ({@link #sharedStagesFor}):
     * 3 stages where the launch is at most two work-groups an SM, else the two-stage kernels. The same bits. Measured (bench/RESULTS.md
     * "Run 69-casc18", FlashDecodeBench ring): workload 2's decode shared pass 37.9 → 35.6 µs, workload 1's (dim split) 15.7 → 15.5:
     * the walk is not waiting on its copies (4 stages, one work-group an SM, no better), so the gain is small.
     */
    public static final boolean SHARED_RING = !"false".equals(System.getProperty("arbor.flash.sharedRing"));
    /**
     * The ring's lean tile ({@code -Darbor.flash.sharedLean}, read when a launcher is made so that {@code --ab arbor.flash.sharedLean}
     * works; default on since session 24; {@code =false} keeps the select): the deeper ring's shared pass ({@link FlashSharedKernels},
     * taken by {@link #sharedStagesFor} at a decode step's scale) without the causal select, which never masks a shared key
     * ({@link FlashSharedKernels}'s {@code mask} 0). The same bits (FlashHandoffTest's and FlashHandoffGpuTest's ring checks). Measured
     * (bench/RESULTS.md "Run 104-final24", "Run 104b-final24"): seed workload 2's decode steps 19.77 → 19.47, 19.69 → 19.53, 19.69 →
     * 19.48 ms of device time a step in three one-JVM pairs, the same tokens. A prefill step's shared pass keeps the two-stage kernels:
     * the lean ring in their place (2 stages, three work-groups an SM; run 101-mix24's follow-up) made the same three pairs' mixed steps
     * 8-10 ms slower in all, so that form was removed.
     */
    public static final boolean SHARED_LEAN = sharedLeanProperty();

    /** {@link #SHARED_LEAN}'s property as it is now (a launcher reads it when made, so {@code bench --ab} can flip it). */
    static boolean sharedLeanProperty() { return !"false".equals(System.getProperty("arbor.flash.sharedLean")); }
    /** {@code -Darbor.flash.sharedStages}: 0 by rule ({@link #sharedStagesFor}), else 2..4. */
    public static final int SHARED_STAGES = Math.max(0, Math.min(4, Integer.getInteger("arbor.flash.sharedStages", 0)));

    /**
     * Chunks in one-warp tiles (issue 12, session 20 mix20), system property {@code arbor.flash.chunkWarpTiles} (read when a launcher is
     * made; default on since session 24: seed workload 2 1.003 → 0.991 s in run 84-lead22 and 1.0059 → 0.9986 s in run 104-final24, its
     * mixed steps 0.417 → 0.413 s, the same tokens; {@code =false} for 64-row tiles): where a step's short tiles take a short form (the one-warp kernel, or the split form), a sequence's chunk of
     * more than {@link #warpTokens} but at most {@code arbor.flash.chunkWarpTokens} tokens ({@link #CHUNK_WARP_TOKENS_DEFAULT} × warpTokens
     * by default: 32 at G = 1) is cut into short tiles of warpTokens tokens instead of one 64-row tile. Seed workload 2's mixed steps
     * carry ~290 chunks of 28 tokens behind a 752-key shared prefix: in 64-row tiles each walks its own key tiles with four warps of
     * which two hold padding rows (28 of 64 rows used); in short tiles two one-warp walks of 16 + 12 rows. A row's bits are the same
     * in either kernel (the same per-tile helpers on the same key tiles from the same start tile: FlashChunkWarpTilesTest), so the
     * choice may depend on the step.
     */
    public static final String CHUNK_WARP_TILES = "arbor.flash.chunkWarpTiles";
    /** The most tokens of a chunk cut into short tiles under {@link #CHUNK_WARP_TILES}, in short tiles (warpTokens each). */
    public static final int CHUNK_WARP_TOKENS_DEFAULT = 2;

    private final int heads, kvHeads, headDim, blockSize, tokensPerTile, maxTiles;
    private final IntArray tiles;   // (maxTiles, 2) first token, end token
    // short tiles (a sequence's at most warpTokens planned tokens, or none): one-warp work-groups (FlashPrefillKernels.warpBf16)
    private final int warpTokens;   // 16 / G, 0 where G > 16 (no short tiles)
    private boolean splitDecode = SPLIT_DECODE;   // short tiles below the one-warp kernel's walks: the split form, else 64-row tiles
    private int splitStages = SPLIT_STAGES;
    private boolean splitShort;     // the last plan's short tiles take the split form (FlashSplitKernels), not the one-warp kernel
    private boolean splitOverlap;   // the split form launched overlapping the kernel before it, letting the next in (setSplitOverlap)
    private int minWarpWalks = -1;  // the fewest (short tile, kv head) walks a step needs for the one-warp kernel; -1: WARP_WAVES × SMs
    private int tallMinBlocks = -1; // the 64-row kernels' launch bounds (work-groups an SM; 0: none); -1: MIN_BLOCKS (tallMinBlocks())
    private int longTokens = LONG_TOKENS, longBand = LONG_BAND;   // the long-chunk form's threshold (≤ 0: never) and band
    private int longestTall;        // the longest chunk (tokens) of the last plan's tall tiles
    private final IntArray warpTiles;   // (maxWarpTiles, 2) first token, end token
    private final int maxWarpTiles;     // maxSeqs, plus room for chunks cut into short tiles (CHUNK_WARP_TILES)
    private int chunkWarpTokens;        // chunks of warpTokens + 1 .. this many tokens in short tiles where short tiles are short (0: none)
    private int numWarpTiles;
    private final IntArray skip;    // (maxSeqs) keyStart for the CUDA-core kernel: past any position for the planned sequences, else 0
    private final int maxSeqs;
    private int numTiles, plannedTokens;
    // the cascade as a state handoff (planHandoff): the shared pass's row tiles and tokens, each sequence's handed-off tiles
    private final IntArray startTiles;   // (maxTokens) key tiles of each token done by the shared pass, 0: none
    private final IntArray rowTiles;     // (maxRowTiles, 4) first, end into rowTokens, block-table row, shared tiles
    private final IntArray rowTokens;    // (maxTokens) the groups' tokens, group after group
    private final int maxRowTiles, maxTokens;
    private FloatArray state;            // (maxTokens, heads, stateStride) fp32, useHandoffState; null: no handoff
    private int numRowTiles, dirtyTokens; // the leading startTiles entries the last upload may have left nonzero
    private boolean handoffOverlap = HANDOFF_OVERLAP;   // the handoff's launches overlapping (PDL; HANDOFF_OVERLAP)
    private boolean warpOneBuffer = WARP_ONE_BUFFER;    // short tiles' one-warp kernel with one K/V buffer (WARP_ONE_BUFFER)
    private int warpOneBufferBlocks = WARP_ONE_BUFFER_BLOCKS;
    private boolean warpOneBufferHalves = WARP_ONE_BUFFER_HALVES;
    private boolean warpHalfRing = Boolean.parseBoolean(System.getProperty(WARP_HALF_RING, "false"));   // WARP_HALF_RING
    private boolean decodeHalfRing = Boolean.parseBoolean(System.getProperty(DECODE_HALF_RING, "false"));   // DECODE_HALF_RING
    private boolean decodePlan;          // the last plan gave every sequence at most one new token (a decode step)
    private int sharedDimSplit = SHARED_DIM_SPLIT ? -1 : 0;   // the shared pass's dim split: -1 by dimSplitPays, 0 never, 1 always
    private int sharedStages = !SHARED_RING ? 0 : SHARED_STAGES >= 2 ? SHARED_STAGES : -1;   // the ring's stages: -1 by rule, 0 none, 2..4
    private boolean sharedLean = sharedLeanProperty();   // the ring without the causal select (SHARED_LEAN)
    private boolean sharedLaunchedLast;  // launchShared launched, no launch of this launcher since (launch's one-warp pass may overlap it)

    /**
     * @param maxTokens the most tokens of a step
     * @param maxSeqs   the most sequences of a step
     */
    public FlashPrefillAttention(int heads, int kvHeads, int headDim, int blockSize, int maxTokens, int maxSeqs) {
        Shapes.positive("heads", heads);
        Shapes.positive("kvHeads", kvHeads);
        Shapes.positive("blockSize", blockSize);
        if (!supports(heads, kvHeads, headDim)) {
            throw new IllegalArgumentException("the tensor-core prefill needs headDim 64 or 128 and at most " + FlashPrefillKernels.BM
                    + " query heads per kv head, not headDim " + headDim + " with " + heads + "/" + kvHeads + " heads");
        }
        Shapes.positive("maxTokens", maxTokens);
        Shapes.positive("maxSeqs", maxSeqs);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.tokensPerTile = tokensPerTile(heads, kvHeads);
        this.maxTiles = (maxTokens + tokensPerTile - 1) / tokensPerTile + maxSeqs;
        this.tiles = new IntArray(2 * maxTiles);
        this.warpTokens = warpTokens(heads, kvHeads);
        // chunks cut into short tiles (CHUNK_WARP_TILES): a sequence's ≤ chunk / warpTokens + 1 tiles, at most maxTokens / warpTokens + maxSeqs
        this.maxWarpTiles = warpTokens > 0 ? maxSeqs + maxTokens / warpTokens : maxSeqs;
        this.warpTiles = new IntArray(2 * maxWarpTiles);
        this.chunkWarpTokens = Boolean.parseBoolean(System.getProperty(CHUNK_WARP_TILES, "true"))
                ? Integer.getInteger("arbor.flash.chunkWarpTokens", CHUNK_WARP_TOKENS_DEFAULT * warpTokens) : 0;
        this.maxSeqs = maxSeqs;
        this.skip = new IntArray(maxSeqs);
        this.maxTokens = maxTokens;
        this.startTiles = new IntArray(maxTokens);
        this.maxRowTiles = (maxTokens + tokensPerTile - 1) / tokensPerTile + maxSeqs;
        this.rowTiles = new IntArray(4 * maxRowTiles);
        this.rowTokens = new IntArray(maxTokens);
    }

    /** Whether the tensor-core kernel takes this shape (the store type aside: bf16 or fp16). */
    public static boolean supports(int heads, int kvHeads, int headDim) {
        return kvHeads > 0 && heads % kvHeads == 0 && heads / kvHeads <= FlashPrefillKernels.BM && (headDim == 64 || headDim == 128);
    }

    /** Whether the store's element type has a tensor-core kernel (bf16, fp16). */
    public static boolean supportsStore(OffHeapArray store) {
        return store instanceof BFloat16Array || store instanceof HalfFloatArray;
    }

    /** New tokens of one sequence per work-group: {@code BM / G} (64 without GQA, 8 at G = 8). */
    public static int tokensPerTile(int heads, int kvHeads) {
        return FlashPrefillKernels.BM / (heads / kvHeads);
    }

    /**
     * The most planned tokens of a sequence that take one short tile ({@link FlashPrefillKernels#warpBf16}, {@code 16 / G}
     * tokens: one decode token at G ≤ 16); 0 where G > 16 (every tile tall). A sequence's tokens meet one kernel or the
     * other by their count, and both give a row the same bits.
     */
    public static int warpTokens(int heads, int kvHeads) {
        return heads / kvHeads <= FlashPrefillKernels.WARP_ROWS ? FlashPrefillKernels.WARP_ROWS / (heads / kvHeads) : 0;
    }

    /**
     * The one-warp kernel's crossover, in the tall kernel's resident work-groups: a step's short tiles take it when they
     * make at least {@code WARP_WAVES × SMs} (tile, kv head) walks (528 on the H200), else the split form ({@link #SPLIT_DECODE},
     * on: 1.1-1.9x faster than 64-row tiles at 1-16 decodes, bench/RESULTS.md "Run 66-attn17") or 64-row tiles. Run 43-dec9 (one
     * layer of Llama-2-7B): one-warp tiles 2.0-2.8x slower at b1 (32 walks, where the tall kernel's 264 resident work-groups
     * hold every walk at once and its two stages and four warps' copies shorten each), 1.17x faster at b32 (1,024 walks),
     * 1.3x at 104 and 434 sequences; between 32 and 1,024 not measured. Both give a row the same bits, so the choice may
     * depend on the step.
     */
    public static final int WARP_WAVES = 4;

    /** Sets the fewest (short tile, kv head) walks for the one-warp kernel ({@link #WARP_WAVES}; 0: always, past any count: never). */
    public void setMinWarpWalks(int walks) {
        if (walks < 0) throw new IllegalArgumentException("negative walks " + walks);
        this.minWarpWalks = walks;
    }

    /**
     * Whether short tiles below the one-warp kernel's walks take the split form ({@link #SPLIT_DECODE}) and its K/V stages (2..4,
     * {@link #SPLIT_STAGES}). The same bits either way.
     */
    public void setSplitDecode(boolean split, int stages) {
        if (stages < 2 || stages > 4) throw new IllegalArgumentException("split form stages " + stages + " outside 2..4");
        this.splitDecode = split;
        this.splitStages = stages;
    }

    /**
     * Whether the split form ({@link FlashSplitKernels}) launches overlapping the kernel before it on the stream (programmatic
     * dependent launch: its work-groups are placed, and wait for that grid, while it finishes) and, first thing, lets the next
     * launch in ({@code allowDependentLaunch}): o_proj's GEMM, launched overlapping it, then streams its first weights while the
     * attention runs (a batch-1 decode: 32 work-groups on 132 multiprocessors, ~8 µs) instead of launching once its last
     * work-group exits. The kernel waits before it reads anything and o_proj waits for the whole attention grid before it reads
     * the output: the same bits. Only where the kernel before is a kernel (the engine: qkvRopeStore, a rope, the KV write, the
     * tall tiles or the shared pass). Off here by default; the engine turns it on ({@code -Darbor.flash.splitOverlap}, default
     * on): llama-7b b1 decode device 4.044 → 3.999 ms a step, the same tokens (bench/RESULTS.md "Run 93-gemv23" follow-up);
     * GemmBench trigger hides ~3 µs of o_proj's 10.7 behind an 8 µs window kernel that triggers first thing (18.1 → 15.2 µs a pair).
     */
    public void setSplitOverlap(boolean on) { this.splitOverlap = on; }

    private static final java.util.concurrent.atomic.AtomicLong SPLIT_OVERLAPS = new java.util.concurrent.atomic.AtomicLong();

    /** Split-form launches overlapping the kernel before them ({@link #setSplitOverlap}) in this process, for tests (graphs: the captures). */
    public static long splitOverlapLaunches() { return SPLIT_OVERLAPS.get(); }

    /**
     * For benchmarks and tests: chunks of more than {@link #warpTokens} and at most {@code tokens} tokens cut into short tiles where a
     * step's short tiles are short ({@link #CHUNK_WARP_TILES}; 0: never). The same bits either way.
     */
    public void setChunkWarpTokens(int tokens) {
        if (tokens < 0) throw new IllegalArgumentException("chunk tokens " + tokens);
        this.chunkWarpTokens = tokens;
    }

    /** Short tiles a sequence's {@code len} planned tokens make: 1 up to {@link #warpTokens}, more up to chunkWarpTokens, else 0 (tall). */
    private int shortTilesOf(int len) {
        if (len <= 0 || warpTokens == 0) return 0;
        if (len <= warpTokens) return 1;
        return len <= chunkWarpTokens ? (len + warpTokens - 1) / warpTokens : 0;
    }

    /** Whether the last plan's short tiles take the split form ({@link FlashSplitKernels}) rather than the one-warp kernel. */
    public boolean splitShort() { return splitShort && numWarpTiles > 0; }

    /**
     * For benchmarks: the 64-row kernels' (one-pass and shared pass) work-groups an SM in their launch bounds (0: none, ptxas's
     * own register count; -1: the default, {@link #tallMinBlocks()}). The same bits either way.
     */
    public void setTallMinBlocks(int blocks) {
        if (blocks < -1 || blocks > 8) throw new IllegalArgumentException("work-groups an SM " + blocks + " outside -1..8");
        this.tallMinBlocks = blocks;
    }

    /**
     * The 64-row kernels' launch bounds ({@link FlashPrefillKernels#MIN_BLOCKS}, 3 an SM, unless a bench set another): the shared
     * pass and the one-pass kernel alike. Measured (bench/RESULTS.md "Run 57-pfa12" and the session 12 closing run, FlashPrefillBench):
     * with the bounds, workload 2's prefill-step handoff 0.2361 → 0.2160 ms a layer (shared pass 0.1363 → 0.1212), workload 1's
     * 0.2456 → 0.2090; long causal prefill with the bounds 0.748 / 2.659 ms at 4,096 / 8,192 tokens, without them (this code, 180
     * registers, two an SM) 0.801 / 2.886 — both above session 11's kernel (209 registers: 0.714 / 2.566), whose Q had its own
     * shared memory. Registers only: the same bits either way.
     */
    public int tallMinBlocks() {
        return tallMinBlocks >= 0 ? tallMinBlocks : FlashPrefillKernels.MIN_BLOCKS;
    }

    /**
     * Sets the fewest tokens of a chunk for the long-chunk form ({@link #LONG_TOKENS}; 0 or less: never) and its band of tiles
     * ({@link #LONG_BAND}, ≥ 1). The same bits either way.
     */
    public void setLongForm(int tokens, int band) {
        if (band < 1) throw new IllegalArgumentException("band " + band + " below 1");
        this.longTokens = tokens;
        this.longBand = band;
    }

    /**
     * Whether the last plan's tall tiles take the long-chunk form ({@link FlashPrefillKernels#longBf16}): a chunk of at least
     * {@link #LONG_TOKENS} tokens and no handoff in the step (the form starts every tile from key 0).
     */
    public boolean longForm() {
        return longTokens > 0 && numRowTiles == 0 && longestTall >= longTokens;
    }

    /**
     * Whether {@code shortTiles} short tiles stay short on {@code b}: in the one-warp kernel where they pay ({@link #warpTilesPay}),
     * else in the split form where it is on ({@link #splitDecode}); records which in {@link #splitShort}. False: 64-row tiles.
     */
    private boolean shortTilesShort(Backend b, int shortTiles) {
        boolean warp = warpTilesPay(b, shortTiles);
        splitShort = !warp && splitDecode && warpTokens > 0 && shortTiles > 0;
        return warp || splitShort;
    }

    /** Whether {@code shortTiles} short tiles take the one-warp kernel on {@code b}. */
    private boolean warpTilesPay(Backend b, int shortTiles) {
        long walks = (long) shortTiles * kvHeads;
        return warpTokens > 0 && shortTiles > 0 && walks >= (minWarpWalks >= 0 ? minWarpWalks : (long) WARP_WAVES * b.multiprocessors());
    }

    /**
     * Cuts the new tokens {@code queryStart[s] .. queryStart[s+1]} of each sequence s with at least
     * {@code minTokens} of them into query tiles and uploads the list (a sequence's tiles last to first, so
     * the longest work-groups start first; a sequence of at most {@link #warpTokens} tokens in one short tile where the
     * step has enough of them, {@link #WARP_WAVES}). Returns the number of tiles, tall and short (0: nothing to launch).
     */
    public int plan(Backend b, int[] queryStart, int numSeqs, int minTokens) {
        checkSeqs(numSeqs);
        int n = 0, w = 0, planned = 0, shortTiles = 0, least = Math.max(1, minTokens), longest = 0;
        boolean decode = true;
        for (int s = 0; s < numSeqs; s++) {
            int len = queryStart[s + 1] - queryStart[s];
            if (len >= least) shortTiles += shortTilesOf(len);
            decode &= len <= 1;
        }
        decodePlan = decode;
        boolean warp = shortTilesShort(b, shortTiles);
        for (int s = 0; s < numSeqs; s++) {
            int lo = queryStart[s], hi = queryStart[s + 1];
            boolean mine = hi - lo >= least;
            skip.set(s, mine ? Integer.MAX_VALUE : 0);
            if (!mine) continue;
            planned += hi - lo;
            if (warp && shortTilesOf(hi - lo) > 0) {
                w = addWarpTiles(w, lo, hi);
            } else {
                n = addTiles(n, lo, hi);
                longest = Math.max(longest, hi - lo);
            }
        }
        longestTall = longest;
        int got = finishPlan(b, n, w, planned);
        if (got > 0 && numSeqs > 0 && planned < queryStart[numSeqs] - queryStart[0]) b.toDeviceAsync(skip, numSeqs);
        return got;
    }

    /**
     * Records and uploads a plan of n tall and w short tiles; returns n + w. The copies are queued on the stream ahead of the
     * step's launches (the driver stages the host words before returning, so the next plan may overwrite them at once): a
     * synchronous copy made every batch-invariant decode step wait for its DMA on the host (run 57-host12).
     */
    private int finishPlan(Backend b, int n, int w, int planned) {
        numTiles = n;
        numWarpTiles = w;
        this.plannedTokens = planned;
        if (n > 0) b.toDeviceAsync(tiles, 2 * n);
        if (w > 0) b.toDeviceAsync(warpTiles, 2 * w);
        return n + w;
    }

    /** Short tiles of tokens [lo, hi) from index w on, warpTokens each (one, empty, where hi == lo); returns the next index. */
    private int addWarpTiles(int w, int lo, int hi) {
        if (hi - lo <= warpTokens) return setWarpTile(w, lo, hi);
        for (int t = lo; t < hi; t += warpTokens) w = setWarpTile(w, t, Math.min(hi, t + warpTokens));
        return w;
    }

    /** Short tile w: tokens [first, end); returns w + 1. */
    private int setWarpTile(int w, int first, int end) {
        if (w >= maxWarpTiles) throw new IllegalArgumentException("step needs over " + maxWarpTiles + " short tiles: more tokens or sequences than the launcher was sized for");
        warpTiles.set(2 * w, first);
        warpTiles.set(2 * w + 1, end);
        return w + 1;
    }

    /**
     * The batch-invariant plan: every new token at a position below {@code positionBound} goes into a tile, whatever its
     * sequence's chunk length (so a token meets this kernel or not by its own position alone); the tokens of a sequence at
     * or past the bound get none, and a sequence with no token below it gets one empty tile (the kernel returns at once),
     * so a decode batch always has exactly one tile per sequence (all short or all tall, by the batch's size alone,
     * {@link #WARP_WAVES}): a CUDA graph captured for a batch bucket keeps its grids.
     * The tokens left out are the caller's to attend first (the paged kernel over every token; this kernel then overwrites
     * the rows it owns). Returns the number of tiles.
     *
     * @param positions (tokens) each new token's position; a sequence's tokens are consecutive positions
     */
    public int planBelow(Backend b, int[] queryStart, int[] positions, int numSeqs, int positionBound) {
        checkSeqs(numSeqs);
        int n = 0, w = 0, planned = 0, shortTiles = 0, longest = 0;
        boolean decode = true;
        for (int s = 0; s < numSeqs; s++) {
            int lo = queryStart[s], hi = queryStart[s + 1];
            decode &= hi - lo <= 1;
            if (hi > lo) shortTiles += Math.max(shortTilesOf(endBelow(lo, hi, positions[lo], positionBound) - lo),
                    endBelow(lo, hi, positions[lo], positionBound) == lo ? 1 : 0);   // an empty tile: short as a decode's
        }
        decodePlan = decode;
        boolean warp = shortTilesShort(b, shortTiles);
        for (int s = 0; s < numSeqs; s++) {
            int lo = queryStart[s], hi = queryStart[s + 1];
            if (hi == lo) continue;
            int end = endBelow(lo, hi, positions[lo], positionBound);
            planned += end - lo;
            if (warp && (end == lo || shortTilesOf(end - lo) > 0)) {
                w = addWarpTiles(w, lo, end);
            } else if (end > lo) {
                n = addTiles(n, lo, end);
                longest = Math.max(longest, end - lo);
            } else {
                checkTiles(n + 1);
                n = setTile(n, lo, lo);
            }
        }
        longestTall = longest;
        return finishPlan(b, n, w, planned);
    }

    /** The end of a sequence's tokens [lo, hi) below {@code positionBound}, its first token at {@code position} (lo where none is). */
    private static int endBelow(int lo, int hi, int position, int positionBound) {
        return (int) Math.min(hi, lo + Math.max(0L, (long) positionBound - position));
    }

    private void checkSeqs(int numSeqs) {
        if (numSeqs > maxSeqs) throw new IllegalArgumentException("numSeqs " + numSeqs + " over the launcher's " + maxSeqs);
    }

    /** Tiles of tokens [lo, hi) from index n on, last to first; returns the next index. */
    private int addTiles(int n, int lo, int hi) {
        int count = (hi - lo + tokensPerTile - 1) / tokensPerTile;
        checkTiles(n + count);
        for (int i = count - 1; i >= 0; i--) n = setTile(n, lo + i * tokensPerTile, Math.min(hi, lo + (i + 1) * tokensPerTile));
        return n;
    }

    /** Tile n: tokens [first, end); returns n + 1. */
    private int setTile(int n, int first, int end) {
        tiles.set(2 * n, first);
        tiles.set(2 * n + 1, end);
        return n + 1;
    }

    private void checkTiles(int needed) {
        if (needed > maxTiles) throw new IllegalArgumentException("step needs over " + maxTiles + " query tiles: more tokens or sequences than the launcher was sized for");
    }

    /**
     * Gives the launcher the scratch of the cascade's state handoff ({@link #planHandoff}): {@code maxTokens × heads ×}
     * {@link FlashPrefillKernels#stateStride} floats (on the device for a GPU backend), kept until {@link #close}'s caller
     * frees it (the caller owns it).
     */
    public void useHandoffState(FloatArray state) {
        Shapes.need("state", state, (long) maxTokens * heads * FlashPrefillKernels.stateStride(headDim));
        this.state = state;
    }

    /**
     * The cascade as a state handoff: for each cascade group whose shared prefix holds at least one whole key tile
     * ({@code ⌊sharedKeys / BN⌋} tiles at absolute positions), plans the shared pass ({@link #launchShared}: the group's
     * tokens as the rows of tiles of {@link #tokensPerTile}, the keys through the group's first sequence's block table) and
     * marks its tokens so that the next {@link #launch} starts their tiles from the shared pass's state. A token's result
     * is then the one-pass result bit for bit ({@link FlashPrefillKernels#sharedBf16}), grouped or not. Call after
     * {@link #plan} or {@link #planBelow} for the same step; a step without groups (numGroups 0) clears the marks. Returns
     * the number of row tiles (0: no shared pass).
     *
     * @param seqOfToken      (tokens) each token's sequence (its row of the block tables)
     * @param sharedKeys      (sequences) each sequence's group's shared prefix in keys, whole blocks; every member's new
     *                        tokens lie at or past it
     * @param numTokens       the step's tokens
     * @param groupTokens     the groups' token indices, group after group
     * @param groupTokenStart (numGroups + 1) offsets into groupTokens
     */
    public int planHandoff(Backend b, int[] seqOfToken, int[] sharedKeys, int[] groupTokens, int[] groupTokenStart, int numGroups, int numTokens) {
        if (numTokens > maxTokens) throw new IllegalArgumentException(numTokens + " tokens over the launcher's " + maxTokens);
        if (numGroups > 0 && state == null) throw new IllegalStateException("planHandoff before useHandoffState");
        if (numGroups == 0 && dirtyTokens == 0) {   // the common step: no marks left to clear (host and device), nothing to plan
            numRowTiles = 0;
            return 0;
        }
        int clear = Math.max(dirtyTokens, numTokens);
        for (int t = 0; t < clear; t++) startTiles.set(t, 0);
        int n = 0, tokens = 0;
        for (int g = 0; g < numGroups; g++) {
            int lo = groupTokenStart[g], hi = groupTokenStart[g + 1];
            if (hi == lo) continue;
            int lead = seqOfToken[groupTokens[lo]], shared = sharedKeys[lead] / FlashPrefillKernels.BN;
            if (shared < 1) continue;
            if (tokens + hi - lo > maxTokens || n + (hi - lo + tokensPerTile - 1) / tokensPerTile > maxRowTiles) {
                throw new IllegalArgumentException("cascade groups of over " + maxTokens + " tokens: more than the launcher was sized for");
            }
            for (int i = lo; i < hi; i++) {
                startTiles.set(groupTokens[i], shared);
                rowTokens.set(tokens + i - lo, groupTokens[i]);
            }
            for (int i = lo; i < hi; i += tokensPerTile) {
                rowTiles.set(4 * n, tokens + i - lo);
                rowTiles.set(4 * n + 1, tokens + Math.min(hi, i + tokensPerTile) - lo);
                rowTiles.set(4 * n + 2, lead);
                rowTiles.set(4 * n + 3, shared);
                n++;
            }
            tokens += hi - lo;
        }
        numRowTiles = n;
        // queued ahead of the step's launches as finishPlan's copies are (the driver stages pageable words before returning):
        // synchronous copies made every default-mode step with groups (every seed-workload decode step) wait on the host
        if (n > 0) b.toDeviceAsync(rowTiles, 4 * n);
        if (n > 0) b.toDeviceAsync(rowTokens, tokens);
        if (n > 0 || dirtyTokens > 0) b.toDeviceAsync(startTiles, clear);
        dirtyTokens = n > 0 ? numTokens : 0;
        return n;
    }

    /** Row tiles of the last {@link #planHandoff} (0: no shared pass this step). */
    public int numRowTiles() { return numRowTiles; }

    /**
     * The shared pass of the last {@link #planHandoff} (nothing without row tiles): each row tile's tokens over its group's
     * shared key tiles, their state into the handoff scratch. Launch it before {@link #launch}, with the same arrays.
     */
    public void launchShared(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, IntArray positions, IntArray blockTables,
                             int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens) {
        sharedLaunchedLast = false;
        if (numRowTiles == 0) return;
        int numBlocks = Shapes.storeBlocks(kCache, vCache, kvHeads, headDim, blockSize);
        Kernel kernel = kernelFor(kCache) == PREFILL_F16 ? SHARED_F16 : SHARED_BF16;
        Shapes.need("q", q, (long) tokens * heads * headDim);
        Shapes.need("positions", positions, tokens);
        if (alibiSlopes != null) Shapes.need("alibiSlopes", alibiSlopes, heads);
        FloatArray slopes = alibiSlopes != null ? alibiSlopes : q;   // not read without ALiBi
        boolean split = sharedDimSplit > 0 || sharedDimSplit < 0 && dimSplitPays(numRowTiles, kvHeads, b.multiprocessors());
        int groups = numRowTiles * kvHeads * (split ? 2 : 1);
        int stages = sharedStages >= 0 ? sharedStages : sharedStagesFor(groups, b.multiprocessors());
        if (stages >= 2) {   // the deeper ring (FlashSharedKernels): the same bits
            boolean f16 = kernel == SHARED_F16;
            Kernel ring = split ? (f16 ? STAGED_HALF_F16 : STAGED_HALF_BF16) : (f16 ? STAGED_F16 : STAGED_BF16);
            Launch rl = Launch.of(new int[] {numRowTiles, kvHeads, split ? 2 : 1}, new int[] {FlashPrefillKernels.THREADS, 1, 1})
                    .withSharedBytes(FlashSharedKernels.sharedBytes(headDim, stages));
            int minBlocks = tallMinBlocks() == 0 ? 0 : Math.min(tallMinBlocks(), stages >= 4 ? 1 : 2);
            b.launch(ring, handoffOverlap ? rl.overlappingPrevious() : rl, q, kCache, vCache, state, positions, rowTokens, rowTiles, blockTables,
                    slopes, maxBlocksPerSeq, numBlocks, heads, kvHeads, headDim, blockSize, alibiSlopes != null ? 1 : 0, minBlocks, stages,
                    sharedLean ? 0 : 1);
            sharedLaunchedLast = true;
            return;
        }
        Launch l = split ? sharedHalfLaunchOf(numRowTiles) : launchOf(numRowTiles);
        if (split) kernel = kernel == SHARED_F16 ? SHARED_HALF_F16 : SHARED_HALF_BF16;
        b.launch(kernel, handoffOverlap ? l.overlappingPrevious() : l, q, kCache, vCache, state, positions, rowTokens, rowTiles, blockTables,
                slopes, maxBlocksPerSeq, numBlocks, heads, kvHeads, headDim, blockSize, alibiSlopes != null ? 1 : 0, tallMinBlocks());
        sharedLaunchedLast = true;
    }

    /**
     * Whether the state handoff's launches overlap ({@link #HANDOFF_OVERLAP}, the default): the shared pass launched overlapping the
     * kernel before it, which must be the last writer of q and the KV store or come after it (the pass reads its host-written
     * index arrays — row tiles, group tokens, positions, block tables — before it waits, so no kernel of the step may write
     * those); a one-warp per-sequence pass launched right after it ({@link #launch} with no tall tiles) overlapping it. The
     * same bits either way; for benchmarks and tests.
     */
    public void setHandoffOverlap(boolean on) {
        this.handoffOverlap = on;
    }

    /** For benchmarks and tests: the shared pass's dim split ({@link #SHARED_DIM_SPLIT}): -1 by {@link #dimSplitPays}, 0 never, 1 always. The same bits. */
    public void setSharedDimSplit(int mode) {
        if (mode < -1 || mode > 1) throw new IllegalArgumentException("dim split mode " + mode + " outside -1..1");
        this.sharedDimSplit = mode;
    }

    /** For benchmarks and tests: the shared pass's K/V ring ({@link #SHARED_RING}): -1 by {@link #sharedStagesFor}, 0 never (two-stage kernels), 2..4 stages. The same bits. */
    public void setSharedStages(int stages) {
        if (stages < -1 || stages == 1 || stages > 4) throw new IllegalArgumentException("shared pass stages " + stages + " outside -1, 0, 2..4");
        this.sharedStages = stages;
    }

    /** For benchmarks and tests: the ring without the causal select ({@link #SHARED_LEAN}). The same bits. */
    public void setSharedLean(boolean on) {
        this.sharedLean = on;
    }

    /**
     * The shared pass's K/V stages by rule for a launch of {@code groups} work-groups: 3 (99,072 B at headDim 128, two an SM) where they
     * fit two an SM, else 0 (the two-stage kernels, three an SM: a prefill step's). Run 69-casc18: 4 stages (one an SM) were no faster
     * where the launch fits one an SM (workload 1: 15.7 µs against 15.5 at 3), slower where it does not (workload 2: 43.7 against 35.6).
     */
    public static int sharedStagesFor(long groups, int sms) {
        return groups <= 2L * sms ? 3 : 0;
    }

    /**
     * Whether the shared pass of {@code rowTiles} row tiles takes the dim split: when its doubled launch, {@code 2 × rowTiles × kvHeads}
     * work-groups, is at most one an SM (the pass is then a latency chain a work-group on idle SMs; a larger launch would only
     * repeat its S and softmax work).
     */
    public static boolean dimSplitPays(int rowTiles, int kvHeads, int sms) {
        return 2L * rowTiles * kvHeads <= sms;
    }

    /** The dim-split shared pass's launch: grid (row tiles, kvHeads, 2), 128 work-items, {@link FlashPrefillKernels#sharedBytes}. */
    public Launch sharedHalfLaunchOf(int rowTiles) {
        return Launch.of(new int[] {rowTiles, kvHeads, 2}, new int[] {FlashPrefillKernels.THREADS, 1, 1})
                .withSharedBytes(FlashPrefillKernels.sharedBytes(headDim));
    }

    /** Tiles of the last {@link #plan} or {@link #planBelow}, tall and short. */
    public int numTiles() { return numTiles + numWarpTiles; }

    /** Short tiles (one-warp, or the split form where {@link #splitShort}) of the last {@link #plan} or {@link #planBelow}. */
    public int numWarpTiles() { return numWarpTiles; }

    /** Tokens the last {@link #plan} or {@link #planBelow} took. */
    public int plannedTokens() { return plannedTokens; }

    /**
     * The tokens of the last step that {@link #plan} left out (sequences with fewer than minTokens new
     * tokens, e.g. decodes in a mixed step) through the CUDA-core kernel, whole mode: the planned sequences
     * get a key start past any position, so that kernel returns at once for their tokens and writes
     * nothing. Call it with the same batch arrays as {@link #launch}; a no-op when the plan took every token. After
     * {@link #plan} only: {@link #planBelow} leaves the key starts as they were (its caller runs the paged kernel over every token first).
     */
    public void launchOthers(Backend b, PagedAttention paged, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out,
                             IntArray positions, IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes,
                             int tokens, int maxContextLen) {
        if (plannedTokens == tokens) return;
        if (numTiles() == 0) {
            paged.launch(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen);
            return;
        }
        int numBlocks = paged.checkBatch(q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen);
        paged.launchPaged(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, skip, maxBlocksPerSeq, alibiSlopes, tokens,
                1, 1, numBlocks, false, true, paged.slots(), 0, true);
    }

    /**
     * Attention of the planned tokens over their sequences' paged context; rows of other tokens of
     * {@code out} are left as they are.
     *
     * @param q           (tokens, heads * headDim) fp32, after RoPE
     * @param kCache      (numBlocks, kvHeads, blockSize, headDim), BFloat16Array or HalfFloatArray; vCache alike
     * @param out         (tokens, heads * headDim)
     * @param positions   (tokens)
     * @param seqOfToken  (tokens) row of blockTables
     * @param blockTables (numSeqs, maxBlocksPerSeq), row-major, padded
     * @param alibiSlopes (heads) ALiBi slopes, or null for RoPE models
     * @param tokens      tokens in q, out, positions, seqOfToken (for the checks)
     */
    public void launch(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions,
                       IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens) {
        Shapes.positive("tokens", tokens);
        Shapes.positive("maxBlocksPerSeq", maxBlocksPerSeq);
        int numBlocks = Shapes.storeBlocks(kCache, vCache, kvHeads, headDim, blockSize);
        Kernel kernel = kernelFor(kCache);
        Shapes.need("q", q, (long) tokens * heads * headDim);
        Shapes.need("out", out, (long) tokens * heads * headDim);
        Shapes.need("positions", positions, tokens);
        Shapes.need("seqOfToken", seqOfToken, tokens);
        Shapes.need("blockTables", blockTables, maxBlocksPerSeq);
        if (alibiSlopes != null) Shapes.need("alibiSlopes", alibiSlopes, heads);
        // the one-warp pass overlapping the shared pass just before it (HANDOFF_OVERLAP): only with no tall launch between them
        boolean overlapWarp = handoffOverlap && sharedLaunchedLast && numTiles == 0;
        sharedLaunchedLast = false;
        if (numTiles > 0 && longForm()) {
            b.launch(Shapes.byOut(out, kCache, kernel == PREFILL_F16 ? LONG_F16 : LONG_BF16, LONG_BF16_OUT_BF16), longLaunchOf(numTiles), longArgs(q, kCache, vCache, out, positions,
                    seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks));
        } else if (numTiles > 0) {
            b.launch(Shapes.byOut(out, kCache, kernel, PREFILL_BF16_OUT_BF16), launchOf(numTiles), args(q, kCache, vCache, out, positions,
                    seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks));
        }
        if (numWarpTiles > 0 && splitShort) {
            Launch l = splitLaunchOf(numWarpTiles);
            if (splitOverlap) SPLIT_OVERLAPS.incrementAndGet();
            b.launch(Shapes.byOut(out, kCache, splitKernelFor(kCache), SPLIT_BF16_OUT_BF16), splitOverlap ? l.overlappingPrevious() : l, splitArgs(q, kCache, vCache,
                    out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks));
        } else if (numWarpTiles > 0) {
            Launch l = warpLaunchOf(numWarpTiles);
            b.launch(Shapes.byOut(out, kCache, shortKernelFor(kCache), warpOneBuffer ? WARP_ONE_BUFFER_BF16_OUT_BF16 : WARP_BF16_OUT_BF16),
                    overlapWarp ? l.overlappingPrevious() : l, warpArgs(q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq,
                            alibiSlopes, numBlocks));
        }
    }

    /** The launch of {@code numTiles} tiles: grid (tiles, kvHeads), 128 work-items, the kernel's dynamic shared memory. */
    public Launch launchOf(int numTiles) {
        return Launch.of(new int[] {numTiles, kvHeads, 1}, new int[] {FlashPrefillKernels.THREADS, 1, 1})
                .withSharedBytes(FlashPrefillKernels.sharedBytes(headDim));
    }

    /** The long-chunk form's launch of {@code numTiles} tiles: {@code numTiles × kvHeads} work-groups in one dimension, 128 work-items. */
    public Launch longLaunchOf(int numTiles) {
        return Launch.of(new int[] {numTiles * kvHeads, 1, 1}, new int[] {FlashPrefillKernels.THREADS, 1, 1})
                .withSharedBytes(FlashPrefillKernels.longSharedBytes(headDim));
    }

    /** The long-chunk form's arguments for the last plan's tall tiles (also for {@code CudaBackend.resources}). */
    public Object[] longArgs(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions, IntArray seqOfToken,
                             IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int numBlocks) {
        FloatArray slopes = alibiSlopes != null ? alibiSlopes : q;   // not read without ALiBi
        return new Object[] {q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                numTiles, longBand, heads, kvHeads, headDim, blockSize, alibiSlopes != null ? 1 : 0};
    }

    /** The launch of {@code numTiles} short tiles: grid (tiles, kvHeads), one warp, the one-warp kernel's dynamic shared memory. */
    public Launch warpLaunchOf(int numTiles) {
        return Launch.of(new int[] {numTiles, kvHeads, 1}, new int[] {FlashPrefillKernels.WARP_THREADS, 1, 1})
                .withSharedBytes(warpOneBuffer ? FlashWarpOneBufferKernels.sharedBytes(headDim, warpHalves()) : FlashPrefillKernels.warpSharedBytes(headDim));
    }

    /** The launch of {@code numTiles} short tiles in the split form: grid (tiles, kvHeads), four warps, its dynamic shared memory. */
    public Launch splitLaunchOf(int numTiles) {
        return Launch.of(new int[] {numTiles, kvHeads, 1}, new int[] {FlashSplitKernels.THREADS, 1, 1})
                .withSharedBytes(FlashSplitKernels.sharedBytes(headDim, splitStages));
    }

    /** The split form's arguments for the last plan's short tiles (also for {@code CudaBackend.resources}): the one-warp kernel's, the stages and pdl ({@link #setSplitOverlap}). */
    public Object[] splitArgs(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions, IntArray seqOfToken,
                              IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int numBlocks) {
        Object[] a = args(q, kCache, vCache, out, positions, seqOfToken, warpTiles, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks);
        Object[] withStages = java.util.Arrays.copyOf(a, a.length + 2);
        withStages[a.length] = splitStages;
        withStages[a.length + 1] = splitOverlap ? 1 : 0;   // the kernel's pdl: trigger and wait only when launched overlapping
        return withStages;
    }

    /** The tall kernel's arguments (also for {@code CudaBackend.resources}). */
    public Object[] args(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions, IntArray seqOfToken,
                         IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int numBlocks) {
        Object[] a = args(q, kCache, vCache, out, positions, seqOfToken, tiles, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks);
        Object[] withBounds = java.util.Arrays.copyOf(a, a.length + 1);
        withBounds[a.length] = tallMinBlocks();
        return withBounds;
    }

    /** The short-tile kernel's arguments (also for {@code CudaBackend.resources}). */
    public Object[] warpArgs(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions, IntArray seqOfToken,
                             IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int numBlocks) {
        Object[] a = args(q, kCache, vCache, out, positions, seqOfToken, warpTiles, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks);
        if (!warpOneBuffer) return a;
        Object[] withBounds = java.util.Arrays.copyOf(a, a.length + 2);   // the one-buffer kernel's launch bounds and halves
        withBounds[a.length] = warpOneBufferBlocks;
        withBounds[a.length + 1] = warpHalves();
        return withBounds;
    }

    /**
     * The one-buffer kernel's {@code halves}: 2 the half ring ({@link #WARP_HALF_RING}, or {@link #DECODE_HALF_RING} after a decode
     * plan), 1 key halves, 0 whole tiles.
     */
    int warpHalves() {
        return warpHalfRing || decodeHalfRing && decodePlan ? 2 : warpOneBufferHalves ? 1 : 0;
    }

    /** For benchmarks and tests: this instance's {@link #WARP_HALF_RING} (taken with the one-buffer kernel only). The same bits either way. */
    public void setWarpHalfRing(boolean on) {
        this.warpHalfRing = on;
    }

    /** For benchmarks and tests: this instance's {@link #DECODE_HALF_RING}. The same bits either way. */
    public void setDecodeHalfRing(boolean on) {
        this.decodeHalfRing = on;
    }

    /** This instance's short-tile kernel of a store type (fp32 out): the one-warp kernel, with one K/V buffer where {@link #setWarpOneBuffer} is on. */
    public Kernel shortKernelFor(OffHeapArray store) {
        if (!warpOneBuffer) return warpKernelFor(store);
        return kernelFor(store) == PREFILL_F16 ? WARP_ONE_BUFFER_F16 : WARP_ONE_BUFFER_BF16;
    }

    /**
     * For benchmarks and tests: this instance's {@link #WARP_ONE_BUFFER}, the one-buffer kernel's launch bounds ({@code minBlocks}
     * work-groups an SM, 0: none; {@link #WARP_ONE_BUFFER_BLOCKS}) and its key halves ({@link #WARP_ONE_BUFFER_HALVES}). The same bits
     * either way.
     */
    public void setWarpOneBuffer(boolean on, int minBlocks, boolean halves) {
        if (minBlocks < 0) throw new IllegalArgumentException("minBlocks " + minBlocks);
        this.warpOneBuffer = on;
        this.warpOneBufferBlocks = minBlocks;
        this.warpOneBufferHalves = halves;
    }

    private Object[] args(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, OffHeapArray out, IntArray positions, IntArray seqOfToken,
                          IntArray tileList, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int numBlocks) {
        FloatArray slopes = alibiSlopes != null ? alibiSlopes : q;   // not read without ALiBi
        return new Object[] {q, kCache, vCache, out, positions, seqOfToken, tileList, blockTables, slopes, startTiles, state != null ? state : q,
                maxBlocksPerSeq, numBlocks, heads, kvHeads, headDim, blockSize, alibiSlopes != null ? 1 : 0};
    }

    /** The split form's kernel of a store type (fp32 out). */
    public static Kernel splitKernelFor(OffHeapArray store) {
        return kernelFor(store) == PREFILL_F16 ? SPLIT_F16 : SPLIT_BF16;
    }

    /** The short-tile kernel of a store type. */
    public static Kernel warpKernelFor(OffHeapArray store) {
        return kernelFor(store) == PREFILL_F16 ? WARP_F16 : WARP_BF16;
    }

    /** The kernel of a store type. */
    public static Kernel kernelFor(OffHeapArray store) {
        if (!supportsStore(store)) throw new IllegalArgumentException("the tensor-core prefill takes bf16 or fp16 stores, not " + store.getClass().getSimpleName());
        return store instanceof HalfFloatArray ? PREFILL_F16 : PREFILL_BF16;
    }

    /** Puts the tile array on the device (before capturing launches in a CUDA graph). */
    public void toDevice(Backend b) { b.toDevice(tiles, warpTiles, skip, startTiles, rowTiles, rowTokens); }

    @Override public void close() {
        tiles.close();
        warpTiles.close();
        skip.close();
        startTiles.close();
        rowTiles.close();
        rowTokens.close();
    }
}
