package dev.arbor.engine;

import java.util.List;

/**
 * One of the n completions of a request. While streaming, {@code text} and {@code tokenIds} hold
 * everything so far and {@code textDelta} / {@code newTokenIds} what this update added.
 *
 * @param index        which of the n completions
 * @param text         output text (a matched stop string is excluded)
 * @param tokenIds     output tokens
 * @param textDelta    text new since the previous update of this request
 * @param newTokenIds  tokens new since the previous update
 * @param logprobs     per generated token, when requested; else null
 * @param finishReason null while running
 * @param stopReason   the stop string or stop token id that ended it, if any
 */
public record CompletionOutput(int index, String text, int[] tokenIds, String textDelta, int[] newTokenIds,
                               List<Logprob> logprobs, FinishReason finishReason, Object stopReason) {

    public boolean finished() { return finishReason != null; }
}
