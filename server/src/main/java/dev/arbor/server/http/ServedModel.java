package dev.arbor.server.http;

import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.EngineStats;
import dev.arbor.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.ExecutionException;

/**
 * What the HTTP layer knows about the one model it serves, read once from the engine thread at
 * start-up so handlers never need to hop onto it: its name, limits and tokenizer (thread-safe by
 * contract, so prompts are tokenised and chat templates rendered on the HTTP threads, in parallel,
 * and the engine thread only computes).
 */
public record ServedModel(String name, String spec, Tokenizer tokenizer, int maxModelLen, int vocabSize,
                          int totalBlocks, int blockSize, long created, String fingerprint) {

    /** The model's public name: a directory's last segment, or the synthetic spec as given. */
    public static String nameFor(String spec) {
        if (spec.startsWith("synthetic:")) return spec;
        Path p = Path.of(spec).toAbsolutePath().normalize();
        return p.getFileName() == null ? spec : p.getFileName().toString();
    }

    static ServedModel read(AsyncEngine engine, String spec, String name) throws InterruptedException, ExecutionException {
        return engine.call(e -> {
            EngineStats s = e.stats();
            String fingerprint = "fp_" + HexFormat.of().toHexDigits(
                    (spec + "|" + e.config() + "|" + e.modelConfig().architecture()).hashCode());
            return new ServedModel(name, spec, e.tokenizer(), e.maxModelLen(), e.modelConfig().vocabSize(),
                    s.totalBlocks(), s.blockSize(), System.currentTimeMillis() / 1000, fingerprint);
        }).get();
    }

    /** A request naming another model is a 404, as OpenAI answers; no model field means this one. */
    void requireModel(Fields f) {
        String requested = f.string("model");
        if (requested != null && !requested.equals(name) && !requested.equals(spec)) {
            throw ApiException.notFound("The model '" + requested + "' does not exist; this server serves '" + name + "'",
                    "model", "model_not_found");
        }
    }

    /**
     * Rejects prompts the engine could never run, before they reach it: empty (400), ids outside
     * the vocabulary (400), or too long for the context or the whole KV pool (400 with code
     * {@code context_length_exceeded}, as OpenAI and vLLM answer).
     */
    void checkPrompt(int[] ids, String param) {
        if (ids.length == 0) throw ApiException.badRequest("the prompt is empty", param);
        for (int id : ids) {
            if (id < 0 || id >= vocabSize) throw ApiException.invalidField(param, "contains token id " + id + ", outside the vocabulary [0, " + vocabSize + ")");
        }
        if (ids.length >= maxModelLen) {
            throw new ApiException(400, "invalid_request_error", "This model's maximum context length is " + maxModelLen
                    + " tokens; the prompt has " + ids.length + " (prompt plus at least one generated token must fit)",
                    param, "context_length_exceeded");
        }
        long blocksNeeded = ((long) ids.length + blockSize) / blockSize;
        if (blocksNeeded > totalBlocks) {
            throw new ApiException(400, "invalid_request_error", "the prompt has " + ids.length + " tokens and needs "
                    + blocksNeeded + " KV blocks; the server's KV pool has " + totalBlocks, param, "context_length_exceeded");
        }
    }

    /**
     * Rejects a completion budget the context cannot hold, as vLLM does (400): {@code max_tokens} plus the
     * prompt over the context length. Without this, a typo ({@code 100000}) is silently clipped to whatever
     * the context leaves and runs for minutes. {@code maxTokens} null means "up to the context" (chat's default).
     */
    void checkMaxTokens(int promptTokens, Integer maxTokens, String param) {
        if (maxTokens == null || (long) promptTokens + maxTokens <= maxModelLen) return;
        throw new ApiException(400, "invalid_request_error", "'" + param + "' is too large: " + maxTokens
                + ". This model's maximum context length is " + maxModelLen + " tokens and your request has " + promptTokens
                + " input tokens (" + maxTokens + " > " + maxModelLen + " - " + promptTokens + ")", param, "context_length_exceeded");
    }

    /** A token's text for logprob entries, special tokens spelled out. */
    String tokenText(int id) {
        try {
            return tokenizer.decode(new int[] {id}, false);
        } catch (RuntimeException e) {
            // Synthetic models have a larger vocabulary than their byte tokenizer; such ids have no text.
            return "<|token_" + id + "|>";
        }
    }
}
