package dev.arbor.accel.compiler;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The inlined double exp/log agree with java.lang.Math to a few ulps, specials included. */
class DoubleMathTest {
    private static void close(double expected, double actual, int ulps, String what) {
        if (Double.isNaN(expected)) { assertTrue(Double.isNaN(actual), what); return; }
        if (Double.isInfinite(expected) || expected == 0) { assertEquals(expected, actual, what); return; }
        assertTrue(Math.abs(expected - actual) <= ulps * Math.ulp(expected), what + ": " + actual + " vs " + expected
                + " (" + Math.abs(expected - actual) / Math.ulp(expected) + " ulps)");
    }

    @Test
    void expMatchesMathAcrossItsRange() {
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 200_000; i++) {
            double x = (r.nextDouble() * 2 - 1) * 708;
            close(Math.exp(x), DoubleMath.exp(x), 2, "exp(" + x + ")");
        }
        for (double x : new double[] {0, -0.0, 1, -1, 1e-300, -1e-300, 0.5 * Math.log(2), 709.7, -708.4, -744, 710, -746,
                Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            close(Math.exp(x), DoubleMath.exp(x), x < -708 ? 1 << 20 : 2, "exp(" + x + ")");   // subnormal results lose bits
        }
    }

    @Test
    void logMatchesMathAcrossItsRange() {
        SplittableRandom r = new SplittableRandom(2);
        for (int i = 0; i < 200_000; i++) {
            double x = Math.exp((r.nextDouble() * 2 - 1) * 700);
            close(Math.log(x), DoubleMath.log(x), 2, "log(" + x + ")");
        }
        for (double x : new double[] {1, 2, 0.5, Math.E, 1 + 1e-12, 1 - 1e-12, Double.MIN_VALUE, Double.MIN_NORMAL, 3e-310,
                Double.MAX_VALUE, 0, -0.0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
            close(Math.log(x), DoubleMath.log(x), 2, "log(" + x + ")");
        }
    }
}
