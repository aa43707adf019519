package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import dev.arbor.engine.EngineStats;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * /v1/completions end to end with the official OpenAI Java SDK against synthetic:tiny (a random
 * model with a byte tokenizer: the text is noise, but token counts, determinism and the wire
 * shapes are exact).
 */
class SyntheticCompletionsTest {
    static TestServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start("synthetic:tiny", TestServer.tinyConfig().build(), null);
        client = server.client(null);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static CompletionCreateParams.Builder params(String prompt, long maxTokens) {
        // ignore_eos (a vLLM extra): the random model may sample its byte tokenizer's EOS; every choice runs to max_tokens.
        return CompletionCreateParams.builder().model(server.model()).prompt(prompt).maxTokens(maxTokens).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
    }

    @Test
    void completionHasOpenAiShapeAndUsage() {
        Completion c = client.completions().create(params("Hello", 8).build());
        assertTrue(c.id().startsWith("cmpl-"), c.id());
        assertEquals("synthetic:tiny", c.model());
        assertTrue(c.created() > 1_600_000_000L);
        assertTrue(c.systemFingerprint().orElseThrow().startsWith("fp_"));
        assertEquals(1, c.choices().size());
        CompletionChoice choice = c.choices().getFirst();
        assertEquals(0, choice.index());
        assertEquals(CompletionChoice.FinishReason.LENGTH, choice.finishReason());
        var usage = c.usage().orElseThrow();
        assertEquals(6, usage.promptTokens(), "BOS + 5 bytes");
        assertEquals(8, usage.completionTokens());
        assertEquals(14, usage.totalTokens());
        assertTrue(usage.promptTokensDetails().orElseThrow().cachedTokens().isPresent());
    }

    @Test
    void greedyIsDeterministicAndSeedReproducesSampling() {
        assertEquals(client.completions().create(params("abc", 12).build()).choices().getFirst().text(),
                client.completions().create(params("abc", 12).build()).choices().getFirst().text());
        CompletionCreateParams seeded = params("abc", 24).temperature(1.0).seed(1234L).build();
        assertEquals(client.completions().create(seeded).choices().getFirst().text(),
                client.completions().create(seeded).choices().getFirst().text(), "same seed, same sample");
    }

    @Test
    void nChoicesAreIndexedAndIndependent() {
        Completion c = client.completions().create(params("xyz", 6).n(3L).temperature(1.0).seed(7L).build());
        assertEquals(3, c.choices().size());
        for (int i = 0; i < 3; i++) assertEquals(i, c.choices().get(i).index());
        assertEquals(18, c.usage().orElseThrow().completionTokens(), "3 choices x 6 tokens");
        assertEquals(4, c.usage().orElseThrow().promptTokens(), "the prompt counts once");
    }

    @Test
    void stopStringEndsTheChoiceBeforeIt() {
        String full = client.completions().create(params("The stop test", 24).build()).choices().getFirst().text();
        assertTrue(full.length() >= 6, "need some text to cut: '" + full + "'");
        String stop = full.substring(3, 5);
        Completion c = client.completions().create(params("The stop test", 24)
                .stop(CompletionCreateParams.Stop.ofStrings(List.of(stop, "\u0000never"))).build());
        CompletionChoice choice = c.choices().getFirst();
        assertEquals(full.substring(0, full.indexOf(stop)), choice.text());
        assertEquals(CompletionChoice.FinishReason.STOP, choice.finishReason());
        assertEquals(stop, choice._additionalProperties().get("stop_reason").asString().orElseThrow());
    }

