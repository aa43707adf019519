package dev.arbor.engine;

import java.util.List;
import java.util.Objects;

/**
 * How one request samples, with vLLM's fields and meanings. Immutable; build with {@link #builder()}.
 * {@link #validate(int)} rejects bad values with a message that names the field.
 *
 * @param n                 completions per prompt (each its own sequence; the prompt's KV is shared)
 * @param temperature       0 = greedy; otherwise logits are divided by it
 * @param topP              nucleus mass in (0, 1]
 * @param topK              keep the k most likely tokens; -1 or 0 = all
 * @param minP              drop tokens whose probability is below minP × the top probability
 * @param presencePenalty   subtracted once from the logit of every token already generated
 * @param frequencyPenalty  subtracted per occurrence in the generated text
 * @param repetitionPenalty >1 discourages tokens of prompt and output (CTRL rule: divide positive, multiply negative)
 * @param seed              per-request seed for reproducible sampling; null = nondeterministic
 * @param stop              stop strings, excluded from the output, found across token boundaries
 * @param stopTokenIds      tokens that end the sequence (besides EOS), excluded from the text
 * @param ignoreEos         keep generating past EOS
 * @param maxTokens         new tokens at most; null = up to the model's context
 * @param minTokens         no stop condition applies before this many output tokens, as in vLLM: EOS and
 *                          stop_token_ids cannot be sampled, stop strings are not searched (a stop string
 *                          that ends before it does not end the request later either); max_tokens and the
 *                          context length still do
 * @param logprobs          top-k logprobs per generated token (the chosen token always included); null = none
 * @param promptLogprobs    top-k logprobs per prompt position; null = none
 * @param skipSpecialTokens leave special tokens out of the text (whole and streamed); the token that ends a
 *                          sequence (EOS, a stop token) is never in the text, as in vLLM
 * @param spacesBetweenSpecialTokens with special tokens in the text, false writes a special token that
 *                          follows another one without a space before it (vLLM's meaning); default true
 */
