package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The norm in the next product's prologue on the CPU executor ({@link GemmNormPrologue}): the composition's bits at llama-7b's
 * row (hidden 4096, the next product's K in 2 slabs as q|k|v's, or one slice with the SwiGLU epilogue as gate|up's) and at odd
 * widths (1,000: K not a multiple of 64, a zero-filled last stage; 4,200: a second, partial chunk of the norm; 136), 1-16 tokens (the SwiGLU cases at 1: a one-slice plan at 2+ tokens converts X first, not this form).
 */
class GemmNormPrologueTest {
    @Test
    void thePrologueGivesTheCompositionsBits() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false)) {
            // {m, hidden, k1, slices1, n2, slices2 (0: one slice with SwiGLU)}
            int[][] cases = {{1, 4096, 256, 8, 64, 2}, {1, 4096, 256, 8, 32, 0}, {3, 1000, 136, 3, 104, 3}, {1, 4200, 128, 2, 80, 0},
                    {2, 136, 128, 2, 72, 2}, {16, 256, 128, 2, 64, 2}, {1, 1000, 128, 2, 48, 0}};
            for (int[] c : cases) {
                int m = c[0], hidden = c[1], k1 = c[2], n2 = c[4];
                boolean swiGlu = c[5] == 0;
                Gemm.Plan p1 = gemm.slabPlan(m, hidden, k1, Gemm.SMALL, c[3], true);
                Gemm.Plan p2 = gemm.slabPlan(m, n2, hidden, Gemm.SMALL, swiGlu ? 1 : c[5], true);
                assertTrue(Gemm.normPrologue(p2, m), p2.toString());
                String what = m + "x" + hidden + "x" + k1 + " then " + n2 + (swiGlu ? " SwiGLU" : "") + ": " + p1 + " / " + p2;
                assertEquals(0, GemmNormPrologue.differingElements(cpu, gemm, p1, p2, m, hidden, k1, n2, swiGlu), what);
            }
        }
    }

    @Test
    void theSettledNormGivesTheSplitRowsBits() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false)) {
            // {1, 256, 640, 10}: slabs past FusedKernels.ADD_NORM_PREFETCH (the tail adds the last two one at a time)
            int[][] cases = {{1, 4096, 256, 8}, {8, 4096, 128, 2}, {3, 1000, 136, 3}, {2, 4200, 128, 2}, {1, 256, 640, 10}, {2, 320, 576, 9}};
            for (int[] c : cases) {
                Gemm.Plan p = gemm.slabPlan(c[0], c[1], c[2], Gemm.SMALL, c[3], true);
                if (c[3] > 8) assertEquals(c[3], p.splits(), p.toString());   // past the slab prefetch indeed (fewer K tiles cap the others)
                assertEquals(0, GemmNormPrologue.settledDiffers(cpu, gemm, p, c[0], c[1], c[2]), c[0] + "x" + c[1] + "x" + c[2] + " " + p);
            }
        }
    }

    @Test
    void otherPlansAreLeftToTheComposition() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false)) {
            assertFalse(Gemm.normPrologue(gemm.slabPlan(20, 256, 512, Gemm.SMALL, 2, true), 20), "two token tiles");
            assertFalse(Gemm.normPrologue(gemm.plan(1, 256, 512, Gemm.SMALL, 2, true), 1), "split-K atomics");
            assertFalse(Gemm.normPrologue(gemm.slabPlan(64, 256, 512, Gemm.WIDE, 2, true), 64), "X converted first, 8 warps");
            assertTrue(Gemm.normPrologue(gemm.plan(1, 256, 512, Gemm.SMALL, 1, true), 1));
            try (var resid = new dev.arbor.accel.array.FloatArray(20 * 512); var w = new dev.arbor.accel.array.BFloat16Array(256 * 512);
                 var normW = new dev.arbor.accel.array.FloatArray(512); var c = new dev.arbor.accel.array.FloatArray(20 * 256)) {
                assertNull(gemm.matmulNormPartial(resid, normW, 1e-5, 20, w, 256, 512, c, gemm.slabPlan(20, 256, 512, Gemm.SMALL, 2, true)));
                assertFalse(gemm.matmulNormSwiGlu(resid, normW, 1e-5, 1, w, 256, 512, c, gemm.slabPlan(1, 256, 512, Gemm.SMALL, 2, true)));
            }
        }
    }
}
