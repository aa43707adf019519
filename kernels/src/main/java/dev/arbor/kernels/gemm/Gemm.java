package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.LongArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.TensorMaps;

/**
 * Host side of the tensor-core GEMM: {@code C[M,N] = X[M,K] · W[N,K]ᵀ} (or {@code C += ...}), with X
 * the activations (one token per row), W the weights as stored (one output feature per row, like a
 * PyTorch {@code Linear.weight}), fp32 accumulation. All arrays are row-major and dense.
 *
 * <p>Shapes: any {@code m ≥ 1} and {@code n ≥ 1}; {@code k} a positive multiple of 8 (every row
 * starts 16-byte aligned for {@code cp.async}); {@code x.length() ≥ m·k}, {@code w.length() ≥ n·k},
 * {@code c.length() ≥ m·n}, all below 2³¹. Anything else is an {@link IllegalArgumentException}.
 *
 * <p>Tiles by M ({@link #tilesFor}): {@link #SMALL} (M ≤ 16, decode), {@link #MEDIUM} (M ≤ 32),
 * {@link #WIDE} (M ≤ 64), {@link #LARGE} (prefill; on an sm_90 device with bf16 W and fp32 C, Hopper's
 * the warp-specialized TMA wgmma tiles {@link #TMA_128} / {@link #TMA_256} instead, measured faster than the cp.async
 * wgmma tiles {@link #WGMMA_128} / {@link #WGMMA_256} at every prefill point, which in turn beat mma.sync, bench/RESULTS.md
 * runs 16-gemm2 and 22-gemm3; at 257-8192 tokens mostly the ping-pong kernel on {@link #TMA_PP128}, {@link #pingPongFaster},
 * runs 48-pp10 and 51-ppcheck; at 65-256 tokens the deep tiles of {@link #deepPlan} where {@link #deepFaster}, run 59-gemm14);
 * split-K (fp32 output only) when the tile grid alone would leave the
 * multiprocessors idle, as many K slices as fit in one wave ({@link #plan}). Split-K adds partial sums with fp32 atomics, so the low bits of
 * C can differ between runs; with {@code accumulate == false} C is zeroed first by a small kernel that
 * the product overlaps (programmatic dependent launch: it streams W meanwhile).
 * fp32 X is converted on load for M ≤ 16; above that it is first converted into a bf16/fp16 copy
 * held by this object (allocated once, at the first such call or by {@link #reserve}; call
 * {@code reserve} before capturing a CUDA graph, since capture cannot allocate). Nothing else is
 * allocated per call. Launches go to the backend's current stream (or the capturing one).
 *
 * <p>One {@code Gemm} per backend; not thread-safe (the scratch copy is shared).
 */
public final class Gemm implements AutoCloseable {
    /**
     * A block's warp layout: {@code wn × wm} warps, each computing {@code mt} 16-row fragments of W
     * by {@code nt} 8-token fragments of X, through a {@code stages}-deep cp.async ring. With {@code wgmma},
     * the block is {@code wn / 4} warpgroups of Hopper's warpgroup MMA ({@code wm = mt = 1}): each
     * warpgroup computes 64 rows of W by all {@code nt·8} tokens ({@link GemmKernels#wgmmaXbf16Wbf16}).
     */
    public record Tiles(String name, int wn, int wm, int mt, int nt, int stages, boolean wgmma, boolean tma, boolean pingPong) {
        public Tiles {
            if (pingPong && (!tma || wn != 8 || wm != 1 || mt != 1))
                throw new IllegalArgumentException("ping-pong tiles are TMA tiles of two consumer warpgroups on 128 W rows (wn = 8): " + name);
        }

        public Tiles(String name, int wn, int wm, int mt, int nt, int stages, boolean wgmma, boolean tma) { this(name, wn, wm, mt, nt, stages, wgmma, tma, false); }

        public Tiles(String name, int wn, int wm, int mt, int nt, int stages) { this(name, wn, wm, mt, nt, stages, false, false); }

        public Tiles(String name, int wn, int wm, int mt, int nt, int stages, boolean wgmma) { this(name, wn, wm, mt, nt, stages, wgmma, false); }

        /** Weight rows (columns of C) per block. */
        public int bn() { return wn * mt * 16; }

        /** Tokens (rows of C) per block. */
        public int bm() { return wm * nt * 8; }

        /** Work-items a block: the compute warps, and with {@code tma} one producer warpgroup after them. */
        public int threads() { return wn * wm * 32 + (tma ? 128 : 0); }

        /**
         * Dynamic shared memory: stages × (bn + bm) rows of 128 bytes; with {@code tma} also 2 mbarriers (16 bytes) a stage;
         * ping-pong tiles 2 more (the ordered barrier).
         */
        public int sharedBytes() { return stages * (bn() + bm()) * GemmKernels.BK * 2 + (tma ? 16 * stages : 0) + (pingPong ? 16 : 0); }

        /** Registers staging fp32 X: 8 floats per 16-byte chunk, ⌈bm·8 / threads⌉ chunks per work-item. */
        int xRegs() { return 8 * ((bm() * 8 + threads() - 1) / threads()); }

        @Override public String toString() {
            return name + " " + bn() + "x" + bm() + "x" + GemmKernels.BK + " (" + wn * wm + " warps" + (wgmma ? ", wgmma" : "")
                    + (tma ? " + a TMA producer warpgroup" : "") + ", " + stages + " stages)";
        }
    }

    /**
     * Decode: 64 weight rows × 16 tokens a block, 4 warps along N, 4 stages (40 KiB). Deeper rings (5, 6, 8 stages) measured
     * slower at every shape and M ≤ 16 in both plans (bench/RESULTS.md run 39-gemv8).
     */
    public static final Tiles SMALL = new Tiles("small", 4, 1, 1, 2, 4);
    /** Batched decode up to 32 tokens: 64 × 32, 4 warps of 16×32, 4 stages (48 KiB). */
    public static final Tiles MEDIUM = new Tiles("medium", 4, 1, 1, 4, 4);
    /** Batched decode up to 64 tokens: 128 × 64, 4×2 warps of 32×32, 4 stages (96 KiB). */
    public static final Tiles WIDE = new Tiles("wide", 4, 2, 2, 4, 4);
    /** Prefill: 128 × 128, 2×2 warps of 64×64, 3 stages (96 KiB). */
    public static final Tiles LARGE = new Tiles("large", 2, 2, 4, 8, 3);

    /** Prefill on Hopper (wgmma, sm_90a): 128 × 128, 2 warpgroups of 64×128, 5 stages (160 KiB). */
    public static final Tiles WGMMA_128 = new Tiles("wgmma128", 8, 1, 1, 16, 5, true);
    /** Large prefill on Hopper: 128 × 256, 2 warpgroups of 64×256 (128 fp32 accumulators a work-item), 4 stages (192 KiB). */
    public static final Tiles WGMMA_256 = new Tiles("wgmma256", 8, 1, 1, 32, 4, true);

    /**
     * Prefill on Hopper, warp-specialized ({@link GemmKernels#wgmmaTmaXbf16Wbf16}): 128 × 128, 2 consumer warpgroups,
     * a producer warpgroup issuing bulk tensor copies (TMA) into 6 stages (192 KiB) on mbarriers.
     */
    public static final Tiles TMA_128 = new Tiles("tma128", 8, 1, 1, 16, 6, true, true);
    /** As {@link #TMA_128} with 128 × 256 tiles (2 warpgroups of 64×256), 4 stages (192 KiB). */
    public static final Tiles TMA_256 = new Tiles("tma256", 8, 1, 1, 32, 4, true, true);
    /**
     * As {@link #TMA_256} with a third consumer warpgroup: 192 W rows × 256 tokens (3 warpgroups of 64×256), 4 stages
     * (224 KiB + barriers). A K tile brings 56 KiB for 3 M multiply-adds where TMA_256's brings 48 KiB for 2 M: 22% less
     * traffic from the L2 a multiply-add. 512 work-items cap a work-item at 128 registers at entry, under one 64×256
     * accumulator set (128); the producer warpgroup gives registers back ({@code setmaxnreg}) and the consumers take 160
     * ({@link GemmKernels#consumerRegisters}).
     */
    public static final Tiles TMA_256X3 = new Tiles("tma256x3", 12, 1, 1, 32, 4, true, true);
    /**
     * The invariant plan's wider tile for its slices summed in registers ({@link #slicedPlan}): 192 W rows × 128 tokens, 3
     * consumer warpgroups of 64×128 (each its two accumulator sets, as {@link #TMA_128}'s two) and the producer warpgroup, 5
     * stages (200 KiB). A K tile brings 40 KiB for 1.5 M multiply-adds where TMA_128's brings 32 KiB for 1 M: a sixth less
     * traffic a multiply-add, the nearest the sliced kernel gets to {@link #TMA_256}'s (whose two accumulator sets would not fit
     * the registers). 512 work-items cap a work-item at 128 registers at entry; the consumers take 160 by setmaxnreg
     * ({@link GemmKernels#consumerRegisters}; before run 39-gemm8, consumer work-item 0 issued the copies, 19-21% slower).
     */
    public static final Tiles TMA_192 = new Tiles("tma192", 12, 1, 1, 16, 5, true, true);
    /**
     * Batched decode of 33-64 tokens on Hopper (the non-invariant plan): 128 W rows × 64 tokens, TMA into 8 stages
     * (192 KiB): a deep stream of W; measured 0.5-16 points of the weight-read floor above {@link #WIDE} (run 22-gemm3).
     */
    public static final Tiles TMA_64 = new Tiles("tma64", 8, 1, 1, 8, 8, true, true);
    /**
     * 65-256 tokens on Hopper, candidate of the default plan's mid range ({@link #midTilesFor}): {@link #TMA_64}'s 128 W rows ×
     * 64 tokens in 4 stages (96 KiB + barriers, 58 registers × 384 work-items), so two blocks share a multiprocessor and one
     * streams W while the other runs its epilogue (split-K atomics) or fills its ring.
     */
    public static final Tiles TMA_64X2 = new Tiles("tma64x2", 8, 1, 1, 8, 4, true, true);
    /**
     * 65-256 tokens on Hopper, candidate of the mid range: one consumer warpgroup of 64 W rows × 128 tokens (the narrow-N
     * tile: twice the W-row tiles of {@link #TMA_128}, so twice the blocks streaming W at a given split), 4 stages (96 KiB), two
     * blocks a multiprocessor.
     */
    public static final Tiles TMA_N64 = new Tiles("tman64", 4, 1, 1, 16, 4, true, true);
    /**
     * The ping-pong schedule ({@link GemmKernels#wgmmaTmaPingPongXbf16Wbf16}): a persistent block of two consumer warpgroups,
     * each a whole 128 × 128 output tile (128 accumulators a work-item), their main loops taking turns so one's epilogue runs
     * under the other's wgmma; the producer warpgroup fills 7 stages (224 KiB + barriers) with the block's tiles in order.
     * Output tiles as {@link #TMA_128}'s (the same bits); {@link #pingPongPlan}.
     */
    public static final Tiles TMA_PP128 = new Tiles("tmapp128", 8, 1, 1, 16, 7, true, true, true);
    /** As {@link #TMA_PP128} with 128 W rows × 192 tokens a warpgroup (192 accumulators, setmaxnreg 232), 5 stages (200 KiB). */
    public static final Tiles TMA_PP192 = new Tiles("tmapp192", 8, 1, 1, 24, 5, true, true, true);
    /** 17-32 tokens on Hopper, 128 × 32, TMA into 10 stages (160 KiB): measured, not used (slower than {@link #MEDIUM} at 6 of 8 shapes, run 22-gemm3). */
    public static final Tiles TMA_32 = new Tiles("tma32", 8, 1, 1, 4, 10, true, true);
    /** Up to 16 tokens on Hopper, 128 × 16, TMA into 12 stages (216 KiB): measured, not used (4-14 points of the floor below {@link #SMALL}, run 22-gemm3). */
    public static final Tiles TMA_16 = new Tiles("tma16", 8, 1, 1, 2, 12, true, true);

    /**
     * How one product runs: tiles, number of K slices, the launch, and whether fp32 X is converted first. {@code slabs}: each
     * K slice stores its own partial sums, added by {@link GemmKernels#sumSlices} in a fixed order (the batch-invariant
     * split-K). {@code registerSlices}: the same slices summed in registers by one block running all of K
     * ({@link GemmKernels#wgmmaTmaSlicedXbf16Wbf16}, grid z = 1), in the same order, so the same bits without the slabs.
     * {@code slabGroup}: with TMA slabs, the K slices a block runs one after the other, each into its own slab
     * ({@link GemmKernels#wgmmaTmaSlabGroupXbf16Wbf16}, grid z = ⌈splits / slabGroup⌉; {@link #slabGroupPlan}): the same slabs,
     * the same bits, fewer waves; 1 = a block a slice.
     */
    public record Plan(Tiles tiles, int splits, int kTilesPerSplit, Launch launch, boolean convertFirst, boolean slabs, boolean registerSlices,
                       boolean persistent, boolean streamK, int slabGroup, boolean cluster) {
        public Plan {
            if (slabGroup < 1) throw new IllegalArgumentException("slabGroup must be >= 1, got " + slabGroup);
            if (cluster && (!tiles.tma() || tiles.pingPong() || tiles.wn() > 8 || slabs || registerSlices || persistent || streamK || slabGroup > 1
                    || splits < 2 || splits > 8 || launch.grid()[2] != splits))
                throw new IllegalArgumentException("the cluster-reduced split-K runs the plain TMA tiles of at most 8 consumer warps in 2-8 K slices, one block a slice along z, not " + tiles + " in " + splits);
            if (slabGroup > 1 && (!slabs || !tiles.tma() || tiles.pingPong() || persistent || streamK || registerSlices))
                throw new IllegalArgumentException("slab groups run the plain TMA tiles' slabs, not " + tiles + (slabs ? "" : " without slabs"));
            if (slabs && launch.grid()[2] != (splits + slabGroup - 1) / slabGroup)   // a copy of a grouped plan that dropped its group runs half the slices
                throw new IllegalArgumentException("slab groups of " + slabGroup + " over " + splits + " slices need grid z = "
                        + (splits + slabGroup - 1) / slabGroup + ", got " + launch.grid()[2]);
        }

        public Plan(Tiles tiles, int splits, int kTilesPerSplit, Launch launch, boolean convertFirst, boolean slabs, boolean registerSlices,
                    boolean persistent, boolean streamK, int slabGroup) {
            this(tiles, splits, kTilesPerSplit, launch, convertFirst, slabs, registerSlices, persistent, streamK, slabGroup, false);
        }

        public Plan(Tiles tiles, int splits, int kTilesPerSplit, Launch launch, boolean convertFirst, boolean slabs, boolean registerSlices,
                    boolean persistent, boolean streamK) {
            this(tiles, splits, kTilesPerSplit, launch, convertFirst, slabs, registerSlices, persistent, streamK, 1);
        }

        public Plan(Tiles tiles, int splits, int kTilesPerSplit, Launch launch, boolean convertFirst, boolean slabs, boolean registerSlices,
                    boolean persistent) {
            this(tiles, splits, kTilesPerSplit, launch, convertFirst, slabs, registerSlices, persistent, false);
        }

        public Plan(Tiles tiles, int splits, int kTilesPerSplit, Launch launch, boolean convertFirst) {
            this(tiles, splits, kTilesPerSplit, launch, convertFirst, false, false, false);
        }

        public Plan(Tiles tiles, int splits, int kTilesPerSplit, Launch launch, boolean convertFirst, boolean slabs) {
            this(tiles, splits, kTilesPerSplit, launch, convertFirst, slabs, false, false);
        }

        public Plan(Tiles tiles, int splits, int kTilesPerSplit, Launch launch, boolean convertFirst, boolean slabs, boolean registerSlices) {
            this(tiles, splits, kTilesPerSplit, launch, convertFirst, slabs, registerSlices, false);
        }

        @Override public String toString() {
            return tiles + ", split-K " + splits + (slabs ? " (slabs" + (slabGroup > 1 ? ", " + slabGroup + " a block" : "") + ", fixed-order sum)" : registerSlices
                    ? " (summed in registers, fixed order)" : cluster ? " (reduced in the cluster's shared memory, fixed order)" : "")
                    + (streamK ? ", stream-K (" + launch.grid()[0] + " blocks)" : persistent ? ", persistent (" + launch.grid()[0] + " blocks)" : "") + (convertFirst ? ", X converted first" : "");
        }
    }

