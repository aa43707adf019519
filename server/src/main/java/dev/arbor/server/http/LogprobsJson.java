package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arbor.engine.Logprob;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** The two logprob shapes of OpenAI's API, built from the engine's {@link Logprob}s. */
final class LogprobsJson {
    private LogprobsJson() {}

    /**
     * Chat: {@code {"content":[{token, logprob, bytes, top_logprobs:[...]}], "refusal": null}}, with
     * exactly {@code topK} alternatives per token (the engine may add the chosen one beyond k).
     */
    static ObjectNode chat(List<Logprob> logprobs, int topK, ServedModel model) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ArrayNode content = root.putArray("content");
        for (Logprob lp : logprobs) {
            ObjectNode entry = tokenEntry(content.addObject(), model.tokenText(lp.tokenId()), lp.logprob());
            ArrayNode top = entry.putArray("top_logprobs");
            for (int i = 0; i < Math.min(topK, lp.top().size()); i++) {
                Logprob.TopLogprob t = lp.top().get(i);
                tokenEntry(top.addObject(), t.token(), t.logprob());
            }
        }
        root.putNull("refusal");
        return root;
    }

    private static ObjectNode tokenEntry(ObjectNode entry, String token, float logprob) {
        entry.put("token", token);
        entry.put("logprob", logprob);
        ArrayNode bytes = entry.putArray("bytes");
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) bytes.add(b & 0xFF);
        return entry;
    }

    /**
     * Completions: parallel arrays {@code tokens, token_logprobs, top_logprobs (token -> logprob),
     * text_offset}; offsets count characters from {@code startOffset} (where this part of the choice's text begins).
     */
    static ObjectNode completion(List<Logprob> logprobs, int topK, int startOffset, ServedModel model) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ArrayNode tokens = root.putArray("tokens");
        ArrayNode tokenLogprobs = root.putArray("token_logprobs");
        ArrayNode topLogprobs = root.putArray("top_logprobs");
        ArrayNode offsets = root.putArray("text_offset");
        int offset = startOffset;
        for (Logprob lp : logprobs) {
            String text = model.tokenText(lp.tokenId());
            tokens.add(text);
            tokenLogprobs.add(lp.logprob());
            ObjectNode top = topLogprobs.addObject();
            // logprobs: 0 gives the sampled token alone, as vLLM does (never an empty object).
            if (topK == 0) top.put(text, lp.logprob());
            for (int i = 0; i < Math.min(topK, lp.top().size()); i++) {
                // A map by text: distinct tokens with equal text collide; keep the likelier (listed first).
                Logprob.TopLogprob t = lp.top().get(i);
                if (!top.has(t.token())) top.put(t.token(), t.logprob());
            }
            offsets.add(offset);
            offset += text.length();
        }
        return root;
    }
}
