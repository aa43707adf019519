package dev.arbor.models.cpu;

import dev.arbor.models.ForwardBatch;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal attention of each new token over its sequence's context {@code [0, position]} read from the
 * paged cache (the chunk's own K/V are written first, so chunked prefill equals unchunked), blocked by keys:
 * one cache block of keys at a time with an online softmax (FlashAttention's running max and sum), so a
 * query never holds a score row as long as its context. Keys are stored transposed in a block
 * ({@link PagedKvCache}: {@code [headDim][slot]}), so a block's scores are one broadcast-FMA chain over the
 * head dimension with the block's slots in the vector lanes: no per-key lane sums.
 *
 * <p>Work is parallel over (query head, token), head-major, so consecutive items of a thread read the same
 * head's keys and values (they stay in L1/L2). Every query's arithmetic is defined by its own position and
 * the cache blocks alone (which queries share a step does not enter), so a result has the same bits in and
 * out of a batch, and chunked prefill equals unchunked. {@link #reference} is the plain two-pass softmax.
 */
final class Attention {
    private Attention() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /**
     * @param q        (tokens, heads * headDim) queries after RoPE / norm
     * @param slopes   (heads) ALiBi slopes, or null for none
     * @param out      (tokens, heads * headDim)
     */
    static void run(float[] q, ForwardBatch batch, PagedKvCache cache, int layer, int heads,
                    float[] slopes, float[] out) {
        new Task().run(q, batch, cache, layer, heads, slopes, out);
    }

    /** {@link Attention#run} as a reusable object: the forward pass keeps one, so a call allocates nothing. Not thread-safe. */
    static final class Task implements Parallel.Range {
        private float[] q, slopes, out;
        private ForwardBatch batch;
        private PagedKvCache cache;
        private int tokens, heads, headDim, group, bs, qDim;
        private float scale;
        private MemorySegment keys, values;

        void run(float[] q, ForwardBatch batch, PagedKvCache cache, int layer, int heads, float[] slopes, float[] out) {
            this.q = q;
            this.batch = batch;
            this.cache = cache;
            this.heads = heads;
            this.slopes = slopes;
            this.out = out;
            tokens = batch.numTokens();
            headDim = cache.headDim();
            group = heads / cache.numKvHeads();
            bs = cache.blockSize();
            qDim = heads * headDim;
            scale = (float) (1.0 / Math.sqrt(headDim));
            keys = cache.keys(layer);
            values = cache.values(layer);
            int ctxMax = batch.maxContextLen();
            int grain = Math.max(1, 32768 / Math.max(1, ctxMax * headDim));
            try {
                Parallel.forRange(tokens * heads, grain, this);
            } finally {
                this.q = null;
                this.out = null;
                this.batch = null;
            }
        }

        @Override public void run(int from, int to) {
            float[] p = cache.scratch(bs);          // (blockSize) one key block's scores, then probabilities
            float[] acc = cache.scratch2(headDim);  // (headDim) the running Σ p_j v_j
            for (int idx = from; idx < to; idx++) {
                int h = idx / tokens, t = idx % tokens, kvh = h / group;
                int pos = batch.position(t), s = batch.seqOfToken(t);
                int qo = t * qDim + h * headDim;
                float slope = slopes == null ? 0f : slopes[h];
                float m = Float.NEGATIVE_INFINITY, l = 0f;     // running max and sum of exp(score - m)
                java.util.Arrays.fill(acc, 0, headDim, 0f);
                for (int kb = 0; kb * bs <= pos; kb++) {
                    int n = Math.min(bs, pos + 1 - kb * bs);  // keys of this block in the context
                    long base = cache.offset(batch.block(s, kb), kvh, 0);
                    // scores of the block: q · k_j / sqrt(d) (+ ALiBi bias)
                    scores(q, qo, keys, base, headDim, bs, n, p);
                    float bm = m;
                    for (int j = 0; j < n; j++) {
                        float sc = p[j] * scale;
                        if (slopes != null) sc += slope * (kb * bs + j - pos);
                        p[j] = sc;
                        if (sc > bm) bm = sc;
                    }
                    // online softmax: rescale what came before by exp(m - bm), add this block's exp(score - bm)
                    float corr = (float) Math.exp(m - bm);
                    float sum = Attention.expInPlace(p, n, bm);
                    l = l * corr + sum;
                    m = bm;
                    accumulate(acc, corr, p, n, values, base, headDim);
                }
                float inv = 1f / l;
                for (int i = 0; i < headDim; i++) out[qo + i] = acc[i] * inv;
            }
        }
    }

    /**
     * {@code p[j] = Σ_d q[qo + d] · K[d][j]} for slots j < n of one block whose keys start at byte {@code base},
     * laid out {@code [headDim][bs]}: an FMA chain over d for every slot (lanes = slots; the slots past the
     * vector bound by scalar {@link Math#fma}, the same operation).
     */
    private static void scores(float[] q, int qo, MemorySegment keys, long base, int headDim, int bs, int n, float[] p) {
        int lanes = F.length(), j = 0;
        long rowBytes = 4L * bs;
        for (; j + lanes <= bs && j < n; j += lanes) {
            FloatVector s = FloatVector.zero(F);
            long at = base + 4L * j;
            for (int d = 0; d < headDim; d++) {
                s = FloatVector.fromMemorySegment(F, keys, at + d * rowBytes, ByteOrder.nativeOrder())
                        .fma(FloatVector.broadcast(F, q[qo + d]), s);
            }
            s.intoArray(p, j);
        }
        for (; j < n; j++) {
            float s = 0f;
            for (int d = 0; d < headDim; d++) s = Math.fma(keys.get(PagedKvCache.FLOAT, base + d * rowBytes + 4L * j), q[qo + d], s);
            p[j] = s;
        }
    }

    /**
     * {@code acc[i] = acc[i] · corr + Σ_{j<n} p[j] · V[j][i]} (FMA, j in order) for the block whose values start
     * at byte {@code base}, laid out {@code [slot][headDim]}; vectors over i, the accumulator held in a register
     * across the block's keys.
     */
    private static void accumulate(float[] acc, float corr, float[] p, int n, MemorySegment values, long base, int headDim) {
        int i = 0, upper = F.loopBound(headDim);
        long rowBytes = 4L * headDim;
        for (; i < upper; i += F.length()) {
            FloatVector a = FloatVector.fromArray(F, acc, i).mul(corr);
            long at = base + 4L * i;
            for (int j = 0; j < n; j++) {
                a = FloatVector.fromMemorySegment(F, values, at + j * rowBytes, ByteOrder.nativeOrder())
                        .fma(FloatVector.broadcast(F, p[j]), a);
            }
            a.intoArray(acc, i);
        }
        for (; i < headDim; i++) {
            float a = acc[i] * corr;
            for (int j = 0; j < n; j++) a = Math.fma(values.get(PagedKvCache.FLOAT, base + j * rowBytes + 4L * i), p[j], a);
            acc[i] = a;
        }
    }

    /**
     * {@code x[j] = exp(x[j] - max)} for j < n; returns the sum. Scalar {@link Math#exp}: the
     * vector EXP intrinsic and its interpreted fallback round differently, which would make a
     * result depend on whether the caller had been JIT-compiled yet.
     */
    static float expInPlace(float[] x, int n, float max) {
        float sum = 0;
        for (int j = 0; j < n; j++) {
            float e = (float) Math.exp(x[j] - max);
            x[j] = e;
            sum += e;
        }
        return sum;
    }

    /**
     * The plain definition, one query at a time in double precision: scores over the whole context, the max
     * subtracted, exp, normalised, values weighted. Reads the same cache layout.
     */
    static void reference(float[] q, ForwardBatch batch, PagedKvCache cache, int layer, int heads, float[] slopes, float[] out) {
        int headDim = cache.headDim(), group = heads / cache.numKvHeads(), bs = cache.blockSize(), qDim = heads * headDim;
        MemorySegment keys = cache.keys(layer), values = cache.values(layer);
        for (int t = 0; t < batch.numTokens(); t++) {
            int pos = batch.position(t), s = batch.seqOfToken(t);
            for (int h = 0; h < heads; h++) {
                int qo = t * qDim + h * headDim, kvh = h / group;
                double[] sc = new double[pos + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= pos; j++) {
                    long base = cache.offset(batch.block(s, j / bs), kvh, 0);
                    double d = 0;
                    for (int i = 0; i < headDim; i++) d += (double) q[qo + i] * keys.get(PagedKvCache.FLOAT, base + 4L * (i * bs + j % bs));
                    sc[j] = d / Math.sqrt(headDim) + (slopes == null ? 0 : (double) slopes[h] * (j - pos));
                    max = Math.max(max, sc[j]);
                }
                double sum = 0;
                for (int j = 0; j <= pos; j++) sum += sc[j] = Math.exp(sc[j] - max);
                for (int i = 0; i < headDim; i++) {
                    double o = 0;
                    for (int j = 0; j <= pos; j++) {
                        long base = cache.offset(batch.block(s, j / bs), kvh, 0);
                        o += sc[j] * values.get(PagedKvCache.FLOAT, base + 4L * ((j % bs) * headDim + i));
                    }
                    out[qo + i] = (float) (o / sum);
                }
            }
        }
    }
}
