package dev.arbor.models.cuda;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaEvent;
import dev.arbor.accel.cuda.DeviceBuffer;
import dev.arbor.accel.cuda.PinnedStaging;
import dev.arbor.accel.cuda.StagingLayout;
import dev.arbor.kernels.LayerKernels;
import dev.arbor.kernels.MatvecKernels;
import dev.arbor.kernels.attention.FlashPrefillAttention;
import dev.arbor.kernels.attention.FlashPrefillKernels;
import dev.arbor.kernels.attention.KvWrite;
import dev.arbor.kernels.gemm.Gemm;
import dev.arbor.kernels.attention.CascadeAttention;
import dev.arbor.kernels.attention.PagedAttention;
import dev.arbor.kernels.layer.FusedOps;
import dev.arbor.kernels.layer.TokenOps;
import dev.arbor.kernels.sampling.DeviceSampler;
import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.Architecture;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.StepShape;
import dev.arbor.models.backend.Ops;
import dev.arbor.models.cpu.Alibi;
import dev.arbor.models.cpu.Rope;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.Matrix;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * {@link Ops} on one CUDA device: float32 activations in device-only arrays, weights resident in their
 * stored dtype ({@link DeviceWeights}), the paged KV store as one K and one V device array per layer
 * ({@code [block][kvHead][slot][headDim]}, bf16, fp16 or fp32), and per-step inputs in small host+device
 * arrays uploaded once a step. Every kernel is a Java method of the {@code kernels} module compiled by
 * accel. All buffers are allocated here, at construction; a step only uploads and launches.
 */
final class CudaOps implements Ops<FloatArray> {
    private static final Kernel RMS_NORM = Kernel.of(LayerKernels.class, "rmsNormRows");
    private static final Kernel RMS_NORM_BF16 = Kernel.of(LayerKernels.class, "rmsNormRowsBf16");
    private static final Kernel RMS_NORM_BF16_ZERO = Kernel.of(LayerKernels.class, "rmsNormRowsBf16Zero");
    private static final Kernel SILU_MUL = Kernel.of(LayerKernels.class, "siluMul");
    private static final Kernel ADD = Kernel.of(LayerKernels.class, "add");
    private static final Kernel ROPE = Kernel.of(LayerKernels.class, "rope");
    private static final Kernel MATVEC_BF16 = Kernel.of(MatvecKernels.class, "matvecBf16");
    private static final Kernel MATVEC_F16 = Kernel.of(MatvecKernels.class, "matvecF16");
    private static final Kernel MATVEC_F32 = Kernel.of(MatvecKernels.class, "matvecF32");
    private static final int BLOCK = 256;

