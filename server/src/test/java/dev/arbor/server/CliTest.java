package dev.arbor.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The CLI's stable surface: generate --json fields and order, demo's report, errors as exit codes. */
class CliTest {
    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            var cl = Main.commandLine();
            cl.setErr(new java.io.PrintWriter(System.err, true));
            int exit = cl.execute(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void generateJsonPrintsOneObjectPerPromptInInputOrder() throws Exception {
        Run r = run("generate", "--model", "synthetic:tiny", "--prompt", "first prompt", "--prompt", "second",
                "--max-tokens", "5", "--ignore-eos", "--json");
        assertEquals(0, r.exit(), r.err());
        List<String> lines = r.out().lines().filter(l -> l.startsWith("{")).toList();
        assertEquals(2, lines.size(), r.out());
        ObjectMapper m = new ObjectMapper();
        JsonNode a = m.readTree(lines.get(0)), b = m.readTree(lines.get(1));
        assertEquals("first prompt", a.get("prompt").asText());
        assertEquals("second", b.get("prompt").asText());
        for (JsonNode n : List.of(a, b)) {
            for (String f : List.of("prompt", "prompt_token_ids", "token_ids", "text", "finish_reason")) assertTrue(n.has(f), f);
            assertEquals(5, n.get("token_ids").size());
            assertEquals("length", n.get("finish_reason").asText());
        }
        // byte tokenizer: BOS then the prompt's bytes
        assertEquals(1 + "second".length(), b.get("prompt_token_ids").size());
    }

    @Test
    void seededSamplingIsReproducibleFromTheCommandLine() {
        String[] args = {"generate", "--model", "synthetic:tiny", "--prompt", "x", "--max-tokens", "8", "--ignore-eos",
                "--temperature", "0.9", "--seed", "3", "--json"};
        assertEquals(run(args).out(), run(args).out());
    }

    @Test
    void demoReportsThroughputAndCacheUse() {
        Run r = run("demo", "--model", "synthetic:tiny", "--requests", "6", "--max-tokens", "4", "--no-progress");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("6 done, 0 failed"), r.out());
        assertTrue(r.out().contains("tokens/s"), r.out());
        assertTrue(r.out().contains("hit rate"), r.out());
        assertTrue(r.out().contains("KV cache"), r.out());
    }

    /** Issue 14: a refused prompt's --json line carries the ids that were refused, not []. */
    @Test
    void aRefusedPromptReportsItsTokenIds() throws Exception {
        Run r = run("generate", "--model", "synthetic:tiny", "--max-model-len", "8", "--prompt", "far too long a prompt",
                "--prompt", "ok", "--max-tokens", "2", "--json");
        assertEquals(1, r.exit(), r.err());
        List<String> lines = r.out().lines().filter(l -> l.startsWith("{")).toList();
        JsonNode refused = new ObjectMapper().readTree(lines.get(0));
        assertTrue(refused.has("error"), lines.get(0));
        assertEquals(1 + "far too long a prompt".length(), refused.get("prompt_token_ids").size(), lines.get(0));
        assertFalse(new ObjectMapper().readTree(lines.get(1)).has("error"), lines.get(1));
    }

    @Test
    void badModelIsAClearErrorAndANonZeroExit() {
        Run r = run("generate", "--model", "/no/such/model/dir", "--prompt", "x");
        assertNotEquals(0, r.exit());
        assertTrue(r.err().contains("/no/such/model/dir"), r.err());
    }

    @Test
    void throughputAbRunsBothValuesInOneJvmAndComparesTheTokens(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        String property = "arbor.test.throughputAb";
        Run t = run("bench", "throughput", "--model", "synthetic:tiny", "--device", "cpu", "--batch", "1", "--prompt-len", "8",
                "--output-len", "4", "--ab", property, "--ab-rounds", "2", "--ab-profile", "--ab-profile-len", "2", "--out", dir.toString());
        assertEquals(0, t.exit(), t.err());
        // false, true; then true, false; then the profiled pair (round 3): its order as round 1's
        String[] order = {"ab throughputAb=false: batch 1, round 1", "ab throughputAb=true: batch 1, round 1", "ab throughputAb=true: batch 1, round 2",
                "ab throughputAb=false: batch 1, round 2", "ab throughputAb batch 1: device ms/step false [", "ab throughputAb=false: batch 1, round 3 (opProfile)",
                "op profile, decode steps", "ab throughputAb=true: batch 1, round 3 (opProfile)"};
        int at = 0;
        for (String o : order) {
            int i = t.out().indexOf(o, at);
            assertTrue(i >= at, "'" + o + "' after position " + at + " in: " + t.out());
            at = i;
        }
        assertTrue(t.out().contains("same tokens in every run"), t.out());
        assertEquals(5, t.out().split("the same tokens as the first run", -1).length - 1, t.out());   // every run after the first
        assertEquals(null, System.getProperty(property), "the property set back after the A/B");
        assertEquals(null, System.getProperty("arbor.opProfile"), "opProfile set back after the profiled pair");
    }

    @Test
    void benchmarksWriteJsonReportsWithStepTimingsAndPlots(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        Run t = run("bench", "throughput", "--model", "synthetic:tiny", "--device", "cpu", "--batch", "1,2", "--prompt-len", "8",
                "--output-len", "4", "--out", dir.toString());
        assertEquals(0, t.exit(), t.err());
        assertTrue(t.out().contains("command: arbor bench throughput --model synthetic:tiny"), t.out());
        assertTrue(t.out().contains("decode steps: 3 steps"), "host phases per decode step printed: " + t.out());
        Run s = run("bench", "serve", "--model", "synthetic:tiny", "--device", "cpu", "--rates", "50,200", "--requests", "6",
                "--system-prompts", "1", "--system-len", "40", "--suffix-len", "4", "--output-len", "3", "--out", dir.toString());
        assertEquals(0, s.exit(), s.err() + s.out());
        ObjectMapper m = new ObjectMapper();
        List<java.nio.file.Path> reports;
        try (var files = java.nio.file.Files.list(dir)) {
            reports = files.filter(f -> f.toString().endsWith(".json")).sorted().toList();
        }
        assertEquals(3, reports.size(), reports.toString());
        for (java.nio.file.Path f : reports) {
            JsonNode r = m.readTree(f.toFile());
            assertTrue(r.get("command").asText().startsWith("arbor bench "), r.toString());
            assertTrue(r.get("device").asText().startsWith("cpu"), r.toString());
            assertTrue(r.get("figures").size() > 5, r.toString());
            assertTrue(java.nio.file.Files.size(java.nio.file.Path.of(f.toString().replace(".json", ".png"))) > 1000, "the PNG plot beside " + f);
        }
        JsonNode serve = m.readTree(reports.stream().filter(f -> f.getFileName().toString().startsWith("serve")).findFirst().orElseThrow().toFile());
        assertEquals(0, serve.get("figures").get("200.0 req/s failed requests").get("value").asInt());
        assertTrue(serve.get("figures").get("200.0 req/s prefix hit rate").get("value").asDouble() > 50, "one 40-token system prompt shared: " + serve);
        assertTrue(serve.get("figures").get("50.0 req/s TTFT p50 ms").get("value").asDouble() > 0);
    }
}
