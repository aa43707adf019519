package dev.arbor.kernels.layer;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The token kernels on the GPU, bit for bit against the references and LayerKernels.rope ({@code @Tag("gpu")}). */
@Tag("gpu")
class TokenKernelsGpuTest {
    @Test
    void embeddingRopeAndGatherAreBitIdentical() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            TokenKernelsTest.embeddingCases(cuda);
            TokenKernelsTest.ropeCases(cuda);
            TokenKernelsTest.gatherCases(cuda);
            TokenKernelsTest.feedCases(cuda);
        }
    }
}
