package dev.arbor.kernels.attention;

/**
 * The ALiBi slope rule of {@code models/cpu/Alibi} (kernels cannot import models), for the tests:
 * for n a power of two, {@code start^(i+1)} with {@code start = 2^(-8/n)}; otherwise the closest power
 * of two's slopes then every other slope of twice that.
 */
final class AlibiSlopes {
    private AlibiSlopes() {}

    static float[] of(int n) {
        double[] s = interleave(n);
        float[] out = new float[n];
        for (int i = 0; i < n; i++) out[i] = (float) s[i];
        return out;
    }

    private static double[] interleave(int n) {
        int p = Integer.highestOneBit(n);
        if (p == n) {
            double start = Math.pow(2, -8.0 / n);
            double[] out = new double[n];
            for (int i = 0; i < n; i++) out[i] = Math.pow(start, i + 1);
            return out;
        }
        double[] base = interleave(p), extra = interleave(2 * p), out = new double[n];
        System.arraycopy(base, 0, out, 0, p);
        for (int i = 0; i < n - p; i++) out[p + i] = extra[2 * i];
        return out;
    }
}
