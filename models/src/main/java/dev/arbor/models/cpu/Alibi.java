package dev.arbor.models.cpu;

/**
 * ALiBi slopes (Press et al.; Baichuan2-13B's {@code _get_interleave}). For a power-of-two head
 * count n the slopes are {@code start^(i+1)} with {@code start = 2^(-8/n)}; otherwise the slopes
 * of the closest power of two p, followed by every other slope of 2p, taking n - p of them.
 * Attention adds {@code slope_h * (j - i)} to the score of query position i and key position j;
 * Baichuan adds {@code slope_h * j}, which differs by a constant per query row, and softmax is
 * shift-invariant.
 */
public final class Alibi {
    private Alibi() {}

    public static float[] slopes(int numHeads) {
        double[] s = interleave(numHeads);
        float[] out = new float[numHeads];
        for (int i = 0; i < numHeads; i++) out[i] = (float) s[i];
        return out;
    }

    private static double[] interleave(int n) {
        int p = Integer.highestOneBit(n);
        if (p == n) return powerOfTwo(n);
        double[] base = powerOfTwo(p), extra = interleave(2 * p);
        double[] out = new double[n];
        System.arraycopy(base, 0, out, 0, p);
        for (int i = 0; i < n - p; i++) out[p + i] = extra[2 * i];
        return out;
    }

    private static double[] powerOfTwo(int n) {
        double start = Math.pow(2, -Math.pow(2, -(log2(n) - 3)));
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = start * Math.pow(start, i);
        return out;
    }

    private static double log2(int n) {
        return Integer.numberOfTrailingZeros(n);
    }
}
