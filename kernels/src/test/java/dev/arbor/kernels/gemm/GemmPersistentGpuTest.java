package dev.arbor.kernels.gemm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cuda.CudaBackend;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The persistent TMA kernel and the grouped raster on the GPU: against the reference ({@link GemmCase}), and bit for bit
 * against the plain TMA kernel in the row-major order (the code before them), for TMA_256 and TMA_128 over more tiles than
 * multiprocessors (blocks running 1-3 tiles, the stage ring carried across them), partial tiles in M, N and K, with and
 * without a residual.
 */
@Tag("gpu")
class GemmPersistentGpuTest {
    @Test
    void persistentAndRasterGiveThePlainKernelsBits() {
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            assertTrue(gemm.tma(), "an H200 runs the TMA tiles");
            int[][] shapes = {{2048, 4096, 4096}, {1100, 4200, 520}, {700, 1032, 1032}};
            for (int[] s : shapes)
                for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_256, Gemm.TMA_128})
                    for (boolean residual : new boolean[]{false, true}) {
                        int m = s[0], n = s[1], k = s[2];
                        Gemm.Plan persistent = gemm.persistentPlan(m, n, k, t, true), plain = gemm.plan(m, n, k, t, 1, true);
                        float[] a = run(cuda, gemm, plain, 1, m, n, k, residual), b = run(cuda, gemm, persistent, 8, m, n, k, residual),
                                r = run(cuda, gemm, plain, 8, m, n, k, residual);
                        int differ = 0, differRaster = 0;
                        for (int i = 0; i < a.length; i++) {
                            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(b[i])) differ++;
                            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(r[i])) differRaster++;
                        }
                        System.out.printf("persistent %s %dx%dx%d residual %b (%s): %d of %d elements differ from the plain kernel (row-major); "
                                + "plain in raster 8: %d differ%n", t.name(), m, n, k, residual, persistent, differ, a.length, differRaster);
                        assertEquals(0, differ, "persistent vs plain " + t.name() + " " + m + "x" + n + "x" + k);
                        assertEquals(0, differRaster, "raster 8 vs row-major " + t.name() + " " + m + "x" + n + "x" + k);
                    }
            // against the reference at a size the host's double-precision reference checks in a second (run 30-gemm5's call cut
            // these at 1100 × 4200 × 520, 2.4 G multiply-adds each, after every bit comparison above had passed)
            gemm.raster(8);
            GemmCase.of(300, 1032, 520).check(cuda, gemm, gemm.persistentPlan(300, 1032, 520, Gemm.TMA_128, true));
            new GemmCase(600, 1032, 520, "f32", "bf16", "f32", true).check(cuda, gemm, gemm.persistentPlan(600, 1032, 520, Gemm.TMA_256, true));
        }
    }

    /** C after one product through the plan in the given raster, from fresh seeded inputs (C first holds the residual or NaN). */
    static float[] run(CudaBackend cuda, Gemm gemm, Gemm.Plan p, int raster, int m, int n, int k, boolean residual) {
        Random r = new Random(31L * m + n + k);
        try (FloatArray x = new FloatArray(m * k); BFloat16Array w = new BFloat16Array(n * k); FloatArray c = new FloatArray(m * n)) {
            for (int i = 0; i < m * k; i++) x.set(i, r.nextFloat() * 2 - 1);
            for (int i = 0; i < n * k; i++) w.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            for (int i = 0; i < m * n; i++) c.set(i, residual ? r.nextFloat() * 4 - 2 : Float.NaN);
            cuda.toDevice(x, w, c);
            gemm.raster(raster);
            gemm.matmul(x, m, w, n, k, c, residual, p);
            cuda.toHost(c);
            float[] out = new float[m * n];
            for (int i = 0; i < out.length; i++) out[i] = c.get(i);
            return out;
        }
    }
}
