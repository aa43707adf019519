package dev.arbor.kernels.gemm;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The SwiGLU epilogue on the H200 ({@link GemmSwiGlu}): llama-7b's gate|up (inter 11,008, k 4096) under the engine's plans, the
 * default and the batch-invariant one, at the token counts that pick each family (1 and 8: SMALL; 48: TMA_64 / WIDE; 107 and
 * 192: deep tiles; 300 and 1000: ping-pong / TMA_256X3; 2048), fp32 h and, above 64 tokens, bf16 h (the producers'); then every
 * family at a partial-tile shape (inter 72, k 200). Fused h must be the stacked composition's bits.
 */
@Tag("gpu")
class GemmSwiGluGpuTest {
    @Test
    void enginePlansWriteTheCompositionsBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda); GemmSwiGlu w = new GemmSwiGlu(cuda, 11008, 4096)) {
            assertTrue(gemm.tma(), "an H200 runs the TMA tiles");
            int n = 2 * w.inter;
            for (int m : new int[]{1, 8, 48, 107, 192, 300, 1000, 2048})
                for (boolean invariant : new boolean[]{true, false}) {
                    Gemm.Plan p = invariant ? gemm.invariantPlan(m, n, w.k, true) : gemm.plan(m, n, w.k, true, true);
                    for (boolean bf16 : m > 64 ? new boolean[]{false, true} : new boolean[]{false}) check(gemm, w, p, m, bf16, invariant ? "invariant" : "default");
                }
        }
    }

    @Test
    void everyFamilyAtPartialTiles() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda); GemmSwiGlu w = new GemmSwiGlu(cuda, 72, 200)) {
            int n = 2 * w.inter, k = w.k;
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.SMALL, Gemm.MEDIUM, Gemm.WIDE, Gemm.LARGE})
                check(gemm, w, gemm.plan(37, n, k, t, 1, true), 37, false, "tiles");
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64, Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_256X3,
                    Gemm.deepTiles(4, 70), Gemm.deepTiles(12, 70)})
                for (boolean bf16 : new boolean[]{false, true}) check(gemm, w, gemm.plan(70, n, k, t, 1, true), 70, bf16, "tiles");
            for (boolean bf16 : new boolean[]{false, true}) check(gemm, w, gemm.pingPongPlan(300, n, k, Gemm.TMA_PP128, true), 300, bf16, "tiles");
        }
    }

    private static void check(Gemm gemm, GemmSwiGlu w, Gemm.Plan p, int m, boolean bf16, String what) {
        int[] d = w.differingElements(gemm, p, m, bf16);
        System.out.printf("swiglu epilogue %s m=%d inter=%d k=%d %s h (%s; epilogue %b): %d / %d of %d elements differ (fused / interleaved composition vs stacked)%n",
                what, m, w.inter, w.k, bf16 ? "bf16" : "fp32", p, Gemm.swiGluEpilogue(p, bf16), d[0], d[1], m * w.inter);
        assertEquals(0, d[0], what + " " + p + " m=" + m + ": fused h");
        assertEquals(0, d[1], what + " " + p + " m=" + m + ": interleaved composition");
    }
}
