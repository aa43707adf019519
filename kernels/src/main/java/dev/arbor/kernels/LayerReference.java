package dev.arbor.kernels;

/** Plain loops for {@link LayerKernels}: the reference the kernels are tested against. */
public final class LayerReference {
    private LayerReference() {}

    /** RMSNorm of {@code rows} rows of {@code n}; {@code out} may be {@code x}. */
    public static void rmsNorm(float[] x, int rows, int n, float[] w, double eps, float[] out) {
        for (int r = 0; r < rows; r++) {
            int o = r * n;
            double sq = 0;
            for (int i = 0; i < n; i++) sq += x[o + i] * x[o + i];
            float inv = (float) (1.0 / Math.sqrt(sq / n + eps));
            for (int i = 0; i < n; i++) out[o + i] = w[i] * (x[o + i] * inv);
        }
    }

    /** {@code gate = silu(gate) * up} over the first n elements. */
    public static void siluMul(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    /** {@code x += y} over the first n elements. */
    public static void add(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }
}