    private static final Kernel XF32_WBF16 = Kernel.of(GemmKernels.class, "xf32Wbf16");
    private static final Kernel XF32_WF16 = Kernel.of(GemmKernels.class, "xf32Wf16");
    private static final Kernel XBF16_WBF16 = Kernel.of(GemmKernels.class, "xbf16Wbf16");
    private static final Kernel XF16_WF16 = Kernel.of(GemmKernels.class, "xf16Wf16");
    private static final Kernel XBF16_WBF16_OBF16 = Kernel.of(GemmKernels.class, "xbf16Wbf16Obf16");
    private static final Kernel XF32_WBF16_OBF16 = Kernel.of(GemmKernels.class, "xf32Wbf16Obf16");
    private static final Kernel ZERO = Kernel.of(GemmKernels.class, "zero");
    private static final Kernel TO_BF16 = Kernel.of(GemmKernels.class, "toBf16x8");
    private static final Kernel TO_FP16 = Kernel.of(GemmKernels.class, "toFp16");
    private static final Kernel SUM_SLICES = Kernel.of(GemmKernels.class, "sumSlices");
    private static final Kernel WGMMA_XBF16_WBF16 = Kernel.of(GemmKernels.class, "wgmmaXbf16Wbf16");
    private static final Kernel WGMMA_TMA_XBF16_WBF16 = Kernel.of(GemmKernels.class, "wgmmaTmaXbf16Wbf16");
    private static final Kernel WGMMA_TMA_SLICED = Kernel.of(GemmKernels.class, "wgmmaTmaSlicedXbf16Wbf16");
    private static final Kernel WGMMA_TMA_PERSISTENT = Kernel.of(GemmKernels.class, "wgmmaTmaPersistentXbf16Wbf16");
    private static final Kernel WGMMA_TMA_PING_PONG = Kernel.of(GemmKernels.class, "wgmmaTmaPingPongXbf16Wbf16");
    private static final Kernel WGMMA_TMA_STREAM_K = Kernel.of(GemmKernels.class, "wgmmaTmaStreamKXbf16Wbf16");
    private static final Kernel WGMMA_TMA_SLAB_GROUP = Kernel.of(GemmKernels.class, "wgmmaTmaSlabGroupXbf16Wbf16");
    private static final Kernel WGMMA_TMA_CLUSTER = Kernel.of(GemmKernels.class, "wgmmaTmaClusterXbf16Wbf16");
    private static final Kernel XF32_WBF16_ADD_NORM = Kernel.of(GemmKernels.class, "xf32Wbf16AddNorm");
    private static final Kernel XF32_WBF16_ADD_SLABS = Kernel.of(GemmKernels.class, "xf32Wbf16AddSlabs");
    private static final Kernel XF32_WBF16_NORM = Kernel.of(GemmKernels.class, "xf32Wbf16Norm");
    private static final Kernel XF32_WBF16_NORM_SWIGLU = Kernel.of(GemmKernels.class, "xf32Wbf16NormSwiGlu");
    private static final Kernel XF32_WBF16_QKV_ROPE_BF16 = Kernel.of(GemmKernels.class, "xf32Wbf16QkvRopeBf16");
    private static final Kernel XF32_WBF16_QKV_ROPE_F16 = Kernel.of(GemmKernels.class, "xf32Wbf16QkvRopeF16");
    private static final Kernel XF32_WBF16_QKV_ROPE_F32 = Kernel.of(GemmKernels.class, "xf32Wbf16QkvRopeF32");
    private static final Kernel XF32_WBF16_NORM_QKV_ROPE_BF16 = Kernel.of(GemmKernels.class, "xf32Wbf16NormQkvRopeBf16");
    private static final Kernel XF32_WBF16_NORM_QKV_ROPE_F16 = Kernel.of(GemmKernels.class, "xf32Wbf16NormQkvRopeF16");
    private static final Kernel XF32_WBF16_NORM_QKV_ROPE_F32 = Kernel.of(GemmKernels.class, "xf32Wbf16NormQkvRopeF32");
    private static final Kernel XF32_WBF16_SWIGLU = Kernel.of(GemmKernels.class, "xf32Wbf16SwiGlu");
    private static final Kernel XBF16_WBF16_SWIGLU = Kernel.of(GemmKernels.class, "xbf16Wbf16SwiGlu");
    private static final Kernel XF32_WBF16_TRIGGER = Kernel.of(GemmKernels.class, "xf32Wbf16Trigger");
    private static final Kernel XF32_WBF16_SWIGLU_TRIGGER = Kernel.of(GemmKernels.class, "xf32Wbf16SwiGluTrigger");
    private static final Kernel WGMMA_TMA_SWIGLU = Kernel.of(GemmKernels.class, "wgmmaTmaSwiGlu");
    private static final Kernel WGMMA_TMA_SWIGLU_BF16 = Kernel.of(GemmKernels.class, "wgmmaTmaSwiGluBf16");
    private static final Kernel PING_PONG_SWIGLU = Kernel.of(GemmKernels.class, "wgmmaTmaPingPongSwiGlu");
    private static final Kernel PING_PONG_SWIGLU_BF16 = Kernel.of(GemmKernels.class, "wgmmaTmaPingPongSwiGluBf16");
    /**
     * Whether the default plan takes the TMA tiles rather than the cp.async wgmma ones ({@code -Darbor.gemm.tma=false}
     * turns them off).
     */
    static final boolean TMA_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.tma", "true"));
    /**
     * Tiles of at most this many tokens convert fp32 X on load (into registers one stage ahead); larger ones
     * get a bf16/fp16 copy made first by one pass and stream it with cp.async like W. Measured on the H200
     * (bench/RESULTS.md, run 16-gemm2): at 32-64 tokens the copy-first path is 5-25% faster (the register
     * path's one-stage-ahead global loads stall the pipeline), at 1-16 tokens the extra launch costs more
     * than it saves. Except products of 2-16 tokens in one K slice (the wide weights: stacked gate|up, lm_head), which convert
     * first too ({@link #plan(int, int, int, Tiles, int, boolean)}): their blocks each stream all of K, and the fp32 X loads a
     * K tile ahead cost more than the conversion's launch. Run 43-gemv9 (GemmBench slices; the same slices and tile, so the
     * same bits): llama-7b's gate|up at 2 / 4 / 8 / 16 tokens 48.0 / 48.3 / 48.6 / 49.2 µs against 50.2 / 52.6 / 54.4 / 57.3
     * (86-88% of the weight floor against 74-84%), lm_head 68.0-69.6 against 67.8-73.3; q|k|v, o and down (2-8 slices) stay
     * faster converting on load at most points.
     */
    static final int CONVERT_ON_LOAD_MAX_M = 16;
    /**
     * The TMA tiles' block order: {@code RASTER_DEFAULT} token tiles of one W-row tile before the next
     * ({@link GemmKernels#rasterTileN}), so the blocks of a wave share their operands in the L2; 1 is the plain row-major
     * order ({@code -Darbor.gemm.raster=1}). Same sums per tile, same bits, any value. Measured on the H200 against row-major
     * (bench/RESULTS.md run 30-gemm5, 52 points M ≥ 256): faster at 31, by 3.5-16% at 16 of them, all with weights over the 50 MB
     * L2 (llama-7b's stacked q|k|v at 16,384 tokens 3211.5 → 2766.4 µs, 22016×4096 at 8192 tokens 2975.6 → 2716.1 µs); within
     * ±3% where W fits the L2 (4096×4096, 1024×4096).
     */
    static final int RASTER_DEFAULT = Math.max(1, Integer.getInteger("arbor.gemm.raster", 8));
    /**
     * Whether the plans run unsplit TMA tiles of more than one wave as the persistent kernel
     * ({@link GemmKernels#wgmmaTmaPersistentXbf16Wbf16}: one block a multiprocessor looping over the tiles). Off by default
     * ({@code -Darbor.gemm.persistent=true} turns it on): measured slower than a block a tile in the same raster at 35 of the 36
     * points where it applied (bench/RESULTS.md run 30-gemm5: e.g. llama-7b q|k|v at 16,384 tokens 3159.9 against
     * 2766.4 µs, 22016×4096 at 2048 tokens 755.6 against 642.1 µs; faster only on the long-K down projections at 16,384,
     * 2574.9 against 2693.4 µs). Its static stride over the tiles keeps no wave of blocks together, where the hardware
     * scheduler hands a freed multiprocessor the next tile of the raster.
     */
    static final boolean PERSISTENT_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.persistent", "false"));
    /**
     * The default plan's tiles at 65-256 tokens ({@link #midTilesFor}): "table" (the measured choice), "old" (the rule before
     * run 31-midm: {@link #tmaTilesFor}), or one tile's name for every shape ({@code -Darbor.gemm.mid=tma64x2}; the benchmark
     * and the engine comparisons use these).
     */
    static final String MID_DEFAULT = System.getProperty("arbor.gemm.mid", "table");

    private final Backend backend;
    private final int multiprocessors;
    /**
     * Whether the default plan may use the wgmma tiles above 64 tokens (an sm_90 device; settable for the CPU
     * executor's tests). Cleared, with a message on stderr, if the driver does not load the sm_90a kernel.
     */
    private boolean wgmma;
    private boolean wgmmaChecked;
    /** Whether the default plan may use the TMA tiles (with {@link #wgmma}); cleared if their kernel does not load. */
    private boolean tma = TMA_DEFAULT;
    /** Whether the invariant plan may sum its K slices in registers ({@link GemmKernels#wgmmaTmaSlicedXbf16Wbf16}); cleared if it does not load. */
    private boolean sliced = true;
    /** Tensor maps by (device address, rows, row length, box rows), made once per matrix (W) or scratch buffer (X). */
    private final java.util.Map<MapKey, LongArray> maps = new java.util.HashMap<>();
    private record MapKey(long address, int rows, int rowLength, int boxRows) {}
    /** The CPU executor reads the matrix itself; its kernels get this (unused) array as the tensor map. */
    private LongArray cpuMap;
    private boolean warnedCapture;
    private long captureFallbacks;   // launches that took the cp.async tiles for want of a tensor map while capturing
    /** The TMA tiles' raster group ({@link #RASTER_DEFAULT}; {@link #raster(int)}). */
    private int raster = RASTER_DEFAULT;
    /** Whether the plans may take the persistent TMA kernel ({@link #PERSISTENT_DEFAULT}); cleared if it does not load. */
    private boolean persistent = PERSISTENT_DEFAULT;
    /** Whether the invariant plan may take TMA_64X2 slabs ({@link #INVARIANT_NARROW}; {@link #invariantNarrow(boolean)}). */
    private boolean invariantNarrow = INVARIANT_NARROW;
    /** The default plan's rule at 65-256 tokens ({@link #MID_DEFAULT}; {@link #mid(String)}). */
    private String mid = MID_DEFAULT;
    /** Whether the mma.sync kernels launch overlapping the kernel before them ({@link #overlapPrevious(boolean)}). */
    private boolean overlapPrevious;
    private boolean earlyTrigger;       // the fp32-X mma.sync kernels let the next launch in early (earlyTrigger)
    private BFloat16Array xBf16;
    private FloatArray slabs;   // (slices, m, n) partial sums of the batch-invariant split-K
    private HalfFloatArray xF16;

    public Gemm(Backend backend) {
        this(backend, backend instanceof CudaBackend cuda && cuda.device().sm() == 90);
    }

    /**
     * @param wgmma whether {@link #plan(int, int, int, boolean, boolean)} may choose the wgmma tiles for M &gt; 64
     *              (fp32 output, bf16 W); needs an sm_90 device on CUDA (the CPU executor runs them anywhere)
     */
    public Gemm(Backend backend, boolean wgmma) {
        this.backend = backend;
        this.multiprocessors = backend.multiprocessors();
        if (wgmma && backend instanceof CudaBackend cuda && cuda.device().sm() != 90)
            throw new IllegalArgumentException("wgmma needs an sm_90 device, this one is sm_" + cuda.device().sm());
        this.wgmma = wgmma;
    }

    /**
     * Launches the mma.sync kernels (the M ≤ 64 tiles and LARGE; with fp32 output and split-K, the zeroing of C before them)
     * overlapping the kernel before them on the stream (programmatic dependent launch, sm_90): a block streams its first
     * {@code stages - 1} K tiles of W, which no kernel writes, then waits for that kernel ({@code gridDependencyWait}) before it
     * reads X or writes C. A decode step has four such GEMMs a layer behind small kernels (norms, SwiGLU, the attention);
     * inside a CUDA graph each boundary measured only 0.4-0.7 µs shorter (llama-7b batch 1: 5.37 → 5.30 ms a step, bench/RESULTS.md
     * run 26-gemv4). Off by default (a caller
     * that knows the previous launch on its stream is a kernel turns it on: the engine's CUDA ops); the wgmma and TMA tiles
     * never overlap (they load X before any wait). Same loads, same sums: the bits do not change.
     */
    public void overlapPrevious(boolean on) { this.overlapPrevious = on; }

    /**
     * The fp32-X mma.sync kernels (the decode tiles: {@link GemmKernels#xf32Wbf16}, {@link GemmKernels#xf32Wbf16SwiGlu}) let the
     * next launch on the stream in as soon as a block has issued its first W stages ({@link GemmKernels#xf32Wbf16Trigger},
     * {@code allowDependentLaunch}), rather than once every block has exited: a next kernel launched overlapping (a norm,
     * qkvRopeStore, the next GEMM) then starts its own prologue while this grid's last blocks finish. A launch permission only:
     * that kernel waits for this grid before reading what it writes, so the bits do not change. Off by default; the engine's
     * {@code -Darbor.gemm.earlyTrigger} (and {@code -Darbor.cuda.earlyTrigger}): measured slower (bench/RESULTS.md "Run
     * 93-gemv23": with the split attention's trigger, llama-7b b1 decode +9.15%; GemmBench trigger: even alone behind a window
     * kernel, up to +8.5 µs a gate|up pair with the window's trigger, the next GEMM's blocks placed while this grid still
     * fills the multiprocessors).
     */
    public void earlyTrigger(boolean on) { this.earlyTrigger = on; }

    /** The kernel to launch for {@code kernel}: its early-trigger twin under {@link #earlyTrigger}, where it has one. */
    private Kernel triggering(Kernel kernel) {
        Kernel twin = !earlyTrigger ? kernel : kernel == XF32_WBF16 ? XF32_WBF16_TRIGGER : kernel == XF32_WBF16_SWIGLU ? XF32_WBF16_SWIGLU_TRIGGER : kernel;
        if (twin != kernel) TRIGGERS.incrementAndGet();
        return twin;
    }

    private static final java.util.concurrent.atomic.AtomicLong TRIGGERS = new java.util.concurrent.atomic.AtomicLong();

    /** Launches of the early-trigger twins ({@link #earlyTrigger}) in this process, for tests (under a CUDA graph: the captures). */
    public static long triggerLaunches() { return TRIGGERS.get(); }

    /** Sets the TMA tiles' raster group (1: row-major; the benchmark compares orders with it). Same bits for any value. */
    public void raster(int group) {
        if (group < 1) throw new IllegalArgumentException("raster group must be >= 1, got " + group);
        this.raster = group;
    }

    /** The TMA tiles' raster group. */
    public int raster() { return raster; }

    /**
     * TMA launches that ran the cp.async tiles instead because their matrix had no tensor map yet while a graph was being
     * captured (a map is made only outside a capture): a caller that captures every step can watch this and launch such a
     * step eagerly instead, which makes the map.
     */
    public long captureFallbacks() { return captureFallbacks; }

    /** Sets the default plan's rule at 65-256 tokens: "table", "old" or a tile's name ({@link #MID_DEFAULT}). */
    public void mid(String rule) {
        if (!rule.equals("table") && !rule.equals("old") && midTiles(rule) == null) throw new IllegalArgumentException("unknown mid-range rule " + rule);
        this.mid = rule;
    }

    /** Sets whether the invariant plan may take {@link #TMA_64X2} slabs at its measured shapes ({@link #INVARIANT_NARROW}; tests). */
    public void invariantNarrow(boolean on) { this.invariantNarrow = on; }

    /** The default plan's rule at 65-256 tokens. */
    public String mid() { return mid; }

    /** The tiles of that name among the mid range's candidates, or null. */
    static Tiles midTiles(String name) {
        for (Tiles t : MID_CANDIDATES) if (t.name().equals(name)) return t;
        return null;
    }

    /** The forms the mid range chooses from (each with the one-wave split rule), all measured at every point of run 31-midm. */
    public static final java.util.List<Tiles> MID_CANDIDATES = java.util.List.of(TMA_128, TMA_256, TMA_64, TMA_64X2, TMA_N64, WIDE);

    /** Whether the default plan uses Hopper's wgmma tiles above 64 tokens. */
    public boolean wgmma() { return wgmma && wgmmaLoads(); }

    /** Whether those wgmma tiles are the warp-specialized TMA ones ({@link #TMA_128}, {@link #TMA_256}). */
    public boolean tma() { return wgmma() && tma; }

    /**
     * On CUDA, loads the wgmma kernel (both tiles) once; if the driver refuses it (sm_90a PTX through the
     * driver's JIT), the plans fall back to the mma.sync tiles instead of failing every prefill.
     */
    private boolean wgmmaLoads() {
        if (!wgmmaChecked) {
            wgmmaChecked = true;
            if (!loads("wgmma", "using the mma.sync tiles", () -> { blocksPerSm(WGMMA_128); blocksPerSm(WGMMA_256); })) wgmma = false;
            if (wgmma && tma) {
                if (!loads("TMA wgmma", "using the cp.async wgmma tiles", () -> { blocksPerSm(TMA_128); blocksPerSm(TMA_256); })) tma = false;
                if (tma && backend instanceof CudaBackend cuda && !loads("sliced TMA wgmma", "the invariant plan keeps its slabs", () -> {
                    for (Tiles t : SLICED_TILES) {
                        Plan p = slicedPlan(t.bm(), t.bn(), 2 * GemmKernels.BK, t, 1, true);
                        cuda.resources(WGMMA_TMA_SLICED, p.launch(), tmaArguments(p, null, null, null, null, null, 1, 1, 1, 2 * GemmKernels.BK, 0));
                    }
                })) sliced = false;
            }
        }
        return wgmma;
    }

    /**
     * Runs {@code load} (a kernel's first load through the driver); if the driver refuses it (sm_90a PTX through its JIT),
     * says so with what the plans use instead and returns false, so a missing kernel costs a form, not every product.
     */
    private static boolean loads(String kernel, String fallback, Runnable load) {
        try {
            load.run();
            return true;
        } catch (RuntimeException e) {
            System.err.println("arbor gemm: the " + kernel + " kernel did not load (" + e.getMessage() + "); " + fallback);
            return false;
        }
    }

    /** SMALL for m ≤ 16, MEDIUM for m ≤ 32, WIDE for m ≤ 64, LARGE above. */
    public static Tiles tilesFor(int m) {
        return m <= 16 ? SMALL : m <= 32 ? MEDIUM : m <= 64 ? WIDE : LARGE;
    }

    /**
     * The default plan: {@link #tilesFor} m, and for fp32 output the most K slices (at least 4 K tiles
     * each) whose blocks all fit on the GPU at once: slices = ⌊resident blocks / tile blocks⌋, with
     * resident blocks = multiprocessors × {@link #blocksPerSm}. (Measured on the H200, 2026-11-30: one
     * wave wins, a second partial wave loses, e.g. N=14336, M=64: 67.9 µs unsplit against 83.0 µs in
     * 2 slices; N=4096, M=1: 11.5 µs in 8 slices against 13.9 µs in 16; bench/RESULTS.md.)
     */
    public Plan plan(int m, int n, int k, boolean fp32Out, boolean fp32X) {
        return plan(m, n, k, fp32Out, fp32X, true);
    }

    /**
     * As {@link #plan(int, int, int, boolean, boolean)}; {@code bf16W}: the weights are bf16 (the wgmma kernel's
     * only type), so with fp32 output and wgmma available the tiles are {@link #TMA_64} at 33-64 tokens and the TMA
     * ones of {@link #tmaTilesFor} above 64 (measured faster at every point, bench/RESULTS.md run 22-gemm3),
     * or with {@code -Darbor.gemm.tma=false} above 64 tokens {@link #WGMMA_256} when they make at least two waves, else {@link #WGMMA_128}.
     */
    private Plan plan(int m, int n, int k, boolean fp32Out, boolean fp32X, boolean bf16W) {
        checkShape(m, n, k);
        Tiles t = tilesFor(m);
        if (wgmma && bf16W && fp32Out && m > 32 && m <= 64 && wgmmaLoads() && tma) t = TMA_64;
        if (wgmma && bf16W && fp32Out && m > 64 && wgmmaLoads()) {
            if (tma && midTuned) {
                Plan tuned = tunedPlan(m, n, k, fp32X);
                if (tuned != null && (!tuned.tiles().pingPong() || pingPongLoads()))
                    return clusterSplitK && clusterApplies(tuned) && clusterLoads() ? clusterPlan(tuned) : tuned;
            }
            long wide = (long) ((n + WGMMA_256.bn() - 1) / WGMMA_256.bn()) * ((m + WGMMA_256.bm() - 1) / WGMMA_256.bm());
            if (tma) t = m <= 256 && !mid.equals("old") ? midTilesFor(m, n, k) : tmaTilesFor(m, n, k);
            else t = wide >= 2L * multiprocessors ? WGMMA_256 : WGMMA_128;
            if (tma && deep && m >= DEEP_MIN_M && m <= DEEP_MAX_M) {
                Plan d = deepPlan(m, n, k, fp32X);
                if (deepFaster(d, t, oneWaveSplits(m, n, k, t))) return d;
            }
            if (t == TMA_256 && threeWarpgroupsFaster(m, n)) t = TMA_256X3;
            if (tma && (t == TMA_256 || t == TMA_128) && (pingPongFaster(m, n, k) || pingPongMidFaster(m, n)) && pingPongLoads())
                return pingPongPlan(m, n, k, TMA_PP128, fp32X);
        }
        long blocks = (long) ((n + t.bn() - 1) / t.bn()) * ((m + t.bm() - 1) / t.bm());
        long resident = (long) multiprocessors * blocksPerSm(t);
        int splits = fp32Out ? oneWaveSplits(m, n, k, t) : 1;
        if (streamK && fp32Out && t.tma() && streamKFaster(blocks * splits, resident) && streamKLoads()) return streamKPlan(m, n, k, t, fp32X);
        if (t.tma() && t.bm() >= TMA_128.bm() && splits == 1 && blocks > resident && persistent && persistentLoads())
            return persistentPlan(m, n, k, t, fp32X);
        Plan p = plan(m, n, k, t, splits, fp32X);
        if (clusterSplitK && clusterApplies(p) && clusterLoads()) return clusterPlan(p);
        return p;
    }

    // ---- the mid range's measured table: 65-256 tokens -----------------------------------------------------------

