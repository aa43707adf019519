package dev.arbor.models.cuda;

import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.StepShape;
import dev.arbor.models.backend.DecoderForward;
import dev.arbor.models.backend.ModelBackend;
import dev.arbor.models.weights.ModelWeights;

/**
 * The CUDA backend: one device through accel's driver binding. Weights are uploaded once
 * ({@link #prepare}); {@link #open} allocates the paged KV store and the workspace on the device and
 * runs {@link DecoderForward} over {@link CudaOps}. Memory that does not fit is refused up front with
 * the bytes needed and free, never a crash.
 */
public final class CudaModelBackend implements ModelBackend {
    private final CudaBackend gpu;
    private final int ordinal;
    private final KvCacheDtype kvDtype;
    private final ComputeDtype dtype;
    private final boolean batchInvariant;
    private final boolean cudaGraphs;
    private final boolean fusion;
    /** Fused projections (stacked q|k|v and gate|up weights, fused element-wise kernels); {@code -Darbor.cuda.fusion=false} turns them off (measurements). */
    static final boolean FUSION = !"false".equals(System.getProperty("arbor.cuda.fusion"));
    /**
     * The fused kernels launched overlapping the GEMM before them (programmatic dependent launch: each waits for the GEMM's
     * grid before touching memory, so only the launch latency overlaps); {@code -Darbor.cuda.pdl=false} turns it off.
     */
    static final boolean PDL = !"false".equals(System.getProperty("arbor.cuda.pdl"));
    /**
     * With {@link #PDL}, the mma.sync GEMMs (the decode tiles) launched overlapping the kernel before them too, streaming their
     * first K tiles of weights before waiting for it ({@code Gemm.overlapPrevious}); {@code -Darbor.gemm.pdl=false} turns it off.
     */
    static final boolean GEMM_PDL = PDL && !"false".equals(System.getProperty("arbor.gemm.pdl"));
    private DeviceWeights weights;

    private CudaModelBackend(CudaBackend gpu, int ordinal, KvCacheDtype kvDtype, ComputeDtype dtype, boolean batchInvariant, boolean cudaGraphs,
                             boolean fusion) {
        this.gpu = gpu;
        this.cudaGraphs = cudaGraphs;
        this.fusion = fusion;
        this.ordinal = ordinal;
        this.kvDtype = kvDtype;
        this.dtype = dtype;
        this.batchInvariant = batchInvariant;
    }

    /** Opens CUDA device {@code ordinal} with the defaults: bf16 KV, bfloat16 matmuls, batch-invariant, decode steps as CUDA graphs. */
    public static CudaModelBackend open(int ordinal) {
        return open(ordinal, KvCacheDtype.BF16, ComputeDtype.BFLOAT16, true, true);
    }

    /**
     * Opens CUDA device {@code ordinal}.
     *
     * @throws RuntimeException or {@link LinkageError} when the driver is missing or the device does not answer
     */
    public static CudaModelBackend open(int ordinal, KvCacheDtype kvDtype, ComputeDtype dtype, boolean batchInvariant) {
        return open(ordinal, kvDtype, dtype, batchInvariant, true);
    }

    /** As {@link #open(int, KvCacheDtype, ComputeDtype, boolean)}; {@code cudaGraphs} false launches decode steps kernel by kernel. */
    public static CudaModelBackend open(int ordinal, KvCacheDtype kvDtype, ComputeDtype dtype, boolean batchInvariant, boolean cudaGraphs) {
        return open(ordinal, kvDtype, dtype, batchInvariant, cudaGraphs, FUSION);
    }

    /**
     * As {@link #open(int, KvCacheDtype, ComputeDtype, boolean, boolean)}; {@code fusion} false keeps every projection and
     * element-wise stage its own launch (the fused forward's comparison; the default is on, {@code -Darbor.cuda.fusion=false} off).
     */
    public static CudaModelBackend open(int ordinal, KvCacheDtype kvDtype, ComputeDtype dtype, boolean batchInvariant, boolean cudaGraphs,
                                        boolean fusion) {
        return new CudaModelBackend(CudaBackend.open(ordinal), ordinal, kvDtype, dtype, batchInvariant, cudaGraphs, fusion);
    }

    public KvCacheDtype kvCacheDtype() { return kvDtype; }

    @Override
    public String device() {
        long[] mem = gpu.device().memoryInfo();
        return String.format("cuda:%d (%s, %.0f GiB, KV %s, %s matmuls%s%s%s%s)", ordinal, gpu.device().name(), mem[1] / (double) (1L << 30),
                kvDtype.name().toLowerCase(), dtype.name().toLowerCase(), batchInvariant ? ", batch-invariant" : "",
                cudaGraphs ? ", decode as CUDA graphs" : ", no CUDA graphs", fusion ? "" : ", no fusion", fusion && !PDL ? ", no PDL" : "");
    }

    @Override
    public long kvBytesPerBlock(ModelConfig c, int blockSize) {
        return 2L * c.numLayers() * c.numKvHeads() * blockSize * c.headDim() * kvDtype.bytes();
    }

    /**
     * Device memory free now (after the weights, which {@code DecoderModel} uploads first) × {@code memoryUtilization},
     * at most what K and V arrays of 2^31-1 elements per layer hold (one device array's limit; reached by small models
     * on a large device).
     */
    @Override
    public long defaultKvBudgetBytes(ModelConfig config, double memoryUtilization) {
        long arrays = 2L * config.numLayers() * Integer.MAX_VALUE * kvDtype.bytes();
        return Math.min((long) (gpu.device().memoryInfo()[0] * memoryUtilization), arrays);
    }

