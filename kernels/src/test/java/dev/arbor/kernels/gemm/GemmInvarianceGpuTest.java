package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.BiFunction;

/**
 * On the tensor cores: the batch-invariant plan gives the first rows the same bits at every M, across the
 * small, medium and large tiles and the convert-first path for large M (Llama-2-7B q-projection shape), and above 64
 * tokens across its Hopper forms (TMA slabs, slices summed in registers) at several weight shapes.
 */
@Tag("gpu")
class GemmInvarianceGpuTest {
    @Test
    void aRowsResultDoesNotDependOnM() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            GemmInvariance.check(cuda, 4096, 4096, 3, 3, 1 + 3, 16, 64, 65, 300, 2048);
        }
    }

    /**
     * A weight of one K slice (llama-7b's stacked gate|up): one token converts fp32 X on load, 2-16 tokens convert it to bf16
     * first (run 43-gemv9), 17 run the 64×32 tiles: the first row the same bits every way.
     */
    @Test
    void oneSliceWeightsConvertFirstWithTheSameBits() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            GemmInvariance.check(cuda, 22016, 4096, 1, 1, 2, 8, 16, 17);
        }
    }

    /**
     * A one-slice weight (llama-7b's stacked gate|up) on the default plan's unsplit tiles the invariant plan takes since run
     * 53-inv11 — TMA_256X3 (two n128 halves a k16 step) and the ping-pong kernel on TMA_PP128 — and on TMA_256 (the form before) against
     * the mma.sync plan at 64 tokens: the first 64 rows the same bits at 300 and 1100 tokens, with and without a residual.
     */
    @Test
    void oneSliceWeightsOnTheDefaultPlansTilesKeepTheBits() {
        int n = 22016, k = 4096;
        try (CudaBackend cuda = CudaBackend.open(0); Gemm hopper = new Gemm(cuda); Gemm mmaSync = new Gemm(cuda, false)) {
            List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                    (g, m) -> g.invariantPlan(m, n, k, true),
                    (g, m) -> g.plan(m, n, k, Gemm.TMA_256, 1, true),
                    (g, m) -> g.plan(m, n, k, Gemm.TMA_256X3, 1, true),
                    (g, m) -> g.pingPongPlan(m, n, k, Gemm.TMA_PP128, true));
            GemmInvariance.checkPlans(cuda, mmaSync, hopper, n, k, 64, forms, 300, 1100);
        }
    }

    /**
     * Hopper's {@code wgmma.m64nNk16} over a K slice gives the same bits as {@code mma.sync.m16n8k16} over it (the
     * question the invariant plan's large-M wgmma path rests on): the slab plan of the cp.async wgmma tiles (N = 128 and
     * 256 of a wgmma) against the invariant plan's mma.sync tiles at M = 64, first 64 rows, three weight shapes.
     */
    @Test
    void wgmmaSlicesEqualMmaSyncSlices() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            for (int[] nk : new int[][]{{4096, 4096}, {1024, 4096}, {4096, 11008}})
                GemmInvariance.checkTilesAgainstInvariant(cuda, nk[0], nk[1], 64, new Gemm.Tiles[]{Gemm.WGMMA_128, Gemm.WGMMA_256}, 65, 300);
        }
    }

    /**
     * The invariant plan's Hopper forms above 64 tokens (its own choice; the slices summed in registers on TMA_128 and TMA_192; TMA_128, TMA_256 and the
     * mid range's TMA_64, TMA_64X2 and TMA_N64 slabs) against its mma.sync slab plan at 64 tokens (the WIDE tiles), first 64 rows, with and without a residual:
     * q/o, k/v, the 11008-wide down projection (a short last slice: 172 K tiles in 5 slices of 35), Llama-3's stacked q|k|v.
     */
    @Test
    void hopperFormsAboveSixtyFourTokensEqualTheMmaSyncSlabPlan() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm hopper = new Gemm(cuda); Gemm mmaSync = new Gemm(cuda, false)) {
            for (int[] nk : new int[][]{{4096, 4096}, {1024, 4096}, {4096, 11008}, {6144, 4096}}) {
                int n = nk[0], k = nk[1], slices = hopper.invariantSlices(n, k);
                List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                        (g, m) -> g.invariantPlan(m, n, k, true),
                        (g, m) -> g.slicedPlan(m, n, k, slices, true),
                        (g, m) -> g.slicedPlan(m, n, k, Gemm.TMA_192, slices, true),
                        (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_128, slices, true),
                        (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_256, slices, true),
                        // the mid range's candidates as slabs of the same slices (run 31-midm)
                        (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_64, slices, true),
                        (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_64X2, slices, true),
                        (g, m) -> g.slabPlan(m, n, k, Gemm.TMA_N64, slices, true));
                GemmInvariance.checkPlans(cuda, mmaSync, hopper, n, k, 64, forms, 65, 300, n == 4096 && k == 4096 ? 2048 : 129);
            }
        }
    }
    /**
     * Run 99-gemm24: the sliced kernel on balanced token tiles ({@code Gemm.balancedTokens}: 4 × 112 rows at 434 tokens, 3 × 112
     * at 300) at llama-7b's o (4096²), down (4096 × 11008) and q|k|v (12288 × 4096), on TMA_128 and TMA_192 and the invariant
     * plan's own choice, at 300, 434 and 500 tokens, against the mma.sync slab plan at 64 tokens: the first 64 rows the same bits, with and without a residual
     * (54 comparisons, 0 elements differing, with the since-dropped residual prefetch and overlapped launch on as well: run 99-gemm24).
     */
    @Test
    void balancedTokenTilesEqualTheMmaSyncSlabPlan() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm hopper = new Gemm(cuda); Gemm mmaSync = new Gemm(cuda, false)) {
            hopper.slicedBalanced(true);
            for (int[] nk : new int[][]{{4096, 4096}, {4096, 11008}, {12288, 4096}}) {
                int n = nk[0], k = nk[1], slices = hopper.invariantSlices(n, k);
                org.junit.jupiter.api.Assertions.assertEquals(112, hopper.invariantPlan(434, n, k, true).tiles().bm(), "balanced tiles at 434 tokens");
                List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                        (g, m) -> g.invariantPlan(m, n, k, true),
                        (g, m) -> g.slicedPlan(m, n, k, Gemm.balancedTokens(Gemm.TMA_128, m), slices, true),
                        (g, m) -> g.slicedPlan(m, n, k, Gemm.balancedTokens(Gemm.TMA_192, m), slices, true));
                GemmInvariance.checkPlans(cuda, mmaSync, hopper, n, k, 64, forms, 300, 434, 500);
            }
        }
    }

    /**
     * Slab groups ({@code Gemm.slabGroupPlan}: a block 2 or 3 K slices through one ring, each into its own slab) on the H200:
     * llama-7b's o (4096², 8 slices of 8 K tiles), down (4096 × 11008, 8 slices of 22 with a last of 18) and llama3.2-1b's q|k|v
     * (3072 × 2048, 8 of 4) on TMA_64X2 (the invariant plan's tile there), TMA_128 and TMA_256, and the invariant plan's own choice
     * (slab groups of 2 at 65-128 tokens for o and down), against the mma.sync slab plan at 64 tokens: the first 64 rows the same bits at 65, 107,
     * 128 and 192 tokens, with and without a residual.
     */
    @Test
    void slabGroupsEqualTheMmaSyncSlabPlan() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm hopper = new Gemm(cuda); Gemm mmaSync = new Gemm(cuda, false)) {
            for (int[] nk : new int[][]{{4096, 4096}, {4096, 11008}, {3072, 2048}}) {
                int n = nk[0], k = nk[1], slices = hopper.invariantSlices(n, k);
                org.junit.jupiter.api.Assertions.assertEquals(n == 4096 ? 2 : 1, hopper.invariantPlan(107, n, k, true).slabGroup(),
                        "the plan's own slab groups at 107 tokens (llama-7b's o and down; not 1b q|k|v)");
                List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                        (g, m) -> g.invariantPlan(m, n, k, true),
                        (g, m) -> g.slabGroupPlan(m, n, k, Gemm.TMA_64X2, slices, 2, true),
                        (g, m) -> g.slabGroupPlan(m, n, k, Gemm.TMA_64X2, slices, 3, true),
                        (g, m) -> g.slabGroupPlan(m, n, k, Gemm.TMA_128, slices, 2, true),
                        (g, m) -> g.slabGroupPlan(m, n, k, Gemm.TMA_256, slices, 2, true));
                GemmInvariance.checkPlans(cuda, mmaSync, hopper, n, k, 64, forms, 65, 107, 128, 192);
            }
        }
    }

    /**
     * The deep tiles unsplit (the invariant plan's one-slice weights with {@code -Darbor.gemm.invariantDeep=true}): each output
     * element's k16 steps over all of K in order as on the mma.sync plan, but a wgmma of N = the token count rounded to 16 (two
     * N/2 halves with three warpgroups above 128 tokens). Llama-7b's stacked gate|up and Baichuan2-13B's (27392×5120), every deep
     * warp count, 65-255 tokens against the mma.sync plan at 65 tokens: the first 65 rows the same bits, with and without a residual.
     */
    @Test
    void oneSliceWeightsOnTheDeepTilesKeepTheBits() {
        for (int[] nk : new int[][]{{22016, 4096}, {27392, 5120}}) {
            int n = nk[0], k = nk[1];
            try (CudaBackend cuda = CudaBackend.open(0); Gemm hopper = new Gemm(cuda); Gemm mmaSync = new Gemm(cuda, false)) {
                org.junit.jupiter.api.Assertions.assertEquals(1, hopper.invariantSlices(n, k));
                hopper.invariantDeep(true);
                List<BiFunction<Gemm, Integer, Gemm.Plan>> forms = List.of(
                        (g, m) -> g.invariantPlan(m, n, k, true),
                        (g, m) -> g.plan(m, n, k, Gemm.deepTiles(4, m), 1, true),
                        (g, m) -> g.plan(m, n, k, Gemm.deepTiles(8, m), 1, true),
                        (g, m) -> g.plan(m, n, k, Gemm.deepTiles(12, m), 1, true));
                GemmInvariance.checkPlans(cuda, mmaSync, hopper, n, k, 65, forms, 65, 107, 129, 192, 255);
            }
        }
    }
}
