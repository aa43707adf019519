package dev.arbor.engine.core;

/**
 * One sequence's share of a step: compute tokens {@code [start, start + numTokens)}.
 *
 * @param seq       the sequence
 * @param start     first position computed this step (= its computed count before the step)
 * @param numTokens tokens computed this step
 * @param sample    the chunk reaches the end of the sequence, so a token is sampled from its last row
 */
public record ScheduledSeq(Sequence seq, int start, int numTokens, boolean sample) {

    /** The chunk includes prompt positions whose next-token distributions were asked for. */
    public boolean wantsPromptLogprobs() {
        return seq.params().promptLogprobs() != null && start < seq.numPromptTokens - 1 && seq.index == 0;
    }
}
