package dev.arbor.kernels.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The split-K reduced in the cluster's shared memory ({@link Gemm#clusterPlan}) on the GPU: against the reference ({@link GemmCase})
 * with partial tiles in M, N and K, with and without a residual; and at the shapes the default plan splits (llama3.2-1b's q|k|v,
 * o and down, llama-7b's o at 48-128 tokens) the same bits as the slab plan of the same tiles and slices (slabs stored, then
 * summed in slice order by the sum kernel) and within fp32 order noise of the atomics it replaces.
 */
@Tag("gpu")
class GemmClusterGpuTest {
    @Test
    void clusterSplitKAgreesWithTheReferenceAndKeepsTheSlabPlansBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            assertTrue(gemm.tma(), "an H200 runs the TMA tiles");
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64X2, Gemm.TMA_128, Gemm.TMA_N64, Gemm.TMA_64})
                for (int slices : new int[]{2, 5, 8}) {
                    GemmCase.of(150, 1032, 1096).check(cuda, gemm, Gemm.clusterPlan(gemm.plan(150, 1032, 1096, t, slices, true)));
                    new GemmCase(70, 1032, 1096, "f32", "bf16", "f32", true).check(cuda, gemm, Gemm.clusterPlan(gemm.plan(70, 1032, 1096, t, slices, true)));
                }
            int[][] shapes = {{128, 3072, 2048}, {128, 2048, 2048}, {128, 2048, 8192}, {107, 3072, 2048}, {64, 2048, 8192}, {48, 4096, 4096}};
            int checked = 0;
            for (int[] s : shapes)
                for (boolean residual : new boolean[]{false, true}) {
                    int m = s[0], n = s[1], k = s[2];
                    gemm.clusterSplitK(false);
                    Gemm.Plan atomics = gemm.plan(m, n, k, true, true);
                    if (!Gemm.clusterApplies(atomics)) continue;
                    Gemm.Plan cluster = Gemm.clusterPlan(atomics);
                    Gemm.Plan slab = gemm.slabPlan(m, n, k, atomics.tiles(), atomics.splits(), true);
                    assertEquals(atomics.splits(), slab.splits(), slab.toString());
                    float[] a = GemmPersistentGpuTest.run(cuda, gemm, atomics, 8, m, n, k, residual);
                    float[] b = GemmPersistentGpuTest.run(cuda, gemm, cluster, 8, m, n, k, residual);
                    float[] c = GemmPersistentGpuTest.run(cuda, gemm, slab, 8, m, n, k, residual);
                    double worst = 0;
                    int differ = 0, differSlab = 0;
                    for (int i = 0; i < a.length; i++) {
                        if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) differ++;
                        if (Float.floatToRawIntBits(c[i]) != Float.floatToRawIntBits(b[i])) differSlab++;
                        worst = Math.max(worst, Math.abs(a[i] - b[i]) / (1 + Math.abs(a[i])));
                    }
                    System.out.printf("cluster split-K %dx%dx%d residual %b (%s): %d of %d elements differ from the slab plan, %d from the atomics (max err/(1+abs) %.2e)%n",
                            m, n, k, residual, cluster, differSlab, a.length, differ, worst);
                    assertEquals(0, differSlab, "cluster vs slab plan " + m + "x" + n + "x" + k);
                    assertTrue(worst < 1e-4, "cluster vs atomics " + m + "x" + n + "x" + k + ": " + worst);
                    checked++;
                }
            assertTrue(checked >= 8, "split-K shapes checked: " + checked);
        }
    }
}
