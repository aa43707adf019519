package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The deep plan (65-256 tokens, {@link Gemm#deepPlan}) on the CPU executor: its tiles, its choice among its candidates, where the
 * default and invariant plans take it, and its kernels against the double-precision reference at odd token counts (partial
 * W-row, token and K tiles, split-K atomics, a residual).
 */
class GemmDeepTest {
    private final CpuBackend cpu = new CpuBackend();

    @Test
    void deepTilesRoundTokensToSixteenAndFillSharedMemory() {
        Gemm.Tiles t = Gemm.deepTiles(8, 107);
        assertEquals(128, t.bn());
        assertEquals(112, t.bm());
        assertTrue(t.tma() && t.wgmma());
        assertTrue(t.sharedBytes() <= Gemm.DEEP_SHARED_BYTES, t.toString());
        assertTrue(t.sharedBytes() + (t.bn() + t.bm()) * 128 + 16 > Gemm.DEEP_SHARED_BYTES || t.stages() == Gemm.DEEP_MAX_STAGES, "as many stages as fit");
        assertEquals(1, Gemm.nominalBlocksPerSm(t), "one block a multiprocessor");
        assertEquals(80, Gemm.deepTiles(4, 65).bm());
        assertEquals(256, Gemm.deepTiles(12, 255).bm());
        assertEquals(192, Gemm.deepTiles(12, 192).bn());
        for (int m = Gemm.DEEP_MIN_M; m <= Gemm.DEEP_MAX_M; m++)
            for (int wn : Gemm.DEEP_WARPS) {
                Gemm.Tiles d = Gemm.deepTiles(wn, m);
                assertTrue(d.bm() >= m && d.bm() - m < 16 && d.stages() >= 4 && d.sharedBytes() <= 227 * 1024, d.toString());
            }
        assertThrows(IllegalArgumentException.class, () -> Gemm.deepTiles(6, 100));
        assertThrows(IllegalArgumentException.class, () -> Gemm.deepTiles(8, 257));
    }

    @Test
    void defaultPlanTakesTheDeepPlanWhereMeasuredFaster() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            hopper.midTuned(false);   // the rule under run 94's table (GemmMidTunedTest)
            for (int[] nk : new int[][]{{12288, 4096}, {4096, 4096}, {22016, 4096}, {4096, 11008}, {32000, 4096}, {3072, 2048}, {2048, 2048}, {16384, 2048}, {2048, 8192}})
                for (int m : new int[]{64, 65, 107, 128, 129, 192, 255, 256, 257}) {
                    int n = nk[0], k = nk[1];
                    Gemm.Plan p = hopper.plan(m, n, k, true, true);
                    boolean deep = p.tiles().name().startsWith("deep");
                    if (m < Gemm.DEEP_MIN_M || m > Gemm.DEEP_MAX_M) assertFalse(deep, m + "x" + n + "x" + k + ": " + p);
                    if (!deep) continue;
                    Gemm.Plan d = hopper.deepPlan(m, n, k, true);
                    assertEquals(d.tiles(), p.tiles());
                    assertEquals(d.splits(), p.splits());
                    for (Gemm.Plan c : hopper.deepCandidates(m, n, k, true))
                        assertTrue(hopper.deepMicros(d, m, n, k) <= hopper.deepMicros(c, m, n, k), "the model's fastest: " + d + " against " + c);
                    int[] g = d.launch().grid();
                    assertTrue(d.splits() == 1 || (long) g[0] * g[1] * g[2] <= 132, "split-K in one wave: " + d);
                    assertEquals(1, g[1], "one token tile");
                    System.out.printf("deep %5d x %5d x %5d: %s, model %.1f us%n", m, n, k, d, hopper.deepMicros(d, m, n, k));
                }
            if (!Gemm.DEEP_DEFAULT) return;
            // run 59-gemm14's points: deep where main ran TMA_256 or one K slice, main where it splits narrow weights or the tiles match
            assertEquals("deep192x112", hopper.plan(107, 22016, 4096, true, true).tiles().name(), "7b gate|up at 107: 55.1 against 67.5 µs");
            assertEquals("deep192x256", hopper.plan(256, 22016, 4096, true, true).tiles().name(), "7b gate|up at 256: 82.8 against 116.1 µs");
            assertEquals("deep128x192", hopper.plan(192, 12288, 4096, true, true).tiles().name(), "7b q|k|v at 192: main TMA_256");
            assertEquals("deep128x192", hopper.plan(192, 4096, 11008, true, true).tiles().name(), "7b down at 192: main TMA_256 in 4 slices");
            assertEquals("deep128x112", hopper.plan(107, 32000, 4096, true, true).tiles().name(), "lm_head at 107: one slice");
            assertSame(Gemm.TMA_128, hopper.plan(128, 12288, 4096, true, true).tiles(), "deep128x128 is TMA_128 with another ring");
            assertSame(Gemm.TMA_256, hopper.plan(256, 12288, 4096, true, true).tiles(), "deep128x256 is TMA_256");
            assertSame(Gemm.TMA_128, hopper.plan(107, 4096, 4096, true, true).tiles(), "7b o at 107: main's split-K");
            assertSame(Gemm.TMA_64X2, hopper.plan(107, 3072, 2048, true, true).tiles(), "1b q|k|v at 107: main's table");
            assertSame(Gemm.TMA_128, hopper.plan(107, 2048, 8192, true, true).tiles(), "1b down at 107: main's split-K");
            hopper.deep(false);
            assertFalse(hopper.plan(107, 22016, 4096, true, true).tiles().name().startsWith("deep"), "-Darbor.gemm.deep=false: the mid-range table");
        }
    }

    @Test
    void invariantPlanTakesDeepTilesUnsplitForOneSliceWeightsOnlyWhenAsked() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            hopper.invariantDeep(false);
            assertFalse(hopper.invariantPlan(107, 22016, 4096, true).tiles().name().startsWith("deep"));
            hopper.invariantDeep(true);
            Gemm.Plan p = hopper.invariantPlan(107, 22016, 4096, true);
            assertTrue(p.tiles().name().startsWith("deep"), p.toString());
            assertEquals(1, p.splits(), "all of K in one block, in order");
            assertEquals(1, hopper.invariantSlices(32000, 4096));
            assertTrue(hopper.invariantPlan(200, 32000, 4096, true).tiles().name().startsWith("deep"));
            assertFalse(hopper.invariantPlan(300, 22016, 4096, true).tiles().name().startsWith("deep"), "above 256 tokens");
            assertSame(Gemm.TMA_128, hopper.invariantPlan(128, 32000, 4096, true).tiles(), "deep128x128 is TMA_128: kept");
            Gemm.Plan o = hopper.invariantPlan(107, 4096, 4096, true);   // 8 slices: the slab forms, unchanged
            assertTrue(o.slabs() || o.registerSlices(), o.toString());
        }
    }

    /** The deep tiles' kernel on the CPU executor against the reference: odd M, every warp count, split-K, a residual, bf16 X. */
    @Test
    void deepTilesAgreeWithTheReference() {
        Gemm hopper = new Gemm(cpu, true);
        // 65 tokens on 64 W rows (3 W-row tiles, the last partial); 107 on 128 rows in 2 slices (atomics); 129 on 192 rows: two n80 halves
        GemmCase.of(65, 136, 456).check(cpu, hopper, hopper.plan(65, 136, 456, Gemm.deepTiles(4, 65), 1, true));
        GemmCase.of(107, 200, 1032).check(cpu, hopper, hopper.plan(107, 200, 1032, Gemm.deepTiles(8, 107), 2, true));
        GemmCase.of(129, 200, 520).check(cpu, hopper, hopper.plan(129, 200, 520, Gemm.deepTiles(12, 129), 1, true));
        new GemmCase(255, 72, 1032, "f32", "bf16", "f32", true).check(cpu, hopper, hopper.plan(255, 72, 1032, Gemm.deepTiles(4, 255), 3, true));
        if (Gemm.DEEP_DEFAULT) {   // the default plan: the deep plan's own choice, fp32 and bf16 X
            GemmCase.of(107, 264, 1032).check(cpu, hopper);
            new GemmCase(192, 136, 200, "bf16", "bf16", "f32", true).check(cpu, hopper);
        }
    }
}