    /**
     * Whether the default (non-invariant) plan takes, for a weight (n, k) at m tokens, the form measured fastest there
     * ({@link #MID_TUNED_TABLE_DEFAULT}, or {@code -Darbor.gemm.midTunedTable=...}) before its rules: an entry measured at M
     * tokens serves 3M/4 &lt; m ≤ M (a decode step of 97-128 sequences runs its 128-row graph bucket: M itself; fewer tokens
     * would see the same TMA grid, but the rules' deep tiles shrink with m, unmeasured against the entry). On by default;
     * {@code -Darbor.gemm.midTuned=false} for the rules alone; read when this object is made, so one JVM can A/B it over two
     * engines ({@code bench throughput --ab arbor.gemm.midTuned}). The forms are existing kernels (TMA tiles, deep tiles,
     * ping-pong), split by fp32 atomics into C (zeroed first unless it holds the residual) or unsplit: batch invariance is
     * not asked of this plan. Measured (bench/RESULTS.md run 94-b128g, H200): GemmBench b128g at 128 tokens, bf16 X, C as the
     * engine writes it — llama3.2-1b o 2048×2048 (+= residual) TMA_64X2 in 8 K slices 8.30 → 4 slices 7.31 µs, gate|up
     * 16384×2048 (SwiGLU epilogue) ping-pong 26.8 → TMA_64X2 unsplit 21.7 µs, down 2048×8192 (+=) TMA_128 × 8 16.0 → TMA_64X2 × 8
     * 14.6 µs (q|k|v's TMA_64X2 × 5 and lm_head's ping-pong stay: the fastest within 2%); the llama3.2-1b b128 × 512 nbi decode
     * step 1.886 / 1.880 → 1.795 / 1.800 ms on the device (−4.6%, one JVM, off / on / on / off; the tokens as different as
     * between two runs of the same plan, split-K's atomics).
     */
    static final boolean MID_TUNED_DEFAULT = true;

    /**
     * The measured table, entries {@code NxKxM=tiles/slices} separated by commas: tiles one of tma128, tma64x2, tman64, tma256,
     * tmapp128 (the ping-pong kernel, unsplit) or deepB (the deep tiles of B = 64, 128 or 192 W rows for the step's tokens).
     * Run 94-b128g's llama3.2-1b entries (above); its llama-7b ones, faster in GemmBench alone but not measured in the engine,
     * are left out: 12288x4096x128=tmapp128/1 (33.6 → 32.1 µs), 4096x4096x128=tma64x2/4 (15.8 → 14.5), 4096x11008x128=tma64x2/4
     * (30.9 → 29.5).
     */
    static final String MID_TUNED_TABLE_DEFAULT = "2048x2048x128=tma64x2/4,16384x2048x128=tma64x2/1,2048x8192x128=tma64x2/8";

    private boolean midTuned = Boolean.parseBoolean(System.getProperty("arbor.gemm.midTuned", String.valueOf(MID_TUNED_DEFAULT)));
    private java.util.List<TunedEntry> midTunedTable = parseTuned(System.getProperty("arbor.gemm.midTunedTable", MID_TUNED_TABLE_DEFAULT));

    /** One measured choice: weight (n, k), measured at m tokens, tiles by name, K slices. */
    public record TunedEntry(int n, int k, int m, String tiles, int splits) {
        public TunedEntry {
            if (n < 1 || k < 1 || m <= 64 || m > DEEP_MAX_M || splits < 1)
                throw new IllegalArgumentException("a mid-range entry needs n, k >= 1, 64 < m <= " + DEEP_MAX_M + ", slices >= 1: " + n + "x" + k + "x" + m + "/" + splits);
            if (tunedTiles(tiles, m) == null) throw new IllegalArgumentException("no tiles named " + tiles + " in a mid-range entry");
            if (tiles.equals(TMA_PP128.name()) && splits != 1) throw new IllegalArgumentException("the ping-pong kernel runs unsplit: " + tiles + "/" + splits);
        }

        @Override public String toString() { return n + "x" + k + "x" + m + "=" + tiles + "/" + splits; }
    }

    /** Parses {@code NxKxM=tiles/slices,...} (blank: no entries); malformed text is an {@link IllegalArgumentException}. */
    public static java.util.List<TunedEntry> parseTuned(String table) {
        java.util.List<TunedEntry> out = new java.util.ArrayList<>();
        if (table == null || table.isBlank()) return out;
        for (String e : table.split(",")) {
            String s = e.trim();
            if (s.isEmpty()) continue;
            String[] kv = s.split("=");
            String[] nkm = kv[0].split("x");
            String[] ts = kv.length == 2 ? kv[1].split("/") : new String[0];
            if (nkm.length != 3 || ts.length != 2) throw new IllegalArgumentException("mid-range entry not NxKxM=tiles/slices: " + s);
            try {
                out.add(new TunedEntry(Integer.parseInt(nkm[0]), Integer.parseInt(nkm[1]), Integer.parseInt(nkm[2]), ts[0], Integer.parseInt(ts[1])));
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException("mid-range entry not NxKxM=tiles/slices: " + s, ex);
            }
        }
        return out;
    }

    /** The tiles an entry names for m tokens (deep tiles sized for m), or null. */
    static Tiles tunedTiles(String name, int m) {
        return switch (name) {
            case "tma128" -> TMA_128;
            case "tma64x2" -> TMA_64X2;
            case "tman64" -> TMA_N64;
            case "tma256" -> TMA_256;
            case "tmapp128" -> TMA_PP128;
            case "deep64" -> deepTiles(4, m);
            case "deep128" -> deepTiles(8, m);
            case "deep192" -> deepTiles(12, m);
            default -> null;
        };
    }

    /** Sets whether the default plan takes the measured mid-range table ({@link #MID_TUNED_DEFAULT}; tests and GemmBench). */
    public void midTuned(boolean on) { this.midTuned = on; }

    /** Replaces the mid-range table ({@link #parseTuned}'s format; tests and GemmBench). */
    public void midTunedTable(String table) { this.midTunedTable = parseTuned(table); }

    /** The table's entries (as parsed). */
    public java.util.List<TunedEntry> midTunedTable() { return java.util.List.copyOf(midTunedTable); }

    /**
     * The plan of the table's entry for (n, k) with the fewest measured tokens M ≥ m, if 3M/4 &lt; m; null when none serves m.
     * Built as the benchmark built the measured form: {@link #plan(int, int, int, Tiles, int, boolean)} (the ping-pong tiles as
     * {@link #pingPongPlan}).
     */
    public Plan tunedPlan(int m, int n, int k, boolean fp32X) {
        TunedEntry best = null;
        for (TunedEntry e : midTunedTable)
            if (e.n() == n && e.k() == k && e.m() >= m && 4 * m > 3 * e.m() && (best == null || e.m() < best.m())) best = e;
        if (best == null) return null;
        Tiles t = tunedTiles(best.tiles(), m);
        return t.pingPong() ? pingPongPlan(m, n, k, t, fp32X) : plan(m, n, k, t, best.splits(), fp32X);
    }

    // ---- split-K reduced in the cluster's shared memory -------------------------------------------------------

    /**
     * Whether the default (non-invariant) plan runs its split-K TMA products as {@link #clusterPlan}: the K slices of an output
     * tile one thread-block cluster, their partial tiles summed in distributed shared memory by the cluster's blocks, a share
     * each, and stored once ({@link GemmKernels#wgmmaTmaClusterXbf16Wbf16}), instead of C zeroed by a launch of its own (when
     * not accumulating) and every slice's tile added into C by fp32 atomics. {@code -Darbor.gemm.clusterSplitK=true|false}, off:
     * measured slower at every point (bench/RESULTS.md run 88-small22, GemmBench cluster, bf16 X, off / on / off / on): llama3.2-1b
     * at 128 tokens q|k|v 11.9 → 14.3 µs, o 8.1-8.4 → 13.2, down 16.1 → 25.6; llama-7b o / down at 128 15.7 → 24.3 / 30.6 → 46.7;
     * 1.20-1.79× at 48-128 tokens; the 1b b128 nbi decode step 1.881 / 1.880 → 2.128 / 2.132 ms on the device. Its sums are the
     * slab plan's bits (GPU-checked), the atomics' within fp32 order noise. Not known why (no profile taken): the one-wave split
     * assumes any free slot takes any block, where a cluster needs all its slots in one GPC at once; and each slice now waits at
     * the cluster barrier for its cluster's slowest before a reduction tail, where an atomic add is fire-and-forget.
     */
    static final boolean CLUSTER_SPLIT_K_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.clusterSplitK", "false"));

    /** Read when this object is made, not at class load, so that one JVM can A/B it over two engines ({@code bench shared-prefix --ab}). */
    private boolean clusterSplitK = Boolean.parseBoolean(System.getProperty("arbor.gemm.clusterSplitK", String.valueOf(CLUSTER_SPLIT_K_DEFAULT)));
    private boolean clusterChecked;

    /** Sets whether the default plan reduces its TMA split-K in clusters ({@link #CLUSTER_SPLIT_K_DEFAULT}; tests and GemmBench). */
    public void clusterSplitK(boolean on) {
        this.clusterSplitK = on;
        this.clusterChecked = false;
    }

    /** Whether plan p (split-K on the plain TMA tiles) can run as {@link #clusterPlan}: 2-8 slices, at most 8 consumer warps. */
    public static boolean clusterApplies(Plan p) {
        Tiles t = p.tiles();
        return t.tma() && !t.pingPong() && t.wn() <= 8 && !p.slabs() && !p.registerSlices() && !p.persistent() && !p.streamK()
                && p.slabGroup() == 1 && p.splits() >= 2 && p.splits() <= 8 && p.launch().grid()[2] == p.splits();
    }

    /** Split-K plan p ({@link #clusterApplies}) with its slices reduced in clusters of (1, 1, slices) blocks: the same grid, tiles and slices. */
    public static Plan clusterPlan(Plan p) {
        if (!clusterApplies(p)) throw new IllegalArgumentException("no cluster-reduced form of " + p);
        return new Plan(p.tiles(), p.splits(), p.kTilesPerSplit(), p.launch(), p.convertFirst(), false, false, false, false, 1, true);
    }

    /** On CUDA, loads the cluster kernel once; if the driver refuses it, the default plan keeps its atomics (with a message). */
    private boolean clusterLoads() {
        if (!clusterChecked) {
            clusterChecked = true;
            if (backend instanceof CudaBackend cuda && !loads("cluster-reduced TMA wgmma", "split-K by atomics", () -> {
                Plan q = clusterPlan(plan(TMA_64X2.bm(), TMA_64X2.bn(), 2 * GemmKernels.BK, TMA_64X2, 2, true));
                // compiled and loaded by the driver (its JIT); not the occupancy query, which a kernel of required cluster dims may refuse
                cuda.compiled(WGMMA_TMA_CLUSTER, clusterArguments(q, null, null, null, null, null, 1, 1, 1, 2 * GemmKernels.BK, 0, 1));
            })) clusterSplitK = false;
        }
        return clusterSplitK;
    }

    /** The arguments of {@link GemmKernels#wgmmaTmaClusterXbf16Wbf16}: {@link #tmaArguments}, then the slices (the cluster's depth). */
    public static Object[] clusterArguments(Plan p, OffHeapArray x, OffHeapArray w, OffHeapArray c, LongArray mapX, LongArray mapW,
                                            int m, int xRows, int n, int k, int accumulate, int raster) {
        Object[] a = tmaArguments(p, x, w, c, mapX, mapW, m, xRows, n, k, accumulate, raster);
        Object[] out = java.util.Arrays.copyOf(a, a.length + 1);
        out[a.length] = p.splits();
        return out;
    }

    /**
     * Whether the default plan takes stream-K ({@link #streamKPlan}) for its TMA tiles: when the one-wave split-K plan's blocks
     * fill less than {@link #STREAM_K_FILL} of the last wave's resident slots (e.g. k/v 1024×4096 at 512 tokens: 32 tiles of 128
     * × 128 in 4 K slices, 128 of 132; q|k|v 3072×2048 at 128 tokens: 24 tiles in 5 slices, 120 of 132). Only with
     * {@code -Darbor.gemm.streamK=true}, off by default: run 61-gemm15 measured stream-K slower than the plan at all 16 points it
     * tried (k/v 1024×4096 at 512 tokens 22.9 against 18.7 µs, llama3.2-1b q|k|v at 128 16.8 against 13.6, 1.2-2.4× at
     * 2048-8192 tokens where the contiguous ranges scatter the concurrently running tiles over the grid and lose the L2
     * reuse of a wave of neighbouring tiles), and the 1b b128 nbi decode step 2.065 → 2.397 ms with it.
     */
    static boolean streamKFaster(long blocks, long resident) {
        long waves = (blocks + resident - 1) / resident;
        return blocks < STREAM_K_FILL * waves * resident;
    }

    /** The wave fill below which {@link #streamKFaster} takes stream-K. */
    static final double STREAM_K_FILL = 0.98;

    /** -Darbor.gemm.streamK=true: the default plan may take stream-K ({@link #streamKFaster}); off by default (not measured as a rule). */
    static final boolean STREAM_K_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.streamK", "false"));

    private boolean streamK = STREAM_K_DEFAULT;
    private boolean streamKChecked;

    /** Sets whether the default plan may take stream-K ({@link #streamKFaster}; tests and GemmBench few). */
    public void streamK(boolean on) {
        this.streamK = on;
        this.streamKChecked = false;
    }

    /** On CUDA, loads the stream-K kernel once; if the driver refuses it, the default plan keeps split-K (with a message). */
    private boolean streamKLoads() {
        if (!streamKChecked) {
            streamKChecked = true;
            if (backend instanceof CudaBackend cuda && !loads("stream-K TMA wgmma", "split-K", () -> {
                Plan q = streamKPlan(TMA_128.bm(), TMA_128.bn(), GemmKernels.BK, TMA_128, true);
                cuda.resources(WGMMA_TMA_STREAM_K, q.launch(), tmaArguments(q, null, null, null, null, null, 1, 1, 1, GemmKernels.BK, 0));
            })) streamK = false;
        }
        return streamK;
    }

    /**
     * Whether the default plan takes {@link #TMA_256X3} where {@link #tmaTilesFor} gives {@link #TMA_256}: at 257-2048 tokens
     * ({@link #TMA_256X3_MAX_M}), when its waves of 192×256 tiles, each {@link #TMA_256X3_TILE_RATIO} times a 128×256 tile's time,
     * are expected shorter than TMA_256's waves (both one block a multiprocessor, unsplit). Not in the batch-invariant plan
     * (its two n128 halves a k16 step have not been bit-checked against the n256 step on the GPU).
     */
    boolean threeWarpgroupsFaster(int m, int n) {
        if (m <= TMA_256.bm() || m > TMA_256X3_MAX_M) return false;   // measured at 512-2048 tokens (the mid range's table rules ≤ 256)
        long tilesM = (m + TMA_256.bm() - 1) / TMA_256.bm();
        long waves256 = ((n + TMA_256.bn() - 1) / TMA_256.bn() * tilesM + multiprocessors - 1) / multiprocessors;
        long waves3 = ((n + TMA_256X3.bn() - 1) / TMA_256X3.bn() * tilesM + multiprocessors - 1) / multiprocessors;
        return waves3 * TMA_256X3_TILE_RATIO < waves256;
    }

    /**
     * Whether the default plan takes the ping-pong kernel on {@link #TMA_PP128} where it had {@link #TMA_256} or {@link #TMA_128}
     * (not where it takes {@link #TMA_256X3}): at {@link #PING_PONG_MIN_M}-{@link #PING_PONG_MAX_M} tokens, when the 128 × 128
     * tiles fill at least 90% of the multiprocessors; long K (≥ 8192) only up to 512 tokens, for weights of more than 12,288 rows only up to
     * 2048. Run 48-pp10 (GemmBench pp) picked the shapes, run 49-pp10 (GemmBench pp-rule: the plan without and with the rule,
     * timed before / after / before / after) measured the rule: after / before 0.845-0.967 at 13 of the 16 points of issue
     * 10's 36 it picks (28672×4096 at 512 186.3 against 220.3 µs; 4096×4096 at 2048 115.7 against 121.4; the down projections at
     * 512 tokens, TMA_256 in 2 K slices before, 0.885-0.912), 0.994-1.010 at the other 3 (4096² and 6144×4096 at 512, k/v at
     * 2048). Left out as measured: 32 tiles (k/v 1024×4096 at 512: 31.5 against split-K's 19.5 µs), the long-K down
     * projections at 2048-16,384 tokens (1.00-1.08 of TMA_256), the TMA_256X3 points (0.90-1.05, no consistent gain), the gate|up
     * weights of 14,336-28,672 rows at 8192 tokens (1.000-1.064 interleaved: W over the L2, the persistent blocks' static
     * stride, as the persistent kernel in run 30-gemm5) and 16,384 tokens (0.94-1.08).
     */
    boolean pingPongFaster(int m, int n, int k) {
        if (m < PING_PONG_MIN_M || m > PING_PONG_MAX_M || k >= 8192 && m > 512 || n > 12288 && m > 2048) return false;
        return pingPongTilesFill(m, n);
    }

    /** Whether the ping-pong kernel's 128 × 128 tiles of an (m, n) product fill at least 90% of the multiprocessors. */
    private boolean pingPongTilesFill(int m, int n) {
        long tiles = (long) ((n + TMA_PP128.bn() - 1) / TMA_PP128.bn()) * ((m + TMA_PP128.bm() - 1) / TMA_PP128.bm());
        return tiles * 10 >= 9L * multiprocessors;
    }

    /**
     * The mid range's ping-pong rule (the default plan only; the invariant plan keeps its forms): at {@link #PING_PONG_MID_MIN_M}-128 tokens (one 128-token tile), where
     * the plan has unsplit {@link #TMA_128} and the weight's 128-row tiles fill at least 90% of the multiprocessors, the ping-pong
     * kernel. Run 61-gemm15 (GemmBench pp-mid, the plan without / with the rule, off / on / off / on): on/off 0.841-0.846 on
     * llama3.2-1b's lm_head 128256×2048 at 116-128 tokens (152-155 against 179-184 µs), 0.904-0.908 on its gate|up 16384×2048
     * at 120-128, 0.930 on Llama-3-8B's lm_head 128256×4096, 0.920 on its gate|up 28672×4096, 0.945-0.948 on llama-7b's lm_head
     * 32000×4096; the llama3.2-1b b128 nbi decode step 2.061 / 2.065 → 2.026 / 2.012 ms on the device. A block runs 1-8 tiles,
     * each a whole tile a warpgroup: the other warpgroup's epilogue and the next tile's first K tiles run under it. On by
     * default; {@code -Darbor.gemm.pingPongMid=false}: main's plan there.
     */
    boolean pingPongMidFaster(int m, int n) {
        if (!pingPongMid || m < PING_PONG_MID_MIN_M || m > TMA_PP128.bm()) return false;
        return pingPongTilesFill(m, n);   // one 128-token tile of many W-row tiles
    }

    static final boolean PING_PONG_MID_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.pingPongMid", "true"));

    /**
     * Fewest tokens of the mid-range ping-pong rule ({@code -Darbor.gemm.pingPongMidMinM=N}): from 113 the deep plan's tile
     * (tokens rounded up to 16) is TMA_128 in disguise and the plan falls through to TMA_128; below, the deep tiles decide.
     */
    static final int PING_PONG_MID_MIN_M = Integer.getInteger("arbor.gemm.pingPongMidMinM", 113);

    private boolean pingPongMid = PING_PONG_MID_DEFAULT;

    /** Sets whether the default plan takes the mid range's ping-pong rule ({@link #pingPongFaster}; tests and GemmBench pp-mid). */
    public void pingPongMid(boolean on) { this.pingPongMid = on; }