    @Test
    void logprobsHaveOneEntryPerTokenAndTopK() {
        Completion c = client.completions().create(params("log", 5).logprobs(3L).build());
        var lp = c.choices().getFirst().logprobs().orElseThrow();
        List<Double> values = lp.tokenLogprobs().orElseThrow();
        assertEquals(5, values.size());
        assertEquals(5, lp.tokens().orElseThrow().size());
        for (double v : values) assertTrue(v <= 0.0, "a log-probability: " + v);
        var tops = lp.topLogprobs().orElseThrow();
        assertEquals(5, tops.size());
        // Greedy: the chosen token is the most likely one, so it leads its top list.
        for (int i = 0; i < 5; i++) {
            Map<String, JsonValue> top = tops.get(i)._additionalProperties();
            assertTrue(top.size() >= 1 && top.size() <= 3, "top-3 alternatives: " + top);
            double best = top.values().stream().mapToDouble(v -> ((Number) v.asNumber().orElseThrow()).doubleValue()).max().orElseThrow();
            assertEquals(best, values.get(i), 1e-4);
        }
        List<Long> offsets = lp.textOffset().orElseThrow();
        assertEquals(0L, offsets.getFirst());
    }

    @Test
    void streamingMatchesTheWholeResponseAndEndsWithUsage() {
        String whole = client.completions().create(params("stream me", 10).build()).choices().getFirst().text();
        StringBuilder streamed = new StringBuilder();
        List<String> finishes = new ArrayList<>();
        Completion usageChunk = null;
        try (StreamResponse<Completion> stream = client.completions().createStreaming(params("stream me", 10)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            for (Completion chunk : stream.stream().toList()) {
                if (chunk.choices().isEmpty()) {
                    usageChunk = chunk;
                    continue;
                }
                CompletionChoice ch = chunk.choices().getFirst();
                streamed.append(ch.text());
                ch._finishReason().asKnown().ifPresent(f -> finishes.add(f.asString()));
            }
        }
        assertEquals(whole, streamed.toString());
        assertEquals(List.of("length"), finishes, "one finish per choice, on its last chunk");
        assertEquals(10, usageChunk.usage().orElseThrow().completionTokens());
    }

    @Test
    void streamingWithNChoicesFinishesEachOnce() {
        Map<Long, StringBuilder> texts = new HashMap<>();
        Map<Long, Integer> finishes = new HashMap<>();
        try (StreamResponse<Completion> stream = client.completions().createStreaming(params("many", 7).n(2L).temperature(0.8).seed(3L).build())) {
            stream.stream().forEach(chunk -> {
                for (CompletionChoice ch : chunk.choices()) {
                    texts.computeIfAbsent(ch.index(), k -> new StringBuilder()).append(ch.text());
                    if (ch._finishReason().asKnown().isPresent()) finishes.merge(ch.index(), 1, Integer::sum);
                }
            });
        }
        assertEquals(Map.of(0L, 1, 1L, 1), finishes);
        assertEquals(2, texts.size());
    }

    @Test
    void tokenIdPromptsAndBatchesFollowOpenAiIndexing() throws Exception {
        HttpResponse<String> r = server.post("/v1/completions",
                "{\"model\":\"synthetic:tiny\",\"prompt\":[[256,104,105],[256,121,111]],\"max_tokens\":3,\"n\":2,\"ignore_eos\":true,\"temperature\":0}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = TestServer.json(r);
        assertEquals(4, body.get("choices").size());
        for (int i = 0; i < 4; i++) assertEquals(i, body.get("choices").get(i).get("index").asInt());
        assertEquals(6, body.get("usage").get("prompt_tokens").asInt());
        assertEquals(12, body.get("usage").get("completion_tokens").asInt());
        // greedy: both choices of a prompt agree
        assertEquals(body.get("choices").get(0).get("text"), body.get("choices").get(1).get("text"));
    }

    @Test
    void echoPrependsThePromptWhetherWholeOrStreamed() throws Exception {
        String body = "{\"prompt\":\"Echo: \",\"max_tokens\":3,\"temperature\":0,\"ignore_eos\":true,\"echo\":true";
        JsonNode whole = TestServer.json(server.post("/v1/completions", body + "}"));
        String text = whole.get("choices").get(0).get("text").asText();
        assertTrue(text.startsWith("Echo: ") && text.length() > 6, text);
        StringBuilder streamed = new StringBuilder();
        for (String line : server.post("/v1/completions", body + ",\"stream\":true}").body().split("\n")) {
            if (line.startsWith("data: {")) streamed.append(Json.MAPPER.readTree(line.substring(6)).get("choices").get(0).get("text").asText());
        }
        assertEquals(text, streamed.toString());
    }

    @Test
    void repeatedPromptIsServedFromThePrefixCache() throws Exception {
        String prompt = "A shared system prompt that spans several KV blocks of sixteen tokens each, to be cached.";
        client.completions().create(params(prompt, 2).build());
        Completion second = client.completions().create(params(prompt, 2).build());
        long cached = second.usage().orElseThrow().promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
        int promptTokens = (int) second.usage().orElseThrow().promptTokens();
        // Whole blocks only, and never the last prompt token (its logits are needed).
        assertTrue(cached > 0 && cached % 16 == 0 && cached <= promptTokens - 1, "cached " + cached + " of " + promptTokens);
        EngineStats s = server.awaitIdle(Duration.ofSeconds(10));
        assertTrue(s.freeBlocks() >= s.totalBlocks() - TestServer.cachedBlocks(s), "only cached blocks may stay out of the free list: " + s);
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        JsonNode models = TestServer.json(server.send("GET", "/v1/models"));
        assertEquals("list", models.get("object").asText());
        assertEquals("synthetic:tiny", models.get("data").get(0).get("id").asText());
        assertEquals(2048, models.get("data").get(0).get("max_model_len").asInt());
        assertEquals("ok", TestServer.json(server.send("GET", "/health")).get("status").asText());

        client.completions().create(params("metrics", 4).build());
        HttpResponse<String> metrics = server.send("GET", "/metrics");
        assertEquals(200, metrics.statusCode());
        assertTrue(metrics.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain; version=0.0.4"));
        String text = metrics.body();
        for (String family : List.of("arbor_time_to_first_token_seconds_bucket{le=\"+Inf\"}", "arbor_inter_token_latency_seconds_count",
                "arbor_kv_cache_usage_ratio", "arbor_prefix_cache_hit_rate", "arbor_generation_tokens_total",
                "arbor_http_requests_total{code=\"200\",method=\"POST\",route=\"/v1/completions\"}")) {
            assertTrue(text.contains(family), "missing " + family + " in\n" + text);
        }
        assertNotEquals(0.0, sample(text, "arbor_time_to_first_token_seconds_count"));
        assertTrue(sample(text, "arbor_generation_tokens_total") >= 4);
    }

    static double sample(String exposition, String name) {
        for (String line : exposition.split("\n")) {
            if (line.startsWith(name + " ")) return Double.parseDouble(line.substring(name.length() + 1));
        }
        throw new AssertionError("no sample " + name);
    }

    @Test
    void prefixesCanBeRegisteredListedAndDeleted() throws Exception {
        String prefix = "You are a helpful assistant. Answer briefly and precisely, in English.";
        HttpResponse<String> r = server.post("/v1/prefixes", "{\"prompt\":" + Json.MAPPER.writeValueAsString(prefix) + "}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode created = TestServer.json(r);
        String id = created.get("id").asText();
        assertTrue(created.get("num_blocks").asInt() >= 4, r.body());
        assertTrue(created.get("pinned").asBoolean());

        JsonNode list = TestServer.json(server.send("GET", "/v1/prefixes"));
        assertTrue(list.get("data").findValuesAsText("id").contains(id), list.toString());

        Completion c = client.completions().create(params(prefix + " Q: why?", 2).build());
        long cached = c.usage().orElseThrow().promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
        assertTrue(cached >= 16L * created.get("num_blocks").asInt() - 16, "the pinned prefix serves the prompt: " + cached);

        HttpResponse<String> deleted = server.send("DELETE", "/v1/prefixes/" + id);
        assertEquals(200, deleted.statusCode(), deleted.body());
        assertTrue(TestServer.json(deleted).get("deleted").asBoolean());
        assertFalse(TestServer.json(server.send("GET", "/v1/prefixes")).get("data").findValuesAsText("id").contains(id));
        assertEquals(404, server.send("DELETE", "/v1/prefixes/" + id).statusCode());
    }
}