    private final CudaBackend gpu;
    private final ModelConfig config;
    private final DeviceWeights weights;
    private final StepShape shape;
    private final OffHeapArray[] keys, values;        // (layer) -> (numBlocks, kvHeads, blockSize, headDim)
    private final IntArray tokenIds, positions, slots, seqOfToken, logitRows; // (maxTokens)
    private final IntArray blockTables;               // (maxSeqs, maxBlocksPerSeq)
    private final IntArray keyStart;                  // (maxSeqs) cascade: shared keys of each sequence's group, 0 if none
    private final IntArray groupTokens;               // (maxTokens) cascade: tokens of each group, group after group
    private final IntArray groupTokenStart;           // (maxSeqs + 1) cascade: offsets into groupTokens
    private final RopeAngles angles;                  // the angle table by position; null for ALiBi models
    private final FloatArray cos, sin;                // (maxTokens, headDim / 2) this step's angles, null for ALiBi
    private final FloatArray slopes;                  // (heads) ALiBi slopes, null for RoPE models
    private int maxOwnSplits;                         // this step's most own-key splits of a token (cascade steps; set at upload)
    private final PagedAttention attention;           // paged attention (cascade's own launcher when cascade is on: one scratch)
    private final CascadeAttention cascade;           // steps with cascade groups, null under batch invariance (see attention())
    private final FlashPrefillAttention prefill;      // tensor-core prefill chunks, null where not taken (see attention())
    private final int flashBelow;                     // batch-invariant mode: tokens at positions below this take the tensor-core kernel
    private final int nbiFlashBelow;                  // without invariance: a wide GQA decode step's tokens below this take it (nbiFlashDecode)
    private boolean belowPlanned;                     // this step planned by planBelow (the paged kernel first past the bound, then the tiles)
    private int belowBound;                           // its position bound: flashBelow, or nbiFlashBelow without invariance
    private final FloatArray handoffState;            // batch-invariant mode with the tensor-core kernel: the cascade's handed-off (O, m, l) state
    private final FloatArray readBack;                // (widest row) host staging of readRow
    private final DeviceSampler sampler;
    private final ComputeDtype dtype;
    private final boolean batchInvariant;
    /**
     * Without batch invariance, the split length of attention launches of few work-groups ({@code PagedAttention.narrowSplits}; at
     * batch 1 up to 2,048 keys where the scratch holds them) at one query head a kv head; {@code -Darbor.paged.narrowSplit=0} turns
     * it off, any shape. Measured (bench/RESULTS.md "Run 61-dec15", H200): llama-7b b1 nbi, prompt 128, 256 out, device 4.203 →
     * 4.009 ms a step (229.3 → 242.1 tok/s); the kernel alone at b1 × 512 keys 12.5 → 8.4 µs, × 1,024 13.5 → 11.4, × 2,048 16.0 → 15.9.
     * GQA shapes are not measured: off there.
     */
    static final int NARROW_SPLIT = 64;
    /**
     * The fused residual add + RMSNorm after a slab plan's projection (both modes' o and down where the plan leaves slabs)
     * spreads each row over n/256 work-groups, the last-arriving one normalising ({@link FusedOps#addRmsNormSplitRow}), for
     * steps of at most this many tokens ({@code -Darbor.cuda.splitNormRows}, 0 = off: one work-group a row,
     * {@link FusedOps#addRmsNorm}). The same bits either way (FusedKernelsGpuTest), so a rule by the step's size keeps the
     * default mode batch-invariant. Measured (bench/RESULTS.md "Run 64-dec16", H200): the norm alone 4.9-5.0 → 3.9-4.1 µs at 1-8
     * rows (4.8 against 5.1 at 16), llama-7b b1 default-mode decode device 4.437 → 4.351 ms a step (same call, on/off).
     * (The nbi o/down on the slabs with this norm instead of split-K atomics + rmsNormRows measured 0.06 ms a step slower: not kept.)
     */
    static final int SPLIT_NORM_ROWS = 8;
    private final int splitNormRows;
    private final IntArray normArrivals;              // (splitNormRows) addRmsNormSplitRow's counters, zero between launches
    /**
     * {@code -Darbor.cuda.fusedNormGemv} (default {@link #FUSED_NORM_GEMV_DEFAULT}): at steps of at most
     * {@code -Darbor.cuda.fusedNormGemvRows} ({@link #FUSED_NORM_GEMV_ROWS}) tokens, where o and down take the invariant plan's
     * mma.sync slabs on fp32 X ({@code Gemm.addNormEpilogue}), the slab GEMM adds its own K slices into the residual and
     * normalises in its epilogue ({@code Gemm.matmulAddNorm}: the last-arriving slice of a tile adds the slabs, the last
     * column tile normalises the rows): one launch where the GEMM + {@link FusedOps#addRmsNormSplitRow} take two, the same bits
     * (GemmAddNormTest, GemmAddNormGpuTest, FusedNormGemvGpuTest). Off by default: measured slower (bench/RESULTS.md "Run
     * 75-norm20", H200): llama-7b batch 8 decode device 4.408 → 6.697 ms a step (one block of 128 work-items normalises the
     * rows one after another at the end of the GEMM, past its PDL trigger-less tail); batch 1 not measured (the first JVM's
     * cold kernel cache ran out its time). So when turned on it applies at batch 1 only unless
     * {@code -Darbor.cuda.fusedNormGemvRows} says more; since run 75 the GEMM also lets the next grid launch when its products
     * are done ({@code allowDependentLaunch}), not measured.
     */
    static final String FUSED_NORM_GEMV = "arbor.cuda.fusedNormGemv";
    static final boolean FUSED_NORM_GEMV_DEFAULT = false;
    static final int FUSED_NORM_GEMV_ROWS = 1;
    private final int fusedNormRows;                  // 0 with the switch off
    private final IntArray fusedNormArrivals;         // Gemm.matmulAddNorm's counters, zero between launches
    /**
     * {@code -Darbor.cuda.prologueNorm} (default {@link #PROLOGUE_NORM_DEFAULT}): in the batch-invariant mode, at steps of at most
     * {@code -Darbor.cuda.prologueNormRows} ({@link #PROLOGUE_NORM_ROWS}) tokens, where o and down take the invariant plan's
     * mma.sync slabs on fp32 X ({@code Gemm.addNormEpilogue}) and the next projections (the stacked q|k|v, the interleaved
     * gate|up with its SwiGLU epilogue) take plans with the norm prologue ({@code Gemm.normPrologue}): o / down add their own
     * slabs into the residual ({@code Gemm.matmulAddSlabs}: the last-arriving slice of a tile adds the tile's slabs), and the
     * next projection's every block computes the RMSNorm of the residual rows in its prologue ({@code Gemm.matmulNormPartial},
     * {@code Gemm.matmulNormSwiGlu}) where {@link FusedOps#addRmsNormSplitRow} ran between them: one launch a stage fewer, the
     * same bits (GemmNormPrologueTest, GemmNormPrologueGpuTest, PrologueNormGpuTest). The norm is left pending here
     * ({@link #pendingXn}) from matmulAddNorm to the projection that reads xn. Off by default: measured slower (bench/RESULTS.md
     * "Run 86-norm22", H200, llama-7b, one JVM, CUDA graphs, the same tokens): batch 1 device 4.132 → 4.312 ms a step, batch 8
     * (rows 8) 4.548 → 5.191 ms (the prologue normalises its token rows one after another: ~13 µs more a q|k|v launch at 8 rows).
     * Since run 86 the o / down tail loads its 8 slabs at once ({@code FusedKernels.addedColumn}); run 90-final22: still +5.25% at b1.
     */
    static final String PROLOGUE_NORM = "arbor.cuda.prologueNorm";
    static final boolean PROLOGUE_NORM_DEFAULT = false;
    static final int PROLOGUE_NORM_ROWS = 1;
    private final int prologueNormRows;               // 0 with the switch off
    private final IntArray prologueArrivals;          // Gemm.matmulAddSlabs' counters, zero between launches
    /**
     * {@code -Darbor.cuda.qkvRopeEpilogue} (default {@link #QKV_ROPE_EPILOGUE_DEFAULT}): in the batch-invariant mode, at steps of
     * at most {@code -Darbor.cuda.qkvRopeEpilogueRows} ({@link #QKV_ROPE_EPILOGUE_ROWS}) tokens, where the stacked q|k|v takes
     * the invariant plan's mma.sync slabs on fp32 X ({@code Gemm.qkvRopeEpilogue}), the q|k|v GEMM rotates q and k and stores
     * q and the k / v rows into the paged store itself ({@code Gemm.matmulQkvRope}: the last-arriving block of a head group adds
     * the group's slabs and does {@link FusedOps#qkvRopeStore}'s work): one launch where the GEMM + qkvRopeStoreWide take two,
     * the same bits (GemmQkvRopeTest, GemmQkvRopeGpuTest, QkvRopeEpilogueGpuTest). With the norm prologue
     * ({@link #PROLOGUE_NORM}) pending, the one kernel of both ({@code Gemm.matmulNormQkvRope}). Off by default: measured
     * slower (bench/RESULTS.md "Run 87-rope22", H200, llama-7b, one JVM, 3 rounds each): batch 1 device 4.045 → 4.180 ms a step
     * (+3.3%), batch 8 (rows 8) 4.474 → 4.694 ms (+4.9%); per operation (eager, opProfile) the q|k|v stage 32.5 → 37.4 µs at b1:
     * the last block's serial tail (fence, counter, fence, the slabs' and then the angles' / slot's L2 round trips) costs more than
     * the separate kernel it replaces, whose launch PDL hides.
     */
    static final String QKV_ROPE_EPILOGUE = "arbor.cuda.qkvRopeEpilogue";
    static final boolean QKV_ROPE_EPILOGUE_DEFAULT = false;
    static final int QKV_ROPE_EPILOGUE_ROWS = 1;
    private final int qkvRopeRows;                    // 0 with the switch off
    private final IntArray qkvRopeArrivals;           // Gemm.matmulQkvRope's counters, zero between launches
    /**
     * {@code -Darbor.flash.splitOverlap} (default {@link #SPLIT_OVERLAP_DEFAULT}, <b>on</b>; read when a model is opened, with
     * {@link CudaModelBackend#PDL}): the split-form attention ({@code FlashPrefillAttention.setSplitOverlap}, the default mode's
     * b1 decode attention below position 1,024) launches overlapping the kernel before it and lets o_proj's GEMM in first thing,
     * so o_proj's blocks stream their first W stages during the attention (b1: 32 work-groups, ~8 µs) rather than after its last
     * work-group exits. The same bits (a launch permission only: o_proj waits for the whole grid before it reads its output;
     * EarlyTriggerGpuTest). Measured (bench/RESULTS.md "Run 93-gemv23" follow-up, H200, llama-7b b1, `bench throughput --ab
     * arbor.flash.splitOverlap --ab-rounds 3`, one JVM, the same tokens): device 4.044 → <b>3.999 ms</b> a step (−1.09%).
     * <p>
     * {@code -Darbor.gemm.earlyTrigger} (default {@code -Darbor.cuda.earlyTrigger}, {@link #EARLY_TRIGGER_DEFAULT}: off): the
     * fp32-X mma.sync GEMMs (q|k|v, o, gate|up with SwiGLU, down at few tokens: {@code Gemm.earlyTrigger}) let the next kernel in
     * first thing. The same bits (GemmTriggerTest, GemmTriggerGpuTest). Off: with the split attention's trigger it measured
     * <b>slower</b> (run 93-gemv23: device 4.135 → 4.513 ms a step, +9.15%); GemmBench trigger (a window kernel, then the M = 1
     * GEMM overlapping it) puts the loss on the GEMMs' trigger: the window's early trigger alone hides ~3 µs of o_proj behind an
     * 8 µs window (18.1 → 15.2 µs a pair), the GEMM's alone changes nothing, both together cost up to 8.5 µs a gate|up pair (the
     * next GEMM's blocks placed while the grid before still fills the multiprocessors).
     */
    static final String EARLY_TRIGGER = "arbor.cuda.earlyTrigger";
    static final boolean EARLY_TRIGGER_DEFAULT = false;
    static final boolean SPLIT_OVERLAP_DEFAULT = true;
    static final String SPLIT_OVERLAP = "arbor.flash.splitOverlap", GEMM_EARLY_TRIGGER = "arbor.gemm.earlyTrigger";
    /**
     * {@code -Darbor.flash.splitAlways=true} (off; read when a model is opened): the short (decode) tiles of the tensor-core
     * attention take the four-warp split form at every walk count instead of the one-warp kernel from
     * {@code FlashPrefillAttention.WARP_WAVES × SMs} (tile, kv head) walks up (528 on the H200): both give a row the same bits, so
     * the choice is free. The crossover was measured at llama-7b's shape against 64-row tiles (run 43-dec9, run 66-attn17), not the
     * split form against the one-warp kernel at many walks (llama3.2-1b b128: 1,024 walks of 9 key tiles; seed workload 2's
     * per-sequence pass: 16,000 walks of one): an A/B switch for that measurement. Measured slower at both (bench/RESULTS.md run
     * 96-final23: llama3.2-1b b128 nbi 1.781 → 1.886 ms a decode step, seed workload 2 1.013 → 1.117 s), so off.
     */
    static final String SPLIT_ALWAYS = "arbor.flash.splitAlways";
    private FloatArray pendingXn;                     // xn whose value is RMSNorm(pendingX) · pendingNorm, not yet computed; or null
    private FloatArray pendingX;
    private float[] pendingNorm;
    private double pendingEps;
    private int pendingTokens;
    /**
     * {@code -Darbor.gemm.zeroInNorm} (read when the ops are made, so {@code bench throughput --ab} can A/B it): without batch
     * invariance, where the stacked q|k|v GEMM adds K slices into {@link #fusedOut} by atomics (its plan for the step's rows,
     * {@code Gemm.atomicSplitK}), the bf16 RMSNorm that writes its X also zeroes those rows of fusedOut
     * ({@code LayerKernels.rmsNormRowsBf16Zero}) and the GEMM runs without its zeroing launch ({@code Gemm.matmulPartialIntoZeroed}):
     * one launch a layer fewer; the norm's bits unchanged, the product's sums as before (atomics in any order). On by default:
     * bench/RESULTS.md run 94-b128g, llama3.2-1b b128 × 512 nbi (with the mid-range table) 1.801 → 1.782 ms a decode step on the
     * device, one JVM (one pair); {@code ZeroInNormGpuTest}. {@code -Darbor.gemm.zeroInNorm=false}: the GEMM's own zeroing launch.
     */
    static final String ZERO_IN_NORM = "arbor.gemm.zeroInNorm";
    static final boolean ZERO_IN_NORM_DEFAULT = true;
    private final boolean zeroInNorm;
    /** Rows of {@link #fusedOut} (q|k|v's width) the last bf16 norm zeroed, until fusedOut is written or a q|k|v GEMM takes them; -1: none. */
    private int fusedOutZeroedRows = -1;
    private final boolean fusion;                     // fused stages (matmulAddNorm; the stacked projections follow the weights)
    private final Gemm gemm;                          // tensor-core projections (dtype BFLOAT16)
    private final FloatArray fusedOut;                // (maxTokens, fusedOutputCols) the stacked q|k|v or gate|up GEMM's output; null unfused
    /**
     * {@code -Darbor.gemm.bf16Producers} ({@link #BF16_PRODUCERS_DEFAULT} unless set): at steps of more than
     * {@link #BF16_PRODUCERS_MIN_TOKENS} tokens, where every GEMM plan is a TMA one that converts fp32 X to bf16 first
     * ({@code Gemm.Plan.convertFirst}: one pass reading the fp32 rows, writing bf16, a launch), the kernels whose only reader
     * is such a GEMM write bf16 themselves: the RMSNorms (first layer, and the add + norm after o_proj and down) into q|k|v
     * and gate|up, SwiGLU into down. They round the same fp32 value to nearest even as the pass does, and the GEMM runs the
     * same plan on it, so the same bits in the default mode (Bf16ProducersGpuTest: 17.9 M logits, the same bits; without
     * invariance within the split-K atomics' run-to-run noise). The residual stream stays fp32; the final norm (in place, also
     * copied by copyRows) stays fp32; the attention output too unless {@link #BF16_ATTENTION_OUT}. Measured (bench/RESULTS.md "Run
     * 64-gemm16", H200, main's jars beside): seed workload 1 0.37 → 0.34 s (decode device 8.16 → 7.80 ms a step), nbi 0.34 →
     * 0.33 s (7.31 → 6.89 ms); llama3.2-1b b128 decode device 2.174 → 2.106 ms, nbi 2.023 → 1.948; prefill 8 × 2048 nbi
     * 482 → 460 ms. {@code -Darbor.gemm.bf16Producers=false}: the fp32 producers and the conversion pass.
     */
    static final String BF16_PRODUCERS = "arbor.gemm.bf16Producers";
    static final boolean BF16_PRODUCERS_DEFAULT = true;
    /** {@link #BF16_PRODUCERS} as set (read when a model is opened). */
    static boolean bf16ProducersRequested() {
        return Boolean.parseBoolean(System.getProperty(BF16_PRODUCERS, Boolean.toString(BF16_PRODUCERS_DEFAULT)));
    }

    /** Device bytes a token of the bf16 producers' buffer takes (a row of the wider of hidden and intermediate, bf16). */
    static long bf16ProducerBytesPerToken(ModelConfig c) {
        return 2L * Math.max(c.hiddenSize(), c.intermediateSize());
    }

    /**
     * {@code -Darbor.gemm.fusedSwiGlu} ({@link #FUSED_SWIGLU_DEFAULT} unless set; read when the weights are uploaded): the stacked
     * gate|up weight is stored with its rows interleaved in groups of 8 ({@code GemmKernels.interleavedGateRow}), and where the
     * step's plan has one K slice and a kernel with the epilogue ({@code Gemm.swiGluEpilogue}) the GEMM writes
     * {@code h = silu(g)·u} itself ({@code Gemm.matmulSwiGlu}): no (tokens, 2·inter) fp32 output written and read back, no
     * SwiGLU launch. Other plans (split-K, slabs) run the GEMM and {@code FusedOps.siluMulRowsInterleaved}. The same sums and
     * SwiGLU arithmetic: the same bits (GemmSwiGluTest, GemmSwiGluGpuTest, Bf16ProducersGpuTest's fusedSwiGlu cases). Measured
     * (bench/RESULTS.md "Run 66-fuse17", H200, off / on in one call): the prefill row 8 × 2048 nbi 458.4 → 418.0 ms device a step
     * (36,560 → 39,398 tok/s), llama-7b b1 default-mode decode device 4.345 → 4.298 ms a step.
     * {@code -Darbor.gemm.fusedSwiGlu=false}: the stacked gate|up and siluMulRows.
     */
    static final String FUSED_SWIGLU = "arbor.gemm.fusedSwiGlu";
    static final boolean FUSED_SWIGLU_DEFAULT = true;
    /** {@link #FUSED_SWIGLU} as set. */
    static boolean fusedSwiGluRequested() {
        return Boolean.parseBoolean(System.getProperty(FUSED_SWIGLU, Boolean.toString(FUSED_SWIGLU_DEFAULT)));
    }

