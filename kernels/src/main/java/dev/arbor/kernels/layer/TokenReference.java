package dev.arbor.kernels.layer;

/** Plain loops the {@link TokenKernels} are checked against (heap arrays, same shapes). */
public final class TokenReference {
    private TokenReference() {}

    /** out (tokens, hidden) = table[ids[t]] for table (vocab, hidden) given as floats; NaN rows for bad ids. */
    public static void embedding(int[] ids, float[] table, int hidden, float[] out) {
        int vocab = table.length / hidden;
        for (int t = 0; t < ids.length; t++) {
            for (int i = 0; i < hidden; i++) {
                out[t * hidden + i] = ids[t] >= 0 && ids[t] < vocab ? table[ids[t] * hidden + i] : Float.NaN;
            }
        }
    }

    /** Rotate x (tokens, heads * 2*half) in place with cos/sin (maxPositions, half) at positions[t]. */
    public static void ropeAtPositions(float[] x, float[] cos, float[] sin, int[] positions, int heads, int half) {
        int maxPositions = cos.length / half;
        for (int t = 0; t < positions.length; t++) {
            int p = positions[t];
            for (int h = 0; h < heads; h++) {
                int o = (t * heads + h) * 2 * half;
                for (int i = 0; i < half; i++) {
                    if (p < 0 || p >= maxPositions) {
                        x[o + i] = Float.NaN;
                        x[o + i + half] = Float.NaN;
                        continue;
                    }
                    float x1 = x[o + i], x2 = x[o + i + half], cs = cos[p * half + i], sn = sin[p * half + i];
                    x[o + i] = x1 * cs - x2 * sn;
                    x[o + i + half] = x2 * cs + x1 * sn;
                }
            }
        }
    }

    /** dst (rows.length, n) = src rows at rows[r]; NaN rows for bad indices. */
    public static void gatherRows(float[] src, int n, int[] rows, float[] dst) {
        int srcRows = src.length / n;
        for (int r = 0; r < rows.length; r++) {
            for (int c = 0; c < n; c++) dst[r * n + c] = rows[r] >= 0 && rows[r] < srcRows ? src[rows[r] * n + c] : Float.NaN;
        }
    }

    /** {@code tokenIds[feed[2i]] = sampled[feed[2i+1]]} for i < count, pairs outside the arrays skipped. */
    public static void feedTokens(int[] tokenIds, int[] sampled, int[] feed, int count) {
        for (int i = 0; i < count; i++) {
            int t = feed[2 * i], r = feed[2 * i + 1];
            if (t >= 0 && t < tokenIds.length && r >= 0 && r < sampled.length) tokenIds[t] = sampled[r];
        }
    }
}
