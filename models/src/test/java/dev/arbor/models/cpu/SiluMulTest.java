package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arbor.kernels.LayerReference;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link SiluMul}: {@link LayerReference#siluMul(float, float)}'s bits, vector lanes and scalar tail alike. */
class SiluMulTest {
    /** Gates over every 256th float bit pattern (both signs: ~16.8 M, every exponent, infinities, NaNs among them). */
    @Test
    void equalsTheReferenceBitForBitAcrossTheFloats() {
        int n = 1 << 16;
        float[] gate = new float[n], up = new float[n], expected = new float[n];
        SplittableRandom rnd = new SplittableRandom(11);
        for (long base = 0; base < 1L << 32; base += 256L * n) {
            for (int i = 0; i < n; i++) {
                gate[i] = Float.intBitsToFloat((int) (base + 256L * i + rnd.nextInt(256)));
                up[i] = (float) rnd.nextDouble(-4, 4);
                expected[i] = LayerReference.siluMul(gate[i], up[i]);
            }
            SiluMul.apply(gate, up, 0, n);
            for (int i = 0; i < n; i++) {
                if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(gate[i]) && !(Float.isNaN(expected[i]) && Float.isNaN(gate[i])))
                    assertEquals(expected[i], gate[i], "gate bits " + Integer.toHexString((int) (base + 256L * i)) + "..");
            }
        }
    }

    /** Ranges starting and ending anywhere (vector body + scalar tail), around the values a model's gates take. */
    @Test
    void rangesEqualTheReferenceAndLeaveTheRestAlone() {
        SplittableRandom rnd = new SplittableRandom(13);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(100), from = rnd.nextInt(n), to = from + rnd.nextInt(n - from + 1);
            float[] gate = new float[n], up = new float[n];
            for (int i = 0; i < n; i++) {
                gate[i] = (float) (rnd.nextGaussian() * 4);
                up[i] = (float) rnd.nextGaussian();
            }
            float[] expected = gate.clone();
            for (int i = from; i < to; i++) expected[i] = LayerReference.siluMul(gate[i], up[i]);
            SiluMul.apply(gate, up, from, to);
            for (int i = 0; i < n; i++) assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(gate[i]), "trial " + trial + " [" + from + ", " + to + ") at " + i);
        }
    }
}
