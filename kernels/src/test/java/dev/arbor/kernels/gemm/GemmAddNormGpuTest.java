package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The add + norm epilogue on the GPU ({@link GemmAddNorm}): the composition's bits at llama-7b's o (4096 × 4096) and down
 * (4096 × 11008) in the invariant plan the engine runs at 1-8 decode tokens, and at an odd width past one token tile.
 */
@Tag("gpu")
class GemmAddNormGpuTest {
    @Test
    void theEpilogueWritesTheCompositionsBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            for (int m : new int[]{1, 2, 8})
                for (int k : new int[]{4096, 11008}) {
                    Gemm.Plan p = gemm.invariantPlan(m, 4096, k, true);
                    assertTrue(Gemm.addNormEpilogue(p), "the engine's decode plan: " + p);
                    int differ = GemmAddNorm.differingElements(cuda, gemm, p, m, 4096, k);
                    System.out.printf("add+norm epilogue %dx4096x%d (%s): %d elements differ%n", m, k, p, differ);
                    assertEquals(0, differ, m + "x4096x" + k);
                }
            Gemm.Plan odd = gemm.slabPlan(20, 1000, 776, Gemm.SMALL, 5, true);
            int differ = GemmAddNorm.differingElements(cuda, gemm, odd, 20, 1000, 776);
            System.out.printf("add+norm epilogue 20x1000x776 (%s): %d elements differ%n", odd, differ);
            assertEquals(0, differ, "20x1000x776");
        }
    }
}
