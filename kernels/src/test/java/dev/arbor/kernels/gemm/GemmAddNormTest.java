package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The add + norm epilogue on the CPU executor ({@link GemmAddNorm}): the composition's bits at a 4096-wide row (16 column tiles
 * of the SMALL tiles' 64 rows… 64 of them) and at odd widths (a ragged last column tile; 4,200: a second, partial chunk of the norm), 1-8 tokens, and past one token tile (20
 * tokens on SMALL: two token tiles, each normalised by its own last column tile).
 */
class GemmAddNormTest {
    @Test
    void theEpilogueWritesTheCompositionsBits() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false)) {
            int[][] cases = {{1, 4096, 512, 8}, {3, 1000, 776, 5}, {8, 200, 520, 3}, {20, 136, 256, 2}, {1, 13, 128, 2}, {2, 4200, 128, 2}};
            for (int[] c : cases) {
                int m = c[0], n = c[1], k = c[2];
                Gemm.Plan p = gemm.slabPlan(m, n, k, Gemm.SMALL, c[3], true);
                assertTrue(Gemm.addNormEpilogue(p), p.toString());
                assertEquals(c[3], p.splits(), p.toString());
                assertEquals(0, GemmAddNorm.differingElements(cpu, gemm, p, m, n, k), m + "x" + n + "x" + k + " " + p);
            }
        }
    }

    @Test
    void otherPlansAreLeftToTheComposition() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false); FloatArray x = new FloatArray(64 * 512); BFloat16Array w = new BFloat16Array(256 * 512);
             FloatArray resid = new FloatArray(64 * 256); FloatArray normW = new FloatArray(256); FloatArray out = new FloatArray(64 * 256);
             IntArray arrivals = new IntArray(64)) {
            assertFalse(Gemm.addNormEpilogue(gemm.plan(1, 256, 512, Gemm.SMALL, 1, true)), "one slice");
            assertFalse(Gemm.addNormEpilogue(gemm.slabPlan(64, 256, 512, Gemm.WIDE, 2, true)), "X converted first");
            assertFalse(gemm.matmulAddNorm(x, 1, w, 256, 512, gemm.plan(1, 256, 512, Gemm.SMALL, 1, true), resid, normW, out, arrivals, 1e-5));
            Gemm.Plan p = gemm.slabPlan(1, 256, 512, Gemm.SMALL, 2, true);
            assertThrows(IllegalArgumentException.class, () -> gemm.matmulAddNorm(x, 1, w, 256, 512, p, resid, normW, resid, arrivals, 1e-5));
            try (IntArray few = new IntArray(2)) {
                assertThrows(IllegalArgumentException.class, () -> gemm.matmulAddNorm(x, 1, w, 256, 512, p, resid, normW, out, few, 1e-5));
            }
        }
    }
}
