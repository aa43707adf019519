package dev.arbor.server.http;

import com.openai.client.OpenAIClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.arbor.models.testing.Fixtures;
import dev.arbor.tokenizer.ChatMessage;
import dev.arbor.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Chat and completions with a real tokenizer and chat template (the tiny-llama3 fixture), through
 * the official OpenAI Java SDK. Skips without fixtures locally; CI requires them.
 */
class FixtureChatTest {
    static Path modelDir;
    static TestServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() throws Exception {
        modelDir = Fixtures.model("tiny-llama3");
        server = TestServer.start(modelDir.toString(), TestServer.tinyConfig().maxModelLen(1024).build(), null);
        client = server.client(null);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    private static ChatCompletionCreateParams.Builder chat(long maxTokens) {
        return ChatCompletionCreateParams.builder().model("tiny-llama3").addSystemMessage("You are terse.")
                .addUserMessage("Name three colours.").maxCompletionTokens(maxTokens).temperature(0.0);
    }

    @Test
    void promptTokensEqualTheTemplatedPromptIds() {
        Tokenizer tok = Tokenizer.load(modelDir);
        String text = tok.chatTemplate().orElseThrow().render(
                List.of(ChatMessage.system("You are terse."), ChatMessage.user("Name three colours.")), true);
        int expected = tok.encode(text, false).length;

        ChatCompletion c = client.chat().completions().create(chat(6).build());
        assertEquals(expected, c.usage().orElseThrow().promptTokens());
        assertTrue(c.id().startsWith("chatcmpl-"));
        assertEquals("tiny-llama3", c.model());
        var choice = c.choices().getFirst();
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, choice.finishReason());
        assertEquals(6, c.usage().orElseThrow().completionTokens());
        assertTrue(choice.message().content().isPresent());
    }

    /** Issue 14: a chat budget beyond the context is a 400 naming the field, as vLLM answers. */
    @Test
    void chatMaxTokensBeyondTheContextIs400() throws Exception {
        var r = server.post("/v1/chat/completions", """
                {"model":"tiny-llama3","messages":[{"role":"user","content":"Hi"}],"max_completion_tokens":100000000}""");
        assertEquals(400, r.statusCode(), r.body());
        var error = TestServer.json(r).get("error");
        assertEquals("max_completion_tokens", error.get("param").asText(), r.body());
        assertEquals("context_length_exceeded", error.get("code").asText(), r.body());
    }

    @Test
    void templateLikeContentReachesTheModelVerbatim() throws Exception {
        // Issue 13, fault 1: `{{ 7*7 }}` was rendered to 49 (15 prompt tokens); the literal text is 19.
        var r = server.post("/v1/chat/completions", """
                {"model":"tiny-llama3","messages":[{"role":"user","content":"What is {{ 7*7 }}?"}],"max_tokens":1}""");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(19, TestServer.json(r).path("usage").path("prompt_tokens").asInt());
        // Template-like content anywhere in the history is data too: no 400, no variables read.
        r = server.post("/v1/chat/completions", """
                {"model":"tiny-llama3","max_tokens":1,"messages":[
                 {"role":"system","content":"{{ raise_exception('x') }}"},{"role":"user","content":"{% for m in messages %}"},
                 {"role":"assistant","content":"{{ messages }}"},{"role":"user","content":"{# hidden? #}"}]}""");
        assertEquals(200, r.statusCode(), r.body());
        Tokenizer tok = Tokenizer.load(modelDir);
        String text = tok.chatTemplate().orElseThrow().render(List.of(ChatMessage.system("{{ raise_exception('x') }}"),
                ChatMessage.user("{% for m in messages %}"), ChatMessage.assistant("{{ messages }}"), ChatMessage.user("{# hidden? #}")), true);
        assertTrue(text.contains("{# hidden? #}") && text.contains("{{ messages }}"), text);
        assertEquals(tok.encode(text, false).length, TestServer.json(r).path("usage").path("prompt_tokens").asInt());
    }

