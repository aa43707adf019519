package dev.arbor.kernels.gemm;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The split-K reduced in the cluster's shared memory ({@code Gemm.clusterPlan}, {@link GemmKernels#wgmmaTmaClusterXbf16Wbf16}) on
 * the CPU executor (clusters of (1, 1, slices) groups run together, each reading its peers' shared memory).
 */
class GemmClusterTest {
    private final CpuBackend cpu = new CpuBackend();

    /**
     * Against the reference (the tolerance of every GEMM test): TMA_64X2, TMA_N64 and TMA_128 in 2, 3 and 5 K slices (17 K tiles:
     * a short last slice), partial tiles in M and N (70 and 130 tokens, 136 W rows), a raster of 2, with and without a residual; and 134 W rows
     * (C's rows not a multiple of 4: the element-wise stores).
     */
    @Test
    void clusterKernelAgreesWithTheReference() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            hopper.raster(2);
            int n = 136, k = 1032;
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_128})
                for (int slices : new int[]{2, 3, 5})
                    for (int m : new int[]{70, 130}) {
                        Gemm.Plan p = Gemm.clusterPlan(hopper.plan(m, n, k, t, slices, true));
                        assertTrue(p.cluster() && p.splits() == slices && p.launch().grid()[2] == slices, p.toString());
                        GemmCase.of(m, n, k).check(cpu, hopper, p);
                        new GemmCase(m, n, k, "f32", "bf16", "f32", true).check(cpu, hopper, p);
                    }
            // N not a multiple of 4: the quads of C stored an element at a time
            Gemm.Plan odd = Gemm.clusterPlan(hopper.plan(70, 134, k, Gemm.TMA_64X2, 3, true));
            GemmCase.of(70, 134, k).check(cpu, hopper, odd);
            new GemmCase(70, 134, k, "f32", "bf16", "f32", true).check(cpu, hopper, odd);
        }
    }

    /**
     * The same floats as the slab plan of the same tiles and slices (each slice's sums stored, then added in slice order by the
     * sum kernel, with and without a residual): the in-cluster sum adds the slices in that order, slice 0 first.
     */
    @Test
    void clusterSumIsTheSlabPlansSum() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            int n = 200, k = 1032;
            Random r = new Random(5);
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64X2, Gemm.TMA_128})
                for (int slices : new int[]{4, 5})
                    for (boolean residual : new boolean[]{false, true}) {
                        int m = 100;
                        try (FloatArray x = new FloatArray(m * k); BFloat16Array w = new BFloat16Array(n * k);
                             FloatArray c1 = new FloatArray(m * n); FloatArray c2 = new FloatArray(m * n)) {
                            for (int i = 0; i < x.length(); i++) x.set(i, (float) r.nextGaussian());
                            for (int i = 0; i < w.length(); i++) w.set(i, (float) r.nextGaussian() * 0.05f);
                            for (int i = 0; i < m * n; i++) {
                                float v = residual ? (float) r.nextGaussian() : Float.NaN;
                                c1.set(i, v);
                                c2.set(i, v);
                            }
                            cpu.toDevice(x, w, c1, c2);
                            Gemm.Plan slab = hopper.slabPlan(m, n, k, t, slices, true);
                            assertTrue(slab.slabs() && slab.splits() == slices, slab.toString());
                            hopper.matmul(x, m, w, n, k, c1, residual, slab);
                            hopper.matmul(x, m, w, n, k, c2, residual, Gemm.clusterPlan(hopper.plan(m, n, k, t, slices, true)));
                            cpu.toHost(c1);
                            cpu.toHost(c2);
                            for (int i = 0; i < m * n; i++)
                                assertEquals(Float.floatToRawIntBits(c1.get(i)), Float.floatToRawIntBits(c2.get(i)),
                                        t.name() + " × " + slices + (residual ? " + residual" : "") + ": C[" + i / n + "][" + i % n + "]");
                        }
                    }
        }
    }

    /**
     * The rule: only with the switch, the default plan's split-K TMA products take the cluster form (llama3.2-1b's q|k|v, o and
     * down at 128 tokens: TMA_64X2 × 5 and × 8, TMA_128 × 8, the same tiles and slices as without it); never the invariant plan,
     * nor unsplit or ping-pong products; no cluster of more than 8 slices nor of three consumer warpgroups.
     */
    @Test
    void theDefaultPlanTakesItOnlyWithTheSwitch() {
        if (!Gemm.TMA_DEFAULT) return;
        try (Gemm hopper = new Gemm(cpu, true)) {
            int[][] shapes = {{128, 3072, 2048}, {128, 2048, 2048}, {128, 2048, 8192}, {107, 3072, 2048}};
            Gemm.Plan[] before = new Gemm.Plan[shapes.length];
            hopper.clusterSplitK(false);
            for (int i = 0; i < shapes.length; i++) {
                before[i] = hopper.plan(shapes[i][0], shapes[i][1], shapes[i][2], true, true);
                assertFalse(before[i].cluster(), before[i].toString());
            }
            hopper.clusterSplitK(true);
            for (int i = 0; i < shapes.length; i++) {
                Gemm.Plan p = hopper.plan(shapes[i][0], shapes[i][1], shapes[i][2], true, true);
                if (before[i].splits() > 1 && before[i].tiles().tma() && !before[i].tiles().pingPong()) {
                    assertTrue(p.cluster(), p.toString());
                    assertSame(before[i].tiles(), p.tiles());
                    assertEquals(before[i].splits(), p.splits());
                    assertEquals(java.util.Arrays.toString(before[i].launch().grid()), java.util.Arrays.toString(p.launch().grid()));
                } else assertFalse(p.cluster(), p.toString());
                assertFalse(hopper.invariantPlan(shapes[i][0], shapes[i][1], shapes[i][2], true).cluster());
            }
            Gemm.Plan q = hopper.plan(128, 3072, 2048, true, true);
            assertSame(Gemm.TMA_64X2, q.tiles(), q.toString());
            assertEquals(5, q.splits(), q.toString());
            assertFalse(hopper.plan(128, 16384, 2048, true, true).cluster(), "gate|up: unsplit ping-pong");
            hopper.clusterSplitK(false);
        }
        assertThrows(IllegalArgumentException.class, () -> Gemm.clusterPlan(new Gemm(cpu, true).plan(128, 1024, 8192, Gemm.TMA_64X2, 9, true)));
        assertThrows(IllegalArgumentException.class, () -> Gemm.clusterPlan(new Gemm(cpu, true).plan(128, 1024, 4096, Gemm.TMA_192, 4, true)));
        assertThrows(IllegalArgumentException.class, () -> Gemm.clusterPlan(new Gemm(cpu, true).plan(128, 1024, 4096, Gemm.TMA_64X2, 1, true)));
    }
}
