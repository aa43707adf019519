package dev.arbor.models;

/**
 * One engine's handle on a model: the paged KV store and the step workspace, allocated once by
 * {@link CausalLM#open}. A step fills {@link #batch()} in place, runs {@link #forward()}, then reads
 * results for the logit rows. Nothing here allocates per step. Not thread-safe: one engine drives it.
 */
public interface ModelExecutor extends AutoCloseable {

    StepShape shape();

    /** The input side of the workspace, filled in place by the caller before {@link #forward()}. */
    ForwardBatch batch();

    /**
     * Runs the batch through every layer: writes the new tokens' K/V into the store at their slots and
     * leaves the final-normalised hidden states of the logit rows in the workspace.
     *
     * @throws IllegalArgumentException for a token id outside the vocabulary (nothing is written then)
     */
    void forward();

    /**
     * Computes logits (lm_head) for logit rows {@code [firstRow, firstRow + n)} of the last forward, with
     * {@code n = min(shape().maxLogitRows(), numLogitRows - firstRow)}, and returns n. The logits stay in
     * the backend until read.
     */
    int computeLogits(int firstRow);

    /** Copies row {@code i} (0-based within the last {@link #computeLogits} pass) of logits, (vocab) floats, into {@code dst}. */
    void readLogits(int i, float[] dst);

    @Override
    void close();
}
