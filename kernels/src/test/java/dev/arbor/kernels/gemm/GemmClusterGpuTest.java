package dev.arbor.kernels.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The TMA kernels in 2-block clusters sharing their token tile by multicast ({@link Gemm#clusterPlan}) on the GPU: bit for bit
 * against the same plan without clusters (the same tiles and K order: the same sums), for the plain kernel on TMA_256,
 * TMA_256X3 and TMA_128 and the invariant plan's sliced kernel on TMA_128 and TMA_192, in the default raster, at an even and an
 * odd count of W-row tiles (the last cluster's second block then lies past n), partial tiles in M, N and K, with and without a
 * residual; then against the reference with split-K (atomics) and slabs.
 */
@Tag("gpu")
class GemmClusterGpuTest {
    @Test
    void clustersGiveThePlainKernelsBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            assertTrue(gemm.tma(), "an H200 runs the TMA tiles");
            int[][] shapes = {{1100, 4200, 520}, {700, 1032, 1032}};
            for (int[] s : shapes)
                for (String form : new String[]{"tma256", "tma256x3", "tma128", "sliced128", "sliced192"})
                    for (boolean residual : new boolean[]{false, true}) {
                        int m = s[0], n = s[1], k = s[2];
                        Gemm.Plan plain = switch (form) {
                            case "tma256" -> gemm.plan(m, n, k, Gemm.TMA_256, 1, true);
                            case "tma256x3" -> gemm.plan(m, n, k, Gemm.TMA_256X3, 1, true);
                            case "tma128" -> gemm.plan(m, n, k, Gemm.TMA_128, 1, true);
                            case "sliced128" -> gemm.slicedPlan(m, n, k, Gemm.TMA_128, 3, true);
                            default -> gemm.slicedPlan(m, n, k, Gemm.TMA_192, 3, true);
                        };
                        Gemm.Plan clustered = gemm.clusterPlan(plain);
                        float[] a = GemmPersistentGpuTest.run(cuda, gemm, plain, 8, m, n, k, residual),
                                b = GemmPersistentGpuTest.run(cuda, gemm, clustered, 8, m, n, k, residual);
                        int differ = 0;
                        for (int i = 0; i < a.length; i++) if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) differ++;
                        System.out.printf("clusters %s %dx%dx%d residual %b (%s): %d of %d elements differ from the plan without clusters%n",
                                form, m, n, k, residual, clustered, differ, a.length);
                        assertEquals(0, differ, "clusters vs none " + form + " " + m + "x" + n + "x" + k);
                    }
            GemmCase.of(300, 1032, 520).check(cuda, gemm, gemm.clusterPlan(gemm.plan(300, 1032, 520, Gemm.TMA_128, 3, true)));   // split-K, atomics
            new GemmCase(600, 1032, 520, "f32", "bf16", "f32", true).check(cuda, gemm, gemm.clusterPlan(gemm.plan(600, 1032, 520, Gemm.TMA_256, 1, true)));
            GemmCase.of(300, 1032, 1032).check(cuda, gemm, gemm.clusterPlan(gemm.slabPlan(300, 1032, 1032, Gemm.TMA_128, 3, true)));   // slabs
        }
    }
}
