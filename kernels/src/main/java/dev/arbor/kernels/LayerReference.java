package dev.arbor.kernels;

/** Plain loops for {@link LayerKernels}: the reference the kernels are tested against. */
public final class LayerReference {
    private LayerReference() {}

    /** RMSNorm of {@code rows} rows of {@code n}; {@code out} may be {@code x}. */
    public static void rmsNorm(float[] x, int rows, int n, float[] w, double eps, float[] out) {
        for (int r = 0; r < rows; r++) rmsNormRow(x, r * n, n, w, eps, out);
    }

    /** RMSNorm of the one row {@code x[o .. o + n)} into {@code out[o .. o + n)} (may be x): squares summed in double, ascending. */
    public static void rmsNormRow(float[] x, int o, int n, float[] w, double eps, float[] out) {
        double sq = 0;
        for (int i = 0; i < n; i++) sq += x[o + i] * x[o + i];
        float inv = (float) (1.0 / Math.sqrt(sq / n + eps));
        for (int i = 0; i < n; i++) out[o + i] = w[i] * (x[o + i] * inv);
    }

    /** {@code gate = silu(gate) * up} over the first n elements. */
    public static void siluMul(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) gate[i] = siluMul(gate[i], up[i]);
    }

    /** One element of {@link #siluMul(float[], float[], int)}: {@code silu(g) * u}. */
    public static float siluMul(float g, float u) { return g / (1f + (float) Math.exp(-g)) * u; }

    /**
     * Rotary embedding in Hugging Face's rotate_half form, in place: in every head of
     * {@code x (tokens, heads * 2*half)}, dimension i turns with dimension i + half by the angle
     * whose cosine and sine are {@code cos/sin[t * half + i]} (tables (tokens, half)).
     */
    public static void rope(float[] x, float[] cos, float[] sin, int tokens, int heads, int half) {
        int headDim = 2 * half;
        for (int t = 0; t < tokens; t++)
            for (int h = 0; h < heads; h++) ropeHead(x, (t * heads + h) * headDim, cos, sin, t * half, half);
    }

    /** {@link #rope} of the one head {@code x[o .. o + 2 half)}: dimension i turns with i + half by {@code cos/sin[c + i]}. */
    public static void ropeHead(float[] x, int o, float[] cos, float[] sin, int c, int half) {
        for (int i = 0; i < half; i++) {
            float x1 = x[o + i], x2 = x[o + i + half];
            float cs = cos[c + i], sn = sin[c + i];
            x[o + i] = x1 * cs - x2 * sn;
            x[o + i + half] = x2 * cs + x1 * sn;
        }
    }

    /**
     * {@code out (tokens, rows) = x (tokens, cols) · Wᵀ}, W given as floats (rows, cols), each dot
     * product accumulated in double (the reference for {@link MatvecKernels}, whose summation order differs).
     */
    public static void matvec(float[] w, float[] x, float[] out, int rows, int cols, int tokens) {
        for (int t = 0; t < tokens; t++) {
            for (int r = 0; r < rows; r++) {
                double s = 0;
                for (int c = 0; c < cols; c++) s += (double) w[r * cols + c] * x[t * cols + c];
                out[t * rows + r] = (float) s;
            }
        }
    }

    /** {@code x += y} over the first n elements. */
    public static void add(float[] x, float[] y, int n) {
        for (int i = 0; i < n; i++) x[i] += y[i];
    }
}
