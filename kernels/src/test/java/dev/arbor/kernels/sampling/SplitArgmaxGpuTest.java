package dev.arbor.kernels.sampling;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The split argmax on the GPU (block 256) gives {@link SamplingKernels#sample}'s greedy tokens ({@code @Tag("gpu")}; the rows of
 * {@link SplitArgmaxTest#fill}): at Llama-3's vocabulary (128,256) × 128 rows (the engine's batch-128 step: 8 slices a row) and
 * 130 rows × 151,936 (Qwen's; 8 slices), 32 rows × 32,000 (32 slices of 1,000).
 */
@Tag("gpu")
class SplitArgmaxGpuTest {
    @Test
    void splitArgmaxGivesSamplesTokens() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            SplitArgmaxTest.cases(cuda, new int[] {128256}, 128);
            SplitArgmaxTest.cases(cuda, new int[] {151936}, 130);
            SplitArgmaxTest.cases(cuda, new int[] {32000}, 32);
        }
    }
}