    /**
     * Below this many tokens the default plan keeps its TMA_128 / TMA_256 / split-K choice ({@code -Darbor.gemm.pingPongMinM=N}
     * moves it; the engine comparisons use it). Run 48-pp10 measured the kernel from 512 tokens (the rule from 257: the
     * 256-token tiles' range ends there). Run 51-ppcheck: seed workload 2 with --no-batch-invariance (decode steps of 434-500
     * tokens) took 20.91 / 21.03 ms a decode step with it against 19.15 / 19.09 without, though GemmBench measured it 0.76-1.01
     * of the plan before at 300-512 tokens: the engine's o and down add the residual in the epilogue, whose C loads then each
     * waited for the store before them, 128 a work-item on the ping-pong kernel's 128 × 128 tile, 64 on TMA_128's, none under
     * the split-K atomics it replaced at down ({@link GemmKernels#storeF32Tile}). With the loads first (run 53-pp11, interleaved):
     * 18.58 / 18.26 ms a decode step from 257 tokens, 18.38 / 18.14 from 1,024 (a tie; the runs drifted down 0.1 ms each), o
     * with the residual 0.90 of TMA_128's time, down 1.00-1.03 of split-K's.
     */
    static final int PING_PONG_MIN_M = Math.max(1, Integer.getInteger("arbor.gemm.pingPongMinM", 257));

    /** Above this many tokens the default plan keeps {@link #TMA_256}: run 48-pp10 measured 16,384 tokens both ways (0.94-1.08 of TMA_256 by shape, no consistent gain). */
    static final int PING_PONG_MAX_M = 8192;

    private boolean pingPongChecked = !PING_PONG_DEFAULT;   // off by the property: never loaded
    /** Whether the default plan may take the ping-pong kernel ({@link #pingPongFaster}); cleared if it does not load. */
    private boolean pingPong = PING_PONG_DEFAULT;
    /** -Darbor.gemm.pingPong=false: the default plan never takes the ping-pong kernel (the engine measured without the rule). */
    static final boolean PING_PONG_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.pingPong", "true"));

    /** Sets whether the default plan may take the ping-pong kernel ({@link #pingPongFaster}; on by default; tests and GemmBench pp-rule). */
    public void pingPong(boolean on) {
        this.pingPong = on;
        this.pingPongChecked = !on;   // turned on again: loaded (checked) at the next plan
    }

    /** On CUDA, loads the ping-pong kernel once; if the driver refuses it, the default plan keeps the plain TMA tiles (with a message). */
    private boolean pingPongLoads() {
        if (!pingPongChecked) {
            pingPongChecked = true;
            if (backend instanceof CudaBackend cuda && !loads("ping-pong TMA wgmma", "the plain TMA tiles", () -> {
                Plan q = pingPongPlan(TMA_PP128.bm(), TMA_PP128.bn(), GemmKernels.BK, TMA_PP128, true);
                cuda.resources(WGMMA_TMA_PING_PONG, q.launch(), tmaArguments(q, null, null, null, null, null, 1, 1, 1, GemmKernels.BK, 0));
            })) pingPong = false;
        }
        return pingPong;
    }

    /**
     * A {@link #TMA_256X3} tile's time against a {@link #TMA_256} tile's (1.5 times the multiply-adds): run 39-gemm8, one block a
     * multiprocessor, 1.42-1.46 where the waves are full (11008×4096 and 12288×4096 at 512 tokens: 84.6 / 87.8 µs in one wave
     * against 119.3 / 120.0 in two), 1.34 on 4096² at 2048 (172.1 µs over 1.33 waves against 128.1 over 1.94). With 1.42 the
     * rule picks the faster of the two at 20 of the 21 points of issue 10's shapes at 512 and 2048 tokens where the plan had
     * TMA_256 (the 21st: 24576×4096 at 512, 3% slower), TMA_256X3 at 9 of them (1-29% faster).
     */
    static final double TMA_256X3_TILE_RATIO = 1.42;

    /**
     * Above this many tokens the default plan keeps {@link #TMA_256}: at 8192 and 16,384 tokens run 39-gemm8 measured TMA_256X3
     * 1-7% faster than TMA_256 timed just before it at 12 of 16 points, but TMA_256 itself 1-13% faster still as the default plan
     * timed first at the same points: an order effect larger than the difference, not settled in that call.
     */
    static final int TMA_256X3_MAX_M = 2048;

    /**
     * The default plan's split-K for these tiles: the most K slices (each at least 4 K tiles) whose blocks all fit on the GPU at
     * once, ⌊multiprocessors × {@link #blocksPerSm} / tile blocks⌋, at least 1.
     */
    public int oneWaveSplits(int m, int n, int k, Tiles t) {
        int kTiles = (k + GemmKernels.BK - 1) / GemmKernels.BK;
        long blocks = (long) ((n + t.bn() - 1) / t.bn()) * ((m + t.bm() - 1) / t.bm());
        long resident = (long) multiprocessors * blocksPerSm(t);
        return (int) Math.max(1, Math.min(Math.max(1, kTiles / 4), resident / blocks));
    }

    /**
     * The TMA tiles t over all of K as the persistent kernel: min(tiles, resident blocks) blocks in a 1-D grid, each looping
     * over the output tiles (the default plan's choice for unsplit TMA tiles of more than one wave).
     */
    public Plan persistentPlan(int m, int n, int k, Tiles t, boolean fp32X) {
        if (!t.tma()) throw new IllegalArgumentException("the persistent kernel runs the TMA tiles, not " + t);
        return persistentGrid(m, n, k, t, fp32X, blocksPerSm(t));
    }

    /** t's unsplit plan as a persistent 1-D grid of min(tiles, multiprocessors × perSm) blocks, each looping over output tiles. */
    private Plan persistentGrid(int m, int n, int k, Tiles t, boolean fp32X, int perSm) {
        Plan p = plan(m, n, k, t, 1, fp32X);
        long tiles = (long) p.launch().grid()[0] * p.launch().grid()[1];
        int blocks = (int) Math.min(tiles, (long) multiprocessors * perSm);
        Launch l = new Launch(new int[]{blocks, 1, 1}, p.launch().block(), p.launch().sharedBytes(), null);
        return new Plan(t, 1, p.kTilesPerSplit(), l, p.convertFirst(), false, false, true);
    }

    /**
     * The ping-pong tiles t ({@link #TMA_PP128}, {@link #TMA_PP192}) over all of K: min(tiles, multiprocessors) persistent blocks
     * in a 1-D grid, each block's tiles shared out between its two consumer warpgroups in turn.
     */
    public Plan pingPongPlan(int m, int n, int k, Tiles t, boolean fp32X) {
        if (!t.pingPong()) throw new IllegalArgumentException("the ping-pong kernel runs the ping-pong tiles, not " + t);
        return persistentGrid(m, n, k, t, fp32X, 1);   // 200-224 KiB of stages: one block a multiprocessor
    }

    /**
     * Stream-K on the TMA tiles t ({@link GemmKernels#wgmmaTmaStreamKXbf16Wbf16}): min(MAC iterations, multiprocessors ×
     * {@link #blocksPerSm}) persistent blocks, each an equal contiguous range of the product's (output tile, K tile) iterations;
     * tiles shared between blocks summed by atomic adds (C zeroed first): not batch-invariant, the default plan's form only.
     */
    public Plan streamKPlan(int m, int n, int k, Tiles t, boolean fp32X) {
        if (!t.tma() || t.pingPong()) throw new IllegalArgumentException("stream-K runs the plain TMA tiles, not " + t);
        Plan p = plan(m, n, k, t, 1, fp32X);
        long iterations = (long) p.launch().grid()[0] * p.launch().grid()[1] * p.kTilesPerSplit();
        int blocks = (int) Math.min(iterations, (long) multiprocessors * blocksPerSm(t));
        Launch l = new Launch(new int[]{blocks, 1, 1}, p.launch().block(), p.launch().sharedBytes(), null);
        return new Plan(t, 1, p.kTilesPerSplit(), l, p.convertFirst(), false, false, true, true);
    }

    /** Sets whether the plans may take the persistent kernel for unsplit TMA tiles of more than one wave (tests; off by default). */
    public void persistent(boolean on) { this.persistent = on; }

    private boolean persistentChecked;

    /** On CUDA, loads the persistent kernel once; if the driver refuses it, the default plan keeps a block a tile (with a message). */
    private boolean persistentLoads() {
        if (!persistentChecked) {
            persistentChecked = true;
            if (backend instanceof CudaBackend cuda && !loads("persistent TMA wgmma", "a block a tile", () -> {
                for (Tiles t : java.util.List.of(TMA_256, TMA_128)) {
                    Plan q = new Plan(t, 1, 1, plan(t.bm(), t.bn(), GemmKernels.BK, t, 1, true).launch(), true, false, false, true);
                    cuda.resources(WGMMA_TMA_PERSISTENT, q.launch(), tmaArguments(q, null, null, null, null, null, 1, 1, 1, GemmKernels.BK, 0));
                }
            })) persistent = false;
        }
        return persistent;
    }

    /**
     * The TMA tiles for m &gt; 64 tokens: {@link #TMA_128} up to 128 tokens; at 129-512 tokens {@link #TMA_256} for
     * weights larger than 4096×4096 (enough 256-token blocks to fill the GPU), else TMA_128; above 512 tokens TMA_256
     * unless the weight is narrow (n &lt; 2048, e.g. Llama-3's k/v projections) and m ≤ 2048. Measured on the H200
     * (bench/RESULTS.md run 22-gemm3, both tiles at every prefill point in both calls, each with the one-wave split
     * rule): at 128 tokens 128×128 is 16-25% faster (a 256-token tile would be half empty); from 256 tokens on the
     * weights above 4096×4096 128×256 is 1-33% faster (e.g. 14336×4096 at 256 tokens 61.2 against 91.0 µs); on
     * 4096×4096 at 512 tokens 128×128 is 9% faster (45.1 against 49.6 µs; equal at 256); on 1024×4096 128×128 wins up
     * to 2048 tokens (5-23%) and loses at 8192 (217.3 against 161.9 µs).
     */
    static Tiles tmaTilesFor(int m, int n, int k) {
        if (m <= 128) return TMA_128;
        if (m <= 512) return (long) n * k > 4096L * 4096 ? TMA_256 : TMA_128;
        return n >= 2048 || m > 2048 ? TMA_256 : TMA_128;
    }

    /**
     * The default plan's tiles at 65-256 tokens (TMA available, fp32 C, bf16 W), each with the one-wave split-K rule: with the
     * rule "table", the measured choice (bench/RESULTS.md run 31-midm); with a tile's name, those tiles.
     */
    Tiles midTilesFor(int m, int n, int k) {
        Tiles forced = midTiles(mid);
        if (forced != null) return forced;
        for (int[] e : MID_TABLE)
            if (n == e[0] && k == e[1] && m <= e[2]) return TMA_64X2;
        return tmaTilesFor(m, n, k);
    }

    /**
     * The weights (n, k) up to a token count where {@link #TMA_64X2} (one-wave split) beat the rule before at every measured
     * point of run 31-midm (bench/RESULTS.md; all six candidates at each point, the median of 5 graph replays): llama-7b's
     * stacked gate|up 22016×4096 at 72-192 tokens (82.1-103.2 against 84.9-118.3 µs, 3-13%; at 256 TMA_256 stays, 125.2
     * against 149.5), Qwen3's 24576×4096 at 128 (82.4 against 88.2), the 1024×4096 k/v projection at 128 and 256 (12.5 / 15.5
     * against 13.7 / 16.2). Everywhere else the rule before ({@link #tmaTilesFor}) was the fastest candidate or within the
     * spread; Llama-3's 28672×4096 at 128 tokens lost with TMA_64X2 (104.6 against 90.1), so no rule by size alone. Run
     * 35-midk6 added llama3.2-1b's stacked q|k|v 3072×2048 and o_proj 2048×2048 up to 128 tokens (measured at 128 only, every
     * split of TMA_128 and TMA_64X2: 15.0 against 16.3 µs and 12.6 against 14.1, the one-wave splits 5 and 8 both ways); its
     * gate|up 16384×2048 and down 2048×8192 stay (29.6 against 30.4, 21.6 against 21.5).
     */
    static final int[][] MID_TABLE = {{22016, 4096, 192}, {24576, 4096, 128}, {1024, 4096, 256}, {3072, 2048, 128}, {2048, 2048, 128}};

    /**
     * Blocks of these tiles one multiprocessor holds: from the driver's occupancy calculator on CUDA
     * (cached per tiles), else the H200's figures (5, 4, 2, 2 for SMALL, MEDIUM, WIDE, LARGE; for wgmma tiles 2 up to 110 KiB of shared memory, else 1).
     */
    public int blocksPerSm(Tiles t) {
        return residentBlocks.computeIfAbsent(t, tiles -> {
            int nominal = nominalBlocksPerSm(tiles);
            if (!(backend instanceof CudaBackend cuda)) return nominal;
            Plan p = plan(1, tiles.bn(), GemmKernels.BK, tiles, 1, true);   // the kernel fp32 X runs through (one token: SMALL converts on load)
            // the variant's constants pick the compiled kernel; its arrays are not touched
            Object[] args = tiles.tma() ? tmaArguments(p, null, null, null, null, null, 1, 1, 1, GemmKernels.BK, 0)
                    : launchArguments(p, null, null, null, 1, 1, GemmKernels.BK);
            int r = cuda.resources(kernelFor(p), p.launch(), args).blocksPerSm();
            return Math.max(1, r);
        });
    }

    /**
     * The H200's blocks a multiprocessor of each tile (the driver's figures): 5, 4, 2, 2 for SMALL, MEDIUM, WIDE, LARGE; wgmma
     * tiles 2 up to 110 KiB of shared memory, else 1. Constants, so that the invariant slices depend on the shape and the
     * multiprocessors alone ({@link #invariantSlices}).
     */
    static int nominalBlocksPerSm(Tiles tiles) {
        return tiles.wgmma() ? (tiles.sharedBytes() <= 110 * 1024 ? 2 : 1) : tiles.equals(SMALL) ? 5 : tiles.equals(MEDIUM) ? 4 : 2;
    }

    private final java.util.Map<Tiles, Integer> residentBlocks = new java.util.concurrent.ConcurrentHashMap<>();

    /** A plan with the given tiles and (at most) {@code splits} K slices; the benchmark compares plans with this. */
    public Plan plan(int m, int n, int k, Tiles t, int splits, boolean fp32X) {
        if (splits < 1) throw new IllegalArgumentException("splits must be >= 1, got " + splits);
        int kTiles = (k + GemmKernels.BK - 1) / GemmKernels.BK;
        int perSplit = (kTiles + splits - 1) / splits;
        int slices = (kTiles + perSplit - 1) / perSplit;
        Launch launch = new Launch(new int[]{(n + t.bn() - 1) / t.bn(), (m + t.bm() - 1) / t.bm(), slices},
                new int[]{t.threads(), 1, 1}, t.sharedBytes(), null);
        boolean convertFirst = t.bm() > CONVERT_ON_LOAD_MAX_M || t.tma() || m >= 2 && slices == 1;   // TMA copies bf16 only
        return new Plan(t, slices, perSplit, launch, fp32X && convertFirst);
    }

    /**
     * The batch-invariant plan: a number of K slices chosen from n and k only (never from m), each summed from zero, and
     * the slices added in a fixed order, so a token's result is the same bits in any batch. Each slice's tensor-core
     * sequence over its K tiles does not depend on the tiles' M extent, nor on whether mma.sync or wgmma runs it (tested,
     * {@code GemmInvarianceGpuTest}). Slices ({@link #invariantSlices}): one resident wave of one token tile's blocks of
     * each slab tile (at most 8, each at least 4 K tiles); for n of 4096 on 132 SMs, 8. Up to 64 tokens (and without the
     * TMA tiles): {@link #tilesFor} m, each slice a block along z storing its slab, added by {@link GemmKernels#sumSlices}. Above 64 tokens on Hopper, the TMA tiles, in the
     * form {@link #invariantTmaPlan} picks: one slice needs no sum at all; else {@link #TMA_64X2} slabs at the small-M shapes
     * where they measured fastest ({@link #INVARIANT_NARROW}), elsewhere the slices summed in registers ({@link #slicedPlan})
     * or TMA slabs, whichever the time model expects faster.
     */
    public Plan invariantPlan(int m, int n, int k, boolean fp32X) {
        return invariantPlan(m, n, k, invariantSlices(n, k), fp32X);
    }

    /** The invariant plan's form with a given number of K slices (the benchmark compares slice rules with it). */
    public Plan invariantPlan(int m, int n, int k, int slices, boolean fp32X) {
        checkShape(m, n, k);
        if (m > 64 && wgmma && wgmmaLoads() && tma) return invariantTmaPlan(m, n, k, slices, fp32X);
        return slabPlan(m, n, k, tilesFor(m), slices, fp32X);
    }

    /** The slab plan of the given tiles and slices (one slice: the plain product). */
    public Plan slabPlan(int m, int n, int k, Tiles t, int slices, boolean fp32X) {
        Plan p = plan(m, n, k, t, slices, fp32X);
        return p.splits() == 1 ? p : new Plan(p.tiles(), p.splits(), p.kTilesPerSplit(), p.launch(), p.convertFirst(), true);
    }

    /** {@link #slicedPlan(int, int, int, Tiles, int, boolean)} on {@link #TMA_128}. */
    public Plan slicedPlan(int m, int n, int k, int slices, boolean fp32X) {
        return slicedPlan(m, n, k, TMA_128, slices, fp32X);
    }

    /** The tiles the sliced kernel runs: 128-token tiles of two or three consumer warpgroups. */
    public static final java.util.List<Tiles> SLICED_TILES = java.util.List.of(TMA_128, TMA_192);

    /** Whether the sliced kernel runs {@code t}: one of {@link #SLICED_TILES} or its {@link #balancedTokens} form. */
    static boolean slicedTiles(Tiles t) {
        for (Tiles s : SLICED_TILES)
            if (s.equals(t) || s.wn() == t.wn() && s.stages() == t.stages() && t.tma() && !t.pingPong() && t.wm() == 1 && t.mt() == 1
                    && t.nt() >= 2 && t.nt() <= s.nt() && t.nt() % 2 == 0 && t.name().equals(s.name() + "b" + t.bm())) return true;
        return false;
    }

    /**
     * Sliced tiles {@code t} ({@link #SLICED_TILES}) with their token tile cut to the batch: ⌈m/128⌉ token tiles as before, each
     * of ⌈m / tiles⌉ tokens rounded up to 16 (an even nt: at most three more kernel variants a base tile, nt = 10, 12, 14), so that 434 tokens
     * run 4 × 112 rows instead of 4 × 128 (512, 15% of the multiply-adds on padding rows); 500 keeps 128 (4 × 125 → 128).
     * The W tile, the K tiles and their order, the slices and the folds do not change: a token's sums are the same wgmma
     * sequence over the same K tiles (each element's k16 steps in order, whatever the instruction's n), so the same bits
     * ({@code GemmInvarianceTest}, {@code GemmInvarianceGpuTest}). Name: the base's + "b" + tokens (e.g. tma128b112).
     */
    public static Tiles balancedTokens(Tiles t, int m) {
        int tiles = (m + t.bm() - 1) / t.bm();
        int nt = ((m + tiles - 1) / tiles + 15) / 16 * 2;
        if (tiles < 1 || nt >= t.nt()) return t;
        return new Tiles(t.name() + "b" + nt * 8, t.wn(), t.wm(), t.mt(), nt, t.stages(), t.wgmma(), t.tma());
    }

    /**
     * Whether the invariant plan's slices summed in registers run {@link #balancedTokens} token tiles (chosen as before on the
     * 128-token tiles, then cut to the batch): {@code -Darbor.gemm.slicedBalanced}; read when this object is made, so
     * {@code bench shared-prefix --ab arbor.gemm.slicedBalanced} flips it over two engines. On: run 99-gemm24 (GemmBench, llama-7b at
     * 434 tokens, the same bits) q|k|v 82.9 → 76.1 µs, o 39.2 → 36.4, down 92.1 → 86.6; at 500 tokens the plan is unchanged.
     */
    static final boolean SLICED_BALANCED_DEFAULT = true;

    private boolean slicedBalanced = Boolean.parseBoolean(System.getProperty("arbor.gemm.slicedBalanced", String.valueOf(SLICED_BALANCED_DEFAULT)));

