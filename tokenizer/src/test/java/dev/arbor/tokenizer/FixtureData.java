package dev.arbor.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.models.testing.Fixtures;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** Fixture tokenizers (loaded once per JVM: tokenizer.json parsing takes a moment) and reference.json cases. */
final class FixtureData {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<Path, Tokenizer> LOADED = new ConcurrentHashMap<>();

    /** Every model directory plus the standalone tokenizer directories. */
    static final List<String> ALL_TOKENIZERS = List.of(
            "models/tiny-llama2", "models/tiny-llama3", "models/tiny-qwen3", "models/tiny-baichuan2-13b",
            "tokenizers/llama2", "tokenizers/llama3", "tokenizers/qwen3");

    private FixtureData() {}

    static Tokenizer tokenizer(String relative) {
        Path dir = Fixtures.root().resolve(relative);
        return LOADED.computeIfAbsent(dir, Tokenizer::load);
    }

    /** {@code cases[]} and {@code shared_prefix.cases[]} of a model's reference.json. */
    static List<JsonNode> referenceCases(String model) {
        JsonNode ref = read(Fixtures.model(model).resolve("reference.json"));
        List<JsonNode> cases = new ArrayList<>();
        ref.path("cases").forEach(cases::add);
        ref.path("shared_prefix").path("cases").forEach(cases::add);
        return cases;
    }

    static JsonNode read(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
