package dev.arbor.models.cpu;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.kernels.CpuLayerOps;
import dev.arbor.kernels.sampling.CpuSampler;
import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.Architecture;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.StepShape;
import dev.arbor.models.backend.Ops;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.Matrix;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * {@link Ops} on the CPU: float32 activations in heap arrays, matmuls and attention in multi-threaded
 * Vector API code, norms / SwiGLU / residual adds / RoPE as accel kernels on the accel CPU executor,
 * and a float32 paged KV store off-heap. The reference every other backend is compared with.
 */
public final class CpuOps implements Ops<float[]> {
    private final ModelConfig config;
    private final PagedKvCache cache;
    private final Rope rope;          // null for ALiBi models
    private final float[] slopes;     // (heads) ALiBi slopes, null for RoPE models
    private final float[] cos, sin;   // (maxTokens, headDim / 2) this step's rotation angles
    private final CpuLayerOps layer = new CpuLayerOps();
    private final Matmul.Task matmulTask = new Matmul.Task();           // reused: a step allocates nothing
    private final Attention.Task attentionTask = new Attention.Task();
    private final FusedStages.Qkv qkvTask = new FusedStages.Qkv();
    private final FusedStages.GateUp gateUpTask = new FusedStages.GateUp();
    private final FusedStages.Residual residualTask = new FusedStages.Residual();
    private final CpuSampler sampler;
    private float[] sampledLogits;    // the logits buffer last wrapped for the sampler, and its view
    private FloatArray sampledView;
    private final Map<float[], MemorySegment> heapViews = new IdentityHashMap<>();

    /** With a float32 KV cache (the reference). */
    public CpuOps(ModelConfig config, StepShape shape) {
        this(config, shape, false);
    }

    /** @param bf16Kv the KV cache in bfloat16 ({@code --kv-cache-dtype bf16}) instead of float32 */
    public CpuOps(ModelConfig config, StepShape shape, boolean bf16Kv) {
        this.config = config;
        this.cache = new PagedKvCache(config.numLayers(), shape.numBlocks(), shape.blockSize(), config.numKvHeads(), config.headDim(),
                bf16Kv);
        boolean alibi = config.family().positionEncoding() == Architecture.PositionEncoding.ALIBI;
        this.rope = alibi ? null : new Rope(config.rope(), config.headDim(), config.dtype());
        this.slopes = alibi ? Alibi.slopes(config.numHeads()) : null;
        int half = config.headDim() / 2;
        this.cos = alibi ? null : new float[shape.maxTokens() * half];
        this.sin = alibi ? null : new float[shape.maxTokens() * half];
        this.sampler = new CpuSampler(config.vocabSize());
    }

    /** KV bytes of one block over all layers: K and V, float32 or bfloat16. */
    public static long kvBytesPerBlock(ModelConfig c, int blockSize, boolean bf16Kv) {
        return 2L * c.numLayers() * c.numKvHeads() * blockSize * c.headDim() * (bf16Kv ? 2 : Float.BYTES);
    }

    @Override public float[] allocate(int rows, int cols) { return new float[Math.multiplyExact(rows, cols)]; }

    @Override
    public void upload(ForwardBatch b) {
        // cos/sin of every token's angles, computed once per step and shared by all layers
        if (rope != null) rope.fill(b.positionArray(), b.numTokens(), cos, sin);
    }

    @Override
    public void embed(Matrix table, ForwardBatch b, float[] out) {
        int hidden = table.cols();
        for (int t = 0; t < b.numTokens(); t++) table.loadRow(b.tokenId(t), out, t * hidden);
    }

    @Override
    public void rmsNorm(float[] x, int rows, int n, float[] weight, double eps, float[] out) {
        layer.rmsNorm(x, rows, n, weight, eps, out);
    }

    @Override
    public void matmul(float[] x, int rows, Matrix w, float[] out) {
        matmulTask.apply(x, rows, w, out);
    }

    @Override
    public void rope(float[] x, int heads, ForwardBatch b) {
        layer.rope(x, cos, sin, b.numTokens(), heads, rope.half());
    }

    @Override
    public void storeKv(int layer, float[] k, float[] v, ForwardBatch b) {
        int bs = cache.blockSize();
        MemorySegment ks = heapView(k), vs = heapView(v);
        for (int t = 0; t < b.numTokens(); t++) cache.write(layer, ks, vs, t, b.slot(t) / bs, b.slot(t) % bs);
    }

    /** A heap segment over a workspace buffer, made once per buffer (the forward pass passes the same ones every step). */
    private MemorySegment heapView(float[] a) {
        MemorySegment s = heapViews.get(a);
        if (s == null) {
            if (heapViews.size() >= 16) heapViews.clear();   // bounded for callers that pass fresh arrays
            s = MemorySegment.ofArray(a);
            heapViews.put(a, s);
        }
        return s;
    }

    @Override
    public void attention(int layer, float[] q, ForwardBatch b, float[] out) {
        attentionTask.run(q, b, cache, layer, config.numHeads(), slopes, out);
    }

    @Override public void siluMul(float[] gate, float[] up, int n) { SiluMul.apply(gate, up, 0, n); }

    @Override public void add(float[] x, float[] y, int n) { layer.add(x, y, n); }

    // ---- fused stages: one parallel region each (FusedStages), the bits of Ops' default compositions ----------------------

    @Override
    public void qkvRopeStore(int layer, LayerWeights lw, float[] xn, int tokens, ForwardBatch b, ModelConfig c, float[] q, float[] k, float[] v) {
        if (!FusedStages.Qkv.fits(c.headDim())) {
            Ops.super.qkvRopeStore(layer, lw, xn, tokens, b, c, q, k, v);
            return;
        }
        qkvTask.apply(xn, tokens, lw.q(), lw.k(), lw.v(), c.numHeads(), c.numKvHeads(), c.headDim(), lw.qNorm(), lw.kNorm(),
                c.rmsNormEps(), rope == null ? null : cos, rope == null ? null : sin, q, k, v);
        storeKv(layer, k, v, b);
    }

    @Override
    public void gateUpSilu(float[] xn, int tokens, Matrix gate, Matrix up, float[] out, float[] upBuffer) {
        gateUpTask.apply(xn, tokens, gate, up, out, upBuffer);
    }

    @Override
    public void matmulAddNorm(float[] in, int tokens, Matrix w, float[] proj, float[] x, float[] norm, double eps, float[] xn) {
        residualTask.apply(in, tokens, w, proj, x);
        if (norm != null) rmsNorm(x, tokens, w.rows(), norm, eps, xn);
    }

    @Override
    public void gatherRows(float[] x, int n, ForwardBatch b, int count, float[] out) {
        for (int r = 0; r < count; r++) System.arraycopy(x, b.logitRow(r) * n, out, r * n, n);
    }

    @Override
    public void copyRows(float[] src, int n, int srcRow, int count, float[] dst) {
        System.arraycopy(src, srcRow * n, dst, 0, count * n);
    }

    @Override
    public void sample(float[] logits, SamplingBatch batch) {
        if (sampledLogits != logits) {   // the workspace's logits buffer: wrapped once, not per step
            sampledLogits = logits;
            sampledView = new FloatArray(java.lang.foreign.MemorySegment.ofArray(logits));
        }
        sampler.sample(sampledView, batch);
    }

    @Override
    public void readRow(float[] x, int row, int n, float[] dst) {
        System.arraycopy(x, row * n, dst, 0, n);
    }

    @Override public void close() {}
}
