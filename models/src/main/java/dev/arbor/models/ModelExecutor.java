package dev.arbor.models;

import dev.arbor.kernels.sampling.SamplingBatch;

/**
 * One engine's handle on a model: the paged KV store and the step workspace, allocated once by
 * {@link CausalLM#open}. A step fills {@link #batch()} in place, runs {@link #forward()}, computes
 * the logit rows ({@link #computeLogits}), samples them on the backend ({@link #sample()}: only token ids
 * and requested logprobs come back) or, where a request needs the whole distribution (prompt
 * logprobs), copies rows out ({@link #readLogits}). Nothing here allocates per step. Not thread-safe: one engine drives it.
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

    /**
     * The sampling description of the step's sampled rows, allocated once with the workspace
     * ({@code shape().maxSeqs()} rows): the caller fills row r for logit row r, then calls {@link #sample()}.
     */
    SamplingBatch sampling();

    /**
     * Samples rows {@code [0, sampling().rows())} of the last {@link #computeLogits} pass (which must have
     * started at row 0 and covered them) on the backend; tokens and requested logprobs land in {@link #sampling()}.
     */
    void sample();

    /**
     * As {@link #sample()}, where the backend can without waiting for the tokens (CUDA: asynchronous scheduling queues the next
     * step meanwhile; a batch whose rows want logprobs is sampled synchronously): {@link #awaitSample()} makes them readable in
     * {@link #sampling()}. The sampling batch must not be refilled before that; the next {@link #forward()} may feed its ids
     * ({@link ForwardBatch#addFeed}). By default the same as {@link #sample()}.
     */
    default void sampleDeferred() { sample(); }

    /** Waits for the tokens of the last {@link #sampleDeferred()} (no-op if it sampled synchronously). */
    default void awaitSample() {}

    /** Copies row {@code i} (0-based within the last {@link #computeLogits} pass) of logits, (vocab) floats, into {@code dst}. */
    void readLogits(int i, float[] dst);

    /** Host milliseconds the last {@link #forward()} spent copying its inputs to the device (0 where nothing is copied). */
    default double lastUploadMillis() { return 0; }

    /**
     * Device milliseconds of the last step, from the first kernel of {@link #forward()} to the end of the
     * sampling kernels of {@link #sample()} (CUDA events); NaN where not measured (the CPU, a step that sampled nothing).
     */
    default double lastDeviceMillis() { return Double.NaN; }

    /**
     * Device milliseconds between the last step and the one before it (CUDA events, read with {@link #lastDeviceMillis}):
     * {@code [0]} the device idle from the previous step's last sampling kernel to this step's first input copy (the host
     * was late), {@code [1]} from that copy to this step's first kernel (its input copies); NaN where not measured.
     */
    default double[] lastGapMillis() { return new double[] {Double.NaN, Double.NaN}; }

    /** Steps replayed from a recorded graph so far (CUDA decode steps); 0 on a backend without graphs. */
    default long graphReplays() { return 0; }

    /** Decode steps with cascade groups or a state handoff replayed as graphs so far ({@code -Darbor.cuda.cascadeGraphs}); 0 elsewhere. */
    default long cascadeGraphReplays() { return 0; }

    /**
     * Whether {@link #forward()} returns once the step's work is queued, before the device finishes it (CUDA): the host can
     * then do other work while the device runs (the engine makes the previous step's outputs). False where the forward pass
     * runs on the calling thread (the CPU).
     */
    default boolean forwardReturnsEarly() { return false; }

    /** Time per operation of the forward pass when the JVM runs with {@code -Darbor.opProfile=true}, else null. */
    default OpProfile opProfile() { return null; }

    @Override
    void close();
}
