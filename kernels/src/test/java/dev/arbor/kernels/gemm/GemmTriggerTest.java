package dev.arbor.kernels.gemm;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Gemm#earlyTrigger} on the CPU executor: the early-trigger twins ({@link GemmKernels#xf32Wbf16Trigger},
 * {@link GemmKernels#xf32Wbf16SwiGluTrigger}) are launched for the fp32-X mma.sync plans the engine's decode steps take (the
 * invariant plan's slabs, left unsummed as {@code matmulPartial} leaves them and summed; one slice; the SwiGLU epilogue; atomic
 * split-K) and give the plain kernels' bits at M = 1, 3 and 16 with partial tiles in N (200, 72 rows) and K (328: a partial K
 * tile); the products on bf16 X (X converted first, or bf16 from the caller) launch none.
 */
class GemmTriggerTest {
    @Test
    void theTwinsGiveThePlainKernelsBits() {
        CpuBackend cpu = new CpuBackend();
        int n = 200, k = 328, inter = 72;
        Random r = new Random(23);
        try (Gemm gemm = new Gemm(cpu); FloatArray x = new FloatArray(16 * k); BFloat16Array w = new BFloat16Array(n * k);
             GemmSwiGlu swiGlu = new GemmSwiGlu(cpu, inter, k)) {
            for (int i = 0; i < x.length(); i++) x.set(i, (float) r.nextGaussian());
            for (int i = 0; i < w.length(); i++) w.set(i, (float) r.nextGaussian() * 0.05f);
            int compared = 0;
            for (int m : new int[]{1, 3, 16}) {
                Gemm.Plan[] plans = {gemm.invariantPlan(m, n, k, true), gemm.slabPlan(m, n, k, Gemm.tilesFor(m), 3, true),
                        gemm.plan(m, n, k, Gemm.tilesFor(m), 1, true), gemm.plan(m, n, k, Gemm.tilesFor(m), 2, true)};
                for (Gemm.Plan p : plans) {
                    float[] plain = product(gemm, x, m, w, n, k, p, false, false), twin = product(gemm, x, m, w, n, k, p, true, !p.convertFirst());
                    assertEquals(plain.length, twin.length);
                    for (int i = 0; i < plain.length; i++, compared++)
                        assertEquals(Float.floatToRawIntBits(plain[i]), Float.floatToRawIntBits(twin[i]), p + " m=" + m + ": element " + i);
                    if (p.slabs()) {   // the slabs themselves, unsummed (the engine's matmulPartial before qkvRopeStore / the norm)
                        float[] a = partial(gemm, x, m, w, n, k, p, false), b = partial(gemm, x, m, w, n, k, p, true);
                        for (int i = 0; i < a.length; i++, compared++)
                            assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), p + " m=" + m + ": slab element " + i);
                    }
                }
                Gemm.Plan one = gemm.plan(m, 2 * inter, k, Gemm.tilesFor(m), 1, true);
                int[] off = swiGlu.differingElements(gemm, one, m, false);
                long before = Gemm.triggerLaunches();
                gemm.earlyTrigger(true);
                int[] on;
                try {
                    on = swiGlu.differingElements(gemm, one, m, false);
                } finally {
                    gemm.earlyTrigger(false);
                }
                if (one.convertFirst()) assertEquals(before, Gemm.triggerLaunches(), "a SwiGLU twin launched on bf16 X at m=" + m);
                else assertTrue(Gemm.triggerLaunches() > before, "no SwiGLU twin launched at m=" + m);
                assertEquals(0, off[0], "SwiGLU m=" + m + " off");
                assertEquals(0, on[0], "SwiGLU twin m=" + m + ": h differs from the stacked composition");
            }
            assertTrue(compared > 10_000, "compared " + compared);
            // bf16 X: no twin (the early trigger is the fp32-X decode tiles' only)
            try (BFloat16Array xb = new BFloat16Array(16 * k); FloatArray c = new FloatArray(16 * n)) {
                long before = Gemm.triggerLaunches();
                gemm.earlyTrigger(true);
                try {
                    gemm.matmul(xb, 3, w, n, k, c, false, gemm.plan(3, n, k, Gemm.SMALL, 1, false));
                } finally {
                    gemm.earlyTrigger(false);
                }
                assertEquals(before, Gemm.triggerLaunches(), "a twin launched for bf16 X");
            }
        }
    }

    /** GemmTriggerGpuTest's chain (o slabs → add + norm → gate|up SwiGLU → down slabs) on the CPU executor at a small shape. */
    @Test
    void theDecodeChainGivesThePlainBits() {
        assertTrue(GemmTriggerGpuTest.compareChains(new CpuBackend(), 256, 344, 2) > 1000);
    }

    /** C = X·Wᵀ under plan p, with the early trigger on or off; {@code expectTwin}: a twin must have been launched. */
    private static float[] product(Gemm gemm, FloatArray x, int m, BFloat16Array w, int n, int k, Gemm.Plan p, boolean trigger, boolean expectTwin) {
        try (FloatArray c = new FloatArray(m * n)) {
            long before = Gemm.triggerLaunches();
            gemm.earlyTrigger(trigger);
            try {
                gemm.matmul(x, m, w, n, k, c, false, p);
            } finally {
                gemm.earlyTrigger(false);
            }
            if (expectTwin) assertTrue(Gemm.triggerLaunches() > before, "no twin launched for " + p);
            else assertEquals(before, Gemm.triggerLaunches(), "a twin launched " + (trigger ? "for bf16 X (converted first): " : "with the trigger off: ") + p);
            float[] out = new float[m * n];
            for (int i = 0; i < out.length; i++) out[i] = c.get(i);
            return out;
        }
    }

    /** The plan's slabs (slices, m, n), unsummed, with the early trigger on or off. */
    private static float[] partial(Gemm gemm, FloatArray x, int m, BFloat16Array w, int n, int k, Gemm.Plan p, boolean trigger) {
        try (FloatArray c = new FloatArray(m * n)) {
            gemm.earlyTrigger(trigger);
            Gemm.Partial s;
            try {
                s = gemm.matmulPartial(x, m, w, n, k, c, p);
            } finally {
                gemm.earlyTrigger(false);
            }
            float[] out = new float[s.slices() * m * n];
            for (int i = 0; i < out.length; i++) out[i] = s.sums().get(i);
            return out;
        }
    }
}
