package dev.arbor.models.backend;

import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.Architecture;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.Matrix;

/**
 * The operations the decoder forward pass is written against, on activation buffers of type
 * {@code A} that the backend owns ({@code float[]} on the CPU, device {@code FloatArray}s on CUDA).
 * Activations are float32, row-major. Weights are passed as the host-side {@link Matrix} / norm vector
 * the model was loaded with; a backend that keeps its own copy (CUDA) resolves them to it. The paged KV
 * store belongs to the backend instance, sized at construction.
 *
 * <p>Every method may be asynchronous on a device; {@link #readRow} is the synchronisation point.
 */
public interface Ops<A> extends AutoCloseable {

    /** A (rows, cols) activation buffer; called while building the workspace only, never in a step. */
    A allocate(int rows, int cols);

    /** Makes this step's inputs ({@code b}'s ids, positions, slots, block tables, logit rows) visible to the kernels. */
    void upload(ForwardBatch b);

    /**
     * Runs one forward step: {@link #upload} of {@code b}, then {@code launches} (the forward pass's calls on
     * this object, sized by {@code b}). A backend may instead replay a recording of the launches, having padded
     * {@code b} to a recorded size (the CUDA backend does this for decode steps); {@code b} is as given when this returns.
     */
    default void step(ForwardBatch b, java.util.function.Consumer<ForwardBatch> launches) {
        upload(b);
        launches.accept(b);
    }

    /** Host milliseconds the last {@link #step} spent copying its inputs to the device (0 where nothing is copied). */
    default double lastUploadMillis() { return 0; }

    /**
     * Device milliseconds of the last step, from its first kernel to the end of its sampling kernels (events on
     * the device); NaN where not measured (the CPU, a step that sampled nothing).
     */
    default double lastDeviceMillis() { return Double.NaN; }

    /** The device gap before the last step ({@link dev.arbor.models.ModelExecutor#lastGapMillis}): idle, input copies; NaN where not measured. */
    default double[] lastGapMillis() { return new double[] {Double.NaN, Double.NaN}; }

    /** Steps replayed from a recorded graph so far; 0 on a backend without graphs. */
    default long graphReplays() { return 0; }

    /** Decode steps with cascade groups or a state handoff replayed as graphs so far; 0 on a backend without them. */
    default long cascadeGraphReplays() { return 0; }

    /** Whether {@link #step} returns once its launches are queued, before the device finishes them (CUDA); false on the CPU. */
    default boolean stepReturnsEarly() { return false; }

    /** The per-operation profile ({@link ProfiledOps}, {@code -Darbor.opProfile=true}); null when not profiling. */
    default dev.arbor.models.OpProfile opProfile() { return null; }

    /** {@code out (tokens, hidden) = table[tokenIds]}. */
    void embed(Matrix table, ForwardBatch b, A out);

    /** {@code out (rows, n) = x / rms(x) * weight}, rms over each row of n; out may be x. */
    void rmsNorm(A x, int rows, int n, float[] weight, double eps, A out);

    /** {@code out (rows, w.rows) = x (rows, w.cols) · wᵀ}. */
    void matmul(A x, int rows, Matrix w, A out);

    /** Rotates every head of {@code x (tokens, heads * headDim)} in place by its token's position. */
    void rope(A x, int heads, ForwardBatch b);

    /** Stores {@code k, v (tokens, kvHeads * headDim)} of layer {@code layer} at the tokens' KV slots. */
    void storeKv(int layer, A k, A v, ForwardBatch b);

    /**
     * Causal attention of each new token over its sequence's context {@code [0, position]} from the
     * paged store (ALiBi bias for ALiBi models): {@code out (tokens, heads * headDim)}.
     */
    void attention(int layer, A q, ForwardBatch b, A out);

    /** {@code gate = silu(gate) * up} over n elements. */
    void siluMul(A gate, A up, int n);

    /** {@code x += y} over n elements. */
    void add(A x, A y, int n);

    // ---- fused stages: one call per stage of a layer; a backend may run each as fewer launches ----------------------------

    /**
     * True where {@link #qkvRopeStore} runs on the concatenated q|k|v weights and needs no k and v buffers (the forward
     * pass then passes null for them).
     */
    default boolean fusedQkv() { return false; }

    /** True where {@link #gateUpSilu} runs on the concatenated gate|up weights and needs no up buffer (null is passed). */
    default boolean fusedGateUp() { return false; }