    /** Tokens at or below which the producers keep fp32: up to 64 the plans convert on load (mma.sync) or take the small-M path. */
    static final int BF16_PRODUCERS_MIN_TOKENS = 64;
    /**
     * {@code -Darbor.gemm.bf16AttentionOut} ({@link #BF16_ATTENTION_OUT_DEFAULT} unless set), with the bf16 producers on: at steps
     * of more than {@link #BF16_PRODUCERS_MIN_TOKENS} tokens the attention writes its output in bf16 into the producers' buffer,
     * o_proj's X, and o_proj skips its conversion pass, as for the norms and SwiGLU. Every kernel such a step can launch has a
     * bf16-output twin (DecodeKernels' whole mode and fused merge, the merge launch, the cascade's warp suffix, the flash
     * one-pass, long and one-warp forms; {@code PagedAttention.writesBf16Out}: a bf16 KV store of a shape DecodeKernels serves)
     * rounding the same fp32 {@code A / L} to nearest even as the pass does, so the same bits in the default mode
     * (AttentionBf16OutTest, Bf16ProducersGpuTest). Other stores and shapes, and steps of ≤ 64 tokens: fp32 and the pass.
     * Not yet measured on the H200 (session 16's closing call: on vs off).
     */
    static final String BF16_ATTENTION_OUT = "arbor.gemm.bf16AttentionOut";
    static final boolean BF16_ATTENTION_OUT_DEFAULT = true;
    private final boolean bf16AttentionOut;           // BF16_ATTENTION_OUT on and taken by this model's shape and store
    private final BFloat16Array activationsBf16;      // (maxTokens, max(hidden, inter)) a bf16 producer's output; null when off
    private FloatArray bf16Holds;                     // the fp32 buffer whose current value is in bf16HoldsIn instead (its own rows stale), or null
    private BFloat16Array bf16HoldsIn;                // where bf16Holds' value is: activationsBf16, or swiGluBf16
    private final BFloat16Array swiGluBf16;           // (maxTokens, inter) the SwiGLU epilogue's bf16 h (its X, in activationsBf16, is read meanwhile); null unless interleaved with bf16 producers
    private final DecodeGraphs graphs;                // null: every step launched kernel by kernel
    private final CascadeGraphs cascadeGraphs;        // decode steps with groups / a handoff as graphs (CascadeGraphs.PROPERTY); null when off
    private final CudaEvent[] stepStart, stepEnd;     // around a step's kernels (device time): two pairs, alternate steps
    private final CudaEvent[] inputsStart;            // before a step's first input copy, in the pair its stepStart will take
    private boolean inputsMarked;                     // inputsStart recorded for the step markStart begins next
    private final boolean[] inputsMarkedFor = new boolean[2];
    private long stepCount;                           // steps marked so far: startId/endId say which step a pair's events hold
    private final long[] startId = new long[2], endId = {-2, -2};
    private double idleMillis = Double.NaN, copiesMillis = Double.NaN;   // the device gap before the step of deviceMillis
    private int timing;                               // the pair of the current step
    private int deferredTiming = -1;                  // the pair of a step sampled deferred whose time is not read yet, or -1
    private boolean stepTimed;                        // stepStart recorded for the current step
    private SamplingBatch feedSource;                 // asynchronous scheduling: whose sampled ids fed tokens take
    private final IntArray feedPairs;                 // (maxTokens, 2) the step's fed (token index, sample row) pairs
    private double uploadMillis, deviceMillis = Double.NaN;
    /**
     * On unless {@code -Darbor.cuda.stagedInputs=false}: the step's token inputs (tokenIds, positions, slots, seqOfToken, logitRows and
     * the cascade arrays) live in one page-locked block ({@link PinnedStaging}, {@link #STAGED_INTS} regions) and go to the
     * device with one 2D copy a step instead of one pageable copy each; cos/sin in a second block (two pinned copies). The
     * same bytes reach the same device arrays in the same stream order, so the same bits (StagedInputsGpuTest).
     * Read when a model is opened (a test may open one each way). Run 59-host14: llama3.2-1b b128 nbi decode host overhead
     * 0.294 → 0.203 ms a step (upload 0.136 → 0.081), seed workload 1 decode 1.049 → 0.823 ms.
     */
    static final String STAGED_INPUTS = PinnedStaging.PROPERTY;
    /** Regions of the staged int block, in upload order: the first 5 every step, the cascade's 3 on cascade steps. */
    static final int STAGED_INTS = 8, STAGED_EVERY_STEP = 5;
    private final PinnedStaging stagedInts, stagedAngles;   // null with -Darbor.cuda.stagedInputs=false
    private final CudaEvent inputsCopied;                   // after the last step's pinned copies (null with the property false)
    private boolean inputsInFlight;                         // inputsCopied recorded and not yet waited for

