package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The norm in the next product's prologue on the GPU ({@link GemmNormPrologue}): the composition's bits at llama-7b's decode
 * shapes in the engine's invariant plans — o (4096 × 4096, 8 slabs) then the stacked q|k|v (12,288 × 4096, 2 slabs), down
 * (4096 × 11008) then the interleaved gate|up (22,016 × 4096, one slice, SwiGLU) — at 1 token (q|k|v also at 8; gate|up's one-slice plan converts X first at 2+), and an odd shape.
 */
@Tag("gpu")
class GemmNormPrologueGpuTest {
    @Test
    void thePrologueGivesTheCompositionsBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            int[][] cases = {{1, 4096, 12288, 0}, {1, 11008, 22016, 1}, {8, 4096, 12288, 0}, {8, 11008, 12288, 0}};
            for (int[] c : cases) {
                int m = c[0], k1 = c[1], n2 = c[2];
                boolean swiGlu = c[3] == 1;
                Gemm.Plan p1 = gemm.invariantPlan(m, 4096, k1, true), p2 = gemm.invariantPlan(m, n2, 4096, true);
                assertTrue(Gemm.addNormEpilogue(p1), p1.toString());
                assertTrue(Gemm.normPrologue(p2, m), p2.toString());
                int differ = GemmNormPrologue.differingElements(cuda, gemm, p1, p2, m, 4096, k1, n2, swiGlu);
                System.out.printf("norm prologue %dx4096x%d then %d%s (%s / %s): %d elements differ%n", m, k1, n2, swiGlu ? " SwiGLU" : "", p1, p2, differ);
                assertEquals(0, differ);
            }
            Gemm.Plan p1 = gemm.slabPlan(5, 1000, 776, Gemm.SMALL, 5, true), p2 = gemm.slabPlan(5, 336, 1000, Gemm.SMALL, 3, true);
            int differ = GemmNormPrologue.differingElements(cuda, gemm, p1, p2, 5, 1000, 776, 336, false);
            System.out.printf("norm prologue 5x1000x776 then 336: %d elements differ%n", differ);
            assertEquals(0, differ);
        }
    }
}
