package dev.arbor.kernels.layer;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The fused kernels on the GPU, bit for bit against the unfused kernels on the GPU ({@code @Tag("gpu")}; cases in FusedKernelsTest). */
@Tag("gpu")
class FusedKernelsGpuTest {
    @Test
    void fusedKernelsEqualTheirCompositions() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            FusedKernelsTest.qkvCases(cuda);
            FusedKernelsTest.siluCases(cuda);
            FusedKernelsTest.addRmsNormCases(cuda);
        }
    }

    /** The bf16 producers on the GPU: the fp32 kernels' values rounded as the GEMM's conversion pass rounds them, bit for bit. */
    @Test
    void bf16ProducersEqualTheConversionPass() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            FusedKernelsTest.bf16ProducerCases(cuda);
        }
    }

    /** The wide SwiGLU kernels on the GPU give the one-element kernels' bits (fp32 and bf16 out; FusedKernelsTest.siluWideCases). */
    @Test
    void siluWideKeepsTheOneElementKernelsBits() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            FusedKernelsTest.siluWideCases(cuda);
        }
    }

    /** addRmsNormRows and rmsNormRows on the GPU give the plain strided loop's bits (the double sums and the tree's pairs on the GPU's arithmetic). */
    @Test
    void normKernelsKeepTheStridedLoopsBits() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            FusedKernelsTest.stridedBitsCases(cuda);
        }
    }
}