    CudaOps(CudaBackend gpu, ModelConfig config, DeviceWeights weights, StepShape shape, KvCacheDtype kvDtype,
            ComputeDtype dtype, boolean batchInvariant, boolean cudaGraphs, boolean fusion) {
        this.gpu = gpu;
        this.fusion = fusion;
        this.splitNormRows = Math.max(0, Integer.getInteger("arbor.cuda.splitNormRows", SPLIT_NORM_ROWS));
        this.normArrivals = new IntArray(Math.max(1, splitNormRows));
        gpu.toDevice(normArrivals);
        this.fusedNormRows = Boolean.parseBoolean(System.getProperty(FUSED_NORM_GEMV, String.valueOf(FUSED_NORM_GEMV_DEFAULT)))
                ? Math.max(0, Integer.getInteger("arbor.cuda.fusedNormGemvRows", FUSED_NORM_GEMV_ROWS)) : 0;
        // SMALL's 64-row column tiles of the hidden row, and one token-tile counter, a token tile of at most 16 tokens
        this.fusedNormArrivals = new IntArray(Math.max(1, ((config.hiddenSize() + 63) / 64 + 1) * ((fusedNormRows + 15) / 16)));
        gpu.toDevice(fusedNormArrivals);
        this.prologueNormRows = batchInvariant && Boolean.parseBoolean(System.getProperty(PROLOGUE_NORM, String.valueOf(PROLOGUE_NORM_DEFAULT)))
                ? Math.max(0, Math.min(16, Integer.getInteger("arbor.cuda.prologueNormRows", PROLOGUE_NORM_ROWS))) : 0;
        // SMALL's 64-row column tiles of the hidden row, one token tile of at most 16 tokens
        this.prologueArrivals = new IntArray(Math.max(1, (config.hiddenSize() + 63) / 64));
        gpu.toDevice(prologueArrivals);
        this.qkvRopeRows = batchInvariant && Boolean.parseBoolean(System.getProperty(QKV_ROPE_EPILOGUE, String.valueOf(QKV_ROPE_EPILOGUE_DEFAULT)))
                ? Math.max(0, Math.min(64, Integer.getInteger("arbor.cuda.qkvRopeEpilogueRows", QKV_ROPE_EPILOGUE_ROWS))) : 0;
        // a head group (max(64, headDim) columns) of the stacked q|k|v a counter, a token tile of at most 16 tokens (SMALL)
        int qkvCols = config.qDim() + 2 * config.kvDim(), headSpan = Math.max(64, config.headDim());
        this.qkvRopeArrivals = new IntArray(Math.max(1, (qkvCols + headSpan - 1) / headSpan * ((Math.max(1, qkvRopeRows) + 15) / 16)));
        gpu.toDevice(qkvRopeArrivals);
        this.zeroInNorm = !batchInvariant && Boolean.parseBoolean(System.getProperty(ZERO_IN_NORM, String.valueOf(ZERO_IN_NORM_DEFAULT)));
        this.dtype = dtype;
        this.batchInvariant = batchInvariant;
        this.config = config;
        this.weights = weights;
        this.shape = shape;
        int layers = config.numLayers();
        long perLayer = (long) shape.numBlocks() * config.numKvHeads() * shape.blockSize() * config.headDim();
        if (perLayer > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a layer's K store of " + perLayer + " elements is over one device array's 2^31-1: lower the KV budget");
        }
        keys = new OffHeapArray[layers];
        values = new OffHeapArray[layers];
        for (int l = 0; l < layers; l++) {
            keys[l] = kvArray(kvDtype, (int) perLayer);
            values[l] = kvArray(kvDtype, (int) perLayer);
            gpu.allocateOnDevice(keys[l]);
            gpu.allocateOnDevice(values[l]);
        }
        int n = shape.maxTokens();
        boolean alibi = config.family().positionEncoding() == Architecture.PositionEncoding.ALIBI;
        if (PinnedStaging.requested()) {
            stagedInts = new PinnedStaging(gpu.device(), new StagingLayout(STAGED_INTS, 4L * Math.max(n, shape.maxSeqs() + 1)));
            tokenIds = stagedInts.intArray(0, n);   // regions 0..4: every step; 5..7: cascade steps (see upload)
            positions = stagedInts.intArray(1, n);
            slots = stagedInts.intArray(2, n);
            seqOfToken = stagedInts.intArray(3, n);
            logitRows = stagedInts.intArray(4, n);
            keyStart = stagedInts.intArray(5, shape.maxSeqs());
            groupTokenStart = stagedInts.intArray(6, shape.maxSeqs() + 1);
            groupTokens = stagedInts.intArray(7, n);
            stagedAngles = alibi ? null : new PinnedStaging(gpu.device(), new StagingLayout(2, 4L * n * (config.headDim() / 2)));
            cos = alibi ? null : stagedAngles.floatArray(0, n * (config.headDim() / 2));
            sin = alibi ? null : stagedAngles.floatArray(1, n * (config.headDim() / 2));
            inputsCopied = new CudaEvent(gpu.device());
        } else {
            stagedInts = stagedAngles = null;
            inputsCopied = null;
            tokenIds = new IntArray(n);
            positions = new IntArray(n);
            slots = new IntArray(n);
            seqOfToken = new IntArray(n);
            logitRows = new IntArray(n);
            keyStart = new IntArray(shape.maxSeqs());
            groupTokens = new IntArray(n);
            groupTokenStart = new IntArray(shape.maxSeqs() + 1);
            cos = alibi ? null : new FloatArray(n * (config.headDim() / 2));
            sin = alibi ? null : new FloatArray(n * (config.headDim() / 2));
        }
        blockTables = new IntArray(shape.maxSeqs() * shape.maxBlocksPerSeq());
        gpu.toDevice(tokenIds, positions, slots, seqOfToken, logitRows, blockTables, keyStart, groupTokens, groupTokenStart);
        if (!alibi) gpu.toDevice(cos, sin);
        angles = alibi ? null : new RopeAngles(gpu, new Rope(config.rope(), config.headDim(), config.dtype()),
                shape.maxBlocksPerSeq() * shape.blockSize());
        slopes = alibi ? FloatArray.of(Alibi.slopes(config.numHeads())) : null;
        if (alibi) gpu.toDevice(slopes);
        int maxContext = shape.maxBlocksPerSeq() * shape.blockSize();
        cascade = batchInvariant ? null
                : new CascadeAttention(config.numHeads(), config.numKvHeads(), config.headDim(), shape.blockSize(), maxContext, maxContext, shape.maxSeqs());
        attention = cascade != null ? cascade.paged()
                : new PagedAttention(config.numHeads(), config.numKvHeads(), config.headDim(), shape.blockSize(), maxContext, shape.maxSeqs());
        // --no-batch-invariance: launches of few work-groups (batch 1 at a short context) split every NARROW_SPLIT keys
        // (-Darbor.paged.narrowSplit, 0 = off; PagedAttention.narrowSplits: a batch-dependent split, so never in the default mode);
        // on by default where measured, one query head a kv head (Llama-2-7B's shape)
        if (!batchInvariant) {
            attention.narrowSplits(Integer.getInteger("arbor.paged.narrowSplit", config.numHeads() == config.numKvHeads() ? NARROW_SPLIT : 0));
        }
        flashBelow = batchInvariant ? Integer.getInteger("arbor.cuda.flashBelow", FLASH_BELOW) : 0;
        nbiFlashBelow = batchInvariant ? 0 : Integer.getInteger("arbor.cuda.nbiFlashBelow",
                config.numHeads() / config.numKvHeads() >= NBI_FLASH_MIN_GROUP ? FLASH_BELOW : 0);
        prefill = (!batchInvariant || flashBelow > 0) && kvDtype != KvCacheDtype.FP32
                && FlashPrefillAttention.supports(config.numHeads(), config.numKvHeads(), config.headDim())
                ? new FlashPrefillAttention(config.numHeads(), config.numKvHeads(), config.headDim(), shape.blockSize(), n, shape.maxSeqs()) : null;
        if (prefill != null) prefill.toDevice(gpu);
        String earlyTrigger = System.getProperty(EARLY_TRIGGER, String.valueOf(EARLY_TRIGGER_DEFAULT));
        boolean splitOverlap = CudaModelBackend.PDL && Boolean.parseBoolean(System.getProperty(SPLIT_OVERLAP, String.valueOf(SPLIT_OVERLAP_DEFAULT)));
        boolean gemmEarlyTrigger = CudaModelBackend.PDL && Boolean.parseBoolean(System.getProperty(GEMM_EARLY_TRIGGER, earlyTrigger));
        if (prefill != null) prefill.setSplitOverlap(splitOverlap);
        if (prefill != null && Boolean.parseBoolean(System.getProperty(SPLIT_ALWAYS, "false"))) prefill.setMinWarpWalks(Integer.MAX_VALUE);
        // the cascade as a state handoff (batch-invariant mode: every step with groups; without invariance: the prefill/mixed
        // steps with groups, nbiHandoff): (maxTokens, heads, headDim + 2) fp32, 17 MB per 1,024 tokens at llama-7b
        handoffState = prefill != null
                ? FloatArray.deviceOnly(Math.multiplyExact(n, config.numHeads() * FlashPrefillKernels.stateStride(config.headDim()))) : null;
        if (handoffState != null) {
            gpu.allocateOnDevice(handoffState);
            prefill.useHandoffState(handoffState);
        }
        sampler = new DeviceSampler(gpu, shape.maxSeqs(), config.vocabSize());
        gemm = dtype == ComputeDtype.BFLOAT16 ? new Gemm(gpu) : null;
        if (gemm != null) {
            gemm.earlyTrigger(gemmEarlyTrigger);
            int maxM = Math.max(shape.maxTokens(), shape.maxLogitRows());
            gemm.reserve(maxM, Math.max(config.intermediateSize(), Math.max(config.hiddenSize(), config.qDim())));
            int h = config.hiddenSize(), inter = config.intermediateSize();
            // the slab scratch for the largest (slices × M × n) of the model's projections
            for (int[] nk : new int[][] {{config.qDim(), h}, {config.kvDim(), h}, {h, config.qDim()}, {inter, h}, {h, inter}, {config.vocabSize(), h},
                    {config.qDim() + 2 * config.kvDim(), h}, {2 * inter, h}}) {
                gemm.reserveSlabs(maxM, nk[0], nk[1]);
            }
        }
        boolean bf16X = bf16ProducersRequested() && gemm != null && gemm.tma() && fusion && weights.projectionsBf16();
        activationsBf16 = bf16X ? BFloat16Array.deviceOnly(Math.toIntExact(bf16ProducerBytesPerToken(config) / 2 * n)) : null;
        if (activationsBf16 != null) gpu.allocateOnDevice(activationsBf16);
        bf16AttentionOut = activationsBf16 != null
                && Boolean.parseBoolean(System.getProperty(BF16_ATTENTION_OUT, Boolean.toString(BF16_ATTENTION_OUT_DEFAULT)))
                && attention.writesBf16Out(keys[0]) && config.qDim() % 8 == 0
                && config.qDim() <= Math.max(config.hiddenSize(), config.intermediateSize());   // the buffer's row
        swiGluBf16 = activationsBf16 != null && weights.gateUpInterleaved()
                ? BFloat16Array.deviceOnly(Math.multiplyExact(n, config.intermediateSize())) : null;
        if (swiGluBf16 != null) gpu.allocateOnDevice(swiGluBf16);
        int fusedCols = fusedOutputCols(config, weights.fusedQkv(), weights.fusedGateUp());
        fusedOut = fusedCols == 0 ? null : allocate(n, fusedCols);
        readBack = new FloatArray(Math.max(config.vocabSize(), Math.max(config.hiddenSize(), config.intermediateSize())));
        // a capture may not upload: every scratch array goes to the device now (the GEMM's in reserve above)
        attention.toDevice(gpu);
        graphs = cudaGraphs ? new DecodeGraphs(gpu, Math.min(shape.maxSeqs(), shape.maxTokens()), shape.maxBlocksPerSeq() * shape.blockSize()) : null;
        cascadeGraphs = cudaGraphs && CascadeGraphs.requested() ? new CascadeGraphs(gpu, gemm == null ? () -> 0L : gemm::captureFallbacks) : null;
        stepStart = new CudaEvent[] {new CudaEvent(gpu.device()), new CudaEvent(gpu.device())};
        stepEnd = new CudaEvent[] {new CudaEvent(gpu.device()), new CudaEvent(gpu.device())};
        inputsStart = new CudaEvent[] {new CudaEvent(gpu.device()), new CudaEvent(gpu.device())};
        feedPairs = new IntArray(2 * shape.maxTokens());
        gpu.toDevice(feedPairs);
    }

    /**
     * A decode step (one token per sequence) pads to its bucket and replays the bucket's CUDA graph (captured on the
     * bucket's first step); any other step uploads and launches kernel by kernel. The inputs are copied into the same
     * buffers either way, before any kernel of the step. Steps with cascade groups (or, batch-invariant, a state handoff)
     * launch eagerly: their launch sizes (groups, shared lengths) change from step to step; with
     * {@code -Darbor.cuda.cascadeGraphs=true} the decode ones are captured afresh each step and replayed ({@link CascadeGraphs}).
     */
    @Override
    public void step(ForwardBatch b, java.util.function.Consumer<ForwardBatch> launches) {
        if (graphs == null || !b.isDecode() || cascade(b) || handoff(b)) {
            upload(b);
            markStart();
            feed(b);
            if (cascadeGraphs != null && b.isDecode() && graphs.enabled()) cascadeGraphs.run(() -> launches.accept(b));
            else launches.accept(b);
            return;
        }
        int bucket = graphs.bucket(b.numSeqs()), contextBucket = graphs.contextBucket(b.maxContextLen());
        b.padDecode(graphs.rows(bucket));
        try {
            upload(b);
            markStart();
            feed(b);
            graphs.run(bucket, contextBucket, () -> launches.accept(b));
        } finally {
            b.unpad();
        }
    }

    /**
     * Asynchronous scheduling: the tokens {@code b} takes from the previous step's samples ({@link ForwardBatch#addFeed}) copied
     * into the uploaded ids on the device, behind that step's sampling kernels and before this step's first read of them
     * (one small launch outside the decode graph; the pairs go up as one pageable copy).
     */
    private void feed(ForwardBatch b) {
        int n = b.numFeeds();
        if (n == 0) return;
        if (feedSource == null) return;   // wrapped (ProfiledOps): the forward pass fed them on the host, from synchronous samples
        MemorySegment.copy(b.feedArray(), 0, feedPairs.segment(), ValueLayout.JAVA_INT, 0, 2 * n);
        buffer(feedPairs).uploadAsync(feedPairs.segment(), 0, 8L * n, MemorySegment.NULL);
        TokenOps.feedTokens(gpu, tokenIds, feedSource.tokenArray(), feedPairs, n, b.numTokens(), feedSource.capacity());
    }

    @Override public boolean feedsOnDevice() { return true; }

    @Override public void feedFrom(SamplingBatch sampled) { this.feedSource = sampled; }

    private void markStart() {
        timing ^= 1;
        stepStart[timing].record(null);
        stepTimed = true;
        deviceMillis = idleMillis = copiesMillis = Double.NaN;
        startId[timing] = ++stepCount;
        inputsMarkedFor[timing] = inputsMarked;
        inputsMarked = false;
    }

    /**
     * The device gap before the step whose events are pair {@code q} (its end already waited for): idle from the previous
     * step's end event to this step's first input copy, where that end is still in the other pair, and the copies from there to
     * its first kernel. The other pair's end is re-recorded only after this step's ids are read, so it is the previous step's.
     */
    private void readGap(int q) {
        int p = q ^ 1;
        idleMillis = inputsMarkedFor[q] && endId[p] == startId[q] - 1 ? inputsStart[q].millisSince(stepEnd[p]) : Double.NaN;
        copiesMillis = inputsMarkedFor[q] ? stepStart[q].millisSince(inputsStart[q]) : Double.NaN;
    }

