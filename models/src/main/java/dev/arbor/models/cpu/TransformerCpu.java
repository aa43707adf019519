package dev.arbor.models.cpu;

import dev.arbor.models.Architecture;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.GenerationConfig;
import dev.arbor.models.KvCache;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.ModelWeights;
import dev.arbor.kernels.CpuLayerOps;
import java.util.function.Supplier;

/**
 * The multi-threaded CPU forward pass of the Llama, Qwen3 and Baichuan-ALiBi architectures, in
 * float32 activations and accumulation over weights read in their stored dtype. Weights come from
 * a supplier called once, on first use (synthetic models generate theirs then).
 */
public final class TransformerCpu implements CausalLM {
    private final ModelConfig config;
    private final GenerationConfig generationConfig;
    private final Supplier<ModelWeights> weightSource;
    private final AutoCloseable resources;
    private final Rope rope;        // null for ALiBi models
    private final float[] slopes;   // (heads) ALiBi slopes, null for RoPE models
    private volatile ModelWeights weights;
    /** Norms, SwiGLU and residual adds: accel kernels run by the accel CPU executor. */
    private final CpuLayerOps ops = new CpuLayerOps();

    /** @param resources released by {@link #close()} (the mapped files, derived tensors) */
    public TransformerCpu(ModelConfig config, GenerationConfig generationConfig, Supplier<ModelWeights> weightSource,
                          AutoCloseable resources) {
        this.config = config;
        this.generationConfig = generationConfig;
        this.weightSource = weightSource;
        this.resources = resources;
        boolean alibi = config.family().positionEncoding() == Architecture.PositionEncoding.ALIBI;
        this.rope = alibi ? null : new Rope(config.rope(), config.headDim(), config.dtype());
        this.slopes = alibi ? Alibi.slopes(config.numHeads()) : null;
    }

    @Override public ModelConfig config() { return config; }

    @Override public GenerationConfig generationConfig() { return generationConfig; }

    /** The weights, materialised on first call. */
    public ModelWeights weights() {
        ModelWeights w = weights;
        if (w == null) {
            synchronized (this) {
                if (weights == null) weights = weightSource.get();
                w = weights;
            }
        }
        return w;
    }

    @Override
    public void materialize() {
        weights();
    }

    /** Whether the weights exist yet (synthetic models create them on first use). */
    public boolean weightsMaterialized() {
        return weights != null;
    }

    @Override
    public KvCache allocateKvCache(int numBlocks, int blockSize) {
        return new PagedKvCache(config.numLayers(), numBlocks, blockSize, config.numKvHeads(), config.headDim());
    }

    @Override
    public long kvBytesPerBlock(int blockSize) {
        return 2L * config.numLayers() * config.numKvHeads() * blockSize * config.headDim() * Float.BYTES;
    }

    @Override
    public void copyBlock(KvCache cache, int src, int dst) {
        checkCache(cache).copyBlock(src, dst);
    }

