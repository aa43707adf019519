package dev.arbor.models;

import dev.arbor.models.backend.DecoderForward;
import dev.arbor.models.backend.ModelBackend;
import dev.arbor.models.weights.ModelWeights;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Llama-family model (Llama 2/3, Qwen3, Baichuan2) on a {@link ModelBackend}: the weights (from a
 * supplier called once, on first use: synthetic models generate theirs then) and the backend that runs
 * {@link DecoderForward} over them.
 */
public final class DecoderModel implements CausalLM {
    private static final Logger LOG = LoggerFactory.getLogger(DecoderModel.class);
    private final ModelConfig config;
    private final GenerationConfig generationConfig;
    private final Supplier<ModelWeights> weightSource;
    private final AutoCloseable resources;
    private final ModelBackend backend;
    private volatile ModelWeights weights;

    /** @param resources released by {@link #close()} (the mapped files, derived tensors) */
    public DecoderModel(ModelConfig config, GenerationConfig generationConfig, Supplier<ModelWeights> weightSource,
                        AutoCloseable resources, ModelBackend backend) {
        this.config = config;
        this.generationConfig = generationConfig;
        this.weightSource = weightSource;
        this.resources = resources;
        this.backend = backend;
    }

    @Override public ModelConfig config() { return config; }

    @Override public GenerationConfig generationConfig() { return generationConfig; }

    @Override public String device() { return backend.device(); }

    public ModelBackend backend() { return backend; }

    /** The weights, materialised (and made resident on the backend) on first call. */
    public ModelWeights weights() {
        ModelWeights w = weights;
        if (w == null) {
            synchronized (this) {
                if (weights == null) {
                    // loading can take a while (synthetic weights are generated, a device gets a copy): say so
                    long t0 = System.nanoTime();
                    LOG.info("preparing the weights of {} ({} layers) on {} ...", config.architecture(), config.numLayers(), backend.device());
                    ModelWeights made = weightSource.get();
                    backend.prepare(made);
                    weights = made;
                    LOG.info("weights ready in {} ms", (System.nanoTime() - t0) / 1_000_000);
                }
                w = weights;
            }
        }
        return w;
    }

    @Override
    public java.util.OptionalDouble measureCopyBandwidth() { return backend.measureCopyBandwidth(); }

    @Override
    public void materialize() {
        weights();
    }

    /** Whether the weights exist yet (synthetic models create them on first use). */
    public boolean weightsMaterialized() {
        return weights != null;
    }

    @Override
    public long kvBytesPerBlock(int blockSize) {
        return backend.kvBytesPerBlock(config, blockSize);
    }

    @Override
    public long defaultKvBudgetBytes(double memoryUtilization) {
        weights();   // on a device the weights come first; the budget is what they leave free
        return backend.defaultKvBudgetBytes(config, memoryUtilization);
    }

    @Override
    public int defaultMaxNumBatchedTokens() {
        return backend.defaultMaxNumBatchedTokens();
    }

    @Override
    public ModelExecutor open(StepShape shape) {
        return backend.open(config, weights(), shape);
    }

    @Override
    public void close() {
        try (AutoCloseable r = resources; ModelBackend b = backend) {
            // closes the backend first, then the mapped files it may have read from
        } catch (Exception e) {
            throw new IllegalStateException("closing model resources", e);
        }
    }

    @Override public String toString() { return config.architecture() + " on " + backend.device(); }
}
