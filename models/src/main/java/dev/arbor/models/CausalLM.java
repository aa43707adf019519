package dev.arbor.models;

/**
 * A causal language model ready to run: the single interface the engine calls. Which backend computes
 * (the CPU or a CUDA device) was chosen at load ({@link ModelLoader#load(String, String)}); nothing above
 * this interface knows. The model owns its weights; {@link #open} allocates the paged KV store and the
 * step workspace once. It knows nothing of requests, scheduling or block ownership.
 */
public interface CausalLM extends AutoCloseable {

    ModelConfig config();

    /** Generation defaults: generation_config.json when the model directory has one, else bos/eos of config.json. */
    default GenerationConfig generationConfig() {
        return GenerationConfig.fromModel(config());
    }

    /** Where the forward pass runs, for logs: e.g. {@code "cpu (2 threads)"}, {@code "cuda:0 (NVIDIA H200, 139 GiB)"}. */
    String device();

    /** Bytes of KV storage one block of {@code blockSize} tokens takes over all layers (K and V). */
    long kvBytesPerBlock(int blockSize);

    /**
     * The KV budget this backend offers when the user set none, in bytes: on CUDA the device memory
     * free after the weights times {@code memoryUtilization} (vLLM's {@code --gpu-memory-utilization});
     * on the CPU a fixed default of off-heap memory (see {@code CpuModelBackend}), both logged by the engine.
     */
    long defaultKvBudgetBytes(double memoryUtilization);

    /**
     * Tokens per engine step this backend offers when the user set none ({@code max_num_batched_tokens} 0): on the CPU 1,024
     * (prefill there is bound per token: a larger step only delays the decode rows batched with it); on CUDA 8,192, where a
     * larger step runs its GEMMs nearer the tensor cores' rate (bench/RESULTS.md "Run 72-chunk19").
     */
    default int defaultMaxNumBatchedTokens() { return 1024; }

    /**
     * Allocates the paged KV store ({@code shape.numBlocks()} blocks) and the workspace every step
     * reuses. Called once per engine; the executor is closed with it.
     *
     * @throws IllegalArgumentException when the shape does not fit the backend's memory (the message
     *                                  gives bytes needed and free)
     */
    ModelExecutor open(StepShape shape);

    /**
     * The device's copy bandwidth in bytes per second (read + write), measured now, for benchmarks that print
     * a bandwidth floor beside their figures; empty on the CPU (see the models bench {@code MemoryBandwidth}).
     */
    default java.util.OptionalDouble measureCopyBandwidth() { return java.util.OptionalDouble.empty(); }

    /**
     * Makes the weights resident now (synthetic models generate theirs lazily, on the first forward;
     * the CUDA backend uploads them), so that load time is not counted as the first step's time.
     */
    default void materialize() {}

    @Override
    default void close() {}
}