    /**
     * The attention block's inputs from {@code xn (tokens, hidden)}: {@code q (tokens, heads * headDim)} projected,
     * per-head RMSNorm'd (Qwen3's q/k norm, when the layer has one) and rotated (RoPE models), and the token's K (likewise)
     * and V stored at its slot of layer {@code layer}. {@code k, v (tokens, kvHeads * headDim)}: buffers for the
     * composition below, null where {@link #fusedQkv}.
     */
    default void qkvRopeStore(int layer, LayerWeights lw, A xn, int tokens, ForwardBatch b, ModelConfig c, A q, A k, A v) {
        matmul(xn, tokens, lw.q(), q);
        matmul(xn, tokens, lw.k(), k);
        matmul(xn, tokens, lw.v(), v);
        if (lw.qNorm() != null) {
            rmsNorm(q, tokens * c.numHeads(), c.headDim(), lw.qNorm(), c.rmsNormEps(), q);
            rmsNorm(k, tokens * c.numKvHeads(), c.headDim(), lw.kNorm(), c.rmsNormEps(), k);
        }
        // ALiBi models add their position bias inside attention instead
        if (c.family().positionEncoding() != Architecture.PositionEncoding.ALIBI) {
            rope(q, c.numHeads(), b);
            rope(k, c.numKvHeads(), b);
        }
        storeKv(layer, k, v, b);
    }

    /**
     * SwiGLU: {@code out (tokens, inter) = silu(xn · gateᵀ) * (xn · upᵀ)}; {@code up (tokens, inter)}: a buffer for the
     * composition below, null where {@link #fusedGateUp}.
     */
    default void gateUpSilu(A xn, int tokens, Matrix gate, Matrix up, A out, A upBuffer) {
        matmul(xn, tokens, gate, out);
        matmul(xn, tokens, up, upBuffer);
        siluMul(out, upBuffer, tokens * gate.rows());
    }

    /**
     * A projection into the residual stream, then the next RMSNorm: {@code x (tokens, w.rows) += in · wᵀ} (through
     * {@code proj}, a (tokens, w.rows) buffer), then {@code xn = rmsNorm(x) * norm}; no norm when {@code norm} is null.
     */
    default void matmulAddNorm(A in, int tokens, Matrix w, A proj, A x, float[] norm, double eps, A xn) {
        matmul(in, tokens, w, proj);
        add(x, proj, tokens * w.rows());
        if (norm != null) rmsNorm(x, tokens, w.rows(), norm, eps, xn);
    }

    /** {@code out (count, n) = x[logitRow(i)]} for i < count: the hidden rows whose logits are wanted. */
    void gatherRows(A x, int n, ForwardBatch b, int count, A out);

    /** {@code dst[i] = src[srcRow + i]} for i < count, rows of n. */
    void copyRows(A src, int n, int srcRow, int count, A dst);

    /**
     * Samples rows {@code [0, batch.rows())} of {@code logits (rows, vocab)} as {@code batch} describes and
     * leaves the tokens (and the logprobs asked for) in the batch's host arrays: on a device only those
     * cross to the host.
     */
    void sample(A logits, SamplingBatch batch);

    /**
     * As {@link #sample} without waiting for the tokens where the backend can (CUDA: they come back behind the kernels and
     * {@link #awaitSample} puts them in {@code batch}); by default it samples synchronously.
     */
    default void sampleDeferred(A logits, SamplingBatch batch) { sample(logits, batch); }

    /** Waits for the tokens of the last {@link #sampleDeferred} and puts them in {@code batch}; no-op when they are there. */
    default void awaitSample(SamplingBatch batch) {}

    /**
     * Whether {@link #step} itself feeds a batch's {@link ForwardBatch#addFeed fed tokens} from {@code sampled}'s device ids
     * (given once by {@link #feedFrom}); false: the caller writes them into the batch on the host before the step.
     */
    default boolean feedsOnDevice() { return false; }

    /** The sampling batch whose sampled ids a step's fed tokens come from (called once, at construction). */
    default void feedFrom(SamplingBatch sampled) {}

    /** Copies row {@code row} of {@code x (rows, n)} to {@code dst}; waits for pending work. */
    void readRow(A x, int row, int n, float[] dst);

    @Override
    void close();
}
