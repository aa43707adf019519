package dev.arbor.accel.compiler;

/**
 * {@code Math.exp(double)} and {@code Math.log(double)} for kernels. PTX has no double-precision
 * exp or log instruction, so the compiler inlines these plain-Java versions in their place (on the
 * CPU the kernel calls {@code Math} itself). Both use the classic scheme (Cody-Waite range reduction,
 * then a short series) and stay within a few ulps of {@code java.lang.Math}; {@code DoubleMathTest}
 * checks this over a wide range. Only constructs the kernel compiler supports appear here.
 */
public final class DoubleMath {
    private DoubleMath() {}

    private static final double LN2_HI = 6.93147180369123816490e-01;   // ln 2, high bits (exact in 32 bits)
    private static final double LN2_LO = 1.90821492927058770002e-10;   // ln 2 - LN2_HI
    private static final double INV_LN2 = 1.44269504088896338700e+00;
    private static final double EXP_OVERFLOW = 7.09782712893383973096e+02;
    private static final double EXP_UNDERFLOW = -7.45133219101941108420e+02;

    /** e^x. */
    public static double exp(double x) {
        if (x != x) return x;                                   // NaN
        if (x > EXP_OVERFLOW) return Double.POSITIVE_INFINITY;
        if (x < EXP_UNDERFLOW) return 0.0;
        // x = k ln2 + r, |r| <= ln2 / 2
        double t = x * INV_LN2 + 0.5;
        long k = (long) t;                                      // truncates toward zero: make it floor
        if ((double) k > t) k--;
        double kd = (double) k;
        double r = (x - kd * LN2_HI) - kd * LN2_LO;
        // e^r by its Taylor series to r^13/13! (truncation < 2e-17 for |r| <= 0.347)
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        // times 2^k in two steps, so that results near the subnormal range are not flushed early
        long k1 = k / 2, k2 = k - k1;
        return p * Double.longBitsToDouble((k1 + 1023) << 52) * Double.longBitsToDouble((k2 + 1023) << 52);
    }

    /** Natural logarithm. */
    public static double log(double x) {
        if (x != x || x < 0) return Double.NaN;
        if (x == 0) return Double.NEGATIVE_INFINITY;
        if (x == Double.POSITIVE_INFINITY) return x;
        long bits = Double.doubleToRawLongBits(x);
        long e = (bits >>> 52) - 1023;
        if (e == -1023) {                                       // subnormal: scale up by 2^54 first
            bits = Double.doubleToRawLongBits(x * 18014398509481984.0);
            e = (bits >>> 52) - 1023 - 54;
        }
        double m = Double.longBitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);   // [1, 2)
        if (m > 1.4142135623730951) {                           // keep m in [sqrt(1/2), sqrt(2))
            m *= 0.5;
            e++;
        }
        // log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716: series to s^23
        double f = m - 1.0;
        double s = f / (2.0 + f), z = s * s;
        double q = 1.0 / 23;
        q = q * z + 1.0 / 21;
        q = q * z + 1.0 / 19;
        q = q * z + 1.0 / 17;
        q = q * z + 1.0 / 15;
        q = q * z + 1.0 / 13;
        q = q * z + 1.0 / 11;
        q = q * z + 1.0 / 9;
        q = q * z + 1.0 / 7;
        q = q * z + 1.0 / 5;
        q = q * z + 1.0 / 3;
        double logM = 2.0 * s + 2.0 * s * z * q;
        double ed = (double) e;
        return ed * LN2_HI + (ed * LN2_LO + logM);
    }
}
