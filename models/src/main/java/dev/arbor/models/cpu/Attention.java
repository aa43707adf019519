package dev.arbor.models.cpu;

import dev.arbor.models.ForwardBatch;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal attention of each new token over its sequence's context {@code [0, position]} read from the
 * paged cache (the chunk's own K/V are written first, so chunked prefill equals unchunked).
 * Parallel over (token, query head); grouped-query heads share their KV head.
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
        private int heads, headDim, group, bs, qDim, ctxMax;
        private float scale;
        private MemorySegment keys, values;

        void run(float[] q, ForwardBatch batch, PagedKvCache cache, int layer, int heads, float[] slopes, float[] out) {
            int tokens = batch.numTokens();
            this.q = q;
            this.batch = batch;
            this.cache = cache;
            this.heads = heads;
            this.slopes = slopes;
            this.out = out;
            headDim = cache.headDim();
            group = heads / cache.numKvHeads();
            bs = cache.blockSize();
            qDim = heads * headDim;
            scale = (float) (1.0 / Math.sqrt(headDim));
            keys = cache.keys(layer);
            values = cache.values(layer);
            ctxMax = batch.maxContextLen();
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
            float[] scores = cache.scratch(ctxMax); // (context) this thread's score row
            float[] acc = cache.scratch2(headDim);  // (headDim)
            for (int idx = from; idx < to; idx++) {
                int t = idx / heads, h = idx % heads, kvh = h / group;
                int pos = batch.position(t), s = batch.seqOfToken(t);
                int qo = t * qDim + h * headDim;
                // scores = q · k_j / sqrt(d) (+ ALiBi bias), j = 0..pos
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j <= pos; j++) {
                    long ko = cache.offset(batch.block(s, j / bs), kvh, j % bs);
                    float sc = dot(q, qo, keys, ko, headDim) * scale;
                    if (slopes != null) sc += slopes[h] * (j - pos);
                    scores[j] = sc;
                    if (sc > max) max = sc;
                }
                // softmax over the context
                float sum = expInPlace(scores, pos + 1, max);
                // out = Σ_j p_j v_j
                java.util.Arrays.fill(acc, 0, headDim, 0f);
                for (int j = 0; j <= pos; j++) {
                    long vo = cache.offset(batch.block(s, j / bs), kvh, j % bs);
                    axpy(scores[j], values, vo, acc, headDim);
                }
                float inv = 1f / sum;
                for (int i = 0; i < headDim; i++) out[qo + i] = acc[i] * inv;
            }
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

    private static float dot(float[] a, int ao, MemorySegment b, long bo, int n) {
        int i = 0, upper = F.loopBound(n);
        float s = 0;
        if (upper > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (; i < upper; i += F.length()) {
                acc = FloatVector.fromArray(F, a, ao + i)
                        .fma(FloatVector.fromMemorySegment(F, b, bo + 4L * i, ByteOrder.nativeOrder()), acc);
            }
            s = Lanes.sum(acc);
        }
        for (; i < n; i++) s += a[ao + i] * b.getAtIndex(PagedKvCache.FLOAT, bo / 4 + i);
        return s;
    }

    /** {@code acc += p * b[bo ..]}. */
    private static void axpy(float p, MemorySegment b, long bo, float[] acc, int n) {
        int i = 0, upper = F.loopBound(n);
        FloatVector pv = FloatVector.broadcast(F, p);
        for (; i < upper; i += F.length()) {
            FloatVector.fromMemorySegment(F, b, bo + 4L * i, ByteOrder.nativeOrder())
                    .fma(pv, FloatVector.fromArray(F, acc, i)).intoArray(acc, i);
        }
        for (; i < n; i++) acc[i] += p * b.getAtIndex(PagedKvCache.FLOAT, bo / 4 + i);
    }
}
