package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The residual epilogue on the GPU: every tile's unsplit {@code C += X·Wᵀ} stores {@code C₀ + P} bit for bit
 * ({@link GemmResidual}): the mid tiles' and mma.sync tiles' grouped C loads (run 57-ores12) and the wgmma tiles' all-at-once
 * loads (run 53-pp11), at llama-7b's o projection (4096², the engine's decode token count) and at partial tiles in M, N, K.
 */
@Tag("gpu")
class GemmResidualGpuTest {
    @Test
    void everyTilesResidualAddIsTheSumPlusC() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            assertTrue(gemm.tma(), "an H200 runs the TMA tiles");
            int[][] shapes = {{107, 4096, 4096}, {300, 1032, 520}};
            for (int[] s : shapes)
                for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.SMALL, Gemm.MEDIUM, Gemm.WIDE, Gemm.LARGE, Gemm.TMA_64, Gemm.TMA_64X2, Gemm.TMA_N64,
                        Gemm.TMA_128, Gemm.TMA_256, Gemm.WGMMA_128}) {
                    int m = s[0], n = s[1], k = s[2];
                    Gemm.Plan p = gemm.plan(m, n, k, t, 1, true);
                    int differ = GemmResidual.differingElements(cuda, gemm, p, m, n, k);
                    System.out.printf("residual epilogue %s %dx%dx%d (%s): %d of %d elements differ from C + (X·Wᵀ)%n", t.name(), m, n, k, p,
                            differ, m * n);
                    assertEquals(0, differ, t.name() + " " + m + "x" + n + "x" + k);
                }
        }
    }
}