    @Override public double[] lastGapMillis() { return new double[] {idleMillis, copiesMillis}; }

    @Override public double lastUploadMillis() { return uploadMillis; }

    @Override public double lastDeviceMillis() { return deviceMillis; }

    @Override public long graphReplays() { return graphs == null ? 0 : graphs.replays(); }

    @Override public long cascadeGraphReplays() { return cascadeGraphs == null ? 0 : cascadeGraphs.counts()[0]; }

    @Override public boolean stepReturnsEarly() { return true; }   // launches and graph replays are queued on the stream

    private static OffHeapArray kvArray(KvCacheDtype dtype, int length) {
        return switch (dtype) {
            case BF16 -> BFloat16Array.deviceOnly(length);
            case FP16 -> HalfFloatArray.deviceOnly(length);
            case FP32 -> FloatArray.deviceOnly(length);
        };
    }

    @Override
    public FloatArray allocate(int rows, int cols) {
        FloatArray a = FloatArray.deviceOnly(Math.multiplyExact(rows, cols));
        gpu.allocateOnDevice(a);
        return a;
    }

    @Override
    public void upload(ForwardBatch b) {
        long t0 = System.nanoTime();
        int n = b.numTokens();
        inputsStart[timing ^ 1].record(null);   // the pair markStart takes next: the gap before the step, read with its device time
        inputsMarked = true;
        if (inputsInFlight) {   // the pinned arrays are read by the copy engine until their copies have run
            inputsCopied.synchronize();
            inputsInFlight = false;
        }
        put(tokenIds, b.tokenIdArray(), n);
        put(positions, b.positionArray(), n);
        put(slots, b.slotMappingArray(), n);
        put(seqOfToken, b.seqOfTokenArray(), n);
        put(logitRows, b.logitRowArray(), b.numLogitRows());
        putChangedRows(blockTables, b.blockTableArray(), b.numSeqs(), shape.maxBlocksPerSeq(), b.contextLenArray());
        boolean cascadeStep = cascade(b);
        if (cascadeStep) {
            put(keyStart, b.keyStartArray(), b.numSeqs());
            put(groupTokenStart, b.groupTokenStartArray(), b.numCascadeGroups() + 1);
            put(groupTokens, b.groupTokenArray(), b.groupTokenStartArray()[b.numCascadeGroups()]);
            // the suffix launch's grid: the most 256-key splits of own (unshared) keys any token has (1 at the seed workloads'
            // ~37 own keys, where the context would give 3; same bits as the wider grid, run 26-attn4)
            int[] pos = b.positionArray(), seqOf = b.seqOfTokenArray(), start = b.keyStartArray();
            int most = 0;
            for (int t = 0; t < b.numTokens(); t++) most = Math.max(most, CascadeAttention.ownSplits(pos[t], start[seqOf[t]]));
            maxOwnSplits = most;
        }
        if (stagedInts != null) {   // one copy for the arrays put above, before anything on the stream reads them (angles' gathers)
            int width = Math.max(n, b.numLogitRows());
            if (cascadeStep) width = Math.max(width, Math.max(b.numSeqs(), b.numCascadeGroups() + 1));
            stagedInts.upload(4L * width, cascadeStep ? STAGED_INTS : STAGED_EVERY_STEP, MemorySegment.NULL);
        }
        // the CPU's cos/sin values exactly (Rope.fill's float32 angles, by position), so RoPE rounds as on the CPU path
        if (angles != null) angles.fill(gpu, b.positionArray(), n, positions, cos, sin);
        if (prefill != null) {
            belowPlanned = batchInvariant || nbiFlashDecode(b);
            belowBound = batchInvariant ? flashBelow : nbiFlashBelow;
            if (belowPlanned) prefill.planBelow(gpu, b.queryStartArray(), b.positionArray(), b.numSeqs(), belowBound);
            else prefill.plan(gpu, b.queryStartArray(), b.numSeqs(), nbiHandoff(b) ? 1 : PREFILL_MIN_TOKENS);
            // after a step with groups this clears the handed-off tiles (a graph replay must find them 0)
            if (handoffState != null) {
                prefill.planHandoff(gpu, b.seqOfTokenArray(), b.keyStartArray(), b.groupTokenArray(), b.groupTokenStartArray(),
                        batchInvariant || nbiHandoff(b) ? b.numCascadeGroups() : 0, b.numTokens());
            }
        }
        if (inputsCopied != null) {
            inputsCopied.record(null);
            inputsInFlight = true;
        }
        uploadMillis = (System.nanoTime() - t0) / 1e6;
    }

    /** Without batch invariance, a sequence with at least this many new tokens in a step takes the tensor-core prefill kernel. */
    static final int PREFILL_MIN_TOKENS = 2;

    /**
     * Without batch invariance: whether a decode step goes through the tensor-core kernel as the default mode's decode steps
     * do ({@link FlashPrefillAttention#planBelow} with bound {@code -Darbor.cuda.nbiFlashBelow=N}, {@link #FLASH_BELOW} by
     * default at G = heads / kvHeads ≥ {@link #NBI_FLASH_MIN_GROUP}, 0 (never) below; tokens past the bound through the paged
     * kernel first). Evaluated on the padded batch, so a graph bucket always takes the same launches.
     */
    private boolean nbiFlashDecode(ForwardBatch b) {
        return !batchInvariant && nbiFlashBelow > 0 && b.isDecode() && !cascade(b)
                && nbiFlashDecodePays(config.numHeads() / config.numKvHeads(), b.numSeqs(), config.numKvHeads(), gpu.multiprocessors());
    }

    /**
     * The rule of {@link #nbiFlashDecode} by shape: a decode step of {@code seqs} sequences takes the tensor-core kernel at
     * G ≥ {@link #NBI_FLASH_MIN_GROUP} query heads a kv head, where its tiles are one warp each ({@code seqs × kvHeads ≥}
     * {@link FlashPrefillAttention#WARP_WAVES} {@code × sms} walks, the one-warp kernel's range; one decode token fills G of
     * the tile's 16 mma rows). There QKᵀ and P·V run on the tensor cores; the CUDA-core paged kernel does 4 FMAs a key and
     * dim per kv head at G = 4 and was measured instruction-bound at ~50% of the copy rate (runs 48-gqa10, 53-gqa11).
     * At G = 1 the one-warp tiles were measured 1.2-2.3x slower than the paged kernel (run 43-dec9), hence the bound on G.
     */
    static boolean nbiFlashDecodePays(int group, int seqs, int kvHeads, int sms) {
        return group >= NBI_FLASH_MIN_GROUP && group <= FlashPrefillKernels.WARP_ROWS
                && (long) seqs * kvHeads >= (long) FlashPrefillAttention.WARP_WAVES * sms;
    }

    /** The fewest query heads a kv head for {@link #nbiFlashDecodePays} (GQA-4: Llama-3.2-1B, Llama-3-8B). */
    static final int NBI_FLASH_MIN_GROUP = 4;

    /**
     * Without batch invariance: whether a step runs its cascade groups as the default mode's state handoff (the shared pass
     * over each group's shared key tiles once for all its tokens, then each sequence's own tiles; every token of the step,
     * decodes too, through the tensor-core kernel) rather than the log-sum-exp cascade. True for a step with groups and a
     * prefill chunk (more tokens than sequences: {@link #prefillsWithGroups}); a decode step with groups keeps the cascade
     * ({@link CascadeAttention}: its warp suffix is faster at one token a sequence).
     */
    private boolean nbiHandoff(ForwardBatch b) {
        return !batchInvariant && handoffState != null && prefillsWithGroups(b.numCascadeGroups(), b.numTokens(), b.numSeqs());
    }

    /**
     * A step with cascade groups and a prefill chunk (more new tokens than sequences, every sequence having one or more).
     * Before, such a step took the tensor-core kernel for its chunks with no shared pass (each of seed workload 2's ~73
     * suffix chunks a step walked all 13 key tiles of its 780 keys, the 752 shared ones read once per sequence) and the
     * paged kernel for its decodes: its prefill/mixed steps took 69.8-70.9 ms on the device against the default mode's
     * 64.3 (runs 50/52), whose handoff walks the shared tiles once.
     */
    static boolean prefillsWithGroups(int groups, int tokens, int seqs) {
        return groups > 0 && tokens > seqs;
    }

    /**
     * Batch-invariant mode: tokens at positions below this bound take the tensor-core kernel, the others the paged one
     * (split over the context: one tensor-core work-group per (sequence, kv head) walks all of a long context alone).
     * {@code -Darbor.cuda.flashBelow=N} sets it (0: every token through the paged kernel). 1,024 by default since the
     * cascade runs as a state handoff in this mode (run 39-handoff: seed workload 1 0.612 → 0.550 s, workload 2 2.807 →
     * 2.093 s, their prefill/mixed steps 1.6-1.8x faster, decode steps within ±6%). Alone, run 36-invattn measured workload
     * 2's decode steps 43.5 → 91.1 ms with every token on this kernel, and run 39-bm16's one-warp (16-row) tiles (same bits)
     * cut a workload-2 decode layer only 2.16 → 1.90 ms (paged kernel 0.69): the cost is one work-group walking all of a
     * row's key tiles in order, not only the 64-row tile's idle mma rows. The handoff's shared pass walks a cascade group's
     * shared tiles once for all its tokens (stacked as the rows of one tile set), which leaves each sequence's own pass one
     * or two tiles. The bound keeps a lone long-context decode (one work-group per kv head walking every tile) on the split
     * paged kernel: batch-1 decode at a 1,984-token prompt measured 6.66 ms a step with every token below the bound against
     * 4.87 ms on the paged kernel (run 39-handoff; same at a 128-token prompt, 4.79 ms), after a 4,000-token prompt 71.9
     * against 190.6 tok/s (run 39-bm16); 1,024 still covers both seed workloads (contexts up to 810).
     */
    static final int FLASH_BELOW = 1024;

    /** Copies {@code host[0 .. n)} into {@code a}'s host memory and its device buffer. */
    private void put(IntArray a, int[] host, int n) {
        if (n == 0) return;
        MemorySegment.copy(host, 0, a.segment(), ValueLayout.JAVA_INT, 0, n);
        if (stagedInts != null) return;   // the staged block goes in one copy (upload)
        // queued on the default stream before the step's kernels (and graph replay); the driver stages pageable memory
        // before returning, so the host array is free again at once, and the host does not wait for each copy to land
        buffer(a).uploadAsync(a.segment(), 0, 4L * n, MemorySegment.NULL);
    }

