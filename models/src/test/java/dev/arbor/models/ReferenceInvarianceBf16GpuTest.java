package dev.arbor.models;

import org.junit.jupiter.api.Tag;

/**
 * Batch invariance in bits on the CUDA backend's default path (bf16 KV, tensor-core matmuls): every fixture
 * case's logits are identical whether its prompt was chunked (1, 3, 7 tokens) or whole, and whether it ran
 * alone or in a mixed prefill/decode batch. The reference comparisons of {@link ReferenceLogitsTest} do not
 * apply in bf16 (see {@code CudaBackendGpuTest} for its argmax criterion) and are skipped here.
 */
@Tag("gpu")
class ReferenceInvarianceBf16GpuTest extends ReferenceLogitsTest {
    @Override String device() { return "cuda"; }

    @Override BackendOptions backend() { return BackendOptions.of("cuda"); }

    @Override boolean matchesReference() { return false; }

    @Override float invarianceTolerance() { return 0f; }
}
