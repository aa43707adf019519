package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.DecoderModel;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.StepShape;
import dev.arbor.models.backend.DecoderForward;
import dev.arbor.models.backend.Ops;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.Matrix;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link CpuOps}' fused stages ({@link FusedStages}: one parallel region per stage) give the bits of {@link Ops}' default
 * compositions of the separate calls (matmul, rmsNorm, rope, siluMul, add on the accel CPU executor), at decode and
 * prefill token counts (the streaming and the blocked GEMM paths), with RoPE and with ALiBi, and with Qwen3's q/k norm.
 */
class FusedStagesTest {

    /** Whole forward passes of synthetic models: the fused CpuOps against the same CpuOps behind the default compositions. */
    @ParameterizedTest
    @ValueSource(strings = {"synthetic:tiny", "synthetic:tiny-baichuan"})
    void forwardPassEqualsTheUnfusedCompositionBitForBit(String model) {
        try (DecoderModel m = (DecoderModel) ModelLoader.load(model)) {
            ModelConfig c = m.config();
            StepShape shape = new StepShape(32, 16, 256, 8, 32, 64);
            try (DecoderForward<float[]> fused = new DecoderForward<>(c, m.weights(), new CpuOps(c, shape), shape);
                 DecoderForward<float[]> plain = new DecoderForward<>(c, m.weights(), new Unfused(new CpuOps(c, shape)), shape)) {
                // a 37-token prefill (blocked GEMM), then three single-token steps (streamed weights), then a 9-token chunk
                int[][] steps = {new int[37], {5}, {9}, {200}, new int[9]};
                SplittableRandom rnd = new SplittableRandom(11);
                int pos = 0;
                for (int[] step : steps) {
                    for (int i = 0; i < step.length; i++) if (step[i] == 0) step[i] = 1 + rnd.nextInt(c.vocabSize() - 1);
                    float[] a = run(fused, c, step, pos), b = run(plain, c, step, pos);
                    for (int i = 0; i < a.length; i++) {
                        assertEquals(Float.floatToRawIntBits(b[i]), Float.floatToRawIntBits(a[i]),
                                model + " at position " + pos + ", logit " + i + ": " + a[i] + " vs " + b[i]);
                    }
                    pos += step.length;
                }
            }
        }
    }

    /** One sequence (blocks 31, 30, ...), {@code tokens} at positions {@code pos ..}; the last token's logits. */
    private static float[] run(DecoderForward<float[]> f, ModelConfig c, int[] tokens, int pos) {
        ForwardBatch b = f.batch();
        b.clear();
        int len = pos + tokens.length, blocks = (len + 15) / 16;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = 31 - i;
        b.beginSequence(table, blocks);
        for (int i = 0; i < tokens.length; i++) b.addToken(tokens[i], pos + i);
        b.addLogitRow(tokens.length - 1);
        f.forward();
        f.computeLogits(0);
        float[] out = new float[c.vocabSize()];
        f.readLogits(0, out);
        return out;
    }

    /** The q|k|v stage with a per-head q/k norm (Qwen3), at decode and prefill token counts, against the separate calls. */
    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4, 9, 37})
    void qkvWithHeadNormsEqualsTheSeparateCalls(int tokens) {
        ModelConfig c = ModelLoader.load("synthetic:tiny").config();
        int hidden = c.hiddenSize(), headDim = c.headDim(), heads = c.numHeads(), kvHeads = c.numKvHeads();
        SplittableRandom rnd = new SplittableRandom(tokens);
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofShared()) {
            Matrix wq = MatmulTest.randomMatrix(arena, dev.arbor.models.weights.DType.BF16, heads * headDim, hidden, rnd);
            Matrix wk = MatmulTest.randomMatrix(arena, dev.arbor.models.weights.DType.BF16, kvHeads * headDim, hidden, rnd);
            Matrix wv = MatmulTest.randomMatrix(arena, dev.arbor.models.weights.DType.BF16, kvHeads * headDim, hidden, rnd);
            float[] qNorm = random(headDim, rnd), kNorm = random(headDim, rnd), xn = random(tokens * hidden, rnd);
            float[] cos = random(tokens * headDim / 2, rnd), sin = random(tokens * headDim / 2, rnd);
            float[][] got = {new float[tokens * heads * headDim], new float[tokens * kvHeads * headDim], new float[tokens * kvHeads * headDim]};
            new FusedStages.Qkv().apply(xn, tokens, wq, wk, wv, heads, kvHeads, headDim, qNorm, kNorm, c.rmsNormEps(), cos, sin,
                    got[0], got[1], got[2]);
            float[][] want = {new float[got[0].length], new float[got[1].length], new float[got[2].length]};
            Matmul.apply(xn, tokens, wq, want[0]);
            Matmul.apply(xn, tokens, wk, want[1]);
            Matmul.apply(xn, tokens, wv, want[2]);
            dev.arbor.kernels.CpuLayerOps layer = new dev.arbor.kernels.CpuLayerOps();
            layer.rmsNorm(want[0], tokens * heads, headDim, qNorm, c.rmsNormEps(), want[0]);
            layer.rmsNorm(want[1], tokens * kvHeads, headDim, kNorm, c.rmsNormEps(), want[1]);
            layer.rope(want[0], cos, sin, tokens, heads, headDim / 2);
            layer.rope(want[1], cos, sin, tokens, kvHeads, headDim / 2);
            for (int m = 0; m < 3; m++) {
                for (int i = 0; i < got[m].length; i++) {
                    assertEquals(Float.floatToRawIntBits(want[m][i]), Float.floatToRawIntBits(got[m][i]), "matrix " + m + " element " + i);
                }
            }
        }
    }

    private static float[] random(int n, SplittableRandom rnd) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        return a;
    }

    /** {@code delegate}'s primitives behind {@link Ops}' default (unfused) stages. */
    private record Unfused(CpuOps d) implements Ops<float[]> {
        @Override public float[] allocate(int rows, int cols) { return d.allocate(rows, cols); }
        @Override public void upload(ForwardBatch b) { d.upload(b); }
        @Override public void embed(Matrix table, ForwardBatch b, float[] out) { d.embed(table, b, out); }
        @Override public void rmsNorm(float[] x, int rows, int n, float[] w, double eps, float[] out) { d.rmsNorm(x, rows, n, w, eps, out); }
        @Override public void matmul(float[] x, int rows, Matrix w, float[] out) { d.matmul(x, rows, w, out); }
        @Override public void rope(float[] x, int heads, ForwardBatch b) { d.rope(x, heads, b); }
        @Override public void storeKv(int layer, float[] k, float[] v, ForwardBatch b) { d.storeKv(layer, k, v, b); }
        @Override public void attention(int layer, float[] q, ForwardBatch b, float[] out) { d.attention(layer, q, b, out); }
        @Override public void siluMul(float[] gate, float[] up, int n) { d.siluMul(gate, up, n); }
        @Override public void add(float[] x, float[] y, int n) { d.add(x, y, n); }
        @Override public void gatherRows(float[] x, int n, ForwardBatch b, int count, float[] out) { d.gatherRows(x, n, b, count, out); }
        @Override public void copyRows(float[] src, int n, int srcRow, int count, float[] dst) { d.copyRows(src, n, srcRow, count, dst); }
        @Override public void sample(float[] logits, SamplingBatch batch) { d.sample(logits, batch); }
        @Override public void readRow(float[] x, int row, int n, float[] dst) { d.readRow(x, row, n, dst); }
        @Override public void close() { d.close(); }
    }
}