    /** Sets {@link #slicedBalanced} (tests and GemmBench). */
    public void slicedBalanced(boolean on) { this.slicedBalanced = on; }

    /**
     * The slices of an (n, k) weight summed in registers by {@code t} blocks ({@link #SLICED_TILES}, or their
     * {@link #balancedTokens}) running all of K: {@code slices} slices of ⌈K tiles / slices⌉ (as
     * {@link #plan(int, int, int, Tiles, int, boolean)} cuts them), grid ⌈n/bn⌉ × ⌈m/bm⌉ × 1. The block: the tiles' consumer
     * warpgroups and a producer warpgroup (as the plain kernel).
     */
    public Plan slicedPlan(int m, int n, int k, Tiles t, int slices, boolean fp32X) {
        if (!slicedTiles(t)) throw new IllegalArgumentException("the sliced kernel runs " + SLICED_TILES + " (or their balanced token tiles), not " + t);
        Plan p = plan(m, n, k, t, slices, fp32X);
        Launch one = new Launch(new int[]{p.launch().grid()[0], p.launch().grid()[1], 1}, new int[]{t.threads(), 1, 1}, p.launch().sharedBytes(), null);
        return new Plan(t, p.splits(), p.kTilesPerSplit(), one, p.convertFirst(), false, true);
    }

    /**
     * The invariant plan above 64 tokens on Hopper (fp32 X converted first: the TMA tiles copy bf16). One slice: the TMA tiles
     * of the default plan ({@link #tmaTilesFor}, and its {@link #TMA_256X3} / ping-pong choices: {@link #INVARIANT_DEFAULT_TILES}),
     * unsplit. Otherwise {@link #TMA_64X2} slabs at 65-128 tokens for n ≤ 6144,
     * 65-192 for n ≤ 4096 and 65-256 for weights up to 4096×4096 (where run 31-midm measured them fastest; on by default,
     * {@link #INVARIANT_NARROW}), elsewhere the fastest by {@link #estimateMicros} of the slices
     * summed in registers ({@link #slicedPlan} on {@link #TMA_128} or {@link #TMA_192}: ⌈n/bn⌉·⌈m/128⌉ blocks, each all K tiles) and {@link #TMA_128} slabs (that
     * many blocks times the slices, each one slice, plus the slab traffic and the sum kernel) and, at 129-256 tokens, {@link #TMA_256}
     * slabs (one token tile; run 31-midm): few blocks (small m, narrow
     * n) take the slabs for parallelism, enough blocks to fill the GPU take the registers.
     */
    Plan invariantTmaPlan(int m, int n, int k, int slices, boolean fp32X) {
        if (slices == 1 && invariantDeep && m >= DEEP_MIN_M && m <= DEEP_MAX_M) {   // all of K in order, one block a tile: the same bits
            Tiles d = bestDeep(m, n, k, 1, fp32X).tiles();
            if (!plainTmaTile(d)) return plan(m, n, k, d, 1, fp32X);   // else TMA_128 / TMA_256 below
        }
        if (slices == 1) {   // the plain TMA tiles over all of K; persistent beyond one wave if asked (each tile's sums unchanged: the same bits)
            Tiles t = tmaTilesFor(m, n, k);
            if (invariantDefaultTiles && t == TMA_256 && threeWarpgroupsFaster(m, n)) t = TMA_256X3;   // the default plan's unsplit forms
            else if (invariantDefaultTiles && (t == TMA_256 || t == TMA_128) && pingPongFaster(m, n, k) && pingPongLoads())
                return pingPongPlan(m, n, k, TMA_PP128, fp32X);
            Plan p = plan(m, n, k, t, 1, fp32X);
            long tiles = (long) p.launch().grid()[0] * p.launch().grid()[1];
            return tiles > (long) multiprocessors * blocksPerSm(t) && persistent && persistentLoads() ? persistentPlan(m, n, k, t, fp32X) : p;
        }
        if (invariantNarrow && (m <= 128 && n <= 6144 || m <= 192 && n <= 4096 || m <= 256 && (long) n * k <= 4096L * 4096))
            return grouped(slabPlan(m, n, k, TMA_64X2, slices, fp32X));
        Plan slabs = slabPlan(m, n, k, TMA_128, slices, fp32X);
        if (m > TMA_128.bm() && m <= TMA_256.bm()) {   // 129-256 tokens: TMA_256 slabs too (one token tile, not two)
            Plan wide = slabPlan(m, n, k, TMA_256, slices, fp32X);
            if (estimateMicros(wide, m, n) < estimateMicros(slabs, m, n)) slabs = wide;
        }
        if (!sliced) return grouped(slabs);
        Plan registers = slicedPlan(m, n, k, TMA_128, slices, fp32X);
        if (SLICED_WIDE) {
            Plan wider = slicedPlan(m, n, k, TMA_192, slices, fp32X);
            if (estimateMicros(wider, m, n) < estimateMicros(registers, m, n)) registers = wider;
        }
        if (estimateMicros(registers, m, n) > estimateMicros(slabs, m, n)) return grouped(slabs);
        return slicedBalanced ? slicedPlan(m, n, k, balancedTokens(registers.tiles(), m), slices, fp32X) : registers;
    }

    // ---- slab groups: a block a few K slices ----------------------------------------------------------

    /**
     * Whether the invariant plan runs its TMA slabs as slab groups ({@link #slabGroupPlan}, {@link #slabGroupFor}): where a block
     * a slice would take more waves than a block a group of slices at the same load a resident slot. On by default
     * ({@code -Darbor.gemm.slabGroups=false}: a block a slice, the form before). The same slabs, the same bits (each slice
     * summed from zero over its K tiles in order by the same wgmma sequence; {@code GemmInvarianceTest},
     * {@code GemmInvarianceGpuTest}). Aimed at llama-7b's o and down at 65-128 tokens in the default mode (run 66-prof17: TMA_64X2
     * slabs, grid (32, 2, 8) = 512 blocks of 8 / 22 K tiles for 2 × 132 slots, o 21.8 µs at 39% of its weight floor, down 37.8
     * at 69%): 256 blocks of two slices, one wave, one ring fill a block, a slab's store under the next slice's first copies.
     */
    static final boolean SLAB_GROUPS_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.slabGroups", "true"));

    private boolean slabGroups = SLAB_GROUPS_DEFAULT;
    private boolean slabGroupsChecked;

    /** Sets whether the invariant plan may run its TMA slabs as slab groups ({@link #SLAB_GROUPS_DEFAULT}; tests and the A/B). */
    public void slabGroups(boolean on) {
        this.slabGroups = on;
        this.slabGroupsChecked = false;
    }

    /** On CUDA, loads the slab-group kernel once (TMA_64X2, TMA_128, TMA_256); if the driver refuses it, a block a slice (with a message). */
    private boolean slabGroupsLoad() {
        if (slabGroups && !slabGroupsChecked) {
            slabGroupsChecked = true;
            if (backend instanceof CudaBackend cuda && !loads("slab-group TMA wgmma", "a block a K slice", () -> {
                for (Tiles t : java.util.List.of(TMA_64X2, TMA_128, TMA_256)) {   // the invariant plan's slab tiles
                    Plan q = slabGroupPlan(t.bm(), t.bn(), 4 * GemmKernels.BK, t, 2, 2, true);
                    cuda.resources(WGMMA_TMA_SLAB_GROUP, q.launch(), tmaArguments(q, null, null, null, null, null, 1, 1, 1, 4 * GemmKernels.BK, 2));
                }
            })) slabGroups = false;
        }
        return slabGroups;
    }

    /**
     * The slab plan of tiles t in {@code slices} K slices ({@link #slabPlan}) with {@code group} slices a block
     * ({@link GemmKernels#wgmmaTmaSlabGroupXbf16Wbf16}): grid ⌈n/bn⌉ × ⌈m/bm⌉ × ⌈slices / group⌉, the same slices and slabs.
     * One slice, or a group of 1: the slab plan itself.
     */
    public Plan slabGroupPlan(int m, int n, int k, Tiles t, int slices, int group, boolean fp32X) {
        if (!t.tma() || t.pingPong()) throw new IllegalArgumentException("slab groups run the plain TMA tiles, not " + t);
        if (group < 1) throw new IllegalArgumentException("group must be >= 1, got " + group);
        return withSlabGroup(slabPlan(m, n, k, t, slices, fp32X), group);
    }

    /** p (a TMA slab plan) with {@code group} slices a block; p itself for one slice or a group of 1. */
    private static Plan withSlabGroup(Plan p, int group) {
        group = Math.min(group, p.splits());
        if (!p.slabs() || group <= 1) return p;
        int[] g = p.launch().grid();
        Launch l = new Launch(new int[]{g[0], g[1], (p.splits() + group - 1) / group}, p.launch().block(), p.launch().sharedBytes(), null);
        return new Plan(p.tiles(), p.splits(), p.kTilesPerSplit(), l, p.convertFirst(), true, false, false, false, group);
    }

    /**
     * The slices a block for a TMA slab plan p: the smallest group g whose grid, tiles · ⌈slices / g⌉ blocks, is one resident wave,
     * if its busiest multiprocessor's load, ⌈blocks / multiprocessors⌉ · g slices (blocks spread evenly), is no more than a block
     * a slice gives; else 1. So the plan changes only where the slab grid's waves (each slot paying a block's launch, ring fill,
     * drain and slab store again) become one at the same most K tiles a multiprocessor. Llama-7b's o and down at 65-128 tokens on
     * 132 SMs (TMA_64X2, 64 tiles × 8 slices, 2 × 132 slots): 512 blocks, 4 a multiprocessor, against 256 (one wave), 2 × 2: g = 2.
     * Llama3.2-1b's q|k|v at 65-128 (48 tiles × 8): 384 blocks, 3 a multiprocessor, against 192, 2 × 2 = 4 slices: g = 1. Where
     * the grid is one wave already (llama3.2-1b's o and down, 256 blocks): g = 1. The other shapes where it groups:
     * {@code bench/results/run66-gemm17/plan-table.txt}.
     */
    int slabGroupFor(Plan p) {
        if (!p.slabs() || !p.tiles().tma() || p.splits() == 1) return 1;
        int[] grid = p.launch().grid();
        long tiles = (long) grid[0] * grid[1], resident = (long) multiprocessors * blocksPerSm(p.tiles());
        long blocks1 = tiles * p.splits();
        if (blocks1 <= resident) return 1;   // one wave already
        long load1 = (blocks1 + multiprocessors - 1) / multiprocessors;
        for (int g = 2; g <= p.splits(); g++) {
            long blocks = tiles * ((p.splits() + g - 1) / g);
            if (blocks > resident) continue;
            return (blocks + multiprocessors - 1) / multiprocessors * g <= load1 ? g : 1;
        }
        return 1;
    }

    /**
     * An invariant TMA slab plan as slab groups where {@link #slabGroupFor} says so and {@link #SLAB_GROUPS_DEFAULT} is on. Not
     * where one group would be all the slices on tiles the sliced kernel runs ({@link #SLICED_TILES}): that is the slices summed
     * in registers with slab traffic added, a form the time model has already weighed (it chose the slabs for their blocks).
     */
    private Plan grouped(Plan p) {
        if (!slabGroups || !p.slabs() || !p.tiles().tma()) return p;
        int g = slabGroupFor(p);
        if (g >= p.splits() && SLICED_TILES.contains(p.tiles())) return p;
        return g > 1 && slabGroupsLoad() ? withSlabGroup(p, g) : p;
    }

    // ---- the deep plan: 65-256 tokens -------------------------------------------------------------

    /**
     * Whether the default (non-invariant) plan takes {@link #deepPlan} at {@link #DEEP_MIN_M}-{@link #DEEP_MAX_M} tokens where
     * {@link #deepFaster} says so (on by default; {@code -Darbor.gemm.deep=false} restores main's plan: the mid-range table,
     * {@link #midTilesFor}). Measured in bench/RESULTS.md run 59-gemm14: seed workload 1 with --no-batch-invariance, decode 7.631 →
     * 7.125 ms a step on the device (the model's choice everywhere; 7.133 with the rule).
     */
    static final boolean DEEP_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.deep", "true"));
    /**
     * Whether the invariant plan runs its one-slice weights (llama-7b's stacked gate|up, the lm_heads, Baichuan2-13B's gate|up) at
     * {@link #DEEP_MIN_M}-{@link #DEEP_MAX_M} tokens on the deep tiles, unsplit (on by default; {@code -Darbor.gemm.invariantDeep=false}
     * for the plain TMA tiles): each output element's k16 steps over all of K in order, as on the plain TMA tiles and the mma.sync
     * plan. The same bits on the H200 ({@code GemmInvarianceGpuTest.oneSliceWeightsOnTheDeepTilesKeepTheBits}, run 59-gemm14 call 2:
     * 22016×4096 and 27392×5120, 64 / 128 / 192 W rows, 65-255 tokens, with and without a residual, 80 comparisons, 0 differing
     * elements). Where the model's unsplit deep tile is 8 warps × 128 / 256 tokens, TMA_128 / TMA_256 (the same tile) stay. Run
     * 59-gemm14 call 1: llama-7b gate|up 70.5 → 55.2 µs at 107 tokens, 115 → 66 at 192, 118 → 83 at 256; lm_head 117.6-121.9 →
     * 101.7-108.5 at 192; seed workload 1 (default mode) decode 8.692 → 8.238 ms a step on the device, Baichuan2-13B's 13.632 → 13.521.
     */
    static final boolean INVARIANT_DEEP_DEFAULT = Boolean.parseBoolean(System.getProperty("arbor.gemm.invariantDeep", "true"));
    /** The deep plan's token range: above the 64-token decode tiles, up to one 256-token wgmma (N ≤ 256). */
    public static final int DEEP_MIN_M = 65, DEEP_MAX_M = 256;
    /** The deep tiles' W rows a block: one, two or three consumer warpgroups of 64 rows. */
    static final int[] DEEP_WARPS = {4, 8, 12};
    /** The most K slices the deep plan splits into (split-K atomics cost C's bytes a slice). */
    static final int DEEP_MAX_SPLITS = 4;
    /** Shared memory the deep tiles fill with stages: the sm_90 block limit (227 KiB). */
    static final int DEEP_SHARED_BYTES = 227 * 1024;
    /** The most stages a deep ring takes (cuBLAS's swap-AB kernels at these shapes: 13-16). */
    static final int DEEP_MAX_STAGES = 16;

    private boolean deep = DEEP_DEFAULT;
    private boolean invariantDeep = INVARIANT_DEEP_DEFAULT;

    /** Sets whether the default plan takes the deep plan at 65-256 tokens ({@link #DEEP_DEFAULT}; tests and GemmBench). */
    public void deep(boolean on) { this.deep = on; }

    /** Sets whether the invariant plan's one-slice weights take the deep tiles at 65-256 tokens ({@link #INVARIANT_DEEP_DEFAULT}). */
    public void invariantDeep(boolean on) { this.invariantDeep = on; }

    /**
     * The deep tiles of {@code wn} consumer warps for {@code m} tokens (65-256): {@code wn·16} W rows (64, 128 or 192) × the tokens
     * rounded up to 16 (one wgmma m64nNk16 of N = that, or with three warpgroups above 128 tokens two of N/2: {@link
     * GemmKernels#wgmmaStage}), as many TMA stages as fit {@link #DEEP_SHARED_BYTES} (at most {@link #DEEP_MAX_STAGES}): one block a
     * multiprocessor streaming W through a deep ring, the swap-AB form of cuBLAS's kernels at these shapes (weights as the
     * wgmma's M, tokens as its N). Run by {@link GemmKernels#wgmmaTmaXbf16Wbf16} like the other TMA tiles.
     */
    public static Tiles deepTiles(int wn, int m) {
        if (wn != 4 && wn != 8 && wn != 12) throw new IllegalArgumentException("deep tiles have 4, 8 or 12 consumer warps, not " + wn);
        if (m < 1 || m > DEEP_MAX_M) throw new IllegalArgumentException("deep tiles hold 1-" + DEEP_MAX_M + " tokens, not " + m);
        int bm = Math.max(16, (m + 15) / 16 * 16), bn = wn * 16;
        int stages = Math.min(DEEP_MAX_STAGES, DEEP_SHARED_BYTES / ((bn + bm) * GemmKernels.BK * 2 + 16));
        return new Tiles("deep" + bn + "x" + bm, wn, 1, 1, bm / 8, stages, true, true);
    }

    /** The deep plan's candidates for (m, n, k): each deep tile with 1-{@link #DEEP_MAX_SPLITS} K slices (split: one wave, 8+ K tiles a slice). */
    public java.util.List<Plan> deepCandidates(int m, int n, int k, boolean fp32X) {
        java.util.List<Plan> out = new java.util.ArrayList<>();
        int kTiles = (k + GemmKernels.BK - 1) / GemmKernels.BK;
        for (int wn : DEEP_WARPS) {
            Tiles t = deepTiles(wn, m);
            int last = 0;
            for (int s = 1; s <= DEEP_MAX_SPLITS; s++) {
                Plan p = plan(m, n, k, t, s, fp32X);
                if (p.splits() == last) continue;
                last = p.splits();
                long blocks = (long) p.launch().grid()[0] * p.launch().grid()[1] * p.launch().grid()[2];
                if (p.splits() > 1 && (blocks > multiprocessors || p.kTilesPerSplit() < 8)) continue;
                out.add(p);
            }
        }
        if (out.isEmpty()) throw new IllegalStateException("no deep plan for " + m + "x" + n + "x" + k + " (" + kTiles + " K tiles)");
        return out;
    }

    /**
     * The deep plan ({@link #deepTiles}) for 65-256 tokens: of {@link #deepCandidates}, the one {@link #deepMicros} expects fastest.
     * fp32 X is converted first (the TMA tiles copy bf16).
     */
    public Plan deepPlan(int m, int n, int k, boolean fp32X) {
        checkShape(m, n, k);
        return bestDeep(m, n, k, DEEP_MAX_SPLITS, fp32X);
    }

    /** The deep plan with at most {@code maxSplits} K slices (1: the invariant plan's unsplit form). */
    Plan bestDeep(int m, int n, int k, int maxSplits, boolean fp32X) {
        Plan best = null;
        double bestUs = Double.MAX_VALUE;
        for (Plan p : deepCandidates(m, n, k, fp32X)) {
            if (p.splits() > maxSplits) continue;
            double us = deepMicros(p, m, n, k);
            if (us < bestUs) { best = p; bestUs = us; }
        }
        return best;
    }

    /**
     * A time model of a deep plan, only to choose among {@link #deepCandidates}: the longer of the memory stream (W from HBM once;
     * W and each block's X tiles through the L2) and a block's chain (waves × its K tiles × the longer of the tile's tensor time
     * and its bytes at one multiprocessor's copy rate), plus the ring's fill, the epilogue's stores (unsplit) or the split-K atomics
     * and the zeroing of C. Constants: {@link #DEEP_HBM_BYTES_PER_MICRO} and the others below.
     */
    public double deepMicros(Plan p, int m, int n, int k) {
        Tiles t = p.tiles();
        int[] g = p.launch().grid();
        long blocks = (long) g[0] * g[1] * g[2];
        long waves = (blocks + multiprocessors - 1) / multiprocessors;
        double wBytes = 2.0 * n * k, xBytes = (double) blocks * p.kTilesPerSplit() * t.bm() * GemmKernels.BK * 2;
        double stream = Math.max(wBytes / DEEP_HBM_BYTES_PER_MICRO, (wBytes + xBytes) / DEEP_L2_BYTES_PER_MICRO);
        double tensor = (double) t.bn() * t.bm() * GemmKernels.BK / DEEP_MACS_PER_MICRO;
        double copy = (double) (t.bn() + t.bm()) * GemmKernels.BK * 2 / DEEP_SM_BYTES_PER_MICRO;
        double chain = waves * p.kTilesPerSplit() * Math.max(tensor, copy);
        double epilogue = p.splits() > 1 ? DEEP_ZERO_MICROS + (double) p.splits() * m * n * 4 / DEEP_ATOMIC_BYTES_PER_MICRO
                : waves * (double) t.bn() * t.bm() * 4 / DEEP_SM_STORE_BYTES_PER_MICRO;
        return Math.max(stream, chain) + DEEP_FILL_MICROS + epilogue;
    }

