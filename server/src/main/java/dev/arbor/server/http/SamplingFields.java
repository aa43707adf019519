package dev.arbor.server.http;

import dev.arbor.engine.SamplingParams;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * OpenAI's sampling fields (plus vLLM's extras top_k, min_p, repetition_penalty, ignore_eos,
 * min_tokens, stop_token_ids, skip_special_tokens) to {@link SamplingParams}. Defaults are
 * OpenAI's, which are also the engine's: temperature 1, top_p 1, n 1, no penalties.
 */
final class SamplingFields {
    /** More completions per request than this are refused: each is a sequence holding KV blocks. */
    static final int MAX_N = 128;
    private static final Pattern FIELD = Pattern.compile("'([a-z_]+)'");

    private SamplingFields() {}

    /**
     * @param maxTokens the request's token budget, already resolved from max_tokens or
     *                  max_completion_tokens (null = up to the context length)
     * @param logprobs  top-k logprobs per token (null = none), already resolved per endpoint
     */
    static SamplingParams parse(Fields f, Integer maxTokens, Integer logprobs, ServedModel model) {
        SamplingParams.Builder b = SamplingParams.builder().maxTokens(maxTokens).logprobs(logprobs);
        Integer n = f.integer("n");
        if (n != null) {
            if (n > MAX_N) throw ApiException.invalidField("n", "must be at most " + MAX_N + ", got " + n);
            b.n(n);
        }
        Double temperature = f.number("temperature");
        if (temperature != null) b.temperature(temperature);
        Double topP = f.number("top_p");
        if (topP != null) b.topP(topP);
        Integer topK = f.integer("top_k");
        if (topK != null) b.topK(topK);
        Double minP = f.number("min_p");
        if (minP != null) b.minP(minP);
        Double presence = f.number("presence_penalty");
        if (presence != null) b.presencePenalty(presence);
        Double frequency = f.number("frequency_penalty");
        if (frequency != null) b.frequencyPenalty(frequency);
        Double repetition = f.number("repetition_penalty");
        if (repetition != null) b.repetitionPenalty(repetition);
        b.seed(f.longInteger("seed"));
        b.stop(f.stringOrStrings("stop"));
        b.stopTokenIds(f.integers("stop_token_ids"));
        Boolean ignoreEos = f.bool("ignore_eos");
        if (ignoreEos != null) b.ignoreEos(ignoreEos);
        Integer minTokens = f.integer("min_tokens");
        if (minTokens != null) b.minTokens(minTokens);
        Boolean skipSpecial = f.bool("skip_special_tokens");
        if (skipSpecial != null) b.skipSpecialTokens(skipSpecial);
        Boolean spacesBetween = f.bool("spaces_between_special_tokens");
        if (spacesBetween != null) b.spacesBetweenSpecialTokens(spacesBetween);
        f.unsupported("logit_bias", "logit biases are not implemented");
        return validate(b.build(), model);
    }

    /** The engine's own validation, run here so a bad field is a 400 before anything is queued. */
    static SamplingParams validate(SamplingParams p, ServedModel model) {
        try {
            return p.validate(model.vocabSize());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage(), fieldNamedIn(e.getMessage()));
        }
    }

    /** The engine names the bad field in quotes ("invalid sampling parameter 'top_p' = 2.0: ..."). */
    static String fieldNamedIn(String message) {
        if (message == null) return null;
        Matcher m = FIELD.matcher(message);
        return m.find() ? m.group(1) : null;
    }

    /** The field that set the completion budget, for error messages. */
    static String maxTokensParam(Fields f) {
        return f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    }

    /** The completion budget: max_completion_tokens wins over the older max_tokens, as in OpenAI's API. */
    static Integer maxTokens(Fields f, Integer fallback) {
        Integer v = f.integer("max_completion_tokens");
        if (v == null) v = f.integer("max_tokens");
        if (v != null && v < 1) {
            throw ApiException.invalidField(f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", "must be at least 1, got " + v);
        }
        return v != null ? v : fallback;
    }
}
