package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RoPE and the KV store in the q|k|v product's epilogue on the GPU ({@link GemmQkvRope}): the composition's bits (the slab
 * product + FusedOps.qkvRopeStore's wide kernel) in the engine's invariant plans — llama-7b's stacked q|k|v (32 heads of 128,
 * 12,288 × 4096, SMALL, 2 slabs) at 1 and 8 tokens into a bf16 store, a GQA shape (32 / 8 heads of 128) into fp16 and fp32
 * stores, heads of 64 (a tile a head), and the norm-prologue form at 1 token.
 */
@Tag("gpu")
class GemmQkvRopeGpuTest {
    @Test
    void theEpilogueGivesTheCompositionsBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            // {m, heads, kvHeads, headDim, storeType, norm}
            int[][] cases = {{1, 32, 32, 128, 0, 0}, {8, 32, 32, 128, 0, 0}, {1, 32, 8, 128, 1, 0}, {3, 32, 8, 128, 2, 0}, {1, 32, 8, 64, 0, 0},
                    {1, 32, 32, 128, 0, 1}};
            for (int[] c : cases) {
                int m = c[0], heads = c[1], kvHeads = c[2], headDim = c[3], n = (heads + 2 * kvHeads) * headDim;
                boolean norm = c[5] == 1;
                Gemm.Plan p = gemm.invariantPlan(m, n, 4096, true);
                assertTrue(Gemm.qkvRopeEpilogue(p, headDim), p.toString());
                int differ = GemmQkvRope.differingElements(cuda, gemm, p, m, 4096, heads, kvHeads, headDim, 16, 40, c[4], true, norm);
                System.out.printf("q|k|v rope epilogue%s %dx%dx4096 heads %d/%d x %d store %s (%s): %d elements differ%n", norm ? " (norm prologue)" : "",
                        m, n, heads, kvHeads, headDim, new String[]{"bf16", "fp16", "fp32"}[c[4]], p, differ);
                assertEquals(0, differ);
            }
        }
    }
}
