package dev.arbor.models;

/**
 * A causal language model ready to run: the single interface where a compute backend plugs in
 * (the multi-threaded CPU transformer now, the CUDA one later). It owns its weights and the KV
 * storage it allocates; it knows nothing of requests, scheduling or block ownership.
 */
public interface CausalLM extends AutoCloseable {

    ModelConfig config();

    /** Generation defaults: generation_config.json when the model directory has one, else bos/eos of config.json. */
    default GenerationConfig generationConfig() {
        return GenerationConfig.fromModel(config());
    }

    /**
     * Allocates the paged KV storage: {@code numBlocks} blocks of {@code blockSize} token slots for
     * every layer and KV head.
     */
    KvCache allocateKvCache(int numBlocks, int blockSize);

    /** Bytes of KV storage one block of {@code blockSize} tokens takes over all layers (K and V). */
    long kvBytesPerBlock(int blockSize);

    /**
     * Runs the batch: writes the new tokens' K/V into {@code cache} and returns the logits of
     * {@code batch.logitRows()}, shape (logitRows.length, vocabSize), in float32.
     */
    float[][] forward(ForwardBatch batch, KvCache cache);

    /** Copies the KV content of physical block {@code src} to {@code dst} (copy-on-write of a shared partial block). */
    void copyBlock(KvCache cache, int src, int dst);

    /**
     * Makes the weights resident now (synthetic models generate theirs lazily, on the first forward),
     * so that load time is not counted as the first step's time.
     */
    default void materialize() {}

    @Override
    default void close() {}
}