    /** HBM read rate of a GEMM streaming W (H200: ~4.3 TB/s copy, bench/RESULTS.md). */
    static final double DEEP_HBM_BYTES_PER_MICRO = 4.0e6;
    /** The L2's rate to the multiprocessors for W and the blocks' (re-read) X tiles. */
    static final double DEEP_L2_BYTES_PER_MICRO = 9.0e6;
    /** One multiprocessor's TMA intake (bytes a microsecond): bounds a block's K tile when few blocks stream. */
    static final double DEEP_SM_BYTES_PER_MICRO = 80e3;
    /** One multiprocessor's bf16 multiply-adds a microsecond (dense wgmma, ~1.75 GHz under load). */
    static final double DEEP_MACS_PER_MICRO = 2048 * 1750.0;
    /** A block's fp32 C stores (bytes a microsecond). */
    static final double DEEP_SM_STORE_BYTES_PER_MICRO = 100e3;
    /** Split-K's atomic adds into C (bytes a microsecond, all blocks). */
    static final double DEEP_ATOMIC_BYTES_PER_MICRO = 2.0e6;
    /** The zeroing of C before split-K (mostly under the product's first K tiles, programmatic dependent launch). */
    static final double DEEP_ZERO_MICROS = 1.0;
    /** Launch, the ring's first round trip and the drain. */
    static final double DEEP_FILL_MICROS = 2.0;

    /**
     * Whether the default plan takes the deep plan {@code d} over the mid range's tiles {@code main} (split {@code mainSplits}
     * ways by the one-wave rule): where main runs {@link #TMA_256} (a 256-token tile a third or more empty at ≤ 192 tokens), or runs
     * one K slice; never where d's tile is main's in disguise (8 warps × 128 or 256 tokens: the same tile with another ring depth).
     * Run 59-gemm14 (GemmBench deep, 36 points of llama-7b's and llama3.2-1b's projections and lm_head at 107-256 tokens, main /
     * deep / main / deep): deep/main 0.71-0.87 on TMA_256's points (7b gate|up at 256 82.8 against 116.1 µs, q|k|v at 192 44.7
     * against 51.8, lm_head at 192 106.7 against 122.6, down at 192 43.2 against 47.0, 1b gate|up at 192 31.0 against 34.2),
     * 0.82-0.85 on 7b gate|up's one-slice TMA_64X2 (107: 55.1 against 67.5), 0.988-0.995 on the one-slice TMA_128 points at 107
     * (q|k|v, lm_head, 1b gate|up); slower where main splits K over many blocks of narrow weights (7b o 1.02-1.11, 1b q|k|v and o
     * 1.04-1.30, 7b and 1b down 0.97-1.13 at 107-256) and on the disguised tiles (deep128x128 against TMA_128 1.007-1.029).
     */
    static boolean deepFaster(Plan d, Tiles main, int mainSplits) {
        if (plainTmaTile(d.tiles())) return false;
        return main == TMA_256 || mainSplits == 1;
    }

    /** Whether deep tiles {@code t} are {@link #TMA_128} / {@link #TMA_256} in disguise: 8 consumer warps × 128 or 256 tokens. */
    static boolean plainTmaTile(Tiles t) {
        return t.wn() == 8 && (t.bm() == 128 || t.bm() == 256);
    }

    /**
     * Whether the invariant plan runs its one-slice weights (llama-7b's stacked gate|up, lm_head) on the default plan's unsplit
     * tiles where that plan takes them: {@link #TMA_256X3} ({@link #threeWarpgroupsFaster}, 257-2048 tokens) and the ping-pong
     * kernel on {@link #TMA_PP128} ({@link #pingPongFaster}), not only {@link #tmaTilesFor}'s TMA_128 / TMA_256. On by default
     * ({@code -Darbor.gemm.invariantDefaultTiles=false} for the plan before, the benchmark's "before"). The same bits: each
     * output element's m64nN k16 steps over all of K in order, as the plain TMA tiles ({@code GemmInvarianceTest},
     * {@code GemmInvarianceGpuTest}; TMA_256X3 issues a k16 step as two n128 halves, the ping-pong kernel a 128-row tile as two
     * m64 halves). Run 53-inv11 (GemmBench inv11, llama-7b's gate|up 22016×4096): 434 tokens 154.8 µs on TMA_256X3 against
     * 163.9 / 164.1 (the plan before, TMA_256, timed twice) and 170.7 (TMA_256 again); 512 166.0 against 166.8 / 188.1; 2048
     * 593.4 (the ping-pong kernel 561.1) against 663.3 / 690.9. Run 54-inv11, seed workload 2 in the default mode: 1.345 → 1.302 s
     * (decode 21.74 → 21.30, prefill/mixed 64.21 → 62.51 ms a step on the device). The slices summed in registers on the ping-pong
     * schedule (two 128 × 64 / 96 accumulator sets a warpgroup, turns a slice at a time) measured no faster there: dropped.
     */
    static final boolean INVARIANT_DEFAULT_TILES = Boolean.parseBoolean(System.getProperty("arbor.gemm.invariantDefaultTiles", "true"));
    private boolean invariantDefaultTiles = INVARIANT_DEFAULT_TILES;

    /** Sets whether the invariant plan's one-slice weights take the default plan's unsplit tiles ({@link #INVARIANT_DEFAULT_TILES}; tests and GemmBench). */
    public void invariantDefaultTiles(boolean on) { this.invariantDefaultTiles = on; }

    /**
     * Whether the invariant plan takes {@link #TMA_64X2} slabs (two 96 KiB blocks a multiprocessor) at 65-128 tokens for n ≤ 6144,
     * at 65-192 for n ≤ 4096 and at 65-256 for weights up to 4096×4096 (on by default; {@code -Darbor.gemm.invariantNarrow=false}
     * for the form before): where run 31-midm measured them fastest of the same-bits forms (e.g. llama-7b's o_proj at 107
     * tokens 27.7 against 31.9 µs, its down projection 52.3 against 56.4, at 192 tokens 64.9 against 76.4) and run 35-inv6 again
     * at the engine's token counts (o_proj at 104 / 128 / 256 tokens 27.8 / 28.5 / 44.5 against 31.6 / 33.0 / 48.5 µs, down at
     * 104 / 128 52.4 / 53.4 against 56.1 / 58.0). The same bits as the mma.sync slab plan on the CPU executor
     * ({@code GemmInvarianceTest}) and on the H200 ({@code GemmInvarianceGpuTest}, run 35-inv6: 0 differing elements).
     */
    static final boolean INVARIANT_NARROW = Boolean.parseBoolean(System.getProperty("arbor.gemm.invariantNarrow", "true"));

    /**
     * Whether the invariant plan's slices summed in registers may run {@link #TMA_192} where the model expects it faster (on by
     * default; {@code -Darbor.gemm.slicedWide=false} for TMA_128 only, as before run 35-inv6). With its producer warpgroup (run
     * 39-gemm8) measured faster at llama-7b's q|k|v 12288×4096 at 256 / 512 / 2048 tokens (59.5 / 115.1 / 459.6 against TMA_128's
     * 99.0 / 148.2 / 592.4 µs) and on the 4096-row weights at 2048 tokens (o 180.2 against 207.0, down 437.5 against 504.9);
     * slower there at ≤ 512 tokens (22 W-row tiles of 192 leave a wave short), where the model keeps TMA_128.
     */
    static final boolean SLICED_WIDE = Boolean.parseBoolean(System.getProperty("arbor.gemm.slicedWide", "true"));

    /**
     * A time model of the invariant plan's TMA forms, only to choose between them: waves of blocks (one block a
     * multiprocessor) × the time of a block. A block of the sliced kernel: all K tiles at {@link #SLICED_TILE_MICROS}
     * ({@link #SLICED_192_TILE_MICROS} on TMA_192) plus
     * {@link #SLICE_FOLD_MICROS} a slice (the wgmma pipeline drains before each fold); a slab block: its slice's tiles at
     * {@link #SLAB_TILE_MICROS}, plus the slabs' bytes (written, read, C written) at {@link #SLAB_BYTES_PER_MICRO} and the
     * sum kernel ({@link #LAUNCH_MICROS}). Fitted to the 45 points where both forms were measured (9 weight shapes with more
     * than one slice × M = 128, 256, 512, 2048, 8192; bench/RESULTS.md run 27-gemm4): it picks the faster form at 44 of them
     * and one 2.4% slower at the 45th (4096×14336 at M = 2048); TMA_192's tile to run 35-inv6's 15 points. Fitted on the same
     * points, not re-measured as a rule.
     */
    public double estimateMicros(Plan p, int m, int n) {
        int[] grid = p.launch().grid();
        long blocks = (long) grid[0] * grid[1] * grid[2];
        long waves = (blocks + multiprocessors - 1) / multiprocessors;
        if (p.registerSlices())
            return waves * (p.splits() * p.kTilesPerSplit() * (p.tiles().wn() == TMA_192.wn() ? SLICED_192_TILE_MICROS : SLICED_TILE_MICROS)
                    + p.splits() * SLICE_FOLD_MICROS);
        double us = waves * p.kTilesPerSplit() * SLAB_TILE_MICROS * (p.tiles().bm() > TMA_128.bm() ? SLAB_256_TILE_FACTOR : 1);
        if (p.slabs()) us += (2.0 * p.splits() + 1) * 4.0 * m * n / SLAB_BYTES_PER_MICRO + LAUNCH_MICROS;
        return us;
    }

    /** One 128×128×64 K tile of the sliced kernel at one block a multiprocessor (run 27-gemm4: 0.79-0.84 µs a tile with the folds). */
    static final double SLICED_TILE_MICROS = 0.78;
    /**
     * One 192×128×64 K tile of the sliced kernel on {@link #TMA_192} at one block a multiprocessor (1.5 times TMA_128's
     * multiply-adds for 1.25 times its bytes; the producer warpgroup, setmaxnreg): fitted to run 39-gemm8's 15 points (llama-7b's
     * q|k|v, o and down at 104-2048 tokens, 0.75-0.89 µs a tile), where the model with it picks the measured fastest form at
     * all 15 (any value in 0.79-1.04 does; at 0.78 or less it would take TMA_192 for o and down at 512 tokens, 12-14% slower).
     * Run 35-inv6's form (work-item 0 issuing the copies) was 1.09.
     */
    static final double SLICED_192_TILE_MICROS = 0.86;
    /** The drain before a slice's fold (wgmma wait 0: the batch in flight completes before the next is issued). */
    static final double SLICE_FOLD_MICROS = 1.2;
    /** One K tile of a TMA_128 slab block (slices of 8-45 tiles, many blocks in flight). */
    static final double SLAB_TILE_MICROS = 0.62;
    /**
     * A TMA_256 slab block's K tile against a TMA_128 one (twice the tokens, the same W tile): fitted to the 12 points of run
     * 31-midm at 192 and 256 tokens with more than one slice (the sliced kernel, TMA_128 and TMA_256 slabs all measured),
     * where the model with it picks the fastest form at all 12 (at 1.2-1.4 as well; at 1.6 at 4, at 2.0 at 3).
     */
    static final double SLAB_256_TILE_FACTOR = 1.3;
    /** The slabs' memory rate, bytes a microsecond (fitted; part of the slabs stay in the L2). */
    static final double SLAB_BYTES_PER_MICRO = 2.2e6;
    /** The sum kernel's launch and tail. */
    static final double LAUNCH_MICROS = 3.0;

    /**
     * K slices of the batch-invariant plan for an (n, k) weight: a function of n, k and the device's multiprocessors only.
     * As many slices (at most 8, each at least 4 K tiles) as keep one token tile's blocks of every slab tile up to 64 tokens
     * ({@link #SMALL}, {@link #MEDIUM}, {@link #WIDE}) within one resident wave ({@link #nominalBlocksPerSm}: 5, 4, 2 a
     * multiprocessor): on 132 SMs llama-7b's o and down projections take 8 (before run 43-gemv9, two waves of SMALL blocks: 5),
     * its stacked q|k|v 2 (192 SMALL / MEDIUM blocks a slice: a third slice would take MEDIUM and WIDE past one wave), gate|up
     * and lm_head 1. Run 43-gemv9 (GemmBench slices): o at 1-128 tokens 0.7-3.7 µs faster in 8 slices than in 5 (one token
     * 10.6 against 11.5 µs), down 1.9-7.5 µs (24.9 against 26.8), except 32 tokens (+0.6); at 256-2048 tokens, where the TMA
     * forms run the slices, 8 cost o 0.8-3.6 µs and down 3.6-7.0 µs (at 256 down gained 12); q|k|v in 3 slices was faster at
     * 1-16 tokens (27.2 against 28.1 µs at one) but 10-13 µs slower at 32 and 64 (MEDIUM / WIDE past one wave) and 10 µs at 512.
     */
    public int invariantSlices(int n, int k) {
        int kTiles = (k + GemmKernels.BK - 1) / GemmKernels.BK;
        int wave = 8;
        for (Tiles t : new Tiles[]{SMALL, MEDIUM, WIDE})
            wave = Math.min(wave, nominalBlocksPerSm(t) * multiprocessors / ((n + t.bn() - 1) / t.bn()));
        int slices = Math.max(1, Math.min(wave, kTiles / 4));
        int perSlice = (kTiles + slices - 1) / slices;
        return (kTiles + perSlice - 1) / perSlice;   // the slices plan() will launch
    }

    // ---- the products ----------------------------------------------------------------------------

    /**
     * {@code c[t·n + j] (=|+=) Σ_kk a[t·k + kk] · w[j·k + kk]} for t < m, j < n: fp32 activations
     * (rounded to bf16 for the tensor cores), bf16 weights, fp32 output; {@code accumulate} adds to C
     * (a fused residual add).
     */
    public void matmul(FloatArray a, int m, BFloat16Array w, int n, int k, FloatArray c, boolean accumulate) {
        matmul(a, m, w, n, k, c, accumulate, plan(m, n, k, true, true));
    }

    /** As {@link #matmul(FloatArray, int, BFloat16Array, int, int, FloatArray, boolean)} with a given plan. */
    public void matmul(FloatArray a, int m, BFloat16Array w, int n, int k, FloatArray c, boolean accumulate, Plan plan) {
        check(a, m, w, n, k, c);
        if (plan.convertFirst()) {
            BFloat16Array x = bf16Scratch(m, k);
            backend.launch(TO_BF16, Launch.cover(m * k / 8, 256), a, x, m * k);
            run(XBF16_WBF16, plan, x, w, c, m, n, k, accumulate, true);
        } else run(XF32_WBF16, plan, a, w, c, m, n, k, accumulate, true);
    }

    /** Partial sums a consumer adds itself: {@code slices} slabs of (m, n) in {@code sums}, slab z at {@code z·m·n}, added in slice order. */
    public record Partial(FloatArray sums, int slices) {}

    /**
     * As {@link #matmul(FloatArray, int, BFloat16Array, int, int, FloatArray, boolean, Plan)} without accumulating, but a
     * slab plan's K slices are left unsummed for a fused consumer (one launch fewer): the slab scratch and its slices,
     * to be added as {@link GemmKernels#sumSlices} adds them; for any other plan, {@code c} and one slice.
     */
    public Partial matmulPartial(FloatArray a, int m, BFloat16Array w, int n, int k, FloatArray c, Plan plan) {
        if (!plan.slabs()) {
            matmul(a, m, w, n, k, c, false, plan);
            return new Partial(c, 1);
        }
        check(a, m, w, n, k, c);
        if (plan.convertFirst()) {
            BFloat16Array x = bf16Scratch(m, k);
            backend.launch(TO_BF16, Launch.cover(m * k / 8, 256), a, x, m * k);
            return new Partial((FloatArray) run(XBF16_WBF16, plan, x, w, c, m, n, k, false, true, false), plan.splits());
        }
        return new Partial((FloatArray) run(XF32_WBF16, plan, a, w, c, m, n, k, false, true, false), plan.splits());
    }

    /**
     * bf16 activations a producing kernel already rounded (to nearest even, as {@link GemmKernels#toBf16x8} rounds), bf16
     * weights, fp32 output, with a plan made for fp32 X ({@link #plan}, {@link #invariantPlan}): the same plan's kernel on
     * {@code a} where {@link #matmul(FloatArray, int, BFloat16Array, int, int, FloatArray, boolean, Plan)} would first convert
     * its fp32 X into the scratch copy: the same bits, without the conversion pass. {@code a} may be longer than m × k
     * (a TMA tile's rows past m are read, never stored). For a plan that does not convert first (it converts on load: the
     * mma.sync tiles at ≤ 16 tokens and split ones at ≤ 64), the bf16 kernel with that plan's tiles.
     */
    public void matmul(BFloat16Array a, int m, BFloat16Array w, int n, int k, FloatArray c, boolean accumulate, Plan plan) {
        check(a, m, w, n, k, c);
        run(XBF16_WBF16, plan, a, w, c, m, n, k, accumulate, true);
    }

    /** As {@link #matmulPartial(FloatArray, int, BFloat16Array, int, int, FloatArray, Plan)} for X a producer wrote in bf16 (see {@link #matmul(BFloat16Array, int, BFloat16Array, int, int, FloatArray, boolean, Plan)}). */
    /**
     * {@link #matmulPartial(BFloat16Array, int, BFloat16Array, int, int, FloatArray, Plan)} into a C whose first m·n floats the
     * caller has already zeroed (e.g. {@code LayerKernels.rmsNormRowsBf16Zero}, the kernel that wrote X): a split-K plan adds
     * its slices into C without its zeroing launch. Only this call; any other plan runs as it would.
     */
    public Partial matmulPartialIntoZeroed(BFloat16Array a, int m, BFloat16Array w, int n, int k, FloatArray c, Plan plan) {
        cZeroed = true;
        if (atomicSplitK(plan)) INTO_ZEROED.incrementAndGet();
        try {
            return matmulPartial(a, m, w, n, k, c, plan);
        } finally {
            cZeroed = false;
        }
    }

    /** Whether C is already zero for the split-K product now running ({@link #matmulPartialIntoZeroed}): no zeroing launch. */
    private boolean cZeroed;
    private static final java.util.concurrent.atomic.AtomicLong INTO_ZEROED = new java.util.concurrent.atomic.AtomicLong();

    /** Split-K products run into a C zeroed by the caller, without their zeroing launch, in this JVM (tests). */
    public static long intoZeroedLaunches() { return INTO_ZEROED.get(); }

    /**
     * Whether a plan adds K slices into C by atomics (zeroed first unless accumulating): the split plain tiles (not slabs, the
     * sliced or cluster forms, nor persistent ones); stream-K too.
     */
    public static boolean atomicSplitK(Plan p) {
        return (p.splits() > 1 || p.streamK()) && !p.slabs() && !p.registerSlices() && !p.cluster() && (!p.persistent() || p.streamK());
    }

    public Partial matmulPartial(BFloat16Array a, int m, BFloat16Array w, int n, int k, FloatArray c, Plan plan) {
        check(a, m, w, n, k, c);
        if (!plan.slabs()) {
            run(XBF16_WBF16, plan, a, w, c, m, n, k, false, true);
            return new Partial(c, 1);
        }
        return new Partial((FloatArray) run(XBF16_WBF16, plan, a, w, c, m, n, k, false, true, false), plan.splits());
    }

    // ---- the residual add and RMSNorm in the epilogue ------------------------------------------------------