    /**
     * Tokens per engine step when the user set none: 8,192 (vLLM's server default on GPUs of 70 GB and more), or
     * {@code -Darbor.cuda.maxNumBatchedTokens=N}. Seed workload 2 (500 × 752+28, llama-7b): 2,048 → 8,192 took its
     * prefill/mixed steps from 9 × 53.6 to 3 × 136.3 ms of device time (0.482 → 0.408 s) and the run 1.031 → 0.994 s with the
     * same tokens; llama3.2-1b prefill 128 × 512 180k → 198k tokens/s (bench/RESULTS.md "Run 72-chunk19").
     */
    @Override
    public int defaultMaxNumBatchedTokens() {
        return Math.max(1, Integer.getInteger(MAX_NUM_BATCHED_TOKENS, DEFAULT_MAX_NUM_BATCHED_TOKENS));
    }

    /** The switch of {@link #defaultMaxNumBatchedTokens}. */
    public static final String MAX_NUM_BATCHED_TOKENS = "arbor.cuda.maxNumBatchedTokens";
    static final int DEFAULT_MAX_NUM_BATCHED_TOKENS = 8192;

    /** 1 GiB device-to-device copies timed with events (median of 7). */
    @Override
    public java.util.OptionalDouble measureCopyBandwidth() {
        return java.util.OptionalDouble.of(dev.arbor.accel.cuda.CopyBandwidth.measure(gpu.device(), 1L << 30, 7));
    }

    @Override
    public synchronized void prepare(ModelWeights w) {
        if (weights == null) weights = DeviceWeights.upload(gpu, w, dtype == ComputeDtype.BFLOAT16 && fusion, dtype == ComputeDtype.BFLOAT16);
    }

    /** How long the profiler's spin kernel holds the device before each step: longer than a step's host launches (a few ms). */
    private static final double PROFILE_SPIN_MILLIS = 25;

    @Override
    public ModelExecutor open(ModelConfig config, ModelWeights w, StepShape shape) {
        prepare(w);
        long kv = shape.numBlocks() * kvBytesPerBlock(config, shape.blockSize());
        long work = workspaceBytes(config, shape, weights.fusedQkv(), weights.fusedGateUp())
                + (dtype == ComputeDtype.BFLOAT16 && fusion && weights.projectionsBf16() && CudaOps.bf16ProducersRequested()
                   ? (CudaOps.bf16ProducerBytesPerToken(config) + (weights.gateUpInterleaved() ? 2L * config.intermediateSize() : 0)) * shape.maxTokens()
                   : 0);   // at most: CudaOps takes it with the TMA tiles only (and the SwiGLU epilogue's bf16 h with the interleaved gate|up)
        long free = gpu.device().memoryInfo()[0];
        if (kv + work > free) {
            throw new IllegalArgumentException(String.format(
                    "the KV store (%d blocks, %.2f GiB) and workspace (%.2f GiB) need %.2f GiB on %s, which has %.2f GiB free: "
                            + "lower --kv-cache-bytes / --gpu-memory-utilization or --max-num-batched-tokens",
                    shape.numBlocks(), kv / (double) (1L << 30), work / (double) (1L << 30), (kv + work) / (double) (1L << 30),
                    gpu.device().name(), free / (double) (1L << 30)));
        }
        // -Darbor.opProfile=true: each operation timed by events, so launched eagerly (a graph replay has no per-kernel events)
        boolean profile = dev.arbor.models.OpProfile.enabled();
        CudaOps ops = new CudaOps(gpu, config, weights, shape, kvDtype, dtype, batchInvariant, cudaGraphs && !profile, fusion);
        if (!profile) return new DecoderForward<>(config, w, ops, shape);
        return new DecoderForward<>(config, w, new dev.arbor.models.backend.ProfiledOps<>(ops, new CudaOpClock(gpu, PROFILE_SPIN_MILLIS)), shape);
    }

    /**
     * Device bytes of the workspace {@link DecoderForward} allocates for {@code shape}, plus attention's split scratch and,
     * with fused projections, {@link CudaOps}'s output buffer of the stacked q|k|v and gate|up GEMMs (in place of the
     * k, v and up buffers the forward pass then leaves out).
     */
    static long workspaceBytes(ModelConfig c, StepShape s, boolean fusedQkv, boolean fusedGateUp) {
        long h = c.hiddenSize(), inter = c.intermediateSize();
        // x, xn, proj, hiddenRows; q, att; gate; k, v, up unless fused; the fused GEMMs' shared output buffer
        long perToken = 4L * (4 * h + 2L * c.qDim() + inter + (fusedQkv ? 0 : 2L * c.kvDim()) + (fusedGateUp ? 0 : inter)
                + CudaOps.fusedOutputCols(c, fusedQkv, fusedGateUp));
        long logits = 4L * s.maxLogitRows() * ((long) c.vocabSize() + c.hiddenSize());
        // the split scratch of paged and cascade attention: the context's splits, then the shared prefix's (up to the context)
        long splits = 4L * s.maxSeqs() * c.numHeads() * 2 * ((long) s.maxBlocksPerSeq() * s.blockSize() / 256 + 1) * (c.headDim() + 2);
        return perToken * s.maxTokens() + logits + splits;
    }

    @Override
    public void close() {
        if (weights != null) weights.close();
        gpu.close();
    }

    @Override public String toString() { return "cuda:" + ordinal; }
}
