package dev.arbor.kernels.gemm;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.OffHeapArray;

/** Plain-Java {@code C[M,N] = X[M,K] · W[N,K]ᵀ} in double precision, the reference the GEMM kernels are tested against. */
public final class GemmReference {
    private GemmReference() {}

    /** Element i of a float, bf16 or fp16 array as a double (exact widening). */
    static double value(OffHeapArray a, int i) {
        return switch (a) {
            case FloatArray f -> f.get(i);
            case BFloat16Array b -> b.get(i);
            case HalfFloatArray h -> h.get(i);
            default -> throw new IllegalArgumentException("not a float, bf16 or fp16 array: " + a.getClass().getSimpleName());
        };
    }

    /**
     * {@code out[t·n + j] = Σ_k x[t·k + kk] · w[j·k + kk]} for t < m, j < n, summed in double; and,
     * in {@code scale[t·n + j]}, {@code Σ |x·w|}, the size rounding errors are measured against.
     */
    public static void matmul(OffHeapArray x, int m, OffHeapArray w, int n, int k, double[] out, double[] scale) {
        double[] xs = new double[k];
        for (int t = 0; t < m; t++) {
            for (int kk = 0; kk < k; kk++) xs[kk] = value(x, t * k + kk);
            for (int j = 0; j < n; j++) {
                double s = 0, a = 0;
                for (int kk = 0; kk < k; kk++) {
                    double p = xs[kk] * value(w, j * k + kk);
                    s += p;
                    a += Math.abs(p);
                }
                out[t * n + j] = s;
                scale[t * n + j] = a;
            }
        }
    }
}