public record SamplingParams(int n, double temperature, double topP, int topK, double minP,
                             double presencePenalty, double frequencyPenalty, double repetitionPenalty,
                             Long seed, List<String> stop, List<Integer> stopTokenIds, boolean ignoreEos,
                             Integer maxTokens, int minTokens, Integer logprobs, Integer promptLogprobs,
                             boolean skipSpecialTokens, boolean spacesBetweenSpecialTokens) {

    /** Upper bound on stop_token_ids per request (min_tokens masks them on the device, in a list sized once). */
    public static final int MAX_STOP_TOKEN_IDS = 64;

    /** Upper bound on top-k logprobs, as in vLLM's default max_logprobs. */
    public static final int MAX_LOGPROBS = 20;

    public SamplingParams {
        stop = stop == null ? List.of() : List.copyOf(stop);
        stopTokenIds = stopTokenIds == null ? List.of() : List.copyOf(stopTokenIds);
    }

    public static SamplingParams greedy(int maxTokens) {
        return builder().temperature(0).maxTokens(maxTokens).build();
    }

    public boolean isGreedy() { return temperature == 0.0; }

    /** Whether a repetition, frequency or presence penalty is on (sampling then reads the sequence's token counts). */
    public boolean hasPenalties() { return repetitionPenalty != 1.0 || frequencyPenalty != 0 || presencePenalty != 0; }

    /** Checks every field; throws {@link IllegalArgumentException} naming the first bad one. */
    public SamplingParams validate(int vocabSize) {
        if (n < 1) throw bad("n", n, "must be at least 1");
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw bad("temperature", temperature, "must be a finite number >= 0");
        if (!(topP > 0 && topP <= 1)) throw bad("top_p", topP, "must be in (0, 1]");
        if (topK < -1) throw bad("top_k", topK, "must be -1 (disabled), 0 (disabled) or a positive count");
        if (!(minP >= 0 && minP <= 1)) throw bad("min_p", minP, "must be in [0, 1]");
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) throw bad("presence_penalty", presencePenalty, "must be in [-2, 2]");
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) throw bad("frequency_penalty", frequencyPenalty, "must be in [-2, 2]");
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) throw bad("repetition_penalty", repetitionPenalty, "must be a finite number > 0");
        if (maxTokens != null && maxTokens < 1) throw bad("max_tokens", maxTokens, "must be at least 1");
        if (minTokens < 0) throw bad("min_tokens", minTokens, "must be >= 0");
        if (maxTokens != null && minTokens > maxTokens) throw bad("min_tokens", minTokens, "must not exceed max_tokens (" + maxTokens + ")");
        if (logprobs != null && (logprobs < 0 || logprobs > MAX_LOGPROBS)) throw bad("logprobs", logprobs, "must be in [0, " + MAX_LOGPROBS + "]");
        if (promptLogprobs != null && (promptLogprobs < 0 || promptLogprobs > MAX_LOGPROBS)) throw bad("prompt_logprobs", promptLogprobs, "must be in [0, " + MAX_LOGPROBS + "]");
        for (String s : stop) if (s == null || s.isEmpty()) throw bad("stop", s, "stop strings must be non-empty");
        if (stopTokenIds.size() > MAX_STOP_TOKEN_IDS) throw bad("stop_token_ids", stopTokenIds.size() + " ids", "at most " + MAX_STOP_TOKEN_IDS + " ids");
        for (Integer t : stopTokenIds) {
            if (t == null || t < 0 || t >= vocabSize) throw bad("stop_token_ids", t, "must be token ids in [0, " + vocabSize + ")");
        }
        return this;
    }

    private static IllegalArgumentException bad(String field, Object value, String rule) {
        return new IllegalArgumentException("invalid sampling parameter '" + field + "' = " + value + ": " + rule);
    }

    public int maxStopStringLength() {
        int m = 0;
        for (String s : stop) m = Math.max(m, s.length());
        return m;
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.n = n; b.temperature = temperature; b.topP = topP; b.topK = topK; b.minP = minP;
        b.presencePenalty = presencePenalty; b.frequencyPenalty = frequencyPenalty; b.repetitionPenalty = repetitionPenalty;
        b.seed = seed; b.stop = stop; b.stopTokenIds = stopTokenIds; b.ignoreEos = ignoreEos; b.maxTokens = maxTokens;
        b.minTokens = minTokens; b.logprobs = logprobs; b.promptLogprobs = promptLogprobs; b.skipSpecialTokens = skipSpecialTokens;
        b.spacesBetweenSpecialTokens = spacesBetweenSpecialTokens;
        return b;
    }

    public static Builder builder() { return new Builder(); }

    /** Defaults as in vLLM: temperature 1, top_p 1, no top-k, no penalties, max_tokens 16. */
    public static final class Builder {
        private int n = 1;
        private double temperature = 1.0, topP = 1.0, minP = 0.0;
        private int topK = -1;
        private double presencePenalty, frequencyPenalty, repetitionPenalty = 1.0;
        private Long seed;
        private List<String> stop = List.of();
        private List<Integer> stopTokenIds = List.of();
        private boolean ignoreEos;
        private Integer maxTokens = 16;
        private int minTokens;
        private Integer logprobs, promptLogprobs;
        private boolean skipSpecialTokens = true;
        private boolean spacesBetweenSpecialTokens = true;

        public Builder n(int v) { n = v; return this; }
        public Builder temperature(double v) { temperature = v; return this; }
        public Builder topP(double v) { topP = v; return this; }
        public Builder topK(int v) { topK = v; return this; }
        public Builder minP(double v) { minP = v; return this; }
        public Builder presencePenalty(double v) { presencePenalty = v; return this; }
        public Builder frequencyPenalty(double v) { frequencyPenalty = v; return this; }
        public Builder repetitionPenalty(double v) { repetitionPenalty = v; return this; }
        public Builder seed(Long v) { seed = v; return this; }
        public Builder stop(List<String> v) { stop = Objects.requireNonNullElse(v, List.of()); return this; }
        public Builder stop(String... v) { return stop(List.of(v)); }
        public Builder stopTokenIds(List<Integer> v) { stopTokenIds = Objects.requireNonNullElse(v, List.of()); return this; }
        public Builder ignoreEos(boolean v) { ignoreEos = v; return this; }
        public Builder maxTokens(Integer v) { maxTokens = v; return this; }
        public Builder minTokens(int v) { minTokens = v; return this; }
        public Builder logprobs(Integer v) { logprobs = v; return this; }
        public Builder promptLogprobs(Integer v) { promptLogprobs = v; return this; }
        public Builder skipSpecialTokens(boolean v) { skipSpecialTokens = v; return this; }
        public Builder spacesBetweenSpecialTokens(boolean v) { spacesBetweenSpecialTokens = v; return this; }

        public SamplingParams build() {
            return new SamplingParams(n, temperature, topP, topK, minP, presencePenalty, frequencyPenalty,
                    repetitionPenalty, seed, stop, stopTokenIds, ignoreEos, maxTokens, minTokens, logprobs,
                    promptLogprobs, skipSpecialTokens, spacesBetweenSpecialTokens);
        }
    }
}