    /**
     * As {@link #put} for (rows, width) ints whose host memory mirrors the device buffer (true of the block tables: uploaded
     * whole at construction, then only through here): copies only the span of rows that changed since ({@link ChangedRows}).
     */
    private void putChangedRows(IntArray a, int[] host, int rows, int width, int[] contextLens) {
        int[] span = ChangedRows.span(host, a.segment(), rows, width, contextLens, shape.blockSize());
        if (span == null) return;
        long at = 4L * span[0] * width, bytes = 4L * (span[1] - span[0]) * width;
        MemorySegment.copy(MemorySegment.ofArray(host), at, a.segment(), at, bytes);
        buffer(a).uploadAsync(a.segment().asSlice(at, bytes), at, bytes, MemorySegment.NULL);
    }

    private static DeviceBuffer buffer(OffHeapArray a) {
        return (DeviceBuffer) a.deviceMirror();
    }

    @Override
    public void embed(Matrix table, ForwardBatch b, FloatArray out) {
        TokenOps.embedding(gpu, tokenIds, weights.of(table), out, b.numTokens(), table.cols());
    }

    @Override
    public void rmsNorm(FloatArray x, int rows, int n, float[] weight, double eps, FloatArray out) {
        if (out == pendingXn) pendingXn = null;   // overwritten: a norm left pending by a step that did not finish is void
        fp32(x);
        if (out != x && producesBf16(rows)) {   // out != x: not the final norm (in place, and read by copyRows)
            int qkvN = config.qDim() + 2 * config.kvDim();
            if (zeroInNorm && fusedOut != null && weights.fusedQkv() && gemm != null && Gemm.atomicSplitK(plan(rows, qkvN, config.hiddenSize()))) {
                // the next q|k|v GEMM adds its K slices into these rows (a norm before gate|up zeroes them for nothing)
                gpu.launch(RMS_NORM_BF16_ZERO, Launch.of1D(rows, LayerKernels.NORM_GROUP), x, weights.of(weight), activationsBf16, n, eps, fusedOut, qkvN);
                fusedOutZeroedRows = rows;
            } else gpu.launch(RMS_NORM_BF16, Launch.of1D(rows, LayerKernels.NORM_GROUP), x, weights.of(weight), activationsBf16, n, eps);
            holdBf16(out, activationsBf16);
            return;
        }
        gpu.launch(RMS_NORM, Launch.of1D(rows, LayerKernels.NORM_GROUP), x, weights.of(weight), out, n, eps);
        written(out);
    }

    /** Whether a producer of {@code rows} rows for a GEMM writes bf16 ({@link #BF16_PRODUCERS}). */
    private boolean producesBf16(int rows) {
        return activationsBf16 != null && rows > BF16_PRODUCERS_MIN_TOKENS;
    }

    /** {@code a}'s current value is in {@code in} (bf16) instead of its own rows. */
    private void holdBf16(FloatArray a, BFloat16Array in) {
        bf16Holds = a;
        bf16HoldsIn = in;
    }

    /** {@code a} was written in fp32: its bf16 stand-in, if any, is gone. */
    private void written(FloatArray a) {
        if (a == bf16Holds) bf16Holds = null;
        if (a == fusedOut) fusedOutZeroedRows = -1;
    }

    /** Checks that {@code a}'s fp32 rows are current (not held in bf16 by a producer): only the GEMMs read the bf16 copy. */
    private FloatArray fp32(FloatArray a) {
        if (a != null && a == bf16Holds) throw new IllegalStateException("activations held in bf16 (arbor.gemm.bf16Producers) read as fp32");
        return a;
    }

    /** Where {@code x}'s current value is in bf16 instead of its own rows ({@link #holdBf16}), or null. */
    private BFloat16Array bf16Of(FloatArray x) {
        return x == bf16Holds ? bf16HoldsIn : null;
    }

    /** The GEMM of X = {@code x}, or of its bf16 copy where a producer wrote that instead ({@link #BF16_PRODUCERS}); the same plan, the same bits. */
    private void gemm(FloatArray x, int rows, BFloat16Array w, int n, int k, FloatArray out, boolean accumulate, Gemm.Plan p) {
        BFloat16Array xBf16 = bf16Of(x);
        if (xBf16 != null) gemm.matmul(xBf16, rows, w, n, k, out, accumulate, p);
        else gemm.matmul(x, rows, w, n, k, out, accumulate, p);
        written(out);
    }

    /** As {@link #gemm} for {@code Gemm.matmulPartial}. */
    private Gemm.Partial gemmPartial(FloatArray x, int rows, BFloat16Array w, int n, int k, FloatArray out, Gemm.Plan p) {
        BFloat16Array xBf16 = bf16Of(x);
        Gemm.Partial r = xBf16 != null ? gemm.matmulPartial(xBf16, rows, w, n, k, out, p) : gemm.matmulPartial(x, rows, w, n, k, out, p);
        written(out);
        return r;
    }

    /**
     * bfloat16: the tensor-core GEMM for bf16 weights whose width is a multiple of 8; batch-invariant by
     * default (K slices chosen from the weight's shape only, added in a fixed order: {@code Gemm.invariantPlan}),
     * split-K with atomics sized by the batch when invariance was turned off. float32, fp16/fp32 weights and odd widths: the CUDA-core
     * matvec, one warp per (token, row), float32 activations.
     */
    @Override
    public void matmul(FloatArray x, int rows, Matrix w, FloatArray out) {
        OffHeapArray wa = weights.of(w);
        if (gemm != null && wa instanceof BFloat16Array bw && w.cols() % 8 == 0) {
            Gemm.Plan plan = batchInvariant ? gemm.invariantPlan(rows, w.rows(), w.cols(), true)
                    : gemm.plan(rows, w.rows(), w.cols(), true, true);
            gemm(x, rows, bw, w.rows(), w.cols(), out, false, plan);   // not overlapping: lm_head may follow a device copy (copyRows)
            return;
        }
        fp32(x);
        written(out);
        Launch l = Launch.cover(32 * w.rows() * rows, MatvecKernels.BLOCK);
        switch (wa) {
            case BFloat16Array bf -> gpu.launch(MATVEC_BF16, l, bf, x, out, w.rows(), w.cols(), rows);
            case HalfFloatArray h -> gpu.launch(MATVEC_F16, l, h, x, out, w.rows(), w.cols(), rows);
            case FloatArray f -> gpu.launch(MATVEC_F32, l, f, x, out, w.rows(), w.cols(), rows);
            default -> throw new IllegalStateException("no matmul for weights of type " + wa.getClass().getSimpleName());
        }
    }

    /** Columns of the fused GEMMs' output buffer: the wider of q|k|v and gate|up where fused (one buffer: never live at once), else 0. */
    static int fusedOutputCols(ModelConfig c, boolean fusedQkv, boolean fusedGateUp) {
        return Math.max(fusedQkv ? c.qDim() + 2 * c.kvDim() : 0, fusedGateUp ? 2 * c.intermediateSize() : 0);
    }

    /**
     * The GEMM plan of an (n, k) weight at {@code rows} tokens; the stacked projections too take the invariant plan of their
     * stacked shape (fewer K slices as N grows: 2 for Llama-2-7B's q|k|v where q alone takes 5, 1 for gate|up where gate
     * takes 2). Giving them their first part's slices instead (the separate GEMMs' blocks) was measured no faster without
     * PDL (6.03 vs 6.04 ms device per decode step) and slower with it (6.84 vs 5.35 ms): run 23-perf2.
     */
    private Gemm.Plan plan(int rows, int n, int k) {
        return batchInvariant ? gemm.invariantPlan(rows, n, k, true) : gemm.plan(rows, n, k, true, true);
    }

    /**
     * Runs a fused stage's GEMM launched overlapping the kernel before it ({@code Gemm.overlapPrevious}, with
     * {@link CudaModelBackend#GEMM_PDL}): it streams its first K tiles of weights while that kernel (a norm, SwiGLU, the
     * attention) finishes. Only here: these GEMMs always follow a kernel on the stream, never a copy.
     */
    private <T> T overlapping(java.util.function.Supplier<T> gemmCall) {
        gemm.overlapPrevious(CudaModelBackend.GEMM_PDL);
        try {
            return gemmCall.get();
        } finally {
            gemm.overlapPrevious(false);
        }
    }

    @Override public boolean fusedQkv() { return weights.fusedQkv(); }

    @Override public boolean fusedGateUp() { return weights.fusedGateUp(); }

    /**
     * Stacked q|k|v weights: one GEMM (N = q + 2 kv) whose output, K slices still unsummed under the batch-invariant plan,
     * goes through one kernel that adds the slices, rotates q and k and stores k and v ({@link FusedOps#qkvRopeStore}):
     * 2 launches where the composition takes 3 GEMMs (6 launches with their slice sums), 2 ropes and the KV write. The same
     * arithmetic as the composition; the bits differ from it only by the GEMM's K slices, which depend on N (and never on
     * the batch). Unfused models (q/k norm, non-bf16 weights): the composition.
     */
    @Override
    public void qkvRopeStore(int layer, LayerWeights lw, FloatArray xn, int tokens, ForwardBatch b, ModelConfig c, FloatArray q, FloatArray k,
                             FloatArray v) {
        boolean prologue = takePendingNorm(xn, tokens);
        int zeroedRows = fusedOutZeroedRows;   // taken here by this product or by none
        fusedOutZeroedRows = -1;
        if (!weights.fusedQkv()) {
            if (prologue) settle(xn, tokens);
            Ops.super.qkvRopeStore(layer, lw, xn, tokens, b, c, q, k, v);
            return;
        }
        int n = c.qDim() + 2 * c.kvDim(), h = c.hiddenSize();
        if (tokens <= qkvRopeRows && (prologue || bf16Of(xn) == null)) {
            Gemm.Plan plan = plan(tokens, n, h);
            if (Gemm.qkvRopeEpilogue(plan, c.headDim()) && Gemm.qkvRopeArrivals(plan, tokens, n, c.headDim()) <= qkvRopeArrivals.length()
                    && overlapping(() -> prologue
                    ? gemm.matmulNormQkvRope(pendingX, weights.of(pendingNorm), pendingEps, tokens, weights.qkv(lw), n, h, plan, fusedOut, q,
                            keys[layer], values[layer], cos, sin, slots, c.numHeads(), c.numKvHeads(), c.headDim(), shape.blockSize(), qkvRopeArrivals)
                    : gemm.matmulQkvRope(xn, tokens, weights.qkv(lw), n, h, plan, fusedOut, q, keys[layer], values[layer], cos, sin,
                            slots, c.numHeads(), c.numKvHeads(), c.headDim(), shape.blockSize(), qkvRopeArrivals))) {
                written(fusedOut);
                return;
            }
        }
        Gemm.Partial p = prologue ? overlapping(() -> gemm.matmulNormPartial(pendingX, weights.of(pendingNorm), pendingEps, tokens, weights.qkv(lw),
                n, h, fusedOut, plan(tokens, n, h))) : null;
        if (p == null) {
            if (prologue) settle(xn, tokens);
            Gemm.Plan plan = plan(tokens, n, h);
            BFloat16Array xBf16 = bf16Of(xn);
            if (zeroedRows == tokens && xBf16 != null && Gemm.atomicSplitK(plan)) {   // the norm that wrote X zeroed C's rows
                p = overlapping(() -> gemm.matmulPartialIntoZeroed(xBf16, tokens, weights.qkv(lw), n, h, fusedOut, plan));
                written(fusedOut);
            } else p = overlapping(() -> gemmPartial(xn, tokens, weights.qkv(lw), n, h, fusedOut, plan));
        } else written(fusedOut);
        FusedOps.qkvRopeStore(gpu, p.sums(), p.slices(), q, keys[layer], values[layer], cos, sin, slots, tokens, c.numHeads(), c.numKvHeads(),
                c.headDim(), shape.blockSize(), CudaModelBackend.PDL);
    }

