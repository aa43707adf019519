package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.OffHeapArray;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * One GEMM check: fresh random X and W (seeded by the shape), C poisoned with NaN (or holding a
 * residual when accumulating), the kernel through {@link Gemm}, then every element against
 * {@link GemmReference} in double: |c − ref| ≤ 2⁻⁷·Σ|x·w| + 1e-6 element by element (X rounded to
 * bf16/fp16 contributes up to 2⁻⁹ relative per product, bf16 output another 2⁻⁹ of the value), and
 * ‖c − ref‖ / ‖ref‖ ≤ 1e-2 overall.
 *
 * @param xType "f32", "bf16" or "f16"; wType "bf16" or "f16"; cType "f32" or "bf16"
 */
record GemmCase(int m, int n, int k, String xType, String wType, String cType, boolean accumulate) {
    static GemmCase of(int m, int n, int k) { return new GemmCase(m, n, k, "f32", "bf16", "f32", false); }

    void check(Backend backend, Gemm gemm) { check(backend, gemm, null); }

    /** As {@link #check(Backend, Gemm)} through the given plan (fp32 X, bf16 W, fp32 C only), or the default when null. */
    void check(Backend backend, Gemm gemm, Gemm.Plan plan) {
        Random r = new Random(31L * m + 17L * n + k + xType.hashCode() + wType.hashCode() + cType.hashCode() + (accumulate ? 1 : 0));
        try (OffHeapArray x = array(xType, m * k); OffHeapArray w = array(wType, n * k); OffHeapArray c = array(cType, m * n)) {
            for (int i = 0; i < m * k; i++) set(x, i, r.nextFloat() * 2 - 1);
            for (int i = 0; i < n * k; i++) set(w, i, (r.nextFloat() * 2 - 1) * 0.1f);
            double[] residual = new double[m * n];
            for (int i = 0; i < m * n; i++) {
                if (accumulate) { set(c, i, r.nextFloat() * 4 - 2); residual[i] = GemmReference.value(c, i); }
                else set(c, i, Float.NaN);
            }
            backend.toDevice(x, w, c);
            if (plan == null) run(gemm, x, w, c);
            else gemm.matmul((FloatArray) x, m, (BFloat16Array) w, n, k, (FloatArray) c, accumulate, plan);
            backend.toHost(c);
            double[] ref = new double[m * n], scale = new double[m * n];
            GemmReference.matmul(x, m, w, n, k, ref, scale);
            double diff2 = 0, ref2 = 0;
            for (int i = 0; i < m * n; i++) {
                double e = ref[i] + residual[i], got = GemmReference.value(c, i);
                double tol = 0x1p-7 * (scale[i] + Math.abs(residual[i])) + 1e-6;
                if (!(Math.abs(got - e) <= tol))
                    fail(this + ": C[" + i / n + "][" + i % n + "] = " + got + ", reference " + e + " (tolerance " + tol + ")");
                diff2 += (got - e) * (got - e);
                ref2 += e * e;
            }
            assertTrue(Math.sqrt(diff2) <= 1e-2 * Math.sqrt(ref2) + 1e-9, this + ": relative error " + Math.sqrt(diff2 / ref2));
        }
    }

    private void run(Gemm gemm, OffHeapArray x, OffHeapArray w, OffHeapArray c) {
        switch (xType + "," + wType + "," + cType) {
            case "f32,bf16,f32" -> gemm.matmul((FloatArray) x, m, (BFloat16Array) w, n, k, (FloatArray) c, accumulate);
            case "f32,f16,f32" -> gemm.matmul((FloatArray) x, m, (HalfFloatArray) w, n, k, (FloatArray) c, accumulate);
            case "bf16,bf16,f32" -> gemm.matmul((BFloat16Array) x, m, (BFloat16Array) w, n, k, (FloatArray) c, accumulate);
            case "f16,f16,f32" -> gemm.matmul((HalfFloatArray) x, m, (HalfFloatArray) w, n, k, (FloatArray) c, accumulate);
            case "bf16,bf16,bf16" -> gemm.matmul((BFloat16Array) x, m, (BFloat16Array) w, n, k, (BFloat16Array) c, accumulate);
            case "f32,bf16,bf16" -> gemm.matmul((FloatArray) x, m, (BFloat16Array) w, n, k, (BFloat16Array) c, accumulate);
            default -> throw new IllegalArgumentException("no GEMM for " + this);
        }
    }

    static OffHeapArray array(String type, int n) {
        return switch (type) {
            case "f32" -> new FloatArray(n);
            case "bf16" -> new BFloat16Array(n);
            case "f16" -> new HalfFloatArray(n);
            default -> throw new IllegalArgumentException(type);
        };
    }

    static void set(OffHeapArray a, int i, float v) {
        switch (a) {
            case FloatArray f -> f.set(i, v);
            case BFloat16Array b -> b.set(i, v);
            case HalfFloatArray h -> h.set(i, v);
            default -> throw new IllegalArgumentException();
        }
    }

    @Override public String toString() {
        return "GEMM " + m + "x" + n + "x" + k + " x:" + xType + " w:" + wType + " c:" + cType + (accumulate ? " (+=)" : "");
    }
}
