package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.completions.CompletionCreateParams;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every class of bad input gets its status and an OpenAI-style JSON error body, and the server
 * keeps serving. The server here requires an API key and has a short context (64 tokens).
 */
class ErrorResponsesTest {
    static final String KEY = "sk-test-key";
    static final String AUTH = "Bearer " + KEY;
    static TestServer server;

    @BeforeAll
    static void start() throws Exception {
        server = TestServer.start("synthetic:tiny", TestServer.tinyConfig().maxModelLen(64).build(), KEY);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static HttpResponse<String> post(String path, String body) throws Exception {
        return server.post(path, body, "Authorization", AUTH);
    }

    /** Asserts the status and the error body's shape; returns the error object. */
    private static JsonNode error(HttpResponse<String> r, int status) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"), "JSON, not HTML");
        JsonNode e = TestServer.json(r).get("error");
        assertTrue(e != null && e.get("message").isTextual() && e.has("type") && e.has("param") && e.has("code"), r.body());
        assertFalse(r.body().contains("\tat "), "no stack trace");
        return e;
    }

    @Test
    void malformedJsonIs400() throws Exception {
        JsonNode e = error(post("/v1/completions", "{\"prompt\": \"hi\", "), 400);
        assertTrue(e.get("message").asText().contains("malformed JSON"), e.toString());
        error(post("/v1/completions", "[1,2]"), 400);
        error(post("/v1/completions", ""), 400);
    }