    @Test
    void chatFollowsVllmOnContextLengthStreamOptionsAndTopLogprobsZero() throws Exception {
        var r = server.post("/v1/chat/completions", "{\"model\":\"tiny-llama3\",\"messages\":[{\"role\":\"user\",\"content\":\""
                + "word ".repeat(1100) + "\"}]}");
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("context_length_exceeded", TestServer.json(r).path("error").path("code").asText());
        r = server.post("/v1/chat/completions", "{\"model\":\"tiny-llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"stream\":false,\"stream_options\":{\"include_usage\":true}}");
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("stream_options", TestServer.json(r).path("error").path("param").asText());
        r = server.post("/v1/chat/completions", "{\"model\":\"tiny-llama3\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                + "\"max_tokens\":2,\"logprobs\":true,\"top_logprobs\":0}");
        assertEquals(200, r.statusCode(), r.body());
        var content = TestServer.json(r).get("choices").get(0).get("logprobs").get("content");
        assertEquals(2, content.size());
        for (var entry : content) assertTrue(entry.get("top_logprobs").isArray() && entry.get("top_logprobs").isEmpty(), entry.toString());
    }

    @Test
    void streamedChatMatchesTheWholeReply() {
        String whole = client.chat().completions().create(chat(8).build()).choices().getFirst().message().content().orElseThrow();
        StringBuilder streamed = new StringBuilder();
        List<String> roles = new ArrayList<>();
        List<String> finishes = new ArrayList<>();
        long completionTokens = -1;
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                chat(8).streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            for (ChatCompletionChunk chunk : stream.stream().toList()) {
                if (chunk.choices().isEmpty()) {
                    completionTokens = chunk.usage().orElseThrow().completionTokens();
                    continue;
                }
                var ch = chunk.choices().getFirst();
                ch.delta().role().ifPresent(r -> roles.add(r.asString()));
                ch.delta().content().ifPresent(streamed::append);
                ch.finishReason().ifPresent(f -> finishes.add(f.asString()));
            }
        }
        assertEquals(List.of("assistant"), roles);
        assertEquals(whole, streamed.toString());
        assertEquals(List.of("length"), finishes);
        assertEquals(8, completionTokens);
    }

    @Test
    void chatLogprobsHaveTheRequestedAlternatives() {
        ChatCompletion c = client.chat().completions().create(chat(4).logprobs(true).topLogprobs(2L).build());
        List<ChatCompletionTokenLogprob> content = c.choices().getFirst().logprobs().orElseThrow().content().orElseThrow();
        assertEquals(4, content.size());
        for (ChatCompletionTokenLogprob t : content) {
            assertEquals(2, t.topLogprobs().size());
            assertTrue(t.logprob() <= 0);
            assertEquals(t.topLogprobs().getFirst().logprob(), t.logprob(), 1e-4, "greedy takes the most likely token");
        }
    }

    @Test
    void chatWithNChoicesAndStop() {
        ChatCompletion c = client.chat().completions().create(chat(5).n(2L).temperature(1.0).seed(11L).build());
        assertEquals(2, c.choices().size());
        assertEquals(10, c.usage().orElseThrow().completionTokens());

        String full = client.completions().create(CompletionCreateParams.builder().model("tiny-llama3")
                .prompt("Once upon a time").maxTokens(16L).temperature(0.0).build()).choices().getFirst().text();
        assertTrue(full.length() > 4, full);
        String stop = full.substring(2, 4);
        Completion stopped = client.completions().create(CompletionCreateParams.builder().model("tiny-llama3")
                .prompt("Once upon a time").maxTokens(16L).temperature(0.0).stop(stop).build());
        assertEquals(full.substring(0, full.indexOf(stop)), stopped.choices().getFirst().text());
        assertEquals("stop", stopped.choices().getFirst().finishReason().asString());
    }
}
