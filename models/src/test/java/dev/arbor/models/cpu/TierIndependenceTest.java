package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/**
 * The CPU forward pass must give the same bits on its first call (interpreted) as after C2 has
 * compiled it: chunked == unchunked and cache on == cache off are asserted bit for bit elsewhere.
 * Each check repeats a call long enough for HotSpot to compile it and compares every result with
 * one computed by plain scalar Java in the defined order.
 */
class TierIndependenceTest {
    private static final int ROUNDS = 60_000;

    @Test
    void laneSumIsTheFixedHalvingTreeAtEveryTier() {
        int n = FloatVector.SPECIES_PREFERRED.length();
        SplittableRandom rnd = new SplittableRandom(3);
        float[] a = new float[n];
        for (int round = 0; round < ROUNDS; round++) {
            for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1e3, 1e3);
            float[] t = a.clone();
            for (int half = n / 2; half >= 1; half /= 2) {
                float[] next = new float[n];
                for (int i = 0; i < n; i++) next[i] = t[i] + t[i ^ half];
                t = next;
            }
            float got = Lanes.sum(FloatVector.fromArray(FloatVector.SPECIES_PREFERRED, a, 0));
            assertEquals(Float.floatToRawIntBits(t[0]), Float.floatToRawIntBits(got), "round " + round);
        }
    }

    private static void kernel(float[] w, int cols, float[] x, float[] out, float[] acc) {
        if (Matmul.MR == 4) Matmul.kernel4x4(w, cols, x, 0, out, 0, 4, 1, acc);
        else if (Matmul.MR == 2) Matmul.kernel2x4(w, cols, x, 0, out, 0, 4, 1, acc);
        else Matmul.dot4(w, cols, x, 0, out, 0, 1);
    }

    @Test
    void siluMulIsTheReferencesAtEveryTier() {
        SplittableRandom rnd = new SplittableRandom(7);
        int n = 3 * FloatVector.SPECIES_PREFERRED.length() + 5;   // vector lanes and a scalar tail
        float[] gate = new float[n], up = new float[n];
        for (int round = 0; round < ROUNDS; round++) {
            for (int i = 0; i < n; i++) {
                gate[i] = (float) (rnd.nextGaussian() * 6);
                up[i] = (float) rnd.nextGaussian();
            }
            float[] want = new float[n];
            for (int i = 0; i < n; i++) want[i] = dev.arbor.kernels.LayerReference.siluMul(gate[i], up[i]);
            SiluMul.apply(gate, up, 0, n);
            for (int i = 0; i < n; i++) assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(gate[i]), "round " + round + " at " + i);
        }
    }

    @Test
    void dotProductsAndSoftmaxSumsRepeatBitForBit() {
        SplittableRandom rnd = new SplittableRandom(5);
        int cols = 203; // vector body plus a scalar tail
        float[] w = new float[4 * cols], x = new float[cols], scores = new float[cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) rnd.nextDouble(-1, 1);
        for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextDouble(-1, 1);
        float[] first = new float[4];
        Matmul.dot4(w, cols, x, 0, first, 0, 1);
        float firstDot = Matmul.dot(w, 0, x, 0, cols);
        System.arraycopy(x, 0, scores, 0, cols);
        float firstExpSum = Attention.expInPlace(scores, cols, 1f);
        float[] out = new float[4];
        // The micro-kernel (MR tokens x 4 rows) and its transposed lane sums: x holds MR token rows.
        int mr = Math.max(1, Matmul.MR);
        float[] xs = new float[mr * cols], acc = new float[FloatVector.SPECIES_PREFERRED.length() * FloatVector.SPECIES_PREFERRED.length()];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextDouble(-1, 1);
        float[] firstTile = new float[4 * mr], tile = new float[4 * mr];
        kernel(w, cols, xs, firstTile, acc);
        // The decode path: four bf16 rows converted in registers as they stream in.
        java.lang.foreign.MemorySegment bf16 = java.lang.foreign.MemorySegment.ofArray(new short[4 * cols]);
        for (int i = 0; i < 4 * cols; i++) bf16.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, (short) (Float.floatToRawIntBits(w[i]) >>> 16));
        float[] firstStream = new float[4], stream = new float[4];
        Matmul.dot4Bf16(bf16, 0, 2L * cols, cols, x, 0, firstStream, 0, 1);
        for (int round = 0; round < ROUNDS; round++) {
            Matmul.dot4Bf16(bf16, 0, 2L * cols, cols, x, 0, stream, 0, 1);
            for (int i = 0; i < 4; i++) assertEquals(Float.floatToRawIntBits(firstStream[i]), Float.floatToRawIntBits(stream[i]), "dot4Bf16 round " + round);
            kernel(w, cols, xs, tile, acc);
            for (int i = 0; i < tile.length; i++) assertEquals(Float.floatToRawIntBits(firstTile[i]), Float.floatToRawIntBits(tile[i]), "kernel round " + round);
            Matmul.dot4(w, cols, x, 0, out, 0, 1);
            for (int i = 0; i < 4; i++) assertEquals(Float.floatToRawIntBits(first[i]), Float.floatToRawIntBits(out[i]), "dot4 round " + round);
            assertEquals(Float.floatToRawIntBits(firstDot), Float.floatToRawIntBits(Matmul.dot(w, 0, x, 0, cols)), "dot round " + round);
            System.arraycopy(x, 0, scores, 0, cols);
            assertEquals(Float.floatToRawIntBits(firstExpSum), Float.floatToRawIntBits(Attention.expInPlace(scores, cols, 1f)), "exp round " + round);
        }
    }
}
