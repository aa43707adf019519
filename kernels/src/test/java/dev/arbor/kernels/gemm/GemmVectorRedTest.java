package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.gemm.vectorRed} on the CPU executor: the TMA tiles' split-K adds as vector reductions ({@link GemmKernels#redF32Tile},
 * a 4 × 4 transpose by lane shuffles, then one 16-byte add per 4 W rows of a token) against the reference (the tolerance of every
 * GEMM test): TMA_64X2, TMA_N64 and TMA_128 in 2, 3 and 5 K slices (17 K tiles: a short last slice), partial tiles in M and N
 * (70 and 130 tokens, 136 W rows), into zeros and onto a residual. A row or token put in the wrong place by the transpose, or
 * a dropped quad, is an error of the size of C's elements. 134 W rows (not a multiple of 4) keep the scalar adds.
 */
class GemmVectorRedTest {
    private final CpuBackend cpu = new CpuBackend();

    @Test
    void vectorReductionsAgreeWithTheReference() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            hopper.vectorRed(true);
            int n = 136, k = 1032;
            long before = Gemm.vectorRedLaunches();
            int launches = 0;
            for (Object[] c : new Object[][]{{Gemm.TMA_64X2, 2, 70}, {Gemm.TMA_64X2, 5, 130}, {Gemm.TMA_N64, 3, 70}, {Gemm.TMA_128, 3, 130}}) {
                Gemm.Tiles t = (Gemm.Tiles) c[0];
                int slices = (Integer) c[1], m = (Integer) c[2];
                Gemm.Plan p = hopper.plan(m, n, k, t, slices, true);
                assertTrue(p.splits() == slices && !p.slabs() && !p.cluster(), p.toString());
                GemmCase.of(m, n, k).check(cpu, hopper, p);
                new GemmCase(m, n, k, "f32", "bf16", "f32", true).check(cpu, hopper, p);
                launches += 2;
            }
            assertEquals(launches, Gemm.vectorRedLaunches() - before, "split-K launches with vector reductions");
            long scalar = Gemm.vectorRedLaunches();
            GemmCase.of(70, 134, k).check(cpu, hopper, hopper.plan(70, 134, k, Gemm.TMA_64X2, 3, true));
            assertEquals(scalar, Gemm.vectorRedLaunches(), "134 W rows: the scalar adds");
        }
    }
}
