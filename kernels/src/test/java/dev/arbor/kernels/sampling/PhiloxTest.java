package dev.arbor.kernels.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Philox4x32-10 against Random123's known answers; the uniform's range, reproducibility and spread. */
class PhiloxTest {
    private static int[] block(int c0, int c1, int c2, int c3, int k0, int k1) {
        long lo = Philox.block(c0, c1, c2, c3, k0, k1, false), hi = Philox.block(c0, c1, c2, c3, k0, k1, true);
        return new int[] {(int) lo, (int) (lo >>> 32), (int) hi, (int) (hi >>> 32)};
    }

    @Test
    void matchesRandom123KnownAnswers() {   // Random123 1.09, tests/kat_vectors, philox4x32 10 rounds
        assertArrayEquals(new int[] {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}, block(0, 0, 0, 0, 0, 0));
        assertArrayEquals(new int[] {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}, block(-1, -1, -1, -1, -1, -1));
        assertArrayEquals(new int[] {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
                block(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0));
    }

    @Test
    void uniformIsReproducibleInRangeAndSpread() {
        int bins = 16, n = 160_000;
        int[] hist = new int[bins];
        for (int i = 0; i < n; i++) {
            double u = Philox.uniform(42, i);
            assertTrue(u >= 0 && u < 1, "u=" + u);
            assertEquals(u, Philox.uniform(42, i));
            assertEquals(0, u * 0x1.0p53 % 1.0, "a multiple of 2^-53");
            hist[(int) (u * bins)]++;
        }
        double chi2 = 0, expected = (double) n / bins;
        for (int h : hist) chi2 += (h - expected) * (h - expected) / expected;
        assertTrue(chi2 < 44.3, "chi-square " + chi2 + " over 15 degrees of freedom (p=1e-4 critical value 44.3)");
        assertNotEquals(Philox.uniform(42, 0), Philox.uniform(43, 0), "the seed matters");
        assertNotEquals(Philox.uniform(42, Philox.counter(0, 5)), Philox.uniform(42, Philox.counter(1, 5)), "the sequence index matters");
    }

    @Test
    void counterPacksSequenceAndTokenIndex() {
        assertEquals((3L << 40) | 17, Philox.counter(3, 17));
        assertThrows(IllegalArgumentException.class, () -> Philox.counter(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> Philox.counter(0, 1L << 40));
    }
}
