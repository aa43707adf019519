package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** {@link GemmSwiGluTest}'s cases on the GPU: SwiGLU on the X load gives siluMulRows-then-GEMM's bits ({@code @Tag("gpu")}). */
@Tag("gpu")
class GemmSwiGluGpuTest {
    @Test
    void swiGluOnLoadEqualsTheComposition() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            GemmSwiGluTest.cases(cuda);
        }
    }
}
