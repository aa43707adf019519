package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The residual epilogue on the CPU executor: every tile's unsplit {@code C += X·Wᵀ} stores {@code C₀ + P} bit for bit
 * ({@link GemmResidual}), at partial tiles in M, N and K: the grouped C loads of the mid and mma.sync tiles (4 fragments a
 * group; one group of 2 on SMALL) and the all-at-once loads of the two-warpgroup wgmma tiles.
 */
class GemmResidualTest {
    @Test
    void everyTilesResidualAddIsTheSumPlusC() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm hopper = new Gemm(cpu, true)) {
            int m = 70, n = 136, k = 200;
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.SMALL, Gemm.MEDIUM, Gemm.WIDE, Gemm.LARGE, Gemm.TMA_64, Gemm.TMA_64X2, Gemm.TMA_N64,
                    Gemm.TMA_128}) {
                int differ = GemmResidual.differingElements(cpu, hopper, hopper.plan(m, n, k, t, 1, true), m, n, k);
                assertEquals(0, differ, t.name() + ": elements of C + X·Wᵀ differing from C + (X·Wᵀ)");
            }
        }
    }
}
