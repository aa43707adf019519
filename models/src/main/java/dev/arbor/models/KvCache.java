package dev.arbor.models;

/** Paged KV storage owned by a {@link CausalLM}; opaque to the engine beyond its geometry. */
public interface KvCache {
    int numBlocks();

    int blockSize();
}