    /**
     * Whether {@link #matmulAddNorm} runs plan p: a slab plan (K slices, fixed-order sum) on the mma.sync tiles that convert
     * fp32 X on load (the invariant plan of the decode steps' o and down projections).
     */
    public static boolean addNormEpilogue(Plan p) {
        return p.slabs() && p.splits() > 1 && !p.tiles().tma() && !p.tiles().wgmma() && !p.convertFirst() && p.slabGroup() <= 1
                && p.tiles().threads() == GemmKernels.ADD_NORM_THREADS;   // SMALL: the norm's work-items two a thread
    }

    /** The counters {@link #matmulAddNorm} needs for plan p at m tokens and n columns (zero between launches). */
    public static int addNormArrivals(Plan p, int m, int n) {
        int tilesN = (n + p.tiles().bn() - 1) / p.tiles().bn(), tilesM = (m + p.tiles().bm() - 1) / p.tiles().bm();
        return tilesN * tilesM + tilesM;
    }

    /**
     * {@code resid += a · wᵀ} (plan p's K slices added in slab order) and {@code out = rmsNorm(resid) · normW} in one launch
     * ({@link GemmKernels#xf32Wbf16AddNorm}): the bits of {@link #matmulPartial} with p followed by
     * {@code FusedOps.addRmsNorm} / {@code addRmsNormSplitRow} on its slabs. Launched overlapping the kernel before it when
     * {@link #overlapPrevious} is on, as the plain product. Returns false, having launched nothing, where p is not such a plan
     * ({@link #addNormEpilogue}); the caller then runs the composition.
     *
     * @param arrivals at least {@link #addNormArrivals} counters, zero (the kernel leaves them zero), on the device
     */
    public boolean matmulAddNorm(FloatArray a, int m, BFloat16Array w, int n, int k, Plan p, FloatArray resid, FloatArray normW,
                                 FloatArray out, IntArray arrivals, double eps) {
        if (!addNormEpilogue(p)) return false;
        check(a, m, w, n, k, resid);
        need(out, (long) m * n, "out", "m*n");
        need(normW, n, "normW", "n");
        need(arrivals, addNormArrivals(p, m, n), "arrivals", "tiles + token tiles");
        if (out == resid) throw new IllegalArgumentException("out must not be the residual (other tiles still add into it)");
        FloatArray s = slabScratch((long) p.splits() * m * n);
        Tiles t = p.tiles();
        backend.launch(XF32_WBF16_ADD_NORM, overlapPrevious ? p.launch().overlappingPrevious() : p.launch(), a, w, s, m, n, k,
                p.kTilesPerSplit(), p.splits(), resid, normW, out, arrivals, eps, t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs());
        return true;
    }

    // ---- the residual add in the epilogue, the RMSNorm in the next product's prologue ---------------------------

    /** The counters {@link #matmulAddSlabs} needs for plan p at m tokens and n columns: one a tile (zero between launches). */
    public static int addSlabsArrivals(Plan p, int m, int n) {
        return ((n + p.tiles().bn() - 1) / p.tiles().bn()) * ((m + p.tiles().bm() - 1) / p.tiles().bm());
    }

    /**
     * {@code resid += a · wᵀ} with plan p's K slices added in slab order by the GEMM itself ({@link GemmKernels#xf32Wbf16AddSlabs}:
     * the last-arriving slice of a tile adds the tile's slabs): the residual {@link #matmulAddNorm} leaves, without the norm,
     * which the next product computes in its prologue ({@link #matmulNormPartial}, {@link #matmulNormSwiGlu}). The plans of
     * {@link #addNormEpilogue}; returns false, having launched nothing, for any other.
     *
     * @param arrivals at least {@link #addSlabsArrivals} counters, zero (the kernel leaves them zero), on the device
     */
    public boolean matmulAddSlabs(FloatArray a, int m, BFloat16Array w, int n, int k, Plan p, FloatArray resid, IntArray arrivals) {
        if (!addNormEpilogue(p)) return false;
        check(a, m, w, n, k, resid);
        need(arrivals, addSlabsArrivals(p, m, n), "arrivals", "tiles");
        FloatArray s = slabScratch((long) p.splits() * m * n);
        Tiles t = p.tiles();
        backend.launch(XF32_WBF16_ADD_SLABS, overlapPrevious ? p.launch().overlappingPrevious() : p.launch(), a, w, s, m, n, k,
                p.kTilesPerSplit(), p.splits(), resid, arrivals, t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs());
        return true;
    }

    /**
     * Whether plan p at m tokens can take its X as the RMSNorm of fp32 residual rows computed in its prologue
     * ({@link GemmKernels#xf32Wbf16Norm}): the mma.sync tiles converting fp32 X on load with 4 warps (the norm's 256 work-items
     * two a work-item), one token tile, one K slice or slabs (no atomics, no conversion pass, no TMA).
     */
    public static boolean normPrologue(Plan p, int m) {
        return !p.tiles().tma() && !p.tiles().wgmma() && !p.convertFirst() && !p.registerSlices() && !p.persistent() && !p.streamK()
                && p.slabGroup() <= 1 && (p.splits() == 1 || p.slabs()) && p.tiles().threads() == GemmKernels.ADD_NORM_THREADS
                && m <= p.tiles().bm();
    }

    private static final java.util.concurrent.atomic.AtomicLong NORM_PROLOGUES = new java.util.concurrent.atomic.AtomicLong();

    /** Launches of the norm-prologue kernels so far in this JVM (recorded ones: a replayed graph counts once); tests check the path ran. */
    public static long normPrologueLaunches() { return NORM_PROLOGUES.get(); }

    private Launch normLaunch(Plan p, int m) {
        NORM_PROLOGUES.incrementAndGet();
        int bytes = p.launch().sharedBytes() + 4 * GemmKernels.normRegionWords(Math.min(m, p.tiles().bm()), p.kTilesPerSplit());
        Launch l = p.launch().withSharedBytes(bytes);
        return overlapPrevious ? l.overlappingPrevious() : l;
    }

    private void checkNorm(FloatArray resid, FloatArray normW, int m, BFloat16Array w, int n, int k) {
        checkShape(m, n, k);
        need(resid, (long) m * k, "resid", "m*k");
        need(normW, k, "normW", "k");
        need(w, (long) n * k, "w", "n*k");
    }

    /**
     * {@link #matmulPartial} of X = RMSNorm(resid) · normW (eps), the norm computed by every block in its prologue
     * ({@link GemmKernels#xf32Wbf16Norm}): the bits of {@code FusedOps.addRmsNormSplitRow}'s (or {@code addRmsNorm}'s) output
     * through plan p, without that launch. Null, having launched nothing, where p does not take it ({@link #normPrologue}).
     */
    public Partial matmulNormPartial(FloatArray resid, FloatArray normW, double eps, int m, BFloat16Array w, int n, int k, FloatArray c, Plan p) {
        if (!normPrologue(p, m)) return null;
        checkNorm(resid, normW, m, w, n, k);
        FloatArray out = p.slabs() ? slabScratch((long) p.splits() * m * n) : c;
        need(out, (long) m * n, "c", "m*n");
        Tiles t = p.tiles();
        backend.launch(XF32_WBF16_NORM, normLaunch(p, m), resid, normW, w, out, m, n, k, p.kTilesPerSplit(), p.slabs() ? GemmKernels.SLABS : 0,
                eps, t.wn(), t.wm(), t.mt(), t.nt(), t.stages());
        return new Partial(out, p.slabs() ? p.splits() : 1);
    }

    /**
     * {@link #matmulSwiGlu} of X = RMSNorm(resid) · normW computed in the prologue ({@link GemmKernels#xf32Wbf16NormSwiGlu}), fp32
     * h; false, having launched nothing, where p has no such form ({@link #normPrologue}, {@link #swiGluEpilogue}).
     */
    public boolean matmulNormSwiGlu(FloatArray resid, FloatArray normW, double eps, int m, BFloat16Array w, int n, int k, FloatArray h, Plan p) {
        if (!normPrologue(p, m) || !swiGluEpilogue(p, false)) return false;
        checkNorm(resid, normW, m, w, n, k);
        if (n % (2 * GemmKernels.SWIGLU_ROWS) != 0) throw new IllegalArgumentException("interleaved gate|up needs n a multiple of 16, got " + n);
        need(h, (long) m * (n / 2), "h", "m*n/2");
        Tiles t = p.tiles();
        backend.launch(XF32_WBF16_NORM_SWIGLU, normLaunch(p, m), resid, normW, w, h, m, n, k, p.kTilesPerSplit(), 0, eps,
                t.wn(), t.wm(), t.mt(), t.nt(), t.stages());
        return true;
    }

    // ---- RoPE and the paged KV store in the q|k|v product's epilogue -------------------------------------------

    /**
     * Whether {@link #matmulQkvRope} runs plan p for heads of {@code headDim}: the mma.sync tiles converting fp32 X on load, on
     * slabs (the invariant plan's K slices) or one slice, no TMA, no atomics; a head dimension that is a multiple of the tile's
     * bn or a divisor of it (a head group of whole heads and whole tiles, {@link GemmKernels#qkvRopeEpilogue}).
     */
    public static boolean qkvRopeEpilogue(Plan p, int headDim) {
        Tiles t = p.tiles();
        return !t.tma() && !t.wgmma() && !p.convertFirst() && !p.registerSlices() && !p.persistent() && !p.streamK() && p.slabGroup() <= 1
                && (p.slabs() || p.splits() == 1) && headDim > 0 && headDim % 2 == 0 && (headDim % t.bn() == 0 || t.bn() % headDim == 0);
    }

    /** The counters {@link #matmulQkvRope} needs for plan p at m tokens, n columns, heads of headDim: one a (head group, token tile). */
    public static int qkvRopeArrivals(Plan p, int m, int n, int headDim) {
        int span = Math.max(p.tiles().bn(), headDim);
        return ((n + span - 1) / span) * ((m + p.tiles().bm() - 1) / p.tiles().bm());
    }

    private static final java.util.concurrent.atomic.AtomicLong QKV_ROPES = new java.util.concurrent.atomic.AtomicLong();

    /** Launches of the q|k|v RoPE-epilogue kernels so far in this JVM (recorded ones: a replayed graph counts once); tests check the path ran. */
    public static long qkvRopeLaunches() { return QKV_ROPES.get(); }

    /**
     * The stacked q|k|v product {@code a · wᵀ} (plan p) with RoPE and the paged KV store in its epilogue
     * ({@link GemmKernels#xf32Wbf16QkvRopeBf16}): the bits of {@link #matmulPartial} with p followed by
     * {@code FusedOps.qkvRopeStore} on its output, in one launch. Launched overlapping the kernel before it when
     * {@link #overlapPrevious} is on. Returns false, having launched nothing, where p is not such a plan ({@link #qkvRopeEpilogue}).
     *
     * @param c        (m, n) the one-slice plans' output (scratch); slab plans use the slab scratch
     * @param kCache   (numBlocks, kvHeads, blockSize, headDim) BFloat16Array, HalfFloatArray or FloatArray; vCache alike
     * @param cos      (m, headDim / 2) the step's angles, sin alike; both null for no rotation
     * @param arrivals at least {@link #qkvRopeArrivals} counters, zero (the kernel leaves them zero), on the device
     */
    public boolean matmulQkvRope(FloatArray a, int m, BFloat16Array w, int n, int k, Plan p, FloatArray c, FloatArray q, OffHeapArray kCache,
                                 OffHeapArray vCache, FloatArray cos, FloatArray sin, IntArray slots, int heads, int kvHeads, int headDim,
                                 int blockSize, IntArray arrivals) {
        if (!qkvRopeEpilogue(p, headDim)) return false;
        check(a, m, w, n, k, c);
        Kernel kernel = checkQkvRope(m, n, p, q, kCache, vCache, cos, sin, slots, heads, kvHeads, headDim, blockSize, arrivals, false);
        int half = headDim / 2, numBlocks = (int) (kCache.length() / ((long) kvHeads * blockSize * headDim));
        boolean rope = cos != null;
        FloatArray s = p.slabs() ? slabScratch((long) p.splits() * m * n) : c;
        FloatArray cs = rope ? cos : q, sn = rope ? sin : q;   // unread without rope; any array fills the parameter
        Tiles t = p.tiles();
        QKV_ROPES.incrementAndGet();
        backend.launch(kernel, overlapPrevious ? p.launch().overlappingPrevious() : p.launch(), a, w, s, m, n, k, p.kTilesPerSplit(),
                p.slabs() ? p.splits() : 1, q, kCache, vCache, cs, sn, slots, arrivals, heads, kvHeads, half, blockSize, numBlocks, rope ? 1 : 0,
                t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs());
        return true;
    }

    /**
     * {@link #matmulQkvRope} with X = RMSNorm(resid) · normW (eps) computed in the prologue ({@link GemmKernels#xf32Wbf16NormQkvRopeBf16}):
     * the bits of {@link #matmulNormPartial} followed by {@code FusedOps.qkvRopeStore}, in one launch. False, having launched
     * nothing, where p takes neither the prologue ({@link #normPrologue}) nor the epilogue ({@link #qkvRopeEpilogue}).
     */
    public boolean matmulNormQkvRope(FloatArray resid, FloatArray normW, double eps, int m, BFloat16Array w, int n, int k, Plan p, FloatArray c,
                                     FloatArray q, OffHeapArray kCache, OffHeapArray vCache, FloatArray cos, FloatArray sin, IntArray slots,
                                     int heads, int kvHeads, int headDim, int blockSize, IntArray arrivals) {
        if (!normPrologue(p, m) || !qkvRopeEpilogue(p, headDim)) return false;
        checkNorm(resid, normW, m, w, n, k);
        need(c, (long) m * n, "c", "m*n");
        Kernel kernel = checkQkvRope(m, n, p, q, kCache, vCache, cos, sin, slots, heads, kvHeads, headDim, blockSize, arrivals, true);
        int half = headDim / 2, numBlocks = (int) (kCache.length() / ((long) kvHeads * blockSize * headDim));
        boolean rope = cos != null;
        FloatArray s = p.slabs() ? slabScratch((long) p.splits() * m * n) : c;
        FloatArray cs = rope ? cos : q, sn = rope ? sin : q;
        Tiles t = p.tiles();
        QKV_ROPES.incrementAndGet();
        backend.launch(kernel, normLaunch(p, m), resid, normW, w, s, m, n, k, p.kTilesPerSplit(), p.slabs() ? p.splits() : 1, eps, q, kCache,
                vCache, cs, sn, slots, arrivals, heads, kvHeads, half, blockSize, numBlocks, rope ? 1 : 0, t.wn(), t.wm(), t.mt(), t.nt(), t.stages());
        return true;
    }

    /** The q|k|v epilogue's arguments checked ({@link #matmulQkvRope}); its kernel for the store's type, with or without the norm prologue. */
    private static Kernel checkQkvRope(int m, int n, Plan p, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, FloatArray cos, FloatArray sin,
                                       IntArray slots, int heads, int kvHeads, int headDim, int blockSize, IntArray arrivals, boolean norm) {
        if (heads < 1 || kvHeads < 1 || blockSize < 1) throw new IllegalArgumentException("heads, kvHeads and blockSize must be positive: "
                + heads + ", " + kvHeads + ", " + blockSize);
        if ((long) (heads + 2 * kvHeads) * headDim != n) throw new IllegalArgumentException("n = " + n + " is not (heads + 2 kvHeads) * headDim = "
                + (heads + 2 * kvHeads) + " * " + headDim);
        if (kCache.getClass() != vCache.getClass() || kCache.length() != vCache.length())
            throw new IllegalArgumentException("kCache and vCache differ: " + kCache.getClass().getSimpleName() + " of " + kCache.length()
                    + ", " + vCache.getClass().getSimpleName() + " of " + vCache.length());
        long perBlock = (long) kvHeads * blockSize * headDim;
        if (kCache.length() % perBlock != 0) throw new IllegalArgumentException("kCache length " + kCache.length() + " is not whole blocks of " + perBlock);
        int half = headDim / 2;
        need(q, (long) m * heads * headDim, "q", "m*heads*headDim");
        need(slots, m, "slots", "m");
        boolean rope = cos != null;
        if (rope) {
            need(cos, (long) m * half, "cos", "m*headDim/2");
            need(sin, (long) m * half, "sin", "m*headDim/2");
        }
        need(arrivals, qkvRopeArrivals(p, m, n, headDim), "arrivals", "head groups * token tiles");
        return switch (kCache) {
            case BFloat16Array b -> norm ? XF32_WBF16_NORM_QKV_ROPE_BF16 : XF32_WBF16_QKV_ROPE_BF16;
            case HalfFloatArray h -> norm ? XF32_WBF16_NORM_QKV_ROPE_F16 : XF32_WBF16_QKV_ROPE_F16;
            case FloatArray f -> norm ? XF32_WBF16_NORM_QKV_ROPE_F32 : XF32_WBF16_QKV_ROPE_F32;
            default -> throw new IllegalArgumentException("no KV store kernel for " + kCache.getClass().getSimpleName());
        };
    }

    // ---- SwiGLU in the epilogue: gate|up interleaved ---------------------------------------------------------

    /**
     * Whether plan p's kernel writes {@code h = silu(g)·u} of an interleaved gate|up weight itself ({@link #matmulSwiGlu}):
     * one K slice, no slabs, not stream-K, and a kernel with the SwiGLU epilogue: the mma.sync tiles (fp32 h only: bf16
     * producers start above 64 tokens, where the plans take the TMA tiles), the plain TMA tiles (TMA_64 / 64X2 / N64 / 128 /
     * 256 / 256X3 and the deep tiles) and the ping-pong kernel (fp32 or bf16 h). Elsewhere (split-K atomics or slabs, the
     * slices summed in registers, the persistent and cp.async wgmma kernels, both off by default) the GEMM writes the
     * interleaved gate|up and {@code FusedOps.siluMulRowsInterleaved} applies SwiGLU.
     */
    public static boolean swiGluEpilogue(Plan p, boolean bf16Out) {
        if (p.splits() != 1 || p.slabs() || p.registerSlices() || p.streamK()) return false;
        if (p.tiles().tma()) return p.tiles().pingPong() || !p.persistent();
        return !p.tiles().wgmma() && !bf16Out;
    }

    /**
     * {@code h (m, n/2) = silu(G) · U} with {@code [G | U] = X · Wᵀ}, W the gate|up weight interleaved by
     * {@link GemmKernels#interleavedGateRow} ({@code n = 2·inter} rows, inter a multiple of 8), in one launch (after X's
     * conversion where the plan converts first): the plan's product with the SwiGLU epilogue ({@link #swiGluEpilogue}). The
     * same sums as {@link #matmul(FloatArray, int, BFloat16Array, int, int, FloatArray, boolean, Plan)} with that plan and the
     * SwiGLU arithmetic of {@code FusedKernels.siluMulRowsInterleaved} on them: the same bits. Returns false, having launched
     * nothing, where the plan has no such epilogue, or its TMA tensor maps would have to be made while a graph is captured; the
     * caller then runs the composition.
     *
     * @param h (m, n/2) FloatArray, or BFloat16Array (rounded to nearest even as stored) on the TMA tiles
     */
    public boolean matmulSwiGlu(FloatArray a, int m, BFloat16Array w, int n, int k, OffHeapArray h, Plan plan) {
        return swiGlu(a, m, w, n, k, h, plan);
    }

    /** As {@link #matmulSwiGlu(FloatArray, int, BFloat16Array, int, int, OffHeapArray, Plan)} for X a producer wrote in bf16 (as {@link #matmul(BFloat16Array, int, BFloat16Array, int, int, FloatArray, boolean, Plan)}). */
    public boolean matmulSwiGlu(BFloat16Array a, int m, BFloat16Array w, int n, int k, OffHeapArray h, Plan plan) {
        return swiGlu(a, m, w, n, k, h, plan);
    }

