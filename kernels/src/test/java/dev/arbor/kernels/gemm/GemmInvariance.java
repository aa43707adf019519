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
        try (Gemm gemm = new Gemm(backend)) {
            check(backend, gemm, n, k, probe, ms);
        }
    }

    /** As {@link #check(Backend, int, int, int, int...)} with the given planner (e.g. one allowed the Hopper tiles on the CPU executor). */
    static void check(Backend backend, Gemm gemm, int n, int k, int probe, int... ms) {
        Random r = new Random(5L * n + k);
        int maxM = 0;
        for (int m : ms) maxM = Math.max(maxM, m);
        try (FloatArray x = new FloatArray(maxM * k); BFloat16Array w = new BFloat16Array(n * k);
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
    /**
     * The invariant plan at M = {@code probe} (its tiles for that M) against a slab plan of each of {@code tiles} (same K
     * slices) at each of {@code ms}: the first {@code probe} rows must be the same bits. Prints the differing elements
     * per case before failing (how far apart two tensor-core paths are, not only that they are).
     */
    static void checkTilesAgainstInvariant(Backend backend, int n, int k, int probe, Gemm.Tiles[] tiles, int... ms) {
        java.util.List<java.util.function.BiFunction<Gemm, Integer, Gemm.Plan>> forms = new java.util.ArrayList<>();
        for (Gemm.Tiles t : tiles)
            forms.add((gemm, m) -> {
                Gemm.Plan ref = gemm.invariantPlan(probe, n, k, true);
                Gemm.Plan p = gemm.plan(m, n, k, t, ref.splits(), true);
                if (p.kTilesPerSplit() != ref.kTilesPerSplit()) throw new IllegalStateException(p + " vs " + ref);
                return new Gemm.Plan(p.tiles(), p.splits(), p.kTilesPerSplit(), p.launch(), p.convertFirst(), ref.slabs());
            });
        checkPlansAgainstInvariant(backend, new Gemm(backend), n, k, probe, forms, ms);
    }

    /**
     * The invariant plan of {@code reference} at M = {@code probe} against each form (a plan for (gemm, m)) at each of
     * {@code ms}, each run without and then with a residual (C holding a fixed pattern first): the first {@code probe}
     * rows must be the same bits. Prints the differing elements per case before failing. Closes {@code reference}.
     */
    static void checkPlansAgainstInvariant(Backend backend, Gemm reference, int n, int k, int probe,
                                           java.util.List<java.util.function.BiFunction<Gemm, Integer, Gemm.Plan>> forms, int... ms) {
        try (reference) {
            checkPlans(backend, reference, reference, n, k, probe, forms, ms);
        }
    }

    /** As {@link #checkPlansAgainstInvariant}, the forms planned by {@code gemm} (which may differ from {@code reference}). */
    static void checkPlans(Backend backend, Gemm reference, Gemm gemm, int n, int k, int probe,
                           java.util.List<java.util.function.BiFunction<Gemm, Integer, Gemm.Plan>> forms, int... ms) {
        Random r = new Random(7L * n + k);
        int maxM = probe;
        for (int m : ms) maxM = Math.max(maxM, m);
        try (FloatArray x = new FloatArray(maxM * k); BFloat16Array w = new BFloat16Array(n * k); FloatArray c = new FloatArray(maxM * n)) {
            for (int i = 0; i < x.length(); i++) x.set(i, (float) r.nextGaussian());
            for (int i = 0; i < w.length(); i++) w.set(i, (float) r.nextGaussian() * 0.05f);
            backend.toDevice(x, w);
            StringBuilder failures = new StringBuilder();
            for (boolean residual : new boolean[]{false, true}) {
                Gemm.Plan ref = reference.invariantPlan(probe, n, k, true);
                float[] first = run(backend, reference, ref, x, w, c, probe, n, k, residual, probe);
                for (java.util.function.BiFunction<Gemm, Integer, Gemm.Plan> form : forms)
                    for (int m : ms) {
                        Gemm.Plan p = form.apply(gemm, m);
                        float[] rows = run(backend, gemm, p, x, w, c, m, n, k, residual, probe);
                        int differ = 0, maxUlp = 0;
                        for (int i = 0; i < first.length; i++) {
                            int a = Float.floatToRawIntBits(first[i]), b = Float.floatToRawIntBits(rows[i]);
                            if (a != b) {
                                differ++;
                                maxUlp = Math.max(maxUlp, Math.abs(a - b));
                            }
                        }
                        String line = String.format("N=%d K=%d%s: %s at M=%d vs %s at M=%d: %d of %d elements differ (max %d ulp)",
                                n, k, residual ? " +residual" : "", p, m, ref, probe, differ, first.length, maxUlp);
                        System.out.println(line);
                        if (differ > 0) failures.append(line).append('\n');
                    }
            }
            assertEquals("", failures.toString());
        }
    }

    /** C (=|+=) X·Wᵀ through the plan, C first set to a fixed pattern when {@code residual}; returns the first {@code probe} rows. */
    private static float[] run(Backend backend, Gemm gemm, Gemm.Plan p, FloatArray x, BFloat16Array w, FloatArray c, int m, int n, int k,
                               boolean residual, int probe) {
        for (int i = 0; i < m * n; i++) c.set(i, residual ? (i % 17) * 0.25f - 2f : Float.NaN);
        backend.toDevice(c);
        gemm.matmul(x, m, w, n, k, c, residual, p);
        backend.toHost(c);
        float[] rows = new float[probe * n];
        for (int i = 0; i < rows.length; i++) rows[i] = c.get(i);
        return rows;
    }
}
