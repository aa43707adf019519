package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.kernels.LayerKernels;
import dev.arbor.kernels.layer.FusedOps;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Gemm#matmulAddRmsNorm} (the projection with the residual add and the next RMSNorm in its last-arriving block)
 * against the two launches it replaces, on any backend: with a slab plan (the batch-invariant one) the GEMM's slices left
 * unsummed ({@link Gemm#matmulPartial}) then {@code FusedKernels.addRmsNormRows}, bit for bit in x and out; with one K
 * slice the GEMM accumulating into x then {@code LayerKernels.rmsNormRows}, bit for bit; with split-K atomics (the default
 * plan) the same within the atomics' rounding (their order varies from run to run). Each case runs the fused launch
 * twice: the second must give the same (the last block set the arrival counter back to 0).
 */
final class GemmAddNorm {
    private GemmAddNorm() {}

    static final Kernel RMS_NORM_ROWS = Kernel.of(LayerKernels.class, "rmsNormRows");
    static final double EPS = 1e-5;

    enum Form { INVARIANT, ONE_SLICE, DEFAULT }

    /** One (n, k, m) case in the given form; returns the plan it ran. */
    static Gemm.Plan check(Backend b, Gemm gemm, int n, int k, int m, Form form, long seed) {
        Random r = new Random(seed);
        Gemm.Plan p = switch (form) {
            case INVARIANT -> gemm.invariantPlan(m, n, k, true);
            case ONE_SLICE -> gemm.plan(m, n, k, Gemm.tilesFor(m), 1, true);
            case DEFAULT -> gemm.plan(m, n, k, true, true);
        };
        assertTrue(gemm.fusesAddRmsNorm(p, m), () -> "not fused: " + p);
        float[] x0 = random(r, m * n, 1f);
        try (FloatArray a = FloatArray.of(random(r, m * k, 1f)); BFloat16Array w = bf16(random(r, n * k, 0.05f));
             FloatArray normW = FloatArray.of(random(r, n, 2f)); FloatArray proj = new FloatArray(m * n);
             FloatArray xRef = FloatArray.of(x0); FloatArray outRef = new FloatArray(m * n);
             FloatArray x = FloatArray.of(x0); FloatArray out = new FloatArray(m * n)) {
            b.toDevice(a, w, normW, proj, xRef, outRef, x, out);
            if (p.slabs()) {
                Gemm.Partial s = gemm.matmulPartial(a, m, w, n, k, proj, p);
                FusedOps.addRmsNorm(b, xRef, s.sums(), s.slices(), normW, outRef, m, n, EPS, false);
            } else {
                gemm.matmul(a, m, w, n, k, xRef, true, p);
                b.launch(RMS_NORM_ROWS, Launch.of1D(m, LayerKernels.NORM_GROUP), xRef, normW, outRef, n, EPS);
            }
            b.toHost(xRef, outRef);
            float[] wantX = xRef.toArray(), wantOut = outRef.toArray();
            boolean bits = p.slabs() || p.splits() == 1;
            for (int rep = 0; rep < 2; rep++) {
                for (int i = 0; i < x0.length; i++) x.set(i, x0[i]);
                b.toDevice(x);
                gemm.matmulAddRmsNorm(a, m, w, n, k, x, normW, out, EPS, p);
                b.toHost(x, out);
                String what = "n=" + n + " k=" + k + " m=" + m + " " + p + " launch " + rep;
                compare(wantX, x.toArray(), bits, "x " + what);
                compare(wantOut, out.toArray(), bits, "out " + what);
            }
        }
        return p;
    }

    static void compare(float[] want, float[] got, boolean bits, String what) {
        assertEquals(want.length, got.length, what);
        int differ = 0;
        for (int i = 0; i < want.length; i++) {
            boolean ok = bits ? Float.floatToRawIntBits(want[i]) == Float.floatToRawIntBits(got[i])
                    : Math.abs(want[i] - got[i]) <= 1e-4f * Math.max(1f, Math.abs(want[i]));
            if (!ok && differ++ == 0) System.out.println(what + ": first difference at " + i + ": " + want[i] + " vs " + got[i]);
        }
        assertEquals(0, differ, what + (bits ? ": elements not bit-equal" : ": elements off by more than 1e-4"));
    }

    static float[] random(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (r.nextFloat() * 2 - 1) * scale;
        return a;
    }

    static BFloat16Array bf16(float[] v) {
        BFloat16Array a = new BFloat16Array(v.length);
        for (int i = 0; i < v.length; i++) a.set(i, v[i]);
        return a;
    }
}
