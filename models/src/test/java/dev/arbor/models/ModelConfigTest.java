package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.arbor.models.testing.Fixtures;
import org.junit.jupiter.api.Test;

/** The four config.json styles of the fixtures, and generation_config.json. */
class ModelConfigTest {
    @Test
    void oldLlama2StyleUsesDefaults() {
        ModelConfig c = ModelConfig.read(Fixtures.model("tiny-llama2"));
        assertEquals(Architecture.LLAMA, c.family());
        assertEquals(16, c.headDim()); // 64 / 4, no head_dim in the file
        assertEquals(4, c.numKvHeads());
        assertEquals(10000.0, c.rope().theta());
        assertEquals("default", c.rope().type());
        assertEquals(1, c.bosTokenId());
        assertArrayEquals(new int[] {2}, c.eosTokenIds());
        assertEquals("bfloat16", c.dtype());
    }

    @Test
    void llama3RopeScaling() {
        ModelConfig c = ModelConfig.read(Fixtures.model("tiny-llama3"));
        assertEquals(12, c.headDim());
        assertEquals(2, c.numKvHeads());
        assertEquals(new RopeConfig(500000.0, "llama3", 32.0, 1.0, 4.0, 8192), c.rope());
        assertEquals(true, c.tieWordEmbeddings());
        assertArrayEquals(new int[] {128001, 128008, 128009}, c.eosTokenIds());
        assertEquals(131072, c.maxPositionEmbeddings());
    }

    @Test
    void transformers5RopeParameters() {
        ModelConfig c = ModelConfig.read(Fixtures.model("tiny-qwen3"));
        assertEquals(Architecture.QWEN3, c.family());
        assertEquals(16, c.headDim()); // explicit, != 48 / 4
        assertEquals(RopeConfig.plain(1_000_000.0), c.rope());
        assertEquals(1e-6, c.rmsNormEps());
    }

    @Test
    void baichuanOwnStyle() {
        ModelConfig c = ModelConfig.read(Fixtures.model("tiny-baichuan2-13b"));
        assertEquals(Architecture.BAICHUAN, c.family());
        assertEquals(5, c.numKvHeads()); // no num_key_value_heads: MHA
        assertEquals(4096, c.maxPositionEmbeddings()); // model_max_length
        assertNull(c.rope());
        assertEquals(16, c.headDim());
    }

    @Test
    void generationConfig() {
        try (CausalLM m = ModelLoader.load(Fixtures.model("tiny-llama3").toString())) {
            GenerationConfig g = m.generationConfig();
            assertArrayEquals(new int[] {128001, 128008, 128009}, g.eosTokenIds());
            assertEquals(128000, g.bosTokenId());
        }
        try (CausalLM m = ModelLoader.load(Fixtures.model("tiny-baichuan2-13b").toString())) {
            // No generation_config.json: falls back to config.json.
            assertArrayEquals(new int[] {2}, m.generationConfig().eosTokenIds());
        }
    }
}
