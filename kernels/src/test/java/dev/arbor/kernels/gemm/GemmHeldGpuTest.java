package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Gemm#heldTiles} on the device: llama-7b's batch-1 chain after the attention (o slabs, the residual add + RMSNorm,
 * gate|up with SwiGLU, down slabs), every launch overlapping the one before with 2 W tiles a block held in registers before
 * the wait (o and down), against the same chain launched plainly: the same bits in 8 rounds of a new X
 * ({@link GemmTriggerGpuTest#compareChains}).
 */
@Tag("gpu")
class GemmHeldGpuTest {
    @Test
    void heldTilesGiveThePlainLaunchesBits() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            int compared = GemmTriggerGpuTest.compareChains(cuda, 4096, 11008, 8, 2);
            System.out.printf("GemmHeldGpuTest: llama-7b's o / norm / gate|up / down at b1, 2 held W tiles, %d elements in 8 rounds, the same bits%n", compared);
        }
    }
}
