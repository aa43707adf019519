package dev.arbor.models.backend;

import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.Architecture;
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
    private final boolean rope;
    private final A x, xn, q, k, v, att, proj, gate, up; // activations, maxTokens rows each
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
        this.rope = config.family().positionEncoding() != Architecture.PositionEncoding.ALIBI;
        int n = shape.maxTokens(), hidden = config.hiddenSize(), inter = config.intermediateSize();
        x = ops.allocate(n, hidden);               // (tokens, hidden) residual stream
        xn = ops.allocate(n, hidden);              // (tokens, hidden) normalised input of a block
        q = ops.allocate(n, config.qDim());        // (tokens, heads * headDim)
        k = ops.allocate(n, config.kvDim());       // (tokens, kvHeads * headDim)
        v = ops.allocate(n, config.kvDim());       // (tokens, kvHeads * headDim)
        att = ops.allocate(n, config.qDim());      // (tokens, heads * headDim) attention output
        proj = ops.allocate(n, hidden);            // (tokens, hidden) block output before the residual add
        gate = ops.allocate(n, inter);             // (tokens, intermediate)
        up = ops.allocate(n, inter);               // (tokens, intermediate)
        hiddenRows = ops.allocate(n, hidden);      // (logit rows, hidden)
        last = ops.allocate(shape.maxLogitRows(), hidden);
        logits = ops.allocate(shape.maxLogitRows(), config.vocabSize());
        long context = (long) shape.maxBlocksPerSeq() * shape.blockSize();
        int penaltyEntries = (int) Math.min((long) shape.maxSeqs() * Math.min(context, config.vocabSize()), 1 << 26);
        sampling = new SamplingBatch(Math.min(shape.maxSeqs(), shape.maxLogitRows()), config.vocabSize(), penaltyEntries,
                shape.maxSeqs() * MAX_MASKED_PER_ROW);
    }

    /** Ids a row may mask (EOS ids and stop_token_ids while min_tokens is not reached). */
    public static final int MAX_MASKED_PER_ROW = 72;

    @Override public StepShape shape() { return shape; }

    @Override public ForwardBatch batch() { return batch; }

    @Override
    public void forward() {
        ForwardBatch b = batch;
        if (b.numTokens() == 0) return;
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
        int hidden = config.hiddenSize(), inter = config.intermediateSize();
        int heads = config.numHeads(), kvHeads = config.numKvHeads(), headDim = config.headDim();
        double eps = config.rmsNormEps();

        // Token embedding.
        ops.embed(w.embed(), b, x);
        for (int l = 0; l < config.numLayers(); l++) {
            LayerWeights lw = w.layers().get(l);
            // Attention block: RMSNorm, then the q/k/v projections.
            ops.rmsNorm(x, tokens, hidden, lw.inputNorm(), eps, xn);
            ops.matmul(xn, tokens, lw.q(), q);
            ops.matmul(xn, tokens, lw.k(), k);
            ops.matmul(xn, tokens, lw.v(), v);
            // Qwen3: RMSNorm of every q and k head over head_dim.
            if (lw.qNorm() != null) {
                ops.rmsNorm(q, tokens * heads, headDim, lw.qNorm(), eps, q);
                ops.rmsNorm(k, tokens * kvHeads, headDim, lw.kNorm(), eps, k);
            }
            // Rotary position embedding (ALiBi models add their bias inside attention instead).
            if (rope) {
                ops.rope(q, heads, b);
                ops.rope(k, kvHeads, b);
            }
            // Store the new K/V at their slots, then attend over each token's context [0, position].
            ops.storeKv(l, k, v, b);
            ops.attention(l, q, b, att);
            // Output projection and residual.
            ops.matmul(att, tokens, lw.o(), proj);
            ops.add(x, proj, tokens * hidden);

            // MLP block: RMSNorm, SwiGLU (silu(gate) * up), down projection, residual.
            ops.rmsNorm(x, tokens, hidden, lw.postNorm(), eps, xn);
            ops.matmul(xn, tokens, lw.gate(), gate);
            ops.matmul(xn, tokens, lw.up(), up);
            ops.siluMul(gate, up, tokens * inter);
            ops.matmul(gate, tokens, lw.down(), proj);
            ops.add(x, proj, tokens * hidden);
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
    public void readLogits(int i, float[] dst) {
        if (i < 0 || i >= lastRows) throw new IllegalArgumentException("logit row " + i + " outside the last pass's " + lastRows + " rows");
        ops.readRow(logits, i, config.vocabSize(), dst);
    }

    @Override public double lastUploadMillis() { return ops.lastUploadMillis(); }

    @Override public double lastDeviceMillis() { return ops.lastDeviceMillis(); }

    @Override public long graphReplays() { return ops.graphReplays(); }

    @Override
    public void close() {
        sampling.close();
        ops.close();
    }
}
