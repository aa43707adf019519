package dev.arbor.kernels.gemm;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The stream-K kernel ({@link Gemm#streamKPlan}) on the GPU: against the reference ({@link GemmCase}) where blocks share output
 * tiles (partial tiles in M, N and K, with and without a residual), and against the plain TMA kernel at issue 10's few-tile
 * shapes (k/v 1024×4096 at 512 and 2048 tokens, llama3.2-1b's q|k|v 3072×2048 at 128): within fp32 summation-order noise
 * (atomic adds in no fixed order: not the same bits, the default plan's form only).
 */
@Tag("gpu")
class GemmStreamKGpuTest {
    @Test
    void streamKAgreesWithTheReferenceAndThePlainKernel() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            assertTrue(gemm.tma(), "an H200 runs the TMA tiles");
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_64X2, Gemm.TMA_N64}) {
                GemmCase.of(300, 1032, 520).check(cuda, gemm, gemm.streamKPlan(300, 1032, 520, t, true));
                new GemmCase(600, 1032, 520, "f32", "bf16", "f32", true).check(cuda, gemm, gemm.streamKPlan(600, 1032, 520, t, true));
            }
            int[][] shapes = {{512, 1024, 4096}, {2048, 1024, 4096}, {128, 3072, 2048}};
            for (int[] s : shapes)
                for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_64X2})
                    for (boolean residual : new boolean[]{false, true}) {
                        int m = s[0], n = s[1], k = s[2];
                        Gemm.Plan sk = gemm.streamKPlan(m, n, k, t, true), plain = gemm.plan(m, n, k, t, 1, true);
                        float[] a = GemmPersistentGpuTest.run(cuda, gemm, plain, 8, m, n, k, residual), b = GemmPersistentGpuTest.run(cuda, gemm, sk, 8, m, n, k, residual);
                        double worst = 0;
                        int differ = 0;
                        for (int i = 0; i < a.length; i++) {
                            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) differ++;
                            worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));   // sums of order 1-4: fp32 order noise ~1e-6
                        }
                        System.out.printf("stream-K %s %dx%dx%d residual %b (%s): %d of %d elements differ from the plain kernel, max err/(1+abs) %.2e%n",
                                t.name(), m, n, k, residual, sk, differ, a.length, worst);
                        assertTrue(worst < 1e-4, "stream-K vs plain " + t.name() + " " + m + "x" + n + "x" + k + ": " + worst);
                    }
        }
    }
}
