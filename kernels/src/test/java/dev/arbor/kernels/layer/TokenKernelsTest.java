package dev.arbor.kernels.layer;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.kernels.LayerKernels;
import dev.arbor.kernels.LayerReference;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The token kernels on the CPU executor bit for bit against {@link TokenReference} and the existing
 * LayerKernels.rope (sizes 1, 7, 13, 255, 1000; bf16, fp16 and fp32 tables; out-of-range ids, positions and
 * rows give NaN rows); per-head RMSNorm as LayerKernels.rmsNorm over tokens × heads rows.
 */
class TokenKernelsTest {
    static final int[] SIZES = {1, 7, 13, 255, 1000};

    static void assertBits(float[] expected, float[] got, String what) {
        assertEquals(expected.length, got.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(got[i]), what + " at " + i + ": " + got[i] + " vs " + expected[i]);
        }
    }

    /** Runs every case on a backend; shared with the GPU test. */
    static void embeddingCases(Backend b) {
        for (int hidden : SIZES) {
            int vocab = 11, tokens = 9;
            Random r = new Random(hidden);
            int[] ids = new int[tokens];
            for (int t = 0; t < tokens; t++) ids[t] = r.nextInt(vocab);
            ids[3] = vocab;   // out of range: NaN row
            ids[5] = -1;
            float[] values = new float[vocab * hidden];
            for (int i = 0; i < values.length; i++) values[i] = (r.nextFloat() * 2 - 1) * 3;
            try (BFloat16Array tb = new BFloat16Array(values.length); HalfFloatArray th = new HalfFloatArray(values.length);
                 FloatArray tf = FloatArray.of(values); IntArray ia = IntArray.of(ids); FloatArray out = new FloatArray(tokens * hidden)) {
                float[] asBf16 = new float[values.length], asF16 = new float[values.length];
                for (int i = 0; i < values.length; i++) {
                    tb.set(i, values[i]);
                    th.set(i, values[i]);
                    asBf16[i] = tb.get(i);
                    asF16[i] = th.get(i);
                }
                float[] expected = new float[tokens * hidden];
                b.toDevice(tb, th, tf, ia, out);
                TokenReference.embedding(ids, asBf16, hidden, expected);
                TokenOps.embedding(b, ia, tb, out, tokens, hidden);
                b.toHost(out);
                assertBits(expected, out.toArray(), "bf16 embedding hidden=" + hidden);
                TokenReference.embedding(ids, asF16, hidden, expected);
                TokenOps.embedding(b, ia, th, out, tokens, hidden);
                b.toHost(out);
                assertBits(expected, out.toArray(), "fp16 embedding hidden=" + hidden);
                TokenReference.embedding(ids, values, hidden, expected);
                TokenOps.embedding(b, ia, tf, out, tokens, hidden);
                b.toHost(out);
                assertBits(expected, out.toArray(), "fp32 embedding hidden=" + hidden);
                assertTrue(Float.isNaN(out.get(3 * hidden)) && Float.isNaN(out.get(5 * hidden + hidden - 1)));
            }
        }
    }

    /** ropeAtPositions equals LayerKernels.rope run on the table rows of each token's position, bit for bit. */
    static void ropeCases(Backend b) {
        for (int half : new int[] {1, 7, 64}) {
            int tokens = 13, heads = 5, maxPositions = 300;
            Random r = new Random(half);
            float[] cos = new float[maxPositions * half], sin = new float[maxPositions * half];
            for (int p = 0; p < maxPositions; p++) {
                for (int i = 0; i < half; i++) {
                    float angle = p * (float) Math.pow(10000, -2.0 * i / (2 * half));
                    cos[p * half + i] = (float) Math.cos(angle);
                    sin[p * half + i] = (float) Math.sin(angle);
                }
            }
            int[] positions = new int[tokens];
            for (int t = 0; t < tokens; t++) positions[t] = r.nextInt(maxPositions);
            positions[0] = 0;
            positions[1] = maxPositions - 1;
            float[] x = new float[tokens * heads * 2 * half];
            for (int i = 0; i < x.length; i++) x[i] = (r.nextFloat() * 2 - 1) * 4;
            float[] rowCos = new float[tokens * half], rowSin = new float[tokens * half];
            for (int t = 0; t < tokens; t++) {
                System.arraycopy(cos, positions[t] * half, rowCos, t * half, half);
                System.arraycopy(sin, positions[t] * half, rowSin, t * half, half);
            }
            float[] expected = x.clone(), viaReference = x.clone();
            LayerReference.rope(expected, rowCos, rowSin, tokens, heads, half);
            TokenReference.ropeAtPositions(viaReference, cos, sin, positions, heads, half);
            assertBits(expected, viaReference, "reference rope at positions, half=" + half);
            try (FloatArray xa = FloatArray.of(x); FloatArray ca = FloatArray.of(cos); FloatArray sa = FloatArray.of(sin);
                 IntArray pa = IntArray.of(positions); FloatArray xb = FloatArray.of(x); FloatArray rc = FloatArray.of(rowCos); FloatArray rs = FloatArray.of(rowSin)) {
                b.toDevice(xa, ca, sa, pa, xb, rc, rs);
                TokenOps.ropeAtPositions(b, xa, ca, sa, pa, tokens, heads, 2 * half);
                b.launch(Kernel.of(LayerKernels.class, "rope"), Launch.cover(tokens * heads * half, 256), xb, rc, rs, tokens, heads, half);
                b.toHost(xa, xb);
                assertBits(expected, xa.toArray(), "ropeAtPositions half=" + half);
                assertBits(xb.toArray(), xa.toArray(), "ropeAtPositions vs LayerKernels.rope on the same backend, half=" + half);
                pa.set(4, maxPositions);   // out of range
                b.toDevice(pa);
                TokenOps.ropeAtPositions(b, xa, ca, sa, pa, tokens, heads, 2 * half);
                b.toHost(xa);
                assertTrue(Float.isNaN(xa.get(4 * heads * 2 * half)), "out-of-range position gives NaN");
            }
        }
    }

    static void gatherCases(Backend b) {
        for (int n : SIZES) {
            int srcRows = 17;
            Random r = new Random(n);
            float[] src = new float[srcRows * n];
            for (int i = 0; i < src.length; i++) src[i] = r.nextFloat();
            int[] rows = {16, 0, 3, 3, 17, 9};
            float[] expected = new float[rows.length * n];
            TokenReference.gatherRows(src, n, rows, expected);
            try (FloatArray sa = FloatArray.of(src); IntArray ra = IntArray.of(rows); FloatArray dst = new FloatArray(rows.length * n)) {
                b.toDevice(sa, ra, dst);
                TokenOps.gatherRows(b, sa, ra, dst, rows.length, n);
                b.toHost(dst);
                assertBits(expected, dst.toArray(), "gatherRows n=" + n);
                assertTrue(Float.isNaN(dst.get(4 * n)));
            }
        }
    }

    /** The sampled-id feed of asynchronous scheduling, at odd sizes, with pairs outside the arrays skipped. */
    static void feedCases(Backend b) {
        for (int count : new int[] {1, 7, 13, 255, 1000}) {
            int tokens = count + 3, rows = count + 1;
            Random r = new Random(count);
            int[] ids = new int[tokens], sampled = new int[rows], feed = new int[2 * count];
            for (int i = 0; i < tokens; i++) ids[i] = r.nextInt(1000);
            for (int i = 0; i < rows; i++) sampled[i] = 1000 + r.nextInt(1000);
            for (int i = 0; i < count; i++) {
                feed[2 * i] = (i * 7 + 3) % tokens;   // distinct token indices (7 is prime to tokens unless tokens % 7 == 0)
                feed[2 * i + 1] = r.nextInt(rows);
            }
            if (tokens % 7 == 0) for (int i = 0; i < count; i++) feed[2 * i] = i;
            feed[2 * (count - 1)] = count == 1 ? feed[0] : -1;          // skipped (outside tokenIds) unless it is the only pair
            int[] expected = ids.clone();
            TokenReference.feedTokens(expected, sampled, feed, count);
            try (IntArray ia = IntArray.of(ids); IntArray sa = IntArray.of(sampled); IntArray fa = IntArray.of(feed)) {
                b.toDevice(ia, sa, fa);
                TokenOps.feedTokens(b, ia, sa, fa, count, tokens, rows);
                b.toHost(ia);
                for (int i = 0; i < tokens; i++) assertEquals(expected[i], ia.get(i), "feedTokens count=" + count + " token " + i);
            }
        }
    }

    @Test void feedTokens() { feedCases(new CpuBackend()); }

    @Test void embedding() { embeddingCases(new CpuBackend()); }

    @Test void ropeAtPositions() { ropeCases(new CpuBackend()); }

    @Test void gatherRows() { gatherCases(new CpuBackend()); }

    /** Qwen3's q/k norm: RMSNorm of every head vector with one (headDim) weight = LayerKernels.rmsNorm over tokens*heads rows. */
    @Test
    void perHeadRmsNormIsRmsNormOverTokenTimesHeadRows() {
        int tokens = 7, heads = 5, headDim = 13;
        Random r = new Random(3);
        float[] x = new float[tokens * heads * headDim], w = new float[headDim];
        for (int i = 0; i < x.length; i++) x[i] = (r.nextFloat() * 2 - 1) * 3;
        for (int i = 0; i < headDim; i++) w[i] = r.nextFloat() + 0.5f;
        float[] expected = new float[x.length];
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {   // one head vector at a time, as the model's per-head norm reads
                float[] head = java.util.Arrays.copyOfRange(x, (t * heads + h) * headDim, (t * heads + h + 1) * headDim), normed = new float[headDim];
                LayerReference.rmsNorm(head, 1, headDim, w, 1e-6, normed);
                System.arraycopy(normed, 0, expected, (t * heads + h) * headDim, headDim);
            }
        }
        try (FloatArray xa = FloatArray.of(x); FloatArray wa = FloatArray.of(w); FloatArray out = new FloatArray(x.length)) {
            new CpuBackend().launch(Kernel.of(LayerKernels.class, "rmsNorm"), Launch.cover(tokens * heads, 32), xa, wa, out, tokens * heads, headDim, 1e-6);
            assertBits(expected, out.toArray(), "per-head rmsNorm");
        }
    }

    @Test
    void launchersNameBadShapes() {
        Backend cpu = new CpuBackend();
        try (IntArray ids = new IntArray(2); FloatArray table = new FloatArray(30); FloatArray out = new FloatArray(20)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenOps.embedding(cpu, ids, table, out, 2, 7)).getMessage().contains("multiple of hidden"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenOps.embedding(cpu, ids, table, out, 3, 10)).getMessage().contains("ids holds"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenOps.ropeAtPositions(cpu, out, table, table, ids, 2, 1, 3)).getMessage().contains("even"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> TokenOps.gatherRows(cpu, table, ids, out, 2, 11)).getMessage().contains("multiple of n"));
        }
    }
}
