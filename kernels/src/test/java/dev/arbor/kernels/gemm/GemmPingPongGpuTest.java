package dev.arbor.kernels.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The ping-pong TMA kernel on the GPU: bit for bit against the plain TMA kernel a block a tile on the same output tiles
 * ({@link Gemm#TMA_PP128} against {@link Gemm#TMA_128}; {@link Gemm#TMA_PP192} against the plain kernel on 128 × 192 tiles),
 * over more tiles than multiprocessors (each block's two warpgroups taking up to 2 tiles each in turns), partial tiles in M, N and K,
 * with and without a residual; and against the reference at a size the host checks in a second.
 */
@Tag("gpu")
class GemmPingPongGpuTest {
    /** The plain TMA kernel on 128 W rows × 192 tokens (two consumer warpgroups of 64 × 192): TMA_PP192's tiles a block a tile. */
    static final Gemm.Tiles TMA_128X192 = new Gemm.Tiles("tma128x192", 8, 1, 1, 24, 5, true, true);

    @Test
    void pingPongGivesThePlainKernelsBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            assertTrue(gemm.tma(), "an H200 runs the TMA tiles");
            int[][] shapes = {{2048, 4096, 4096}, {1100, 4200, 520}, {700, 1032, 1032}};
            for (int[] s : shapes)
                for (Gemm.Tiles[] pair : new Gemm.Tiles[][]{{Gemm.TMA_PP128, Gemm.TMA_128}, {Gemm.TMA_PP192, TMA_128X192}})
                    for (boolean residual : new boolean[]{false, true}) {
                        int m = s[0], n = s[1], k = s[2];
                        Gemm.Plan pingPong = gemm.pingPongPlan(m, n, k, pair[0], true), plain = gemm.plan(m, n, k, pair[1], 1, true);
                        float[] a = GemmPersistentGpuTest.run(cuda, gemm, plain, 8, m, n, k, residual),
                                b = GemmPersistentGpuTest.run(cuda, gemm, pingPong, 8, m, n, k, residual);
                        int differ = 0;
                        for (int i = 0; i < a.length; i++) if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) differ++;
                        System.out.printf("ping-pong %s %dx%dx%d residual %b (%s): %d of %d elements differ from the plain kernel on %s%n",
                                pair[0].name(), m, n, k, residual, pingPong, differ, a.length, pair[1].name());
                        assertEquals(0, differ, "ping-pong vs plain " + pair[0].name() + " " + m + "x" + n + "x" + k);
                    }
            gemm.raster(8);
            GemmCase.of(300, 1032, 520).check(cuda, gemm, gemm.pingPongPlan(300, 1032, 520, Gemm.TMA_PP128, true));
            new GemmCase(600, 1032, 520, "f32", "bf16", "f32", true).check(cuda, gemm, gemm.pingPongPlan(600, 1032, 520, Gemm.TMA_PP192, true));
        }
    }
}