    /** Stacked gate|up weights: one GEMM (N = 2 inter), then one kernel adds its slices and applies SwiGLU ({@link FusedOps#siluMulRows}). */
    @Override
    public void gateUpSilu(FloatArray xn, int tokens, Matrix gate, Matrix up, FloatArray out, FloatArray upBuffer) {
        boolean prologue = takePendingNorm(xn, tokens);
        int n = 2 * gate.rows(), h = gate.cols();
        if (prologue && weights.fusedGateUp() && weights.gateUpInterleaved()
                && overlapping(() -> gemm.matmulNormSwiGlu(pendingX, weights.of(pendingNorm), pendingEps, tokens, weights.gateUp(gate), n, h, out,
                        plan(tokens, n, h)))) {
            written(out);
            return;
        }
        if (prologue) settle(xn, tokens);
        if (!weights.fusedGateUp()) {
            Ops.super.gateUpSilu(xn, tokens, gate, up, out, upBuffer);
            return;
        }
        if (weights.gateUpInterleaved()) {
            gateUpSiluInterleaved(xn, tokens, gate, out, n, h);
            return;
        }
        Gemm.Partial p = overlapping(() -> gemmPartial(xn, tokens, weights.gateUp(gate), n, h, fusedOut, plan(tokens, n, h)));
        if (producesBf16(tokens)) {   // its one reader: down, a TMA GEMM at these tokens
            FusedOps.siluMulRows(gpu, p.sums(), p.slices(), activationsBf16, tokens, gate.rows(), CudaModelBackend.PDL);
            holdBf16(out, activationsBf16);
            return;
        }
        FusedOps.siluMulRows(gpu, p.sums(), p.slices(), out, tokens, gate.rows(), CudaModelBackend.PDL);
        written(out);
    }

    /**
     * {@link #gateUpSilu} on the interleaved gate|up ({@link #FUSED_SWIGLU}): the GEMM with the SwiGLU epilogue where the plan
     * has it ({@code Gemm.matmulSwiGlu}: one launch, h written as the tiles finish), else the GEMM into {@link #fusedOut} and
     * {@link FusedOps#siluMulRowsInterleaved}. h in bf16 above {@link #BF16_PRODUCERS_MIN_TOKENS} tokens (the producers): into
     * {@link #swiGluBf16}, since X may be in activationsBf16, read by other tiles while h is written.
     */
    private void gateUpSiluInterleaved(FloatArray xn, int tokens, Matrix gate, FloatArray out, int n, int h) {
        BFloat16Array w = weights.gateUp(gate);
        Gemm.Plan plan = plan(tokens, n, h);
        boolean bf16 = producesBf16(tokens);   // then swiGluBf16 exists (the producers' buffer and the interleaved weight)
        OffHeapArray target = bf16 ? swiGluBf16 : out;
        BFloat16Array xBf16 = bf16Of(xn);
        boolean fused = overlapping(() -> xBf16 != null ? gemm.matmulSwiGlu(xBf16, tokens, w, n, h, target, plan)
                : gemm.matmulSwiGlu(xn, tokens, w, n, h, target, plan));
        if (!fused) {
            Gemm.Partial p = overlapping(() -> gemmPartial(xn, tokens, w, n, h, fusedOut, plan));
            FusedOps.siluMulRowsInterleaved(gpu, p.sums(), p.slices(), target, tokens, gate.rows(), CudaModelBackend.PDL);
        }
        if (bf16) holdBf16(out, swiGluBf16);
        else written(out);
    }

    /**
     * With fusion on, a bf16 projection whose plan leaves K slices ({@code Gemm.invariantPlan}'s slabs) and a norm to
     * follow: the GEMM, then one kernel adds the slices into x and normalises ({@link FusedOps#addRmsNorm}); any other
     * plan accumulates into x in the GEMM itself ({@code x + Σ} as the add kernel computes it; the slices' sum kernel or the
     * epilogue adds), then the RMSNorm. 2 launches where the composition takes 4.
     */
    @Override
    public void matmulAddNorm(FloatArray in, int tokens, Matrix w, FloatArray proj, FloatArray x, float[] norm, double eps, FloatArray xn) {
        OffHeapArray wa = weights.of(w);
        if (!fusion || gemm == null || !(wa instanceof BFloat16Array bw) || w.cols() % 8 != 0) {
            Ops.super.matmulAddNorm(in, tokens, w, proj, x, norm, eps, xn);
            return;
        }
        settlePendingNorm();
        int n = w.rows(), k = w.cols();
        Gemm.Plan p = plan(tokens, n, k);
        if (norm != null && tokens <= prologueNormRows && bf16Of(in) == null && Gemm.addNormEpilogue(p)
                && Gemm.addSlabsArrivals(p, tokens, n) <= prologueArrivals.length() && nextProjectionsTakeTheNorm(tokens, n)
                && overlapping(() -> gemm.matmulAddSlabs(in, tokens, bw, n, k, p, x, prologueArrivals))) {
            written(x);
            written(xn);
            pendingXn = xn;
            pendingX = x;
            pendingNorm = norm;
            pendingEps = eps;
            pendingTokens = tokens;
            return;
        }
        if (norm == null || !p.slabs()) {
            overlapping(() -> { gemm(in, tokens, bw, n, k, x, true, p); return null; });
            if (norm != null) rmsNorm(x, tokens, n, norm, eps, xn);
            return;
        }
        if (tokens <= fusedNormRows && bf16Of(in) == null && Gemm.addNormEpilogue(p)
                && Gemm.addNormArrivals(p, tokens, n) <= fusedNormArrivals.length()
                && overlapping(() -> gemm.matmulAddNorm(in, tokens, bw, n, k, p, x, weights.of(norm), xn, fusedNormArrivals, eps))) {
            written(x);
            written(xn);
            return;
        }
        Gemm.Partial s = overlapping(() -> gemmPartial(in, tokens, bw, n, k, proj, p));
        if (producesBf16(tokens)) {   // xn's readers: the next q|k|v or gate|up GEMM
            FusedOps.addRmsNorm(gpu, x, s.sums(), s.slices(), weights.of(norm), activationsBf16, tokens, n, eps, CudaModelBackend.PDL);
            holdBf16(xn, activationsBf16);
            return;
        }
        if (tokens <= splitNormRows)
            FusedOps.addRmsNormSplitRow(gpu, x, s.sums(), s.slices(), weights.of(norm), xn, normArrivals, tokens, n, eps, CudaModelBackend.PDL);
        else FusedOps.addRmsNorm(gpu, x, s.sums(), s.slices(), weights.of(norm), xn, tokens, n, eps, CudaModelBackend.PDL);
        written(xn);
    }

    /**
     * Whether a projection that reads a normalised hidden row ({@link #qkvRopeStore}'s stacked q|k|v, {@link #gateUpSilu}'s
     * interleaved gate|up with its SwiGLU epilogue) takes a plan with the norm prologue at {@code tokens} ({@link #PROLOGUE_NORM}).
     * The other, if it does not, runs the norm as its own launch ({@link #settlePendingNorm}: the residual holds the sum, and
     * rmsNormRows forms the sums, tree and scaling addRmsNormSplitRow does: the same bits). At llama-7b both take it at one
     * token; at 2-16 only q|k|v (gate|up's one-slice plan converts X first); synthetic:100m's gate|up has slabs (3 slices).
     */
    private boolean nextProjectionsTakeTheNorm(int tokens, int hidden) {
        if (!weights.fusedQkv() || !weights.fusedGateUp() || !weights.gateUpInterleaved() || producesBf16(tokens) || hidden != config.hiddenSize())
            return false;
        Gemm.Plan gateUp = plan(tokens, 2 * config.intermediateSize(), hidden);
        return Gemm.normPrologue(plan(tokens, config.qDim() + 2 * config.kvDim(), hidden), tokens)
                || Gemm.normPrologue(gateUp, tokens) && Gemm.swiGluEpilogue(gateUp, false);
    }

    /** Takes the norm left pending for {@code xn} ({@link #PROLOGUE_NORM}): true if it was xn's (now the caller's to run), else settles any. */
    private boolean takePendingNorm(FloatArray xn, int tokens) {
        if (pendingXn == null) return false;
        if (pendingXn != xn || pendingTokens != tokens) {
            settlePendingNorm();
            return false;
        }
        pendingXn = null;
        return true;
    }

    /** The pending norm of {@code xn} taken by a reader that could not run it in its prologue after all: its own launch. */
    private void settle(FloatArray xn, int tokens) {
        pendingXn = xn;
        pendingTokens = tokens;
        settlePendingNorm();
    }

    /**
     * Runs a pending norm as its own launch (a reader whose plan has no norm prologue, {@link #nextProjectionsTakeTheNorm}). The
     * residual already holds the sum, so the plain RMSNorm (rmsNormRows: addRmsNormSplitRow's sums, tree and scaling).
     */
    private void settlePendingNorm() {
        if (pendingXn == null) return;
        FloatArray xn = pendingXn;
        pendingXn = null;
        rmsNorm(pendingX, pendingTokens, config.hiddenSize(), pendingNorm, pendingEps, xn);
    }

    @Override
    public void rope(FloatArray x, int heads, ForwardBatch b) {
        int half = config.headDim() / 2;
        gpu.launch(ROPE, Launch.cover(b.numTokens() * heads * half, BLOCK), x, cos, sin, b.numTokens(), heads, half);
    }

