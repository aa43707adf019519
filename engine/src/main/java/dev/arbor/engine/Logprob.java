package dev.arbor.engine;

import java.util.List;

/**
 * Log-probabilities at one position: the token that was taken and the most likely alternatives.
 * Computed from the model's raw logits (before penalties, temperature and truncation), as vLLM does.
 *
 * @param tokenId  the token at this position
 * @param logprob  its log-probability
 * @param rank     its rank among all tokens (1 = most likely)
 * @param top      the top-k tokens, most likely first
 */
public record Logprob(int tokenId, float logprob, int rank, List<TopLogprob> top) {

    /** One of the top-k alternatives. {@code token} is its decoded text. */
    public record TopLogprob(int tokenId, String token, float logprob) {}
}
