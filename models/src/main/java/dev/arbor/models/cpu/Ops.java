package dev.arbor.models.cpu;

/** Element-wise stages of the forward pass. */
final class Ops {
    private Ops() {}

    /** {@code out[r] = w ⊙ x[r] / sqrt(mean(x[r]²) + eps)} for each of {@code rows} rows of width {@code n}; in place allowed. */
    static void rmsNorm(float[] x, int rows, int n, float[] w, double eps, float[] out) {
        for (int r = 0; r < rows; r++) {
            int o = r * n;
            double sq = 0;
            for (int i = 0; i < n; i++) sq += x[o + i] * x[o + i];
            float inv = (float) (1.0 / Math.sqrt(sq / n + eps));
            for (int i = 0; i < n; i++) out[o + i] = w[i] * (x[o + i] * inv);
        }
    }

    /** {@code x += y} over the first {@code n} elements. */
    static void addInPlace(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }

    /** SwiGLU: {@code gate = silu(gate) * up}. */
    static void siluMulInPlace(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }
}
