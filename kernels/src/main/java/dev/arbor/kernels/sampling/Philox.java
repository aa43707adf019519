package dev.arbor.kernels.sampling;

/**
 * Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel random numbers:
 * as easy as 1, 2, 3" (SC 2011), as used by cuRAND and PyTorch: ten rounds of two 32×32→64-bit
 * multiplications and xors over a 128-bit counter, keyed by a 64-bit key. Random123's known-answer
 * vectors are checked in {@code PhiloxTest}.
 *
 * <p>Every method here is also legal in an accel kernel (int/long arithmetic only: the 64-bit product of
 * two unsigned 32-bit words is taken with one {@code long} multiplication, so no multiply-high is needed),
 * and {@link SamplingKernels} calls {@link #uniform} directly, so the CPU and the GPU draw the same bits.
 *
 * <p>Arbor's use: key = the request's seed, counter = {@link #counter(int, int)} of the sequence's index
 * inside its request ({@code n > 1}) and the index of the output token being drawn. A draw therefore
 * depends only on (seed, sequence, position), never on the batch it runs in or on earlier draws.
 */
public final class Philox {
    private Philox() {}

    static final long M0 = 0xD2511F53L, M1 = 0xCD9E8D57L;
    static final int W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /**
     * The counter for output token {@code tokenIndex} (0 for the first generated token) of sequence
     * {@code sequenceIndex} (0 .. n-1) of a request: {@code sequenceIndex << 40 | tokenIndex}.
     *
     * @throws IllegalArgumentException if {@code tokenIndex} is negative or not below 2^40, or
     *                                  {@code sequenceIndex} is negative or not below 2^23
     */
    public static long counter(int sequenceIndex, long tokenIndex) {
        if (sequenceIndex < 0 || sequenceIndex >= (1 << 23)) throw new IllegalArgumentException("sequence index " + sequenceIndex + " not in [0, 2^23)");
        if (tokenIndex < 0 || tokenIndex >= (1L << 40)) throw new IllegalArgumentException("token index " + tokenIndex + " not in [0, 2^40)");
        return ((long) sequenceIndex << 40) | tokenIndex;
    }

    /**
     * One Philox4x32-10 block: counter words (c0, c1, c2, c3), key words (k0, k1); returns output words
     * 0 and 1 ({@code upper} false) or 2 and 3 ({@code upper} true) packed as {@code low | (long) high << 32}.
     * Written without arrays so kernels can inline it.
     */
    public static long block(int c0, int c1, int c2, int c3, int k0, int k1, boolean upper) {
        for (int r = 0; r < 10; r++) {
            long p0 = M0 * (c0 & 0xFFFFFFFFL), p1 = M1 * (c2 & 0xFFFFFFFFL);
            int hi0 = (int) (p0 >>> 32), lo0 = (int) p0, hi1 = (int) (p1 >>> 32), lo1 = (int) p1;
            int n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
            c0 = n0;
            c1 = lo1;
            c2 = n2;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        return upper ? (c2 & 0xFFFFFFFFL) | ((long) c3 << 32) : (c0 & 0xFFFFFFFFL) | ((long) c1 << 32);
    }

    /**
     * A uniform double in [0, 1) with 53 random bits: Philox block of counter (lo, hi, 0, 0) = {@code counter}
     * under key (lo, hi) = {@code seed}; the top 26 bits of output word 0 and the top 27 of word 1 form the
     * mantissa (the construction of {@link java.util.Random#nextDouble()}), so the result is a multiple of
     * 2^-53 and never 1.
     */
    public static double uniform(long seed, long counter) {
        int c0 = (int) counter, c1 = (int) (counter >>> 32), k0 = (int) seed, k1 = (int) (seed >>> 32);
        long w = block(c0, c1, 0, 0, k0, k1, false);
        long a = (w & 0xFFFFFFFFL) >>> 6, b = w >>> 37;
        return ((a << 27) + b) * 0x1.0p-53;
    }
}
