package dev.arbor.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.models.testing.Fixtures;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code arbor generate --device cuda --json} end to end on a fixture model: the command line, the real
 * tokenizer, the engine and the CUDA backend in its float32 mode give the reference's input ids and its 24
 * greedy tokens for every case of reference.json.
 */
@Tag("gpu")
class GenerateGpuTest {
    @Test
    void generateOnCudaReproducesTheReferenceGreedyTokens() throws Exception {
        Path model = Fixtures.model("tiny-llama2");
        JsonNode ref = new ObjectMapper().readTree(model.resolve("reference.json").toFile());
        for (JsonNode c : ref.get("cases")) {
            String out = run("generate", "--model", model.toString(), "--device", "cuda", "--kv-cache-dtype", "fp32", "--dtype", "float32",
                    "--prompt", c.get("prompt").asText(), "--max-tokens", "24", "--ignore-eos", "--json");
            List<String> lines = out.lines().filter(l -> l.startsWith("{")).toList();
            assertEquals(1, lines.size(), out);
            JsonNode got = new ObjectMapper().readTree(lines.getFirst());
            assertEquals(c.get("input_ids"), got.get("prompt_token_ids"), c.get("name").asText() + " input ids");
            assertEquals(c.get("greedy_ids"), got.get("token_ids"), c.get("name").asText() + " greedy tokens");
        }
    }

    private static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            int exit = Main.commandLine().execute(args);
            assertEquals(0, exit, out.toString(StandardCharsets.UTF_8));
            return out.toString(StandardCharsets.UTF_8);
        } finally {
            System.setOut(old);
        }
    }
}
