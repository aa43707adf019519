package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On the CPU executor: the batch-invariant plan gives a row the same bits at M = 1, 3, 17 and 70 (three tile
 * shapes), with one K slice and with slabs added in a fixed order; above 64 tokens with the Hopper tiles (TMA slabs,
 * or the slices summed in registers) the same bits as the mma.sync slab plan.
 */
class GemmInvarianceTest {
    @Test
    void aRowsResultDoesNotDependOnM() {
        GemmInvariance.check(new CpuBackend(), 40, 64, 1, 1, 3, 17, 70);
    }

    @Test
    void slabSplitKIsInvariantToo() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu)) {
            assertTrue(gemm.invariantSlices(40, 512) > 1, "this shape must take the slab path");
        }
        GemmInvariance.check(cpu, 40, 512, 1, 1, 3, 17, 70);
    }

    /**
     * Above 64 tokens the Hopper planner's invariant forms (its own choice, the slices summed in registers by the sliced TMA
     * kernel on TMA_128 and TMA_192, TMA_128 slabs) against the mma.sync slab plan at 16 tokens: 17 K tiles in 4 slices of 5, 5, 5, 2 (a short
     * last slice), partial tiles in M and N, with and without a residual.
     */
    @Test
    void hopperFormsEqualTheMmaSyncSlabPlanInBits() {
        CpuBackend cpu = new CpuBackend();
        int n = 136, k = 1032;
        try (Gemm hopper = new Gemm(cpu, true); Gemm mmaSync = new Gemm(cpu)) {
            int slices = hopper.invariantSlices(n, k);
            assertEquals(4, slices);
            assertEquals(5, hopper.slicedPlan(70, n, k, slices, true).kTilesPerSplit());
            List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                    (g, m) -> g.invariantPlan(m, n, k, true),
                    (g, m) -> g.slicedPlan(m, n, k, slices, true),
                    (g, m) -> g.slicedPlan(m, n, k, Gemm.TMA_192, slices, true),   // three consumer warpgroups and the producer's (setmaxnreg)
                    (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_128, slices, true),
                    // the mid range's candidate tiles as slabs of the same slices (run 31-midm)
                    (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_64X2, slices, true),
                    (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_N64, slices, true));
            GemmInvariance.checkPlans(cpu, mmaSync, hopper, n, k, 16, forms, 70, 130);
            GemmInvariance.check(cpu, hopper, 40, 512, 1, 1, 17, 70);   // its default choice, across the 64/65 boundary
        }
    }

    /**
     * The sliced kernel on balanced token tiles ({@code Gemm.balancedTokens}: 80 tokens at 70 and 130, 112 at 100, on TMA_128
     * and TMA_192):
     * the mma.sync slab plan's bits (17 K tiles in 4 slices of 5, 5, 5, 2; partial tiles in M and N; with and without a
     * residual), and the invariant plan's own choice with both switches on takes the balanced tiles.
     */
    @Test
    void balancedTokenTilesKeepTheBits() {
        CpuBackend cpu = new CpuBackend();
        int n = 136, k = 1032;
        assertEquals("tma128b112", Gemm.balancedTokens(Gemm.TMA_128, 434).name());
        assertSame(Gemm.TMA_128, Gemm.balancedTokens(Gemm.TMA_128, 500));
        assertEquals(112, Gemm.balancedTokens(Gemm.TMA_192, 100).bm());
        assertEquals(80, Gemm.balancedTokens(Gemm.TMA_128, 130).bm());
        try (Gemm hopper = new Gemm(cpu, true); Gemm mmaSync = new Gemm(cpu)) {
            hopper.slicedBalanced(true);
            hopper.invariantNarrow(false);   // the registers, not the TMA_64X2 slabs this narrow weight takes at 65-256 tokens
            int slices = hopper.invariantSlices(n, k);
            Gemm.Plan own = hopper.invariantPlan(434, 4096, 4096, true);   // llama-7b's o at 434 tokens (planned only)
            assertTrue(own.registerSlices() && own.tiles().bm() == 112 && own.launch().grid()[1] == 4, "balanced sliced tiles at 434 tokens: " + own);
            List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                    (g, m) -> g.invariantPlan(m, n, k, true),
                    (g, m) -> g.slicedPlan(m, n, k, Gemm.balancedTokens(Gemm.TMA_128, m), slices, true),
                    (g, m) -> g.slicedPlan(m, n, k, Gemm.balancedTokens(Gemm.TMA_192, m), slices, true));
            GemmInvariance.checkPlans(cpu, mmaSync, hopper, n, k, 16, forms, 70, 100, 130);
        }
    }

    /**
     * Slab groups (a block a few K slices through one ring, {@code Gemm.slabGroupPlan}) store the slab plan's slabs: 17 K tiles in 4
     * slices of 5, 5, 5, 2, in groups of 2 (two blocks along z), 3 (a short last group holding the short last slice) and 4 (one
     * block all of K), on TMA_64X2, TMA_N64 and TMA_128 (TMA_256 in groups of 3), partial tiles in M and N, summed by the sum kernel with and without a
     * residual: the mma.sync slab plan's bits. The slab scratch is checked too: slab for slab the plain slab plan's bits.
     */
    @Test
    void slabGroupsStoreTheSlabPlansSlabs() {
        CpuBackend cpu = new CpuBackend();
        int n = 136, k = 1032;
        try (Gemm hopper = new Gemm(cpu, true); Gemm mmaSync = new Gemm(cpu)) {
            int slices = hopper.invariantSlices(n, k);
            assertEquals(4, slices);
            List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = new java.util.ArrayList<>();
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_128, Gemm.TMA_256})
                for (int group : t == Gemm.TMA_256 ? new int[]{3} : new int[]{2, 3, 4}) {
                    Gemm.Plan p = hopper.slabGroupPlan(70, n, k, t, slices, group, true);
                    assertEquals(group, p.slabGroup(), p.toString());
                    assertEquals((slices + group - 1) / group, p.launch().grid()[2], p.toString());
                    forms.add((g, m) -> g.slabGroupPlan(m, n, k, t, slices, group, true));
                }
            GemmInvariance.checkPlans(cpu, mmaSync, hopper, n, k, 16, forms, 70, 130);
            // the unsummed slabs (what a fused consumer adds): the same floats slab for slab
            java.util.Random r = new java.util.Random(3);
            int m = 70;
            try (dev.arbor.accel.array.FloatArray x = new dev.arbor.accel.array.FloatArray(m * k);
                 dev.arbor.accel.array.BFloat16Array w = new dev.arbor.accel.array.BFloat16Array(n * k);
                 dev.arbor.accel.array.FloatArray c = new dev.arbor.accel.array.FloatArray(m * n)) {
                for (int i = 0; i < x.length(); i++) x.set(i, (float) r.nextGaussian());
                for (int i = 0; i < w.length(); i++) w.set(i, (float) r.nextGaussian() * 0.05f);
                cpu.toDevice(x, w);
                float[] plain = slabs(cpu, hopper.matmulPartial(x, m, w, n, k, c, hopper.slabPlan(m, n, k, Gemm.TMA_64X2, slices, true)), m * n);
                for (int group : new int[]{2, 3}) {
                    float[] grouped = slabs(cpu, hopper.matmulPartial(x, m, w, n, k, c, hopper.slabGroupPlan(m, n, k, Gemm.TMA_64X2, slices, group, true)), m * n);
                    for (int i = 0; i < plain.length; i++)
                        assertEquals(Float.floatToRawIntBits(plain[i]), Float.floatToRawIntBits(grouped[i]), "group " + group + ", slab float " + i);
                }
            }
        }
    }

    private static float[] slabs(CpuBackend cpu, Gemm.Partial p, int count) {
        assertEquals(4, p.slices());
        cpu.toHost(p.sums());
        float[] out = new float[p.slices() * count];
        for (int i = 0; i < out.length; i++) out[i] = p.sums().get(i);
        return out;
    }

    /**
     * The rule ({@code Gemm.slabGroupFor}): llama-7b's o and down at 65-128 tokens (TMA_64X2 slabs, 64 tiles × 8 slices for 264
     * slots) in groups of 2 (one wave of 256 blocks, 2 a multiprocessor as 4 of one slice); 4096² at 256 tokens in groups of 4; a
     * block a slice for llama3.2-1b's q|k|v (one wave would put 4 slices on a multiprocessor where 384 blocks put 3), at 192 tokens
     * (no one-wave group) and where the slab grid is one wave already (llama3.2-1b's o and down, 256 blocks); nothing with the
     * switch off, nor in the default (split-K) plan.
     */
    @Test
    void slabGroupsWhereTheyCutWaves() {
        try (Gemm hopper = new Gemm(new CpuBackend(), true)) {
            for (int m : new int[]{65, 107, 128})
                for (int[] nk : new int[][]{{4096, 4096}, {4096, 11008}}) {
                    Gemm.Plan p = hopper.invariantPlan(m, nk[0], nk[1], true);
                    assertSame(Gemm.TMA_64X2, p.tiles(), p.toString());
                    assertEquals(8, p.splits(), p.toString());
                    assertEquals(2, p.slabGroup(), m + " x " + nk[0] + " x " + nk[1] + ": " + p);
                    assertEquals(4, p.launch().grid()[2], p.toString());
                }
            assertEquals(1, hopper.invariantPlan(107, 3072, 2048, true).slabGroup(), "1b q|k|v: 3 blocks a multiprocessor against 2 of two slices");
            assertEquals(1, hopper.invariantPlan(192, 4096, 4096, true).slabGroup(), "96 tiles: no group makes one wave at the same load");
            assertEquals(4, hopper.invariantPlan(256, 4096, 4096, true).slabGroup(), "128 tiles × 8 slices: 8 blocks a multiprocessor against 2 of 4");
            assertEquals(1, hopper.invariantPlan(128, 2048, 2048, true).slabGroup(), "1b o: one wave already");
            assertEquals(1, hopper.invariantPlan(128, 2048, 8192, true).slabGroup(), "1b down: one wave already");
            assertEquals(1, hopper.plan(107, 4096, 4096, true, true).slabGroup(), "the default plan's split-K");
            Gemm.Plan qkv = hopper.invariantPlan(70, 12288, 4096, true);   // TMA_128 slabs, 2 slices: one group would be the sliced kernel's form
            assertTrue(qkv.slabs() && qkv.splits() == 2 && qkv.slabGroup() == 1, qkv.toString());
            Gemm.Plan down = hopper.invariantPlan(200, 4096, 11008, true);   // TMA_256 slabs: 32 tiles × 8 for 132 slots
            assertSame(Gemm.TMA_256, down.tiles(), down.toString());
            assertEquals(2, down.slabGroup(), down.toString());
            hopper.slabGroups(false);
            assertEquals(1, hopper.invariantPlan(107, 4096, 4096, true).slabGroup(), "switch off: a block a slice");
            assertEquals(8, hopper.invariantPlan(107, 4096, 4096, true).launch().grid()[2]);
        }
    }

    /**
     * A one-slice weight on the default plan's unsplit tiles the invariant plan takes since run 53-inv11: TMA_256X3 (two n128
     * halves a k16 step) and the ping-pong kernel (its grid as planned, and one block running every tile) give the mma.sync
     * plan's bits; the rule takes them where the default plan does (llama-7b's gate|up), TMA_256 with the property off.
     */
    @Test
    void oneSliceWeightsTakeTheDefaultPlansTilesWithTheSameBits() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm hopper = new Gemm(cpu, true); Gemm mmaSync = new Gemm(cpu)) {
            int n = 200, k = 128;   // two K tiles: one slice
            assertEquals(1, hopper.invariantSlices(n, k));
            List<BiFunction<Gemm, Integer, Gemm.Plan>> one = List.of(
                    (g, m) -> g.plan(m, n, k, Gemm.TMA_256X3, 1, true),
                    (g, m) -> g.pingPongPlan(m, n, k, Gemm.TMA_PP128, true),
                    (g, m) -> withBlocks(g.pingPongPlan(m, n, k, Gemm.TMA_PP128, true), 1));
            GemmInvariance.checkPlans(cpu, mmaSync, hopper, n, k, 16, one, 70, 300);
            for (int m : new int[]{434, 512, 2048})
                assertSame(Gemm.TMA_256X3, hopper.invariantPlan(m, 22016, 4096, true).tiles(), "gate|up at " + m);
            assertSame(Gemm.TMA_PP128, hopper.invariantPlan(1280, 22016, 4096, true).tiles(), "1280 tokens: 7 waves of TMA_256 against 5 × 1.42: the default plan's ping-pong");
            assertSame(Gemm.TMA_256, hopper.invariantPlan(8192, 22016, 4096, true).tiles(), "above 2048 tokens TMA_256, as the default plan");
            hopper.invariantDefaultTiles(false);
            assertSame(Gemm.TMA_256, hopper.invariantPlan(434, 22016, 4096, true).tiles(), "the plan before");
        }
    }

    /**
     * A one-slice weight on the deep tiles unsplit (the invariant plan's form with invariantDeep): every warp count, token counts
     * rounded up to 80-256 (three warpgroups' two halves a step above 128), against the mma.sync plan: the same bits on the CPU
     * executor (the GPU's answer: GemmInvarianceGpuTest).
     */
    @Test
    void oneSliceWeightsOnTheDeepTilesKeepTheBits() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm hopper = new Gemm(cpu, true); Gemm mmaSync = new Gemm(cpu)) {
            int n = 200, k = 128;
            hopper.invariantDeep(true);
            List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                    (g, m) -> g.invariantPlan(m, n, k, true),
                    (g, m) -> g.plan(m, n, k, Gemm.deepTiles(4, m), 1, true),
                    (g, m) -> g.plan(m, n, k, Gemm.deepTiles(8, m), 1, true),
                    (g, m) -> g.plan(m, n, k, Gemm.deepTiles(12, m), 1, true));
            GemmInvariance.checkPlans(cpu, mmaSync, hopper, n, k, 16, forms, 65, 129, 255);
        }
    }

    /** p with a persistent grid of {@code blocks} blocks. */
    private static Gemm.Plan withBlocks(Gemm.Plan p, int blocks) {
        dev.arbor.accel.Launch l = p.launch();
        return new Gemm.Plan(p.tiles(), p.splits(), p.kTilesPerSplit(), new dev.arbor.accel.Launch(new int[]{blocks, 1, 1}, l.block(), l.sharedBytes(), null),
                p.convertFirst(), p.slabs(), p.registerSlices(), p.persistent());
    }

    /**
     * The forms by the time model (TMA_64X2 slabs off): few blocks take the slabs (parallelism), a full GPU of blocks the
     * registers, on TMA_192 where its fewer, wider tiles lose no wave (runs 35-inv6, 39-gemm8); then the TMA_64X2 slabs (on by default)
     * at their shapes.
     */
    @Test
    void theTimeModelPicksSlabsForFewBlocksAndRegistersForMany() {
        try (Gemm hopper = new Gemm(new CpuBackend(), true)) {
            hopper.invariantNarrow(false);
            assertTrue(hopper.invariantPlan(128, 4096, 4096, true).slabs(), "32 blocks of 64 K tiles: slabs");
            assertTrue(hopper.invariantPlan(256, 4096, 4096, true).slabs(), "64 blocks: still slabs (48.1 against 52.9 µs, run 27-gemm4)");
            assertTrue(hopper.invariantPlan(512, 1024, 4096, true).slabs(), "k/v, 32 blocks");
            assertTrue(hopper.invariantPlan(2048, 1024, 4096, true).registerSlices(), "k/v, 128 blocks");
            assertSame(Gemm.TMA_128, hopper.invariantPlan(512, 4096, 4096, true).tiles(), "128 blocks: registers, 53.8 against TMA_192's 60.2 µs");
            assertTrue(hopper.invariantPlan(512, 4096, 4096, true).registerSlices());
            assertSame(Gemm.TMA_128, hopper.invariantPlan(512, 4096, 11008, true).tiles(), "88 blocks of 192 rows, 128 of 128: 125.4 against 142.9 µs");
            // TMA_192 with its producer warpgroup (run 39-gemm8): 3 waves where TMA_128 needs 4
            assertSame(Gemm.TMA_192, hopper.invariantPlan(2048, 4096, 4096, true).tiles(), "3 waves of 192 against 4 of 128: 180.2 against 207.0 µs");
            assertSame(Gemm.TMA_192, hopper.invariantPlan(2048, 4096, 11008, true).tiles(), "437.5 against 504.9 µs");
            assertTrue(hopper.invariantPlan(8192, 4096, 4096, true).registerSlices());
            // llama-7b's q|k|v: TMA_192's fewer waves (run 39-gemm8)
            for (int[] mUs : new int[][]{{256, 595}, {512, 1151}, {2048, 4596}}) {
                Gemm.Plan p = hopper.invariantPlan(mUs[0], 12288, 4096, true);
                assertSame(Gemm.TMA_192, p.tiles(), mUs[0] + " tokens: " + mUs[1] / 10.0 + " µs on TMA_192");
                assertTrue(p.registerSlices(), p.toString());
            }
            assertSame(Gemm.TMA_128, hopper.invariantPlan(128, 12288, 4096, true).tiles(), "one wave either way: 51.0 against 58.0 µs");
            // 129-256 tokens: TMA_256 slabs where the model expects them faster (run 31-midm's 12 points)
            assertSame(Gemm.TMA_256, hopper.invariantPlan(192, 4096, 11008, true).tiles(), "4096 x 11008 at 192: 76.4 against 81.0 µs");
            assertTrue(hopper.invariantPlan(192, 4096, 11008, true).slabs());
            // measured in 3 slices, the count before run 43-gemv9's rule (now 5)
            assertTrue(hopper.invariantPlan(256, 6144, 4096, 3, true).registerSlices(), "6144 x 4096 at 256: registers, 50.9 against 60.1 µs");
            assertSame(Gemm.TMA_128, hopper.invariantPlan(256, 1024, 4096, true).tiles(), "k/v at 256: TMA_128 slabs, 16.3 against 22.0 µs");
            assertSame(Gemm.TMA_128, hopper.invariantPlan(128, 4096, 4096, true).tiles(), "128 tokens: no TMA_256");
            hopper.invariantNarrow(true);   // the default: TMA_64X2 slabs of the same slices at the measured shapes, the model elsewhere
            Gemm.Plan narrow = hopper.invariantPlan(107, 4096, 4096, true);
            assertSame(Gemm.TMA_64X2, narrow.tiles());
            assertTrue(narrow.slabs() && narrow.splits() == hopper.invariantSlices(4096, 4096), narrow.toString());
            assertSame(Gemm.TMA_64X2, hopper.invariantPlan(128, 4096, 11008, true).tiles(), "53.4 against 58.0 µs");
            assertSame(Gemm.TMA_64X2, hopper.invariantPlan(256, 4096, 4096, true).tiles(), "44.5 against 48.5 µs");
            assertSame(Gemm.TMA_64X2, hopper.invariantPlan(192, 4096, 11008, true).tiles());
            assertSame(Gemm.TMA_256, hopper.invariantPlan(256, 4096, 11008, true).tiles(), "256 tokens of 4096 x 11008: the model's TMA_256 slabs");
            assertTrue(hopper.invariantPlan(107, 12288, 4096, true).registerSlices(), "12288 rows: not a narrow shape");
            Gemm.Plan one = hopper.invariantPlan(512, 22016, 4096, true);   // one slice (stacked gate|up): the plain TMA tile
            assertEquals(1, one.splits());
            assertTrue(one.tiles().tma() && !one.slabs() && !one.registerSlices(), one.toString());
        }
    }
}
