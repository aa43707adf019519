package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * On the tensor cores: the batch-invariant plan gives the first rows the same bits at every M, across the
 * small, medium and large tiles and the convert-first path for large M (Llama-2-7B q-projection shape).
 */
@Tag("gpu")
class GemmInvarianceGpuTest {
    @Test
    void aRowsResultDoesNotDependOnM() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            GemmInvariance.check(cuda, 4096, 4096, 3, 3, 1 + 3, 16, 64, 65, 300, 2048);
        }
    }
}
