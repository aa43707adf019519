package dev.arbor.models.backend;

import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.StepShape;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.ModelWeights;

/**
 * The forward pass of the Llama family (Llama 2/3, Qwen3 with q/k norm, Baichuan2 with ALiBi), written
 * once over {@link Ops}: the CPU and the CUDA backend run this same code. Every buffer is allocated
 * here, at construction, from the {@link StepShape}; a step allocates nothing.
 */
public final class DecoderForward<A> implements ModelExecutor {
    private final ModelConfig config;
    private final ModelWeights w;
    private final Ops<A> ops;
    private final StepShape shape;
    private final ForwardBatch batch;
    private final A x, xn, q, k, v, att, proj, gate, up; // activations, maxTokens rows each (k, v, up null where fused)
    private final A last;                                 // (maxLogitRows, hidden) final-normalised logit rows
    private final A logits;                               // (maxLogitRows, vocab)
    private final A hiddenRows;                           // (maxTokens, hidden) final-normalised rows of the logit tokens
    private final SamplingBatch sampling;                 // (maxSeqs rows) what to sample, and the results
    private int lastRows, lastFirstRow;

    public DecoderForward(ModelConfig config, ModelWeights weights, Ops<A> ops, StepShape shape) {
        this.config = config;
        this.w = weights;
        this.ops = ops;
        this.shape = shape;
        this.batch = new ForwardBatch(shape);
        int n = shape.maxTokens(), hidden = config.hiddenSize(), inter = config.intermediateSize();
        x = ops.allocate(n, hidden);               // (tokens, hidden) residual stream
        xn = ops.allocate(n, hidden);              // (tokens, hidden) normalised input of a block
        q = ops.allocate(n, config.qDim());        // (tokens, heads * headDim)
        // (tokens, kvHeads * headDim) each; a backend that fuses the q|k|v projection needs neither
        k = ops.fusedQkv() ? null : ops.allocate(n, config.kvDim());
        v = ops.fusedQkv() ? null : ops.allocate(n, config.kvDim());
        att = ops.allocate(n, config.qDim());      // (tokens, heads * headDim) attention output
        proj = ops.allocate(n, hidden);            // (tokens, hidden) block output before the residual add
        gate = ops.allocate(n, inter);             // (tokens, intermediate)
        up = ops.fusedGateUp() ? null : ops.allocate(n, inter);   // (tokens, intermediate); none where gate|up is fused
        hiddenRows = ops.allocate(n, hidden);      // (logit rows, hidden)
        last = ops.allocate(shape.maxLogitRows(), hidden);
        logits = ops.allocate(shape.maxLogitRows(), config.vocabSize());
        long context = (long) shape.maxBlocksPerSeq() * shape.blockSize();
        int penaltyEntries = (int) Math.min((long) shape.maxSeqs() * Math.min(context, config.vocabSize()), 1 << 26);
        sampling = new SamplingBatch(Math.min(shape.maxSeqs(), shape.maxLogitRows()), config.vocabSize(), penaltyEntries,
                shape.maxSeqs() * MAX_MASKED_PER_ROW);
        ops.feedFrom(sampling);
    }

    /** Ids a row may mask (EOS ids and stop_token_ids while min_tokens is not reached). */
    public static final int MAX_MASKED_PER_ROW = 72;

    @Override public StepShape shape() { return shape; }

    @Override public ForwardBatch batch() { return batch; }

