package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The batch-invariant GEMM plan (tiles by M, K slices chosen from n and k only, added in a fixed order): the
 * first {@code probe} rows of X give the same bits of C whatever M is around them, so a sequence's projections do
 * not depend on its batch. Also checks the result against a double-precision product of the same bf16 inputs.
 * Used by {@code GemmInvarianceTest} (CPU executor) and {@code GemmInvarianceGpuTest} (the tensor cores).
 */
final class GemmInvariance {
    private GemmInvariance() {}

    static void check(Backend backend, int n, int k, int probe, int... ms) {
        Random r = new Random(5L * n + k);
        int maxM = 0;
        for (int m : ms) maxM = Math.max(maxM, m);
        try (Gemm gemm = new Gemm(backend); FloatArray x = new FloatArray(maxM * k); BFloat16Array w = new BFloat16Array(n * k);
             FloatArray c = new FloatArray(maxM * n)) {
            for (int i = 0; i < x.length(); i++) x.set(i, (float) r.nextGaussian());
            for (int i = 0; i < w.length(); i++) w.set(i, (float) r.nextGaussian() * 0.05f);
            backend.toDevice(x, w, c);
            float[] first = null;
            for (int m : ms) {
                Gemm.Plan plan = gemm.invariantPlan(m, n, k, true);
                gemm.matmul(x, m, w, n, k, c, false, plan);
                backend.toHost(c);
                float[] rows = new float[probe * n];
                for (int i = 0; i < rows.length; i++) rows[i] = c.get(i);
                for (int j = 0; j < n; j += 7) {   // row 0 against double precision over the bf16-rounded inputs
                    double sum = 0, scale = 0;
                    for (int kk = 0; kk < k; kk++) {
                        double p = (double) dev.arbor.accel.array.BFloat16Array.toFloat(dev.arbor.accel.array.BFloat16Array.fromFloat(x.get(kk))) * w.get(j * k + kk);
                        sum += p;
                        scale += Math.abs(p);
                    }
                    assertEquals(sum, rows[j], 1e-5 * scale + 1e-6, "C[0][" + j + "] at M=" + m + " (" + plan + ")");
                }
                if (first == null) {
                    first = rows;
                    continue;
                }
                for (int i = 0; i < rows.length; i++) {
                    assertEquals(Float.floatToRawIntBits(first[i]), Float.floatToRawIntBits(rows[i]),
                            "row " + i / n + " col " + i % n + " at M=" + m + " (" + plan + ") vs M=" + ms[0]);
                }
            }
        }
    }
}
