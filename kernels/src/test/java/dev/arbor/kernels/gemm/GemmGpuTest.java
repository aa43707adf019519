package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The tensor-core GEMM on the GPU against the double-precision reference, element by element
 * ({@link GemmCase}): M in 1, 7, 13, 255 and prefill sizes, decode shapes with split-K, partial
 * tiles in N and K, every type combination, residual accumulation.
 */
@Tag("gpu")
class GemmGpuTest {
    @Test
    void agreesWithTheReferenceOnTheGpu() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            for (GemmCase c : new GemmCase[]{
                    GemmCase.of(1, 4096, 4096), GemmCase.of(7, 1000, 2056), GemmCase.of(13, 4096, 1024),
                    GemmCase.of(255, 1032, 1032), GemmCase.of(40, 520, 4104), GemmCase.of(64, 2048, 512),
                    GemmCase.of(300, 384, 776), GemmCase.of(1000, 264, 256),
                    new GemmCase(7, 1000, 2056, "f32", "bf16", "f32", true),
                    new GemmCase(255, 1032, 520, "f32", "bf16", "f32", true),
                    new GemmCase(13, 1024, 1024, "f32", "f16", "f32", false),
                    new GemmCase(200, 1024, 1024, "f32", "f16", "f32", false),
                    new GemmCase(255, 1032, 520, "bf16", "bf16", "f32", false),
                    new GemmCase(33, 1032, 520, "f16", "f16", "f32", true),
                    new GemmCase(255, 1032, 520, "bf16", "bf16", "bf16", false),
                    new GemmCase(9, 1032, 520, "bf16", "bf16", "bf16", true),
                    new GemmCase(130, 1032, 520, "f32", "bf16", "bf16", false)}) {
                c.check(cuda, gemm);
            }
        }
    }

    /**
     * Hopper's wgmma tiles (M &gt; 64, bf16 W, fp32 C) and, beside them, the mma.sync tiles they replace, at
     * partial tiles in M, N and K, with split-K and a residual; every case of both must match the reference.
     */
    @Test
    void wgmmaAndMmaSyncTilesAgreeWithTheReference() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm hopper = new Gemm(cuda); Gemm mma = new Gemm(cuda, false)) {
            org.junit.jupiter.api.Assertions.assertTrue(hopper.wgmma(), "an H200 runs the wgmma tiles");
            for (GemmCase c : new GemmCase[]{GemmCase.of(65, 1032, 1032), GemmCase.of(200, 2048, 2048), GemmCase.of(513, 384, 776),
                    new GemmCase(300, 1032, 520, "f32", "bf16", "f32", true), new GemmCase(130, 264, 4104, "bf16", "bf16", "f32", false)}) {
                c.check(cuda, hopper);
                c.check(cuda, mma);
            }
            GemmCase big = GemmCase.of(700, 1024, 1032);
            big.check(cuda, hopper, hopper.plan(700, 1024, 1032, Gemm.WGMMA_256, 1, true));
            big.check(cuda, hopper, hopper.plan(700, 1024, 1032, Gemm.WGMMA_128, 3, true));
            big.check(cuda, hopper, hopper.plan(700, 1024, 1032, Gemm.TMA_256, 1, true));
            big.check(cuda, hopper, hopper.plan(700, 1024, 1032, Gemm.TMA_256X3, 1, true));
            new GemmCase(300, 1032, 520, "f32", "bf16", "f32", true).check(cuda, hopper, hopper.plan(300, 1032, 520, Gemm.TMA_256X3, 1, true));
            big.check(cuda, hopper, hopper.plan(700, 1024, 1032, Gemm.TMA_128, 3, true));
            GemmCase.of(513, 384, 776).check(cuda, hopper, hopper.plan(513, 384, 776, Gemm.TMA_128, 1, true));
            GemmCase.of(65, 1032, 4104).check(cuda, hopper, hopper.plan(65, 1032, 4104, Gemm.TMA_256, 2, true));
            GemmCase.of(64, 4096, 4096).check(cuda, hopper, hopper.plan(64, 4096, 4096, Gemm.TMA_64, 4, true));
            // the mid range's candidates (run 31-midm): two blocks a multiprocessor, split-K, partial tiles, a residual
            GemmCase.of(107, 4096, 4096).check(cuda, hopper, hopper.plan(107, 4096, 4096, Gemm.TMA_64X2, 4, true));
            GemmCase.of(200, 1032, 1032).check(cuda, hopper, hopper.plan(200, 1032, 1032, Gemm.TMA_N64, 2, true));
            new GemmCase(107, 1032, 4104, "f32", "bf16", "f32", true).check(cuda, hopper, hopper.plan(107, 1032, 4104, Gemm.TMA_N64, 4, true));
            GemmCase.of(29, 1032, 1032).check(cuda, hopper, hopper.plan(29, 1032, 1032, Gemm.TMA_32, 2, true));
            GemmCase.of(5, 264, 4104).check(cuda, hopper, hopper.plan(5, 264, 4104, Gemm.TMA_16, 3, true));
        }
    }
    /**
     * The deep plan's tiles (65-256 tokens, {@link Gemm#deepTiles}) on the H200 against the reference: every warp count, odd token
     * counts (partial token tiles, three warpgroups' two halves a step), partial W-row and K tiles, split-K atomics, a residual,
     * bf16 X; then the deep plan's own choices.
     */
    @Test
    void deepTilesAgreeWithTheReference() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm hopper = new Gemm(cuda)) {
            GemmCase.of(65, 1032, 2056).check(cuda, hopper, hopper.plan(65, 1032, 2056, Gemm.deepTiles(4, 65), 2, true));
            GemmCase.of(107, 1032, 4104).check(cuda, hopper, hopper.plan(107, 1032, 4104, Gemm.deepTiles(8, 107), 3, true));
            GemmCase.of(129, 1032, 1032).check(cuda, hopper, hopper.plan(129, 1032, 1032, Gemm.deepTiles(12, 129), 1, true));
            GemmCase.of(255, 2056, 1032).check(cuda, hopper, hopper.plan(255, 2056, 1032, Gemm.deepTiles(12, 255), 2, true));
            GemmCase.of(192, 520, 2056).check(cuda, hopper, hopper.plan(192, 520, 2056, Gemm.deepTiles(4, 192), 4, true));
            new GemmCase(107, 1032, 4104, "f32", "bf16", "f32", true).check(cuda, hopper, hopper.plan(107, 1032, 4104, Gemm.deepTiles(8, 107), 4, true));
            new GemmCase(129, 1032, 1032, "f32", "bf16", "f32", true).check(cuda, hopper, hopper.plan(129, 1032, 1032, Gemm.deepTiles(12, 129), 1, true));
            for (int m : new int[]{65, 107, 128, 129, 192, 255, 256}) {
                GemmCase.of(m, 2048, 2048).check(cuda, hopper, hopper.deepPlan(m, 2048, 2048, true));
                new GemmCase(m, 1032, 520, "bf16", "bf16", "f32", m % 2 == 1).check(cuda, hopper);   // the default plan
            }
        }
    }
}