    @Override
    public void storeKv(int layer, FloatArray k, FloatArray v, ForwardBatch b) {
        KvWrite.launch(gpu, k, v, keys[layer], values[layer], slots, b.numTokens(), config.numKvHeads(), config.headDim(), shape.blockSize());
    }

    /**
     * Batch-invariant (the default): with a bf16/fp16 KV store and a shape it takes (headDim 64/128), every token at a
     * position below N ({@code -Darbor.cuda.flashBelow=N}, {@link #FLASH_BELOW} by default; 0: the CUDA-core paged kernel
     * {@link PagedAttention} for every token) through the tensor-core kernel ({@link FlashPrefillAttention}, planned in
     * {@link #upload} whatever the chunk length: prefill chunks, 1-token chunks and decodes alike), the others through the
     * paged kernel, launched first over every token when the step has any (the tensor-core launch then overwrites the rows
     * it owns; under a decode graph, whenever the graph's context bound passes the bound). Which kernel a token meets is a
     * function of its own position, and each kernel's result a function of the token's query, position and keys only
     * ({@link dev.arbor.kernels.attention.FlashPrefillKernels}' key tiles at absolute positions), so its bits do not depend
     * on chunking, batch companions or cache hits. The batch's cascade groups run as a state handoff
     * ({@link FlashPrefillAttention#planHandoff}): a shared pass over each group's whole shared key tiles for all its tokens
     * at once, whose (O, m, l) state each sequence's pass continues from, which gives the one-pass bits (grouped or not).
     * Other shapes and fp32 stores: the paged kernel for every token.
     *
     * <p>Without batch
     * invariance, with a bf16/fp16 KV store and a shape it takes (headDim 64/128), sequences with at least
     * {@link #PREFILL_MIN_TOKENS} new tokens go through the tensor-core prefill ({@link FlashPrefillAttention},
     * planned in {@link #upload}) and the others (decodes) through the paged kernel, but for a wide GQA decode step
     * ({@link #nbiFlashDecode}: G ≥ 4, one-warp tiles), whose tokens below {@code arbor.cuda.nbiFlashBelow} go through the
     * tensor-core kernel as the default mode's do. Not the default: the two
     * kernels round differently (the tensor-core one rounds Q and P to 16 bits), and which one a prompt token
     * meets depends on its chunk's length, so its bits would depend on chunking and cache hits (e.g. a prompt
     * whose full blocks are all cached leaves a 1-token chunk).
     *
     * <p>Cascade attention (issue 11), also only without batch invariance: a step whose batch carries cascade
     * groups (the runner forms them where they pay, {@code CascadeAttention.pays}), fits the split scratch
     * (at most maxSeqs tokens) and has no tensor-core prefill chunk runs {@link CascadeAttention}: the shared
     * prefix once per group, each sequence's own keys, merged by log-sum-exp. Cascade and paged attention differ
     * in rounding only (within 1e-5 on the H200, AttentionGpuTest), but whether a sequence is in a group depends
     * on the batch around it. A step with groups and a prefill chunk ({@link #nbiHandoff}) instead plans every token for
     * the tensor-core kernel and runs its groups as the default mode's state handoff
     * ({@link FlashPrefillAttention#launchShared}, then {@link FlashPrefillAttention#launch}): the shared keys walked once
     * per group, not once per sequence; its decodes then round as the tensor-core kernel does.
     */
    @Override
    public void attention(int layer, FloatArray q, ForwardBatch b, FloatArray out) {
        written(out);
        if (bf16AttentionOut && producesBf16(b.numTokens())) {   // its one reader: o_proj, a TMA GEMM at these tokens
            attention(layer, q, b, activationsBf16);
            holdBf16(out, activationsBf16);
            return;
        }
        attention(layer, q, b, (OffHeapArray) out);
    }

    /** The attention launches into {@code out}: fp32, or bf16 ({@link #BF16_ATTENTION_OUT}: the producers' buffer). */
    private void attention(int layer, FloatArray q, ForwardBatch b, OffHeapArray out) {
        // a graph's split grid is sized for its context bucket (splits past a token's context exit at once)
        int bound = graphs == null ? -1 : graphs.contextBound();
        int maxContext = bound > 0 ? bound : b.maxContextLen();
        boolean tiles = prefill != null && prefill.numTiles() > 0;
        if (tiles && belowPlanned) {
            if (maxContext > belowBound) {   // tokens at or past the bound: the paged kernel over every token first
                attention.launch(gpu, q, keys[layer], values[layer], out, positions, seqOfToken, blockTables, shape.maxBlocksPerSeq(), slopes,
                        b.numTokens(), maxContext);
            }
            prefill.launchShared(gpu, q, keys[layer], values[layer], positions, blockTables, shape.maxBlocksPerSeq(), slopes, b.numTokens());
            prefill.launch(gpu, q, keys[layer], values[layer], out, positions, seqOfToken, blockTables, shape.maxBlocksPerSeq(), slopes, b.numTokens());
            return;
        }
        if (!tiles && cascade(b)) {
            cascade.launch(gpu, q, keys[layer], values[layer], out, positions, seqOfToken, blockTables, shape.maxBlocksPerSeq(), slopes,
                    b.numTokens(), b.maxContextLen(), keyStart, groupTokens, groupTokenStart, b.numCascadeGroups(), b.maxGroupTokens(),
                    b.maxSharedLen(), maxOwnSplits);
            return;
        }
        if (!tiles) {
            attention.launch(gpu, q, keys[layer], values[layer], out, positions, seqOfToken, blockTables, shape.maxBlocksPerSeq(), slopes,
                    b.numTokens(), maxContext);
            return;
        }
        prefill.launchShared(gpu, q, keys[layer], values[layer], positions, blockTables, shape.maxBlocksPerSeq(), slopes, b.numTokens());
        prefill.launch(gpu, q, keys[layer], values[layer], out, positions, seqOfToken, blockTables, shape.maxBlocksPerSeq(), slopes, b.numTokens());
        prefill.launchOthers(gpu, attention, q, keys[layer], values[layer], out, positions, seqOfToken, blockTables, shape.maxBlocksPerSeq(),
                slopes, b.numTokens(), maxContext);
    }

    private boolean cascade(ForwardBatch b) {
        return cascade != null && b.numCascadeGroups() > 0 && b.numTokens() <= shape.maxSeqs();
    }

    /** Whether the step's cascade groups run as a state handoff (its launch sizes change step to step): batch-invariant, or {@link #nbiHandoff}. */
    private boolean handoff(ForwardBatch b) {
        return handoffState != null && b.numCascadeGroups() > 0 && (batchInvariant || nbiHandoff(b));
    }

    @Override
    public void siluMul(FloatArray gate, FloatArray up, int n) {
        gpu.launch(SILU_MUL, Launch.cover(n, BLOCK), fp32(gate), fp32(up), n);
    }

    @Override
    public void add(FloatArray x, FloatArray y, int n) {
        gpu.launch(ADD, Launch.cover(n, BLOCK), fp32(x), fp32(y), n);
    }

    @Override
    public void gatherRows(FloatArray x, int n, ForwardBatch b, int count, FloatArray out) {
        TokenOps.gatherRows(gpu, fp32(x), logitRows, out, count, n);
        written(out);
    }

    @Override
    public void copyRows(FloatArray src, int n, int srcRow, int count, FloatArray dst) {
        buffer(fp32(src)).copyTo(4L * srcRow * n, buffer(dst), 0, 4L * count * n, MemorySegment.NULL);
        written(dst);
    }

    @Override
    public void sample(FloatArray logits, SamplingBatch batch) {
        if (!stepTimed) {
            sampler.sample(logits, batch);
            return;
        }
        stepTimed = false;
        int q = timing;
        CudaEvent start = stepStart[q], end = stepEnd[q];
        sampler.sample(logits, batch, () -> {
            end.record(null);
            endId[q] = startId[q];
        });
        deviceMillis = end.millisSince(start);
        readGap(q);
    }

    @Override
    public void sampleDeferred(FloatArray logits, SamplingBatch batch) {
        if (!stepTimed) {
            sampler.sampleDeferred(logits, batch, null);
            return;
        }
        stepTimed = false;
        int q = timing;
        CudaEvent end = stepEnd[q];
        sampler.sampleDeferred(logits, batch, () -> {
            end.record(null);
            endId[q] = startId[q];
        });
        deferredTiming = q;
    }

    @Override
    public void awaitSample(SamplingBatch batch) {
        sampler.awaitDeferred(batch);
        if (deferredTiming >= 0) {   // read after the next step's start was recorded in the other pair
            deviceMillis = stepEnd[deferredTiming].millisSince(stepStart[deferredTiming]);
            readGap(deferredTiming);
            deferredTiming = -1;
        }
    }

    @Override
    public void readRow(FloatArray x, int row, int n, float[] dst) {
        fp32(x);
        gpu.synchronize();
        buffer(x).download(readBack.segment(), 4L * row * n, 4L * n);
        MemorySegment.copy(readBack.segment(), ValueLayout.JAVA_FLOAT, 0, dst, 0, n);
    }

    @Override
    public void close() {
        gpu.synchronize();
        for (OffHeapArray a : keys) a.close();
        for (OffHeapArray a : values) a.close();
        for (OffHeapArray a : new OffHeapArray[] {tokenIds, positions, slots, seqOfToken, logitRows, blockTables, keyStart, groupTokens,
                groupTokenStart, readBack}) a.close();
        if (cos != null) { cos.close(); sin.close(); angles.close(); }
        if (stagedInts != null) stagedInts.close();   // after the views above (their close frees nothing)
        if (stagedAngles != null) stagedAngles.close();
        if (inputsCopied != null) inputsCopied.close();
        if (slopes != null) slopes.close();
        if (cascade != null) cascade.close();   // owns the paged launcher's scratch
        else attention.close();
        if (prefill != null) prefill.close();
        if (handoffState != null) handoffState.close();
        sampler.close();
        if (gemm != null) gemm.close();
        normArrivals.close();
        fusedNormArrivals.close();
        prologueArrivals.close();
        qkvRopeArrivals.close();
        if (fusedOut != null) fusedOut.close();
        if (activationsBf16 != null) activationsBf16.close();
        if (swiGluBf16 != null) swiGluBf16.close();
        if (graphs != null) graphs.close();
        if (cascadeGraphs != null) cascadeGraphs.close();
        for (CudaEvent e : stepStart) e.close();
        for (CudaEvent e : stepEnd) e.close();
        for (CudaEvent e : inputsStart) e.close();
        feedPairs.close();
    }
}
