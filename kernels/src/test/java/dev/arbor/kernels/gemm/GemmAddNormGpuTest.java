package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On the H200, the GEMM with the residual add and RMSNorm in its last-arriving block against the two launches it replaces
 * ({@link GemmAddNorm}) at llama-7b's o (4096×4096: 64 blocks × 5 slices) and down (4096×11008, a short last slice)
 * projections, M = 1, 2 and 16: the batch-invariant plan and one K slice bit for bit, the default plan's split-K atomics
 * within their rounding; each twice (the arrival counter back at 0 after a launch).
 */
@Tag("gpu")
class GemmAddNormGpuTest {
    @Test
    void equalsTheTwoLaunchesItReplaces() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            for (int[] nk : new int[][]{{4096, 4096}, {4096, 11008}})
                for (int m : new int[]{1, 2, 16}) {
                    Gemm.Plan p = GemmAddNorm.check(cuda, gemm, nk[0], nk[1], m, GemmAddNorm.Form.INVARIANT, nk[1] + m);
                    assertTrue(p.slabs(), p::toString);
                    GemmAddNorm.check(cuda, gemm, nk[0], nk[1], m, GemmAddNorm.Form.DEFAULT, 7 * nk[1] + m);
                    if (m != 2) GemmAddNorm.check(cuda, gemm, nk[0], nk[1], m, GemmAddNorm.Form.ONE_SLICE, 3 * nk[1] + m);
                }
        }
    }
}