    @Override
    public float[][] forward(ForwardBatch batch, KvCache kvCache) {
        PagedKvCache cache = checkCache(kvCache);
        int[] seqOf = sequenceOfEachToken(batch);
        ModelWeights w = weights();
        int tokens = batch.numTokens();
        int hidden = config.hiddenSize(), inter = config.intermediateSize();
        int heads = config.numHeads(), kvHeads = config.numKvHeads(), headDim = config.headDim();
        int qDim = config.qDim(), kvDim = config.kvDim();
        double eps = config.rmsNormEps();

        float[] x = new float[tokens * hidden];      // (tokens, hidden) residual stream
        float[] xn = new float[tokens * hidden];     // (tokens, hidden) normalised input of a block
        float[] q = new float[tokens * qDim];        // (tokens, heads * headDim)
        float[] k = new float[tokens * kvDim];       // (tokens, kvHeads * headDim)
        float[] v = new float[tokens * kvDim];       // (tokens, kvHeads * headDim)
        float[] att = new float[tokens * qDim];      // (tokens, heads * headDim) attention output
        float[] proj = new float[tokens * hidden];   // (tokens, hidden) block output before the residual add
        float[] gate = new float[tokens * inter];    // (tokens, intermediate)
        float[] up = new float[tokens * inter];      // (tokens, intermediate)
        Rope.Table rot = rope == null ? null : rope.table(batch.positions());

        // Token embedding.
        for (int t = 0; t < tokens; t++) {
            int id = batch.tokenIds()[t];
            if (id < 0 || id >= config.vocabSize()) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + config.vocabSize());
            }
            w.embed().loadRow(id, x, t * hidden);
        }

        for (int l = 0; l < config.numLayers(); l++) {
            LayerWeights lw = w.layers().get(l);
            // Attention block: RMSNorm, then the q/k/v projections.
            ops.rmsNorm(x, tokens, hidden, lw.inputNorm(), eps, xn);
            Matmul.apply(xn, tokens, lw.q(), q);
            Matmul.apply(xn, tokens, lw.k(), k);
            Matmul.apply(xn, tokens, lw.v(), v);
            // Qwen3: RMSNorm of every q and k head over head_dim.
            if (lw.qNorm() != null) {
                ops.rmsNorm(q, tokens * heads, headDim, lw.qNorm(), eps, q);
                ops.rmsNorm(k, tokens * kvHeads, headDim, lw.kNorm(), eps, k);
            }
            // Rotary position embedding (ALiBi models add their bias inside attention instead).
            if (rot != null) {
                ops.rope(q, rot.cos(), rot.sin(), tokens, heads, rot.half());
                ops.rope(k, rot.cos(), rot.sin(), tokens, kvHeads, rot.half());
            }
            // Store the new K/V at their slots, then attend over each token's context [0, position].
            for (int t = 0; t < tokens; t++) {
                int pos = batch.positions()[t];
                int block = batch.blockTables()[seqOf[t]][pos / cache.blockSize()];
                cache.write(l, k, v, t, block, pos % cache.blockSize());
            }
            Attention.run(q, batch, seqOf, cache, l, heads, slopes, att);
            // Output projection and residual.
            Matmul.apply(att, tokens, lw.o(), proj);
            ops.add(x, proj, tokens * hidden);

            // MLP block: RMSNorm, SwiGLU (silu(gate) * up), down projection, residual.
            ops.rmsNorm(x, tokens, hidden, lw.postNorm(), eps, xn);
            Matmul.apply(xn, tokens, lw.gate(), gate);
            Matmul.apply(xn, tokens, lw.up(), up);
            ops.siluMul(gate, up, tokens * inter);
            Matmul.apply(gate, tokens, lw.down(), proj);
            ops.add(x, proj, tokens * hidden);
        }

        // Final norm and lm_head, for the requested rows only.
        int[] rows = batch.logitRows();
        float[] last = new float[rows.length * hidden]; // (logitRows, hidden)
        for (int r = 0; r < rows.length; r++) System.arraycopy(x, rows[r] * hidden, last, r * hidden, hidden);
        ops.rmsNorm(last, rows.length, hidden, w.finalNorm(), eps, last);
        int vocab = config.vocabSize();
        float[] logits = new float[rows.length * vocab]; // (logitRows, vocab)
        Matmul.apply(last, rows.length, w.lmHead(), logits);
        float[][] out = new float[rows.length][];
        for (int r = 0; r < rows.length; r++) out[r] = java.util.Arrays.copyOfRange(logits, r * vocab, (r + 1) * vocab);
        return out;
    }

    private PagedKvCache checkCache(KvCache kvCache) {
        if (!(kvCache instanceof PagedKvCache c) || c.numLayers() != config.numLayers()
                || c.numKvHeads() != config.numKvHeads() || c.headDim() != config.headDim()) {
            throw new IllegalArgumentException("KV cache was not allocated by this model: " + kvCache);
        }
        return c;
    }

    /** (tokens) index of the sequence each token belongs to; also checks the batch's shape. */
    private static int[] sequenceOfEachToken(ForwardBatch b) {
        int n = b.numTokens(), seqs = b.numSeqs();
        if (b.positions().length != n || b.queryStart().length != seqs + 1 || b.blockTables().length != seqs
                || b.queryStart()[0] != 0 || b.queryStart()[seqs] != n) {
            throw new IllegalArgumentException("inconsistent ForwardBatch: " + n + " tokens, " + seqs + " sequences, queryStart "
                    + java.util.Arrays.toString(b.queryStart()));
        }
        int[] seqOf = new int[n];
        for (int s = 0; s < seqs; s++) {
            for (int t = b.queryStart()[s]; t < b.queryStart()[s + 1]; t++) seqOf[t] = s;
        }
        for (int r : b.logitRows()) {
            if (r < 0 || r >= n) throw new IllegalArgumentException("logit row " + r + " outside the batch's " + n + " tokens");
        }
        return seqOf;
    }

    @Override
    public void close() {
        try {
            resources.close();
        } catch (Exception e) {
            throw new IllegalStateException("closing model resources", e);
        }
    }
}
