package dev.arbor.models;

import org.junit.jupiter.api.Tag;

/**
 * Every case of {@link ReferenceLogitsTest} on the CUDA backend with a float32 KV store: logits within
 * 1e-3 of the float32 reference at every prompt position, the same greedy tokens through the paged
 * cache, and batch invariance in bits: a sequence's logits are identical whether its prompt was
 * chunked or whole, and whether it ran alone or in a mixed batch.
 */
@Tag("gpu")
class ReferenceLogitsGpuTest extends ReferenceLogitsTest {
    @Override String device() { return "cuda"; }

    @Override float invarianceTolerance() { return 0f; }
}
