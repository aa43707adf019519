package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arbor.engine.SamplingParams;

import java.util.ArrayList;
import java.util.List;

/**
 * A parsed POST /v1/completions body. {@code prompt} may be a string, an array of token ids, or
 * an array of either (a batch: each prompt gets n choices, indexed prompt * n + i, as OpenAI does).
 *
 * @param promptTexts  per prompt its text, or null where it was given as token ids
 * @param promptIds    per prompt its token ids as the model will see them
 * @param logprobs     top-k per generated token (OpenAI's integer {@code logprobs}), null = none
 */
record CompletionRequest(List<String> promptTexts, List<int[]> promptIds, SamplingParams params, boolean stream,
                         boolean includeUsage, boolean echo, Integer logprobs, String salt) {

    /** OpenAI's default for /v1/completions. */
    static final int DEFAULT_MAX_TOKENS = 16;

    static CompletionRequest parse(JsonNode body, ServedModel model) {
        Fields f = new Fields(body);
        model.requireModel(f);
        f.unsupported("suffix", "insertion (suffix) is not implemented");
        Integer bestOf = f.integer("best_of");
        Integer n = f.integer("n");
        if (bestOf != null && bestOf != (n == null ? 1 : n)) f.unsupported("best_of", "best_of other than n is not implemented");
        Integer logprobs = f.integer("logprobs");
        boolean echo = Boolean.TRUE.equals(f.bool("echo"));
        if (echo && logprobs != null) throw ApiException.invalidField("echo", "together with logprobs is not supported");
        SamplingParams params = SamplingFields.parse(f, SamplingFields.maxTokens(f, DEFAULT_MAX_TOKENS), logprobs, model);

        List<String> texts = new ArrayList<>();
        List<int[]> ids = new ArrayList<>();
        JsonNode prompt = f.node("prompt");
        if (prompt == null) throw ApiException.badRequest("'prompt' is required", "prompt");
        if (prompt.isTextual()) {
            addText(prompt.textValue(), texts, ids, model);
        } else if (prompt.isArray() && !prompt.isEmpty() && prompt.get(0).isNumber()) {
            texts.add(null);
            ids.add(tokenIds(prompt));
        } else if (prompt.isArray() && !prompt.isEmpty()) {
            for (JsonNode p : prompt) {
                if (p.isTextual()) {
                    addText(p.textValue(), texts, ids, model);
                } else if (p.isArray()) {
                    texts.add(null);
                    ids.add(tokenIds(p));
                } else {
                    throw promptShape();
                }
            }
        } else {
            throw promptShape();
        }
        for (int[] p : ids) model.checkPrompt(p, "prompt");
        for (int[] p : ids) model.checkMaxTokens(p.length, params.maxTokens(), SamplingFields.maxTokensParam(f));
        return new CompletionRequest(texts, ids, params, Boolean.TRUE.equals(f.bool("stream")),
                StreamOptions.includeUsage(f), echo, logprobs, f.string("cache_salt"));
    }

    private static void addText(String text, List<String> texts, List<int[]> ids, ServedModel model) {
        texts.add(text);
        // Encoded exactly as the engine would encode a text prompt: with the tokenizer's own special tokens.
        ids.add(model.tokenizer().encode(text));
    }

    private static int[] tokenIds(JsonNode array) {
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode t = array.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt()) throw promptShape();
            ids[i] = t.intValue();
        }
        return ids;
    }

    private static ApiException promptShape() {
        return ApiException.invalidField("prompt", "must be a string, an array of token ids, or a non-empty array of those");
    }

    int numPrompts() { return promptIds.size(); }
}
