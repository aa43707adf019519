package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

class AlibiTest {
    @Test
    void powerOfTwoHeads() {
        float[] expected = new float[8];
        for (int i = 0; i < 8; i++) expected[i] = (float) Math.pow(2, -(i + 1));
        assertArrayEquals(expected, Alibi.slopes(8), 0f);
    }

    @Test
    void fiveHeadsInterleaveTheSlopesOfEight() {
        // Slopes of 4 heads (2^-2, 2^-4, 2^-6, 2^-8), then every other slope of 8 heads, first one: 2^-1.
        assertArrayEquals(new float[] {0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f}, Alibi.slopes(5), 0f);
    }

    @Test
    void fortyHeadsAsBaichuan13B() {
        float[] s = Alibi.slopes(40);
        // 32 heads: 2^(-(i+1)/4); then 8 from 64 heads: 2^(-(2k+1)/8).
        for (int i = 0; i < 32; i++) assertArrayEquals(new float[] {(float) Math.pow(2, -(i + 1) / 4.0)}, new float[] {s[i]}, 1e-7f);
        for (int k = 0; k < 8; k++) assertArrayEquals(new float[] {(float) Math.pow(2, -(2 * k + 1) / 8.0)}, new float[] {s[32 + k]}, 1e-7f);
    }
}
