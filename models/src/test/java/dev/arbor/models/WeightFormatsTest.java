package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The same weights stored as bf16, fp16, fp32, and sharded, give the same logits. */
class WeightFormatsTest {
    @TempDir Path tmp;

    private static final int[] PROMPT = {1, 17, 255, 42, 3, 99, 7, 150, 299, 0, 5};

    private float[][] logits(Path dir) {
        try (CausalLM m = ModelLoader.load(dir.toString())) {
            return new PagedRunner(m, 16, 4).prefill(PROMPT, PROMPT.length);
        }
    }

    /** A checkpoint whose config names bfloat16 whatever the file dtype, so RoPE frequencies are identical. */
    private Path checkpoint(String name, String dtype) {
        Path dir = tmp.resolve(name);
        new TinyCheckpoint().write(dir, dtype);
        ObjectNode config = TinyCheckpoint.config("LlamaForCausalLM");
        config.put("torch_dtype", "bfloat16");
        TinyCheckpoint.writeConfig(dir, config);
        return dir;
    }

    @Test
    void bf16Fp16AndFp32GiveTheSameLogits() {
        float[][] bf16 = logits(checkpoint("bf16", "BF16"));
        float[][] fp16 = logits(checkpoint("fp16", "F16"));
        float[][] fp32 = logits(checkpoint("fp32", "F32"));
        for (int p = 0; p < PROMPT.length; p++) {
            assertArrayEquals(bf16[p], fp16[p], 0f, "fp16 at " + p);
            assertArrayEquals(bf16[p], fp32[p], 0f, "fp32 at " + p);
        }
        double spread = 0;
        for (float v : bf16[PROMPT.length - 1]) spread = Math.max(spread, Math.abs(v));
        assertTrue(spread > 0.1, "logits should not be degenerate: max |logit| " + spread);
    }

    @Test
    void shardedCheckpointEqualsSingleFile() throws IOException {
        Path single = checkpoint("single", "BF16");
        Path sharded = tmp.resolve("sharded");
        TinyCheckpoint ckpt = new TinyCheckpoint();
        List<String> names = new ArrayList<>(ckpt.shapes.keySet());
        List<String> first = names.subList(0, names.size() / 2), second = names.subList(names.size() / 2, names.size());
        ckpt.writeSafetensors(sharded.resolve("model-00001-of-00002.safetensors"), first, "BF16");
        ckpt.writeSafetensors(sharded.resolve("model-00002-of-00002.safetensors"), second, "BF16");
        ObjectNode index = TinyCheckpoint.JSON.createObjectNode();
        ObjectNode map = index.putObject("weight_map");
        first.forEach(n -> map.put(n, "model-00001-of-00002.safetensors"));
        second.forEach(n -> map.put(n, "model-00002-of-00002.safetensors"));
        Files.writeString(sharded.resolve("model.safetensors.index.json"), index.toString());
        Files.copy(single.resolve("config.json"), sharded.resolve("config.json"));

        float[][] a = logits(single), b = logits(sharded);
        for (int p = 0; p < PROMPT.length; p++) assertArrayEquals(a[p], b[p], 0f, "position " + p);
    }

    @Test
    void shardIndexNamingAMissingShardFails() throws IOException {
        Path dir = tmp.resolve("badindex");
        TinyCheckpoint.writeConfig(dir, TinyCheckpoint.config("LlamaForCausalLM"));
        Files.writeString(dir.resolve("model.safetensors.index.json"),
                "{\"weight_map\":{\"model.embed_tokens.weight\":\"model-00001-of-00009.safetensors\"}}");
        ModelLoadException e = org.junit.jupiter.api.Assertions.assertThrows(ModelLoadException.class,
                () -> ModelLoader.load(dir.toString()));
        assertTrue(e.getMessage().contains("model.embed_tokens.weight") && e.getMessage().contains("model-00001-of-00009"), e.getMessage());
    }

    @Test
    void dtypeFallsBackToTheWeightsWhenConfigHasNone() {
        Path dir = tmp.resolve("nodtype");
        new TinyCheckpoint().write(dir, "F16");
        try (CausalLM m = ModelLoader.load(dir.toString())) {
            assertEquals("float16", m.config().dtype());
        }
    }
}
