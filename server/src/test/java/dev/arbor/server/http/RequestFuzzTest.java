package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arbor.engine.EngineStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Random request bodies for both generation endpoints: valid requests with fields set to values of
 * every JSON type, unknown fields, missing required ones, bodies that are not objects. Every answer
 * is a success or a client error with an OpenAI-style JSON body, never a 500 or a stack trace, and
 * afterwards the server still serves and every KV block is free.
 */
class RequestFuzzTest {
    private static final JsonNodeFactory J = JsonNodeFactory.instance;
    private static final List<String> FIELDS = List.of("model", "prompt", "messages", "max_tokens", "max_completion_tokens",
            "temperature", "top_p", "top_k", "min_p", "n", "stop", "seed", "logprobs", "top_logprobs", "echo", "stream",
            "stream_options", "presence_penalty", "frequency_penalty", "repetition_penalty", "ignore_eos", "min_tokens",
            "stop_token_ids", "cache_salt", "logit_bias", "suffix", "best_of", "user", "response_format", "tools",
            "chat_template_kwargs", "unknown_field");
    private static final Set<Integer> CLIENT_ERRORS = Set.of(400, 404, 413, 429);

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void randomBodiesGetSuccessOrAJsonClientError() throws Exception {
        try (TestServer server = TestServer.start("synthetic:tiny",
                TestServer.tinyConfig().maxModelLen(64).enablePrefixCaching(false).build(), null)) {
            SplittableRandom r = new SplittableRandom(20261125);
            int ok = 0, rejected = 0;
            for (int i = 0; i < 400; i++) {
                boolean chat = r.nextBoolean();
                String body = r.nextInt(20) == 0 ? notAnObject(r) : request(r, chat, server.model()).toString();
                HttpResponse<String> resp = server.post(chat ? "/v1/chat/completions" : "/v1/completions", body);
                String where = "request " + i + " " + body.substring(0, Math.min(body.length(), 400)) + " -> " + resp.statusCode() + " "
                        + resp.body().substring(0, Math.min(resp.body().length(), 300));
                assertFalse(resp.body().contains("\tat "), "stack trace: " + where);
                if (resp.statusCode() == 200) {
                    ok++;
                    continue;
                }
                assertTrue(CLIENT_ERRORS.contains(resp.statusCode()), where);
                JsonNode e = TestServer.json(resp).get("error");
                assertTrue(e != null && e.get("message").isTextual() && !e.get("message").asText().isBlank(), where);
                rejected++;
            }
            assertTrue(ok > 20 && rejected > 100, "the mix exercised both outcomes: " + ok + " ok, " + rejected + " rejected");
            assertEquals(200, server.send("GET", "/health").statusCode());
            EngineStats s = server.awaitIdle(Duration.ofSeconds(60));
            assertEquals(s.totalBlocks(), s.freeBlocks(), "every KV block released: " + s);
        }
    }

    /** A valid small request, then a few fields replaced by random values or removed. */
    private static ObjectNode request(SplittableRandom r, boolean chat, String model) {
        ObjectNode o = J.objectNode();
        o.put("model", model);
        if (chat) {
            o.putArray("messages").addObject().put("role", "user").put("content", "hello");
        } else {
            o.put("prompt", "hello");
        }
        o.put("max_tokens", 1 + r.nextInt(8));
        o.put("ignore_eos", true);
        for (int k = r.nextInt(4); k > 0; k--) {
            String field = FIELDS.get(r.nextInt(FIELDS.size()));
            if (r.nextInt(6) == 0) o.remove(field);
            else o.set(field, value(r, 0));
        }
        if (o.path("max_tokens").isNumber() && o.get("max_tokens").asDouble() > 64) o.put("max_tokens", 8);   // keep runs short
        return o;
    }

    /** A JSON value of any type, nested at most twice. */
    private static JsonNode value(SplittableRandom r, int depth) {
        return switch (r.nextInt(depth < 2 ? 16 : 13)) {
            case 0 -> J.nullNode();
            case 1 -> J.booleanNode(r.nextBoolean());
            case 2 -> J.numberNode(new int[] {-1, 0, 1, 2, 3, 5, 16, 50, 1 << 30}[r.nextInt(9)]);
            case 3 -> J.numberNode(new double[] {-0.5, 0.0, 0.3, 1.5, 2.5, 1e9, -1e-9}[r.nextInt(7)]);
            case 4 -> J.numberNode(Long.MAX_VALUE);
            case 5 -> J.textNode("");
            case 6 -> J.textNode("hi");
            case 7 -> J.textNode("\u00e9\u6f22\ud83d\ude00 \n\"");
            case 8 -> J.textNode("x".repeat(300));
            case 9 -> J.textNode("user");
            case 10 -> J.numberNode(r.nextInt(300));
            case 11 -> J.textNode("synthetic:tiny");
            case 12 -> J.arrayNode();
            case 13 -> {
                ArrayNode a = J.arrayNode();
                for (int i = r.nextInt(4); i > 0; i--) a.add(value(r, depth + 1));
                yield a;
            }
            case 14 -> {
                ObjectNode m = J.objectNode();
                m.set(new String[] {"role", "content", "include_usage", "type", "a"}[r.nextInt(5)], value(r, depth + 1));
                if (r.nextBoolean()) m.set("content", value(r, depth + 1));
                yield m;
            }
            default -> J.objectNode();
        };
    }

    private static String notAnObject(SplittableRandom r) {
        return new String[] {"[]", "null", "42", "\"text\"", "[{\"prompt\":\"hi\"}]", "{", "", "{\"prompt\":}"}[r.nextInt(8)];
    }
}