    private boolean swiGlu(OffHeapArray a, int m, BFloat16Array w, int n, int k, OffHeapArray h, Plan plan) {
        checkShape(m, n, k);
        need(a, (long) m * k, "a", "m*k");
        need(w, (long) n * k, "w", "n*k");
        if (n % (2 * GemmKernels.SWIGLU_ROWS) != 0) throw new IllegalArgumentException("interleaved gate|up needs n a multiple of 16, got " + n);
        need(h, (long) m * (n / 2), "h", "m*n/2");
        boolean bf16Out = h instanceof BFloat16Array;
        if (!bf16Out && !(h instanceof FloatArray)) throw new IllegalArgumentException("SwiGLU writes fp32 or bf16, not " + h.getClass().getSimpleName());
        if (!swiGluEpilogue(plan, bf16Out)) return false;
        boolean fp32X = a instanceof FloatArray;
        OffHeapArray x = fp32X && plan.convertFirst() ? bf16Scratch(m, k) : a;
        Tiles t = plan.tiles();
        if (t.tma()) {
            int xRows = x.length() / k;
            LongArray mapX = map(x, xRows, k, t.bm()), mapW = map(w, n, k, t.bn());
            if (mapX == null || mapW == null) return false;   // a new matrix while a graph is captured: the caller's composition
            if (x != a) backend.launch(TO_BF16, Launch.cover(m * k / 8, 256), a, x, m * k);
            Kernel kernel = t.pingPong() ? (bf16Out ? PING_PONG_SWIGLU_BF16 : PING_PONG_SWIGLU) : bf16Out ? WGMMA_TMA_SWIGLU_BF16 : WGMMA_TMA_SWIGLU;
            backend.launch(kernel, plan.launch(), tmaArguments(plan, x, w, h, mapX, mapW, m, xRows, n, k, 0, raster));
            return true;
        }
        if (x != a) backend.launch(TO_BF16, Launch.cover(m * k / 8, 256), a, x, m * k);
        Launch launch = overlapPrevious ? plan.launch().overlappingPrevious() : plan.launch();
        backend.launch(triggering(x instanceof FloatArray ? XF32_WBF16_SWIGLU : XBF16_WBF16_SWIGLU), launch, x, w, h, m, n, k, plan.kTilesPerSplit(), 0,
                t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs());
        return true;
    }

    /**
     * The gate|up weight {@code (2·inter, k)} interleaved for {@link #matmulSwiGlu}: row {@link GemmKernels#interleavedGateRow}(i)
     * is gate row i, 8 rows further up row i. Host arrays; {@code inter} a multiple of 8.
     */
    public static BFloat16Array interleaveGateUp(BFloat16Array gate, BFloat16Array up, int inter, int k) {
        if (inter % GemmKernels.SWIGLU_ROWS != 0) throw new IllegalArgumentException("inter must be a multiple of 8, got " + inter);
        need(gate, (long) inter * k, "gate", "inter*k");
        need(up, (long) inter * k, "up", "inter*k");
        BFloat16Array w = new BFloat16Array(Math.multiplyExact(2 * inter, k));
        long row = 2L * k;
        for (int i = 0; i < inter; i += GemmKernels.SWIGLU_ROWS) {
            long at = GemmKernels.interleavedGateRow(i) * row, rows = GemmKernels.SWIGLU_ROWS * row;
            java.lang.foreign.MemorySegment.copy(gate.segment(), i * row, w.segment(), at, rows);
            java.lang.foreign.MemorySegment.copy(up.segment(), i * row, w.segment(), at + rows, rows);
        }
        return w;
    }

    /** fp32 activations (rounded to fp16), fp16 weights, fp32 output. */
    public void matmul(FloatArray a, int m, HalfFloatArray w, int n, int k, FloatArray c, boolean accumulate) {
        check(a, m, w, n, k, c);
        Plan plan = plan(m, n, k, true, true, false);
        if (plan.convertFirst()) {
            HalfFloatArray x = fp16Scratch(m, k);
            backend.launch(TO_FP16, Launch.cover(m * k, 256), a, x, m * k);
            run(XF16_WF16, plan, x, w, c, m, n, k, accumulate, true);
        } else run(XF32_WF16, plan, a, w, c, m, n, k, accumulate, true);
    }

    /** bf16 activations and weights, fp32 output. */
    public void matmul(BFloat16Array a, int m, BFloat16Array w, int n, int k, FloatArray c, boolean accumulate) {
        check(a, m, w, n, k, c);
        run(XBF16_WBF16, plan(m, n, k, true, false), a, w, c, m, n, k, accumulate, true);
    }

    /** fp16 activations and weights, fp32 output. */
    public void matmul(HalfFloatArray a, int m, HalfFloatArray w, int n, int k, FloatArray c, boolean accumulate) {
        check(a, m, w, n, k, c);
        run(XF16_WF16, plan(m, n, k, true, false, false), a, w, c, m, n, k, accumulate, true);
    }

    /** bf16 activations and weights, bf16 output (the fp32 sum, plus C when accumulating, rounded once). */
    public void matmul(BFloat16Array a, int m, BFloat16Array w, int n, int k, BFloat16Array c, boolean accumulate) {
        check(a, m, w, n, k, c);
        run(XBF16_WBF16_OBF16, plan(m, n, k, false, false), a, w, c, m, n, k, accumulate, false);
    }

    /** fp32 activations (rounded to bf16), bf16 weights, bf16 output. */
    public void matmul(FloatArray a, int m, BFloat16Array w, int n, int k, BFloat16Array c, boolean accumulate) {
        check(a, m, w, n, k, c);
        Plan plan = plan(m, n, k, false, true);
        if (plan.convertFirst()) {
            BFloat16Array x = bf16Scratch(m, k);
            backend.launch(TO_BF16, Launch.cover(m * k / 8, 256), a, x, m * k);
            run(XBF16_WBF16_OBF16, plan, x, w, c, m, n, k, accumulate, false);
        } else run(XF32_WBF16_OBF16, plan, a, w, c, m, n, k, accumulate, false);
    }

    /**
     * Allocates (and puts on the device) the conversion copy of fp32 X for products of up to
     * {@code m × k} activations, and asks the driver how many blocks of each tile size fit on a
     * multiprocessor (compiling those variants), so later calls, and graph captures, allocate and
     * query nothing.
     */
    public void reserve(int m, int k) {
        bf16Scratch(m, k);
        fp16Scratch(m, k);
        for (Tiles t : new Tiles[]{SMALL, MEDIUM, WIDE, LARGE}) blocksPerSm(t);
        if (wgmmaLoads() && tma) {
            for (Tiles t : MID_CANDIDATES) blocksPerSm(t);   // the mid range's plans ask for these
            pingPongLoads();   // the prefill plans' ping-pong kernel, loaded before any graph capture
            slabGroupsLoad();   // the invariant plan's slab groups, likewise
        }
    }

    /** The slab scratch, at least {@code floats} long: grown (reallocated) only when a larger product comes; {@link #reserve(int, int, int)} sizes it up front. */
    /** {@code c (=|+=) Σ_z slabs[z]} over {@code count} floats, the slabs added in slice order ({@link GemmKernels#sumSlices}). */
    private void addSlabs(FloatArray slabs, OffHeapArray c, int count, int slices, boolean accumulate) {
        backend.launch(SUM_SLICES, Launch.cover(count, 256), slabs, c, count, slices, accumulate ? 1 : 0);
    }

    private FloatArray slabScratch(long floats) {
        if (floats > Integer.MAX_VALUE) throw new IllegalArgumentException("split-K slabs of " + floats + " floats exceed one array");
        if (slabs == null || slabs.length() < floats) {
            if (slabs != null) slabs.close();
            slabs = null;
            FloatArray fresh = new FloatArray((int) floats);
            backend.toDevice(fresh);   // fails while a graph is captured: keep nothing half-made (reserveSlabs first)
            slabs = fresh;
        }
        return slabs;
    }

    /** Sizes the batch-invariant plan's slab scratch for a (maxM, n, k) product up front, so no later call allocates. */
    public void reserveSlabs(int maxM, int n, int k) {
        int slices = invariantSlices(n, k);
        if (slices > 1) slabScratch((long) slices * maxM * n);
    }

    private BFloat16Array bf16Scratch(int m, int k) {
        if (xBf16 == null || xBf16.length() < m * k) {
            if (xBf16 != null) xBf16.close();
            xBf16 = new BFloat16Array(m * k);
            backend.toDevice(xBf16);
        }
        return xBf16;
    }

    private HalfFloatArray fp16Scratch(int m, int k) {
        if (xF16 == null || xF16.length() < m * k) {
            if (xF16 != null) xF16.close();
            xF16 = new HalfFloatArray(m * k);
            backend.toDevice(xF16);
        }
        return xF16;
    }

    private void run(Kernel kernel, Plan p, OffHeapArray x, OffHeapArray w, OffHeapArray c, int m, int n, int k, boolean accumulate, boolean fp32Out) {
        run(kernel, p, x, w, c, m, n, k, accumulate, fp32Out, true);
    }

    /** As above; {@code sumSlabs} false leaves a slab plan's slices unsummed. Returns the slabs of a slab plan, else c. */
    private OffHeapArray run(Kernel kernel, Plan p, OffHeapArray x, OffHeapArray w, OffHeapArray c, int m, int n, int k, boolean accumulate,
                             boolean fp32Out, boolean sumSlabs) {
        if (p.tiles().tma()) {
            if (kernel != XBF16_WBF16) throw new IllegalArgumentException("the TMA tiles run bf16 X (or fp32 X converted first), bf16 W and fp32 C only: " + p);
            int xRows = x.length() / k;   // the whole buffer (a scratch copy keeps one map): rows past m are read, never stored
            LongArray mapX = map(x, xRows, k, p.tiles().bm()), mapW = map(w, n, k, p.tiles().bn());
            if (mapX == null || mapW == null) {   // a new matrix while a graph is captured: tiles that need no map
                if (!warnedCapture) System.err.println("arbor gemm: no tensor map for a matrix first seen while capturing a graph; the cp.async tiles run instead");
                warnedCapture = true;
                captureFallbacks++;
                if (p.slabs() || p.registerSlices())   // the invariant plan: its mma.sync slab form, the same bits
                    return run(kernel, slabPlan(m, n, k, tilesFor(m), p.splits(), false), x, w, c, m, n, k, accumulate, fp32Out, sumSlabs);
                Tiles t = p.tiles().bm() <= 64 ? tilesFor(m) : p.tiles().bm() > WGMMA_128.bm() ? WGMMA_256 : WGMMA_128;
                return run(kernel, plan(m, n, k, t, p.splits(), false), x, w, c, m, n, k, accumulate, fp32Out, sumSlabs);
            }
            if (p.tiles().pingPong() && (!p.persistent() || p.slabs() || p.registerSlices()))
                throw new IllegalArgumentException("the ping-pong tiles run as pingPongPlan makes them: " + p);
            if (p.slabs()) {   // each K slice's block stores its slab (or a block a group of slices); the fixed-order sum as for the mma.sync slabs
                FloatArray s = slabScratch((long) p.splits() * m * n);
                if (p.slabGroup() > 1)
                    backend.launch(WGMMA_TMA_SLAB_GROUP, p.launch(), tmaArguments(p, x, w, s, mapX, mapW, m, xRows, n, k, p.slabGroup(), raster));
                else backend.launch(WGMMA_TMA_XBF16_WBF16, p.launch(), tmaArguments(p, x, w, s, mapX, mapW, m, xRows, n, k, GemmKernels.SLABS, raster));
                if (sumSlabs) addSlabs(s, c, m * n, p.splits(), accumulate);
                return s;
            }
            if (p.registerSlices()) {
                backend.launch(WGMMA_TMA_SLICED, p.launch(), tmaArguments(p, x, w, c, mapX, mapW, m, xRows, n, k, accumulate ? 1 : 0, raster));
                return c;
            }
            if (p.cluster()) {   // each element of C written once, by the block that sums its share of the tile: no zeroing, no atomics
                backend.launch(WGMMA_TMA_CLUSTER, p.launch(), clusterArguments(p, x, w, c, mapX, mapW, m, xRows, n, k, accumulate ? 1 : 0, raster));
                return c;
            }
            if (p.streamK()) {   // partial tiles by atomic adds: C zeroed first (unless it holds the residual), as under split-K
                Launch launch = p.launch();
                if (!accumulate && !cZeroed) {
                    backend.launch(ZERO, Launch.cover(m * n, 256), c, m * n);
                    launch = launch.overlappingPrevious();
                }
                backend.launch(WGMMA_TMA_STREAM_K, launch, tmaArguments(p, x, w, c, mapX, mapW, m, xRows, n, k, accumulate ? 1 : 0, raster));
                return c;
            }
            if (p.persistent()) {
                backend.launch(p.tiles().pingPong() ? WGMMA_TMA_PING_PONG : WGMMA_TMA_PERSISTENT, p.launch(), tmaArguments(p, x, w, c, mapX, mapW, m, xRows, n, k, accumulate ? 1 : 0, raster));
                return c;
            }
            Launch launch = p.launch();
            if (p.splits() > 1 && !accumulate && !cZeroed) {
                backend.launch(ZERO, Launch.cover(m * n, 256), c, m * n);
                launch = launch.overlappingPrevious();
            }
            backend.launch(WGMMA_TMA_XBF16_WBF16, launch, tmaArguments(p, x, w, c, mapX, mapW, m, xRows, n, k, accumulate ? 1 : 0, raster));
            return c;
        }
        if (p.tiles().wgmma()) {
            if (kernel != XBF16_WBF16) throw new IllegalArgumentException("the wgmma tiles run bf16 X (or fp32 X converted first), bf16 W and fp32 C only: " + p);
            kernel = WGMMA_XBF16_WBF16;
        }
        boolean overlap = overlapPrevious && !p.tiles().wgmma();   // the mma.sync kernels wait before reading X (mainloop)
        if (p.slabs()) {
            if (!fp32Out) throw new IllegalArgumentException("slab split-K needs fp32 output");
            FloatArray s = slabScratch((long) p.splits() * m * n);
            Tiles t = p.tiles();
            backend.launch(triggering(kernel), overlap ? p.launch().overlappingPrevious() : p.launch(), x, w, s, m, n, k, p.kTilesPerSplit(), GemmKernels.SLABS,
                    t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs());
            if (sumSlabs) addSlabs(s, c, m * n, p.splits(), accumulate);
            return s;
        }
        if (!fp32Out && p.splits() > 1) throw new IllegalArgumentException("split-K needs fp32 output (atomic adds), plan has " + p.splits() + " slices");
        Launch launch = overlap ? p.launch().overlappingPrevious() : p.launch();
        if (p.splits() > 1 && !accumulate && !cZeroed) {
            // zero C, and let the product start streaming W meanwhile (it waits for the zeros before its atomics); the zeroing
            // itself overlaps the kernel before it only when the product waits before reading X (it waits for that kernel first)
            Launch z = Launch.cover(m * n, 256);
            backend.launch(ZERO, overlap ? z.overlappingPrevious() : z, c, m * n);
            launch = launch.overlappingPrevious();
        }
        Tiles t = p.tiles();
        backend.launch(triggering(kernel), launch, x, w, c, m, n, k, p.kTilesPerSplit(), accumulate ? 1 : 0,
                t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs());
        return c;
    }

    /**
     * The tensor map of {@code a} as a {@code rows × rowLength} matrix with boxes of {@code boxRows} rows: made once and
     * kept (by device address and shape); null when it would have to be made while a graph is captured. On the CPU
     * executor a dummy (the copy reads the matrix itself).
     */
    private LongArray map(OffHeapArray a, int rows, int rowLength, int boxRows) {
        if (!(backend instanceof CudaBackend cuda)) {
            if (cpuMap == null) cpuMap = new LongArray(16);
            return cpuMap;
        }
        if (!(a.deviceMirror() instanceof dev.arbor.accel.cuda.DeviceBuffer) && cuda.capturing()) return null;
        if (!(a.deviceMirror() instanceof dev.arbor.accel.cuda.DeviceBuffer)) cuda.toDevice(a);
        MapKey key = new MapKey(((dev.arbor.accel.cuda.DeviceBuffer) a.deviceMirror()).pointer(), rows, rowLength, boxRows);
        LongArray map = maps.get(key);
        if (map == null && !cuda.capturing()) {
            map = TensorMaps.tile128(cuda, a, rows, rowLength, boxRows);
            maps.put(key, map);
        }
        return map;
    }

    /** The arguments of {@link GemmKernels#wgmmaTmaXbf16Wbf16} (or, for {@code registerSlices}, of the sliced kernel) for this plan, in the default raster. */
    public static Object[] tmaArguments(Plan p, OffHeapArray x, OffHeapArray w, OffHeapArray c, LongArray mapX, LongArray mapW,
                                 int m, int xRows, int n, int k, int accumulate) {
        return tmaArguments(p, x, w, c, mapX, mapW, m, xRows, n, k, accumulate, RASTER_DEFAULT);
    }

    /** As above with the blocks' raster group ({@link GemmKernels#rasterTileN}; 1 = row-major). */
    public static Object[] tmaArguments(Plan p, OffHeapArray x, OffHeapArray w, OffHeapArray c, LongArray mapX, LongArray mapW,
                                 int m, int xRows, int n, int k, int accumulate, int raster) {
        Tiles t = p.tiles();   // the plain and the sliced kernel take the same arguments (kTilesPerSplit: the sliced kernel's slice)
        return new Object[]{x, w, c, mapX, mapW, m, xRows, n, k, p.kTilesPerSplit(), accumulate, raster, t.wn(), t.nt(), t.stages()};
    }

    /** The kernel and arguments {@code matmul} launches for fp32 X, bf16 W, fp32 C with this plan (for resource reports). */
    public static Object[] launchArguments(Plan p, OffHeapArray x, OffHeapArray w, OffHeapArray c, int m, int n, int k) {
        Tiles t = p.tiles();
        return new Object[]{x, w, c, m, n, k, p.kTilesPerSplit(), 0, t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs()};
    }

    /** The fp32-X / bf16-W / fp32-C kernel, or the bf16-X one when the plan converts X first, or the wgmma one for its tiles. */
    public static Kernel kernelFor(Plan p) { return p.cluster() ? WGMMA_TMA_CLUSTER : p.slabGroup() > 1 ? WGMMA_TMA_SLAB_GROUP : p.streamK() ? WGMMA_TMA_STREAM_K : p.tiles().pingPong() ? WGMMA_TMA_PING_PONG : p.registerSlices() ? WGMMA_TMA_SLICED : p.persistent() ? WGMMA_TMA_PERSISTENT : p.tiles().tma() ? WGMMA_TMA_XBF16_WBF16 : p.tiles().wgmma() ? WGMMA_XBF16_WBF16 : p.convertFirst() ? XBF16_WBF16 : XF32_WBF16; }

    static void checkShape(int m, int n, int k) {
        if (m < 1 || n < 1) throw new IllegalArgumentException("m and n must be >= 1, got m=" + m + ", n=" + n);
        if (k < 8 || k % 8 != 0) throw new IllegalArgumentException("k must be a positive multiple of 8 (16-byte rows for cp.async), got " + k);
    }

    static void check(OffHeapArray a, int m, OffHeapArray w, int n, int k, OffHeapArray c) {
        checkShape(m, n, k);
        need(a, (long) m * k, "a", "m*k");
        need(w, (long) n * k, "w", "n*k");
        need(c, (long) m * n, "c", "m*n");
    }

    private static void need(OffHeapArray x, long elements, String name, String formula) {
        if (elements > Integer.MAX_VALUE) throw new IllegalArgumentException(formula + " = " + elements + " does not fit an int index");
        if (x.length() < elements) throw new IllegalArgumentException(name + " has " + x.length() + " elements, needs " + formula + " = " + elements);
    }

    @Override
    public void close() {
        if (xBf16 != null) xBf16.close();
        if (xF16 != null) xF16.close();
        if (slabs != null) slabs.close();
        maps.values().forEach(LongArray::close);
        maps.clear();
        xBf16 = null;
        xF16 = null;
        slabs = null;
    }
}
