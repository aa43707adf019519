package dev.arbor.models.backend;

import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.StepShape;
import dev.arbor.models.weights.ModelWeights;

/** A compute backend a {@link dev.arbor.models.DecoderModel} runs on: the CPU or one CUDA device. */
public interface ModelBackend extends AutoCloseable {

    /** For logs, e.g. {@code "cpu (2 threads)"}. */
    String device();

    long kvBytesPerBlock(ModelConfig config, int blockSize);

    /** Default KV budget in bytes (see {@link dev.arbor.models.CausalLM#defaultKvBudgetBytes}). */
    long defaultKvBudgetBytes(ModelConfig config, double memoryUtilization);

    /** Tokens per engine step when the user set none (see {@link dev.arbor.models.CausalLM#defaultMaxNumBatchedTokens}). */
    default int defaultMaxNumBatchedTokens() { return 1024; }

    /** Measured copy bandwidth, bytes/s read + write (see {@link dev.arbor.models.CausalLM#measureCopyBandwidth}). */
    default java.util.OptionalDouble measureCopyBandwidth() { return java.util.OptionalDouble.empty(); }

    /** Makes the weights resident on the backend (a no-op on the CPU, which reads the mapped files). */
    default void prepare(ModelWeights weights) {}

    /** The KV store and the workspace of {@code shape}, with the forward pass over this backend's ops. */
    ModelExecutor open(ModelConfig config, ModelWeights weights, StepShape shape);

    @Override
    default void close() {}
}