    @Test
    void invalidFieldsAre400NamingTheField() throws Exception {
        assertEquals("temperature", error(post("/v1/completions", "{\"prompt\":\"a\",\"temperature\":\"hot\"}"), 400).get("param").asText());
        assertEquals("top_p", error(post("/v1/completions", "{\"prompt\":\"a\",\"top_p\":1.5}"), 400).get("param").asText());
        assertEquals("max_tokens", error(post("/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":0}"), 400).get("param").asText());
        assertEquals("n", error(post("/v1/completions", "{\"prompt\":\"a\",\"n\":0}"), 400).get("param").asText());
        assertEquals("prompt", error(post("/v1/completions", "{\"prompt\":{\"x\":1}}"), 400).get("param").asText());
        assertEquals("prompt", error(post("/v1/completions", "{\"max_tokens\":3}"), 400).get("param").asText());
        assertEquals("prompt", error(post("/v1/completions", "{\"prompt\":[1, 99999]}"), 400).get("param").asText());
        assertEquals("stop", error(post("/v1/completions", "{\"prompt\":\"a\",\"stop\":[1]}"), 400).get("param").asText());
        assertEquals("logprobs", error(post("/v1/completions", "{\"prompt\":\"a\",\"logprobs\":50}"), 400).get("param").asText());
        assertEquals("messages", error(post("/v1/chat/completions", "{\"messages\":[]}"), 400).get("param").asText());
        assertEquals("messages[0].role", error(post("/v1/chat/completions", "{\"messages\":[{\"content\":\"x\"}]}"), 400).get("param").asText());
    }

    @Test
    void chatWithoutATemplateIs400() throws Exception {
        JsonNode e = error(post("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"), 400);
        assertEquals("chat_template_missing", e.get("code").asText());
    }

    @Test
    void wrongOrMissingApiKeyIs401() throws Exception {
        assertEquals("invalid_api_key", error(server.post("/v1/completions", "{\"prompt\":\"a\"}", "Authorization", "Bearer wrong"), 401).get("code").asText());
        error(server.post("/v1/completions", "{\"prompt\":\"a\"}"), 401);
        assertEquals(401, server.send("GET", "/v1/models").statusCode());
        assertEquals(200, server.send("GET", "/health").statusCode(), "probes need no key");
        OpenAIClient wrong = server.client("sk-wrong");
        assertThrows(UnauthorizedException.class, () -> wrong.completions().create(
                CompletionCreateParams.builder().model(server.model()).prompt("a").maxTokens(1L).build()));
    }

    @Test
    void unknownModelOrRouteIs404() throws Exception {
        JsonNode e = error(post("/v1/completions", "{\"model\":\"gpt-4o\",\"prompt\":\"a\"}"), 404);
        assertEquals("model", e.get("param").asText());
        assertEquals("model_not_found", e.get("code").asText());
        error(post("/v1/nope", "{}"), 404);
        error(server.send("GET", "/"), 404);
        error(server.send("GET", "/v1/completions"), 405);
        OpenAIClient client = server.client(KEY);
        NotFoundException nf = assertThrows(NotFoundException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model("other-model").prompt("a").maxTokens(1L).build()));
        assertEquals("model_not_found", nf.code().orElseThrow());
        BadRequestException bad = assertThrows(BadRequestException.class, () -> client.completions().create(
                CompletionCreateParams.builder().model(server.model()).prompt("a").temperature(-1.0).build()));
        assertEquals("temperature", bad.param().orElseThrow());
    }

    /** Issue 14: max_tokens beyond what the context leaves is a 400, as vLLM answers, not a silent clip. */
    @Test
    void maxTokensBeyondTheContextIs400NamingTheField() throws Exception {
        // "hi" is BOS + 2 bytes = 3 tokens; the context is 64
        JsonNode e = error(post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":62}"), 400);
        assertEquals("max_tokens", e.get("param").asText());
        assertEquals("context_length_exceeded", e.get("code").asText());
        assertTrue(e.get("message").asText().contains("'max_tokens' is too large: 62"), e.toString());
        assertTrue(e.get("message").asText().contains("maximum context length is 64"), e.toString());
        // the newer field is named when it set the budget (chat's check is the same call; synthetic models have no chat template)
        JsonNode newer = error(post("/v1/completions", "{\"prompt\":\"hi\",\"max_completion_tokens\":100000}"), 400);
        assertEquals("max_completion_tokens", newer.get("param").asText(), newer.toString());
        // exactly what the context leaves is accepted
        assertEquals(200, post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":61}").statusCode());
    }

    /** Issue 14: a role OpenAI does not know is a 400 naming it and where it is. */
    @Test
    void unknownChatRoleIs400NamingIt() throws Exception {
        JsonNode e = error(post("/v1/chat/completions",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"wizard\",\"content\":\"abracadabra\"}]}"), 400);
        assertEquals("messages[1].role", e.get("param").asText());
        assertTrue(e.get("message").asText().contains("'wizard'"), e.toString());
        assertTrue(e.get("message").asText().contains("user, assistant"), e.toString());
        assertEquals("invalid_value", e.get("code").asText());
    }

    @Test
    void overLargeBodyIs413AndOverLongPromptIs400ContextLengthExceeded() throws Exception {
        String huge = "{\"prompt\":\"" + "x".repeat(ServerConfig.DEFAULT_MAX_BODY_BYTES + 10) + "\"}";
        assertEquals("request_too_large", error(post("/v1/completions", huge), 413).get("code").asText());
        // Issue 13: OpenAI and vLLM answer a prompt longer than the context with 400 context_length_exceeded.
        JsonNode e = error(post("/v1/completions", "{\"prompt\":\"" + "y".repeat(100) + "\"}"), 400);
        assertEquals("context_length_exceeded", e.get("code").asText());
        assertEquals("prompt", e.get("param").asText());
        assertEquals("invalid_request_error", e.get("type").asText());
    }

    @Test
    void streamOptionsWithoutStreamIs400() throws Exception {
        JsonNode e = error(post("/v1/completions", "{\"prompt\":\"hi\",\"stream_options\":{\"include_usage\":true}}"), 400);
        assertEquals("stream_options", e.get("param").asText());
        // null stream_options, or stream_options with stream: true, are fine.
        assertEquals(200, post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":1,\"stream_options\":null}").statusCode());
        assertEquals(200, post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":1,\"stream\":true,\"stream_options\":{\"include_usage\":true}}").statusCode());
    }

    @Test
    void logprobsZeroGivesTheSampledTokenOnly() throws Exception {
        // ignore_eos: a sampled end-of-sequence token would end the choice before its third token (the test's flake in session 11)
        HttpResponse<String> r = post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":3,\"logprobs\":0,\"ignore_eos\":true}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode lp = TestServer.json(r).get("choices").get(0).get("logprobs");
        assertEquals(3, lp.get("tokens").size(), lp.toString());
        for (int i = 0; i < 3; i++) {
            JsonNode top = lp.get("top_logprobs").get(i);
            assertEquals(1, top.size(), lp.toString());
            String token = lp.get("tokens").get(i).asText();
            assertEquals(lp.get("token_logprobs").get(i).asDouble(), top.get(token).asDouble(), 0.0);
        }
    }

    @Test
    void fullQueueIs429AndOthersAreServed() throws Exception {
        try (TestServer busy = TestServer.start("synthetic:tiny", TestServer.tinyConfig().maxNumSeqs(1).maxWaiting(1).build(), null)) {
            // One sequence runs at a time and one may wait: of eight simultaneous long requests some must be refused.
            List<Future<HttpResponse<String>>> responses = new ArrayList<>();
            try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
                for (int i = 0; i < 8; i++) {
                    responses.add(pool.submit(() -> busy.post("/v1/completions", "{\"prompt\":\"q\",\"max_tokens\":400,\"ignore_eos\":true}")));
                }
            }
            int ok = 0, refused = 0;
            for (Future<HttpResponse<String>> f : responses) {
                HttpResponse<String> r = f.get();
                if (r.statusCode() == 200) {
                    ok++;
                    assertEquals(400, TestServer.json(r).get("usage").get("completion_tokens").asInt());
                } else {
                    assertEquals("queue_full", error(r, 429).get("code").asText());
                    assertTrue(r.headers().firstValue("Retry-After").isPresent());
                    refused++;
                }
            }
            assertTrue(refused >= 1 && ok >= 1, ok + " served, " + refused + " refused");
        }
    }

    @Test
    void serverKeepsServingAfterErrors() throws Exception {
        for (int i = 0; i < 3; i++) error(post("/v1/completions", "{oops"), 400);
        HttpResponse<String> r = post("/v1/completions", "{\"prompt\":\"fine\",\"max_tokens\":2}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(2, TestServer.json(r).get("usage").get("completion_tokens").asInt());
    }
}
