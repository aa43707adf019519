package dev.arbor.kernels.attention;

import java.util.function.UnaryOperator;

/**
 * Plain references for the attention kernels: the paged store written by the host, and dense softmax
 * attention in double precision (the formula of {@code models/cpu/Attention}: scores
 * {@code q·k_j / sqrt(headDim) + slope_h·(j - p)} over j = 0..p, softmax, weighted sum of v_j).
 */
public final class AttentionReference {
    private AttentionReference() {}

    /** Element index of (block, kvHead, slot, d) in a store [numBlocks][kvHeads][blockSize][headDim]. */
    public static int index(int block, int kvHead, int slot, int d, int kvHeads, int blockSize, int headDim) {
        return ((block * kvHeads + kvHead) * blockSize + slot) * headDim + d;
    }

    /**
     * Dense attention of each token over keys 0..positions[t] of its sequence, in double.
     *
     * @param q           (tokens, heads * headDim)
     * @param kStore      (numBlocks, kvHeads, blockSize, headDim) as floats (bf16 values widened)
     * @param vStore      same shape
     * @param blockTables per sequence, its physical blocks
     * @param slopes      (heads) ALiBi slopes or null
     * @return (tokens, heads * headDim)
     */
    public static double[] attention(float[] q, float[] kStore, float[] vStore, int[] positions, int[] seqOfToken, int[][] blockTables,
                                     int heads, int kvHeads, int headDim, int blockSize, float[] slopes) {
        int tokens = positions.length, group = heads / kvHeads;
        double[] out = new double[tokens * heads * headDim];
        double scale = 1.0 / Math.sqrt(headDim);
        for (int t = 0; t < tokens; t++) {
            int p = positions[t];
            int[] table = blockTables[seqOfToken[t]];
            for (int h = 0; h < heads; h++) {
                int kvh = h / group, qo = (t * heads + h) * headDim;
                double[] s = new double[p + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= p; j++) {
                    int ko = index(table[j / blockSize], kvh, j % blockSize, 0, kvHeads, blockSize, headDim);
                    double dot = 0;
                    for (int d = 0; d < headDim; d++) dot += (double) q[qo + d] * kStore[ko + d];
                    s[j] = dot * scale + (slopes != null ? (double) slopes[h] * (j - p) : 0);
                    max = Math.max(max, s[j]);
                }
                double sum = 0;
                for (int j = 0; j <= p; j++) sum += s[j] = Math.exp(s[j] - max);
                for (int j = 0; j <= p; j++) {
                    int vo = index(table[j / blockSize], kvh, j % blockSize, 0, kvHeads, blockSize, headDim);
                    for (int d = 0; d < headDim; d++) out[qo + d] += s[j] / sum * vStore[vo + d];
                }
            }
        }
        return out;
    }

    /** The store update of {@link KvCacheKernels}: k, v (tokens, kvHeads * headDim) at slotMapping (-1 skipped), bf16-rounded if asked. */
    public static void writeKv(float[] k, float[] v, float[] kStore, float[] vStore, int[] slotMapping, int kvHeads, int headDim,
                               int blockSize, boolean bf16) {
        writeKv(k, v, kStore, vStore, slotMapping, kvHeads, headDim, blockSize, bf16 ? AttentionReference::roundBf16 : f -> f);
    }

    /** As above with the store's rounding given ({@link #roundBf16}, {@link #roundFp16}, or none for fp32). */
    public static void writeKv(float[] k, float[] v, float[] kStore, float[] vStore, int[] slotMapping, int kvHeads, int headDim,
                               int blockSize, UnaryOperator<Float> round) {
        for (int t = 0; t < slotMapping.length; t++) {
            int slot = slotMapping[t];
            if (slot < 0) continue;
            for (int h = 0; h < kvHeads; h++) {
                for (int d = 0; d < headDim; d++) {
                    int src = (t * kvHeads + h) * headDim + d, dst = index(slot / blockSize, h, slot % blockSize, d, kvHeads, blockSize, headDim);
                    kStore[dst] = round.apply(k[src]);
                    vStore[dst] = round.apply(v[src]);
                }
            }
        }
    }

    /**
     * Round to IEEE fp16, nearest even, widened back to float: a plain definition (not the JDK's
     * {@code Float.floatToFloat16}) so the kernels' fp16 stores are checked against something else.
     * The fp16 spacing at |f| is 2^(e-10) for exponent e ≥ -14 and 2^-24 below (subnormals); past
     * 65504 + 16 the result is infinite.
     */
    public static float roundFp16(float f) {
        if (Float.isNaN(f) || Float.isInfinite(f) || f == 0f) return f;
        double ulp = Math.scalb(1.0, Math.max(Math.getExponent(f), -14) - 10);
        double r = Math.rint(f / ulp) * ulp;                  // f / ulp is exact (a power of two); rint ties to even
        if (Math.abs(r) >= 65536.0) return Math.copySign(Float.POSITIVE_INFINITY, f);
        return r == 0 ? Math.copySign(0f, f) : (float) r;
    }

    /** Round to bf16, nearest even, widened back to float. */
    public static float roundBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        return Float.intBitsToFloat(((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16) << 16);
    }
}