    @Override
    public void forward() {
        ForwardBatch b = batch;
        if (b.numTokens() == 0) return;
        // asynchronous scheduling: ids the previous step sampled (placeholders here); a backend that cannot feed them on the
        // device has them on the host already (its sampleDeferred sampled synchronously), and the sampling batch still holds them
        if (b.numFeeds() > 0 && !ops.feedsOnDevice()) {
            int[] f = b.feedArray();
            for (int i = 0; i < b.numFeeds(); i++) b.setTokenId(f[2 * i], sampling.token(f[2 * i + 1]));
        }
        for (int t = 0; t < b.numTokens(); t++) {
            int id = b.tokenId(t);
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + config.vocabSize());
            }
        }
        ops.step(b, this::launch);
    }

    /** The forward pass's launches over {@code b} (maybe padded by the backend: sizes come from it, not from {@link #batch}). */
    private void launch(ForwardBatch b) {
        int tokens = b.numTokens();
        int hidden = config.hiddenSize();
        double eps = config.rmsNormEps();

        // Token embedding, and the first layer's input norm (every later one is fused with the residual add before it).
        ops.embed(w.embed(), b, x);
        ops.rmsNorm(x, tokens, hidden, w.layers().get(0).inputNorm(), eps, xn);
        for (int l = 0; l < config.numLayers(); l++) {
            LayerWeights lw = w.layers().get(l);
            // Attention block: q, k, v projections of xn (q/k norms, RoPE), K/V stored at the tokens' slots; then attention
            // of each token over its context [0, position].
            ops.qkvRopeStore(l, lw, xn, tokens, b, config, q, k, v);
            ops.attention(l, q, b, att);
            // Output projection, residual, then the MLP block's RMSNorm.
            ops.matmulAddNorm(att, tokens, lw.o(), proj, x, lw.postNorm(), eps, xn);

            // MLP block: SwiGLU (silu(gate) * up), down projection, residual, then the next layer's input norm.
            ops.gateUpSilu(xn, tokens, lw.gate(), lw.up(), gate, up);
            float[] nextNorm = l + 1 < config.numLayers() ? w.layers().get(l + 1).inputNorm() : null;
            ops.matmulAddNorm(gate, tokens, lw.down(), proj, x, nextNorm, eps, xn);
        }
        // Final norm of the logit rows only.
        int rows = b.numLogitRows();
        if (rows > 0) {
            ops.gatherRows(x, hidden, b, rows, hiddenRows);
            ops.rmsNorm(hiddenRows, rows, hidden, w.finalNorm(), eps, hiddenRows);
        }
    }

    @Override
    public int computeLogits(int firstRow) {
        int total = batch.numLogitRows();
        if (firstRow < 0 || firstRow >= total) throw new IllegalArgumentException("logit row " + firstRow + " outside the step's " + total + " rows");
        int n = Math.min(shape.maxLogitRows(), total - firstRow);
        // lm_head over (n, hidden) rows [firstRow, firstRow + n) of the final-normalised states (the first pass reads them in place).
        A rows = hiddenRows;
        if (firstRow > 0) {
            ops.copyRows(hiddenRows, config.hiddenSize(), firstRow, n, last);
            rows = last;
        }
        ops.matmul(rows, n, w.lmHead(), logits);
        lastRows = n;
        lastFirstRow = firstRow;
        return n;
    }

    @Override public SamplingBatch sampling() { return sampling; }

    @Override
    public void sample() {
        if (sampling.rows() == 0) return;
        if (lastFirstRow != 0 || sampling.rows() > lastRows) {
            throw new IllegalStateException("sample() needs the logits of rows [0, " + sampling.rows() + "), the last pass holds ["
                    + lastFirstRow + ", " + (lastFirstRow + lastRows) + ")");
        }
        ops.sample(logits, sampling);
    }

    @Override
    public void sampleDeferred() {
        if (sampling.rows() == 0) return;
        if (lastFirstRow != 0 || sampling.rows() > lastRows) {
            throw new IllegalStateException("sampleDeferred() needs the logits of rows [0, " + sampling.rows() + "), the last pass holds ["
                    + lastFirstRow + ", " + (lastFirstRow + lastRows) + ")");
        }
        ops.sampleDeferred(logits, sampling);
    }

    @Override public void awaitSample() { ops.awaitSample(sampling); }

    @Override
    public void readLogits(int i, float[] dst) {
        if (i < 0 || i >= lastRows) throw new IllegalArgumentException("logit row " + i + " outside the last pass's " + lastRows + " rows");
        ops.readRow(logits, i, config.vocabSize(), dst);
    }

    @Override public double lastUploadMillis() { return ops.lastUploadMillis(); }

    @Override public double lastDeviceMillis() { return ops.lastDeviceMillis(); }

    @Override public double[] lastGapMillis() { return ops.lastGapMillis(); }

    @Override public long graphReplays() { return ops.graphReplays(); }

    @Override public long cascadeGraphReplays() { return ops.cascadeGraphReplays(); }

    @Override public boolean forwardReturnsEarly() { return ops.stepReturnsEarly(); }

    @Override public dev.arbor.models.OpProfile opProfile() { return ops.opProfile(); }

    @Override
    public void close() {
        sampling.close();
        ops.close();
    }
}
