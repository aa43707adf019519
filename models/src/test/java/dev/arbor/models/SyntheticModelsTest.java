package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SyntheticModelsTest {
    @Test
    void parsingAShapeAllocatesNoWeights() {
        CausalLM m = ModelLoader.load("synthetic:llama-7b");
        ModelConfig c = m.config();
        assertEquals(4096, c.hiddenSize());
        assertEquals(32, c.numLayers());
        assertEquals(11008, c.intermediateSize());
        assertEquals(32000, c.vocabSize());
        assertNull(c.modelDir());
        assertEquals(2L * 32 * 32 * 16 * 128 * 4, m.kvBytesPerBlock(16));
        assertFalse(((DecoderModel) m).weightsMaterialized());
    }

    @Test
    void baichuanShapesUseAlibiAndThePackedLayout() {
        ModelConfig c = ModelLoader.load("synthetic:baichuan2-13b").config();
        assertEquals(Architecture.BAICHUAN, c.family());
        assertEquals(Architecture.PositionEncoding.ALIBI, c.family().positionEncoding());
        assertEquals(5120, c.hiddenSize());
        assertEquals(40, c.numLayers());
        assertEquals(40, c.numKvHeads());
        assertEquals(13696, c.intermediateSize());
        assertEquals(125696, c.vocabSize());
        assertNull(c.rope());
        // the tiny one runs: W_pack bound as q|k|v, NormHead derived; decode through the cache agrees with the prefill
        int[] prompt = {1, 72, 101, 108, 108, 111, 258};
        try (CausalLM m = ModelLoader.load("synthetic:tiny-baichuan")) {
            float[][] all = new PagedRunner(m, 8, 16).prefill(prompt, prompt.length);
            PagedRunner r = new PagedRunner(m, 8, 16);
            PagedRunner.Sequence s = r.newSequence();
            r.step(java.util.List.of(s), java.util.List.of(java.util.Arrays.copyOf(prompt, prompt.length - 1)), false);
            float[] last = r.step(java.util.List.of(s), java.util.List.of(new int[] {prompt[prompt.length - 1]}), false)[0];
            assertArrayEquals(all[prompt.length - 1], last, 1e-5f);
            assertTrue(java.util.Arrays.stream(new int[] {0, 1, 2}).mapToObj(i -> all[prompt.length - 1][i]).allMatch(Float::isFinite));
        }
    }

    @Test
    void hundredMillionShape() {
        ModelConfig c = ModelLoader.load("synthetic:100m").config();
        long perLayer = 4L * c.hiddenSize() * c.hiddenSize() + 3L * c.hiddenSize() * c.intermediateSize();
        long params = c.numLayers() * perLayer + (long) c.vocabSize() * c.hiddenSize();
        assertTrue(params > 90_000_000 && params < 130_000_000, "parameters: " + params);
    }

    @Test
    void tinyIsDeterministicAndNotDegenerate() {
        int[] prompt = {1, 72, 101, 108, 108, 111, 258};
        float[][] a, b;
        try (CausalLM m = ModelLoader.load("synthetic:tiny")) {
            assertTrue(m.config().vocabSize() >= 512);
            a = new PagedRunner(m, 8, 16).prefill(prompt, prompt.length);
            // Decode through the cache agrees with the prefill logits of the same position.
            PagedRunner r = new PagedRunner(m, 8, 16);
            PagedRunner.Sequence s = r.newSequence();
            r.step(java.util.List.of(s), java.util.List.of(java.util.Arrays.copyOf(prompt, prompt.length - 1)), false);
            float[] last = r.step(java.util.List.of(s), java.util.List.of(new int[] {prompt[prompt.length - 1]}), false)[0];
            assertArrayEquals(a[prompt.length - 1], last, 1e-5f);
        }
        try (CausalLM m = ModelLoader.load("synthetic:tiny")) {
            b = new PagedRunner(m, 8, 16).prefill(prompt, prompt.length);
        }
        assertArrayEquals(a[prompt.length - 1], b[prompt.length - 1], 0f);
        float[] l = a[prompt.length - 1];
        double mean = 0, var = 0;
        for (float v : l) mean += v / l.length;
        for (float v : l) var += (v - mean) * (v - mean) / l.length;
        assertTrue(Math.sqrt(var) > 0.05 && Math.sqrt(var) < 20, "logit std " + Math.sqrt(var));
    }
}
