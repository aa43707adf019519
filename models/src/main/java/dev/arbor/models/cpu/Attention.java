package dev.arbor.models.cpu;

import dev.arbor.kernels.sampling.SamplingMath;
import dev.arbor.models.ForwardBatch;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Causal attention of each new token over its sequence's context {@code [0, position]} read from the
 * paged cache (the chunk's own K/V are written first, so chunked prefill equals unchunked), blocked by keys:
 * one cache block of keys at a time with an online softmax (FlashAttention's running max and sum). A query's
 * raw scores over its whole context are computed first into a per-thread scratch row (context floats), because
 * they don't depend on the running max and several blocks' FMA chains then run side by side; the softmax and
 * P·V then go block by block. Keys are stored transposed in a block ({@link PagedKvCache}:
 * {@code [headDim][slot]}), so a block's scores are one broadcast-FMA chain over the head dimension with the
 * block's slots in the vector lanes: no per-key lane sums. K/V are float32, or bfloat16 widened in the lanes.
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
        private boolean bf16;   // the cache stores bfloat16 K/V
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
            bf16 = cache.bf16();
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
            float[] acc = cache.scratch2(headDim);  // (headDim) the running Σ p_j v_j
            for (int idx = from; idx < to; idx++) {
                int h = idx / tokens, t = idx % tokens, kvh = h / group;
                int pos = batch.position(t), s = batch.seqOfToken(t);
                int qo = t * qDim + h * headDim, nb = pos / bs + 1;
                float[] p = cache.scratch(nb * bs + F.length());  // (nb, blockSize) the context's scores, then
                                                                 // probabilities; then L floats for expInPlace's lane sums
                float slope = slopes == null ? 0f : slopes[h];
                // Every block's raw scores first: they don't depend on the running max, so several blocks' FMA
                // chains can run side by side (see scores).
                if (bf16) scoresBf16(qo, s, kvh, pos, p);
                else scores(qo, s, kvh, pos, p);
                float m = Float.NEGATIVE_INFINITY, l = 0f;     // running max and sum of exp(score - m)
                java.util.Arrays.fill(acc, 0, headDim, 0f);
                for (int kb = 0; kb < nb; kb++) {
                    int n = Math.min(bs, pos + 1 - kb * bs);  // keys of this block in the context
                    int po = kb * bs;
                    // scores / sqrt(d) (+ ALiBi bias), and the running max over them
                    float bm = Math.max(m, scaleAndMax(p, po, n, scale, slopes != null, slope, po - pos));
                    // online softmax: rescale what came before by exp(m - bm), add this block's exp(score - bm)
                    float corr = SamplingMath.exp(m - bm);
                    float sum = Attention.expInPlace(p, po, n, bm, p, nb * bs);
                    l = l * corr + sum;
                    m = bm;
                    long vb = cache.offset(batch.block(s, kb), kvh, 0);
                    if (bf16) accumulateBf16(acc, corr, p, po, n, values, vb, headDim);
                    else accumulate(acc, corr, p, po, n, values, vb, headDim);
                }
                float inv = 1f / l;
                for (int i = 0; i < headDim; i++) out[qo + i] = acc[i] * inv;
            }
        }

        /**
         * Raw scores {@code p[kb·bs + j] = Σ_d q[qo + d] · K[d][j]} over the context of the query at {@code pos}
         * (K laid out {@code [headDim][bs]} per block): one FMA chain over d per score, in increasing d, lanes =
         * a block's slots; the slots past a block's vector bound by scalar {@link Math#fma}, the same operation.
         * The lane vectors ("jobs": block kb, lanes v·L ..) go through their chains eight (then four) at a time:
         * independent chains that keep both FMA pipes busy (one chain alone waits out every FMA's 4-cycle latency)
         * and share each q[d] broadcast. Lanes past a partial last block's n keys hold garbage nobody reads.
         */
        private void scores(int qo, int s, int kvh, int pos, float[] p) {
            int lanes = F.length(), vpb = bs / lanes, nb = pos / bs + 1;
            int lastN = pos + 1 - (nb - 1) * bs;
            int jobs = (nb - 1) * vpb + Math.min(vpb, (lastN + lanes - 1) / lanes);
            long rowBytes = 4L * bs;
            int g = 0;
            for (; g + 8 <= jobs; g += 8) {
                long b0 = jobBase(g, vpb, s, kvh), b1 = jobBase(g + 1, vpb, s, kvh);
                long b2 = jobBase(g + 2, vpb, s, kvh), b3 = jobBase(g + 3, vpb, s, kvh);
                long b4 = jobBase(g + 4, vpb, s, kvh), b5 = jobBase(g + 5, vpb, s, kvh);
                long b6 = jobBase(g + 6, vpb, s, kvh), b7 = jobBase(g + 7, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
                for (int d = 0; d < headDim; d++) {
                    FloatVector qd = FloatVector.broadcast(F, q[qo + d]);
                    long o = d * rowBytes;
                    s0 = FloatVector.fromMemorySegment(F, keys, b0 + o, ORDER).fma(qd, s0);
                    s1 = FloatVector.fromMemorySegment(F, keys, b1 + o, ORDER).fma(qd, s1);
                    s2 = FloatVector.fromMemorySegment(F, keys, b2 + o, ORDER).fma(qd, s2);
                    s3 = FloatVector.fromMemorySegment(F, keys, b3 + o, ORDER).fma(qd, s3);
                    s4 = FloatVector.fromMemorySegment(F, keys, b4 + o, ORDER).fma(qd, s4);
                    s5 = FloatVector.fromMemorySegment(F, keys, b5 + o, ORDER).fma(qd, s5);
                    s6 = FloatVector.fromMemorySegment(F, keys, b6 + o, ORDER).fma(qd, s6);
                    s7 = FloatVector.fromMemorySegment(F, keys, b7 + o, ORDER).fma(qd, s7);
                }
                s0.intoArray(p, jobSlot(g, vpb));
                s1.intoArray(p, jobSlot(g + 1, vpb));
                s2.intoArray(p, jobSlot(g + 2, vpb));
                s3.intoArray(p, jobSlot(g + 3, vpb));
                s4.intoArray(p, jobSlot(g + 4, vpb));
                s5.intoArray(p, jobSlot(g + 5, vpb));
                s6.intoArray(p, jobSlot(g + 6, vpb));
                s7.intoArray(p, jobSlot(g + 7, vpb));
            }
            for (; g + 4 <= jobs; g += 4) {
                long b0 = jobBase(g, vpb, s, kvh), b1 = jobBase(g + 1, vpb, s, kvh);
                long b2 = jobBase(g + 2, vpb, s, kvh), b3 = jobBase(g + 3, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
                for (int d = 0; d < headDim; d++) {
                    FloatVector qd = FloatVector.broadcast(F, q[qo + d]);
                    long o = d * rowBytes;
                    s0 = FloatVector.fromMemorySegment(F, keys, b0 + o, ORDER).fma(qd, s0);
                    s1 = FloatVector.fromMemorySegment(F, keys, b1 + o, ORDER).fma(qd, s1);
                    s2 = FloatVector.fromMemorySegment(F, keys, b2 + o, ORDER).fma(qd, s2);
                    s3 = FloatVector.fromMemorySegment(F, keys, b3 + o, ORDER).fma(qd, s3);
                }
                s0.intoArray(p, jobSlot(g, vpb));
                s1.intoArray(p, jobSlot(g + 1, vpb));
                s2.intoArray(p, jobSlot(g + 2, vpb));
                s3.intoArray(p, jobSlot(g + 3, vpb));
            }
            for (; g < jobs; g++) {
                long b0 = jobBase(g, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F);
                for (int d = 0; d < headDim; d++) {
                    s0 = FloatVector.fromMemorySegment(F, keys, b0 + d * rowBytes, ORDER).fma(FloatVector.broadcast(F, q[qo + d]), s0);
                }
                s0.intoArray(p, jobSlot(g, vpb));
            }
            for (int kb = 0; kb < nb && vpb * lanes < bs; kb++) {   // the slots past each block's vectors
                int n = Math.min(bs, pos + 1 - kb * bs);
                long base = cache.offset(batch.block(s, kb), kvh, 0);
                for (int j = vpb * lanes; j < n; j++) {
                    float sc = 0f;
                    for (int d = 0; d < headDim; d++) sc = Math.fma(cache.at(keys, base, (long) d * bs + j), q[qo + d], sc);
                    p[kb * bs + j] = sc;
                }
            }
        }

        /**
         * {@link #scores} over a bfloat16 cache: the same chains on the stored values widened to float32 (exact). Written out
         * beside {@link #scores} rather than sharing it through a load helper: a helper returning the widened vector was
         * not inlined by C2 there and the chains ran 2x slower (boxed vectors); the same holds for {@link #accumulateBf16}.
         */
        private void scoresBf16(int qo, int s, int kvh, int pos, float[] p) {
            int lanes = F.length(), vpb = bs / lanes, nb = pos / bs + 1;
            int lastN = pos + 1 - (nb - 1) * bs;
            int jobs = (nb - 1) * vpb + Math.min(vpb, (lastN + lanes - 1) / lanes);
            long rowBytes = 2L * bs;
            int g = 0;
            for (; g + 8 <= jobs; g += 8) {
                long b0 = jobBase(g, vpb, s, kvh), b1 = jobBase(g + 1, vpb, s, kvh);
                long b2 = jobBase(g + 2, vpb, s, kvh), b3 = jobBase(g + 3, vpb, s, kvh);
                long b4 = jobBase(g + 4, vpb, s, kvh), b5 = jobBase(g + 5, vpb, s, kvh);
                long b6 = jobBase(g + 6, vpb, s, kvh), b7 = jobBase(g + 7, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
                for (int d = 0; d < headDim; d++) {
                    FloatVector qd = FloatVector.broadcast(F, q[qo + d]);
                    long o = d * rowBytes;
                    s0 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b0 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s0);
                    s1 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b1 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s1);
                    s2 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b2 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s2);
                    s3 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b3 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s3);
                    s4 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b4 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s4);
                    s5 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b5 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s5);
                    s6 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b6 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s6);
                    s7 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b7 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s7);
                }
                s0.intoArray(p, jobSlot(g, vpb));
                s1.intoArray(p, jobSlot(g + 1, vpb));
                s2.intoArray(p, jobSlot(g + 2, vpb));
                s3.intoArray(p, jobSlot(g + 3, vpb));
                s4.intoArray(p, jobSlot(g + 4, vpb));
                s5.intoArray(p, jobSlot(g + 5, vpb));
                s6.intoArray(p, jobSlot(g + 6, vpb));
                s7.intoArray(p, jobSlot(g + 7, vpb));
            }
            for (; g + 4 <= jobs; g += 4) {
                long b0 = jobBase(g, vpb, s, kvh), b1 = jobBase(g + 1, vpb, s, kvh);
                long b2 = jobBase(g + 2, vpb, s, kvh), b3 = jobBase(g + 3, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
                for (int d = 0; d < headDim; d++) {
                    FloatVector qd = FloatVector.broadcast(F, q[qo + d]);
                    long o = d * rowBytes;
                    s0 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b0 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s0);
                    s1 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b1 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s1);
                    s2 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b2 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s2);
                    s3 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b3 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(qd, s3);
                }
                s0.intoArray(p, jobSlot(g, vpb));
                s1.intoArray(p, jobSlot(g + 1, vpb));
                s2.intoArray(p, jobSlot(g + 2, vpb));
                s3.intoArray(p, jobSlot(g + 3, vpb));
            }
            for (; g < jobs; g++) {
                long b0 = jobBase(g, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F);
                for (int d = 0; d < headDim; d++) {
                    s0 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b0 + d * rowBytes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.broadcast(F, q[qo + d]), s0);
                }
                s0.intoArray(p, jobSlot(g, vpb));
            }
            for (int kb = 0; kb < nb && vpb * lanes < bs; kb++) {   // the slots past each block's vectors
                int n = Math.min(bs, pos + 1 - kb * bs);
                long base = cache.offset(batch.block(s, kb), kvh, 0);
                for (int j = vpb * lanes; j < n; j++) {
                    float sc = 0f;
                    for (int d = 0; d < headDim; d++) sc = Math.fma(cache.at(keys, base, (long) d * bs + j), q[qo + d], sc);
                    p[kb * bs + j] = sc;
                }
            }
        }

        /** Byte offset of job g's first key slot (block g / vpb, lanes (g % vpb)·L). */
        private long jobBase(int g, int vpb, int s, int kvh) {
            return cache.offset(batch.block(s, g / vpb), kvh, 0) + (long) cache.elementBytes() * (g % vpb) * F.length();
        }

        private int jobSlot(int g, int vpb) { return (g / vpb) * bs + (g % vpb) * F.length(); }
    }

    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Short> S16 = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /**
     * {@code p[po + j] = p[po + j] · scale (+ slope · (rel + j))} for j < n; returns their max. Scalar on purpose: a
     * vector version (multiply, max, {@code reduceLanes(MAX)}) allocated 228 bytes per block in the engine's
     * compiled code (19 MB per 128-token step, {@code WorkspaceAllocationTest}) though not in a loop of its own.
     */
    static float scaleAndMax(float[] p, int po, int n, float scale, boolean alibi, float slope, int rel) {
        float bm = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            float sc = p[po + j] * scale;
            if (alibi) sc += slope * (rel + j);
            p[po + j] = sc;
            if (sc > bm) bm = sc;
        }
        return bm;
    }

    /**
     * {@code acc[i] = acc[i] · corr + Σ_{j<n} p[po + j] · V[j][i]} for the block whose values start at byte
     * {@code base}, laid out {@code [slot][headDim]}; vectors over i. Four head-dim vectors at a time, each as two FMA
     * chains (even keys onto acc · corr, odd keys from zero, in order, then added): eight independent chains to
     * hide the FMA latency. The rest one vector at a time, then scalar, with one chain (j in order) each. A fixed
     * order that depends on the block alone, so a query's bits don't depend on what else is in the step.
     */
    private static void accumulate(float[] acc, float corr, float[] p, int po, int n, MemorySegment values, long base, int headDim) {
        int i = 0, lanes = F.length(), upper = F.loopBound(headDim);
        long rowBytes = 4L * headDim;
        for (; i + 4 * lanes <= upper; i += 4 * lanes) {
            // eight chains: four head-dim vectors × the block's even and odd keys, added together at the end
            FloatVector a0 = FloatVector.fromArray(F, acc, i).mul(corr);
            FloatVector a1 = FloatVector.fromArray(F, acc, i + lanes).mul(corr);
            FloatVector a2 = FloatVector.fromArray(F, acc, i + 2 * lanes).mul(corr);
            FloatVector a3 = FloatVector.fromArray(F, acc, i + 3 * lanes).mul(corr);
            FloatVector b0 = FloatVector.zero(F), b1 = b0, b2 = b0, b3 = b0;
            long at = base + 4L * i;
            int j = 0;
            for (; j + 2 <= n; j += 2) {
                FloatVector pj = FloatVector.broadcast(F, p[po + j]), pk = FloatVector.broadcast(F, p[po + j + 1]);
                long r = at + j * rowBytes, r2 = r + rowBytes;
                a0 = FloatVector.fromMemorySegment(F, values, r, ORDER).fma(pj, a0);
                a1 = FloatVector.fromMemorySegment(F, values, r + 4L * lanes, ORDER).fma(pj, a1);
                a2 = FloatVector.fromMemorySegment(F, values, r + 8L * lanes, ORDER).fma(pj, a2);
                a3 = FloatVector.fromMemorySegment(F, values, r + 12L * lanes, ORDER).fma(pj, a3);
                b0 = FloatVector.fromMemorySegment(F, values, r2, ORDER).fma(pk, b0);
                b1 = FloatVector.fromMemorySegment(F, values, r2 + 4L * lanes, ORDER).fma(pk, b1);
                b2 = FloatVector.fromMemorySegment(F, values, r2 + 8L * lanes, ORDER).fma(pk, b2);
                b3 = FloatVector.fromMemorySegment(F, values, r2 + 12L * lanes, ORDER).fma(pk, b3);
            }
            if (j < n) {
                FloatVector pj = FloatVector.broadcast(F, p[po + j]);
                long r = at + j * rowBytes;
                a0 = FloatVector.fromMemorySegment(F, values, r, ORDER).fma(pj, a0);
                a1 = FloatVector.fromMemorySegment(F, values, r + 4L * lanes, ORDER).fma(pj, a1);
                a2 = FloatVector.fromMemorySegment(F, values, r + 8L * lanes, ORDER).fma(pj, a2);
                a3 = FloatVector.fromMemorySegment(F, values, r + 12L * lanes, ORDER).fma(pj, a3);
            }
            a0.add(b0).intoArray(acc, i);
            a1.add(b1).intoArray(acc, i + lanes);
            a2.add(b2).intoArray(acc, i + 2 * lanes);
            a3.add(b3).intoArray(acc, i + 3 * lanes);
        }
        for (; i < upper; i += lanes) {
            FloatVector a = FloatVector.fromArray(F, acc, i).mul(corr);
            long at = base + 4L * i;
            for (int j = 0; j < n; j++) {
                a = FloatVector.fromMemorySegment(F, values, at + j * rowBytes, ORDER).fma(FloatVector.broadcast(F, p[po + j]), a);
            }
            a.intoArray(acc, i);
        }
        for (; i < headDim; i++) {
            float a = acc[i] * corr;
            for (int j = 0; j < n; j++) a = Math.fma(values.get(PagedKvCache.FLOAT, base + j * rowBytes + 4L * i), p[po + j], a);
            acc[i] = a;
        }
    }

    /** {@link #accumulate} over a bfloat16 cache: the same chains on the stored values widened to float32 (exact). */
    private static void accumulateBf16(float[] acc, float corr, float[] p, int po, int n, MemorySegment values, long base, int headDim) {
        int i = 0, lanes = F.length(), upper = F.loopBound(headDim);
        long rowBytes = 2L * headDim;
        for (; i + 4 * lanes <= upper; i += 4 * lanes) {
            // eight chains: four head-dim vectors × the block's even and odd keys, added together at the end
            FloatVector a0 = FloatVector.fromArray(F, acc, i).mul(corr);
            FloatVector a1 = FloatVector.fromArray(F, acc, i + lanes).mul(corr);
            FloatVector a2 = FloatVector.fromArray(F, acc, i + 2 * lanes).mul(corr);
            FloatVector a3 = FloatVector.fromArray(F, acc, i + 3 * lanes).mul(corr);
            FloatVector b0 = FloatVector.zero(F), b1 = b0, b2 = b0, b3 = b0;
            long at = base + 2L * i;
            int j = 0;
            for (; j + 2 <= n; j += 2) {
                FloatVector pj = FloatVector.broadcast(F, p[po + j]), pk = FloatVector.broadcast(F, p[po + j + 1]);
                long r = at + j * rowBytes, r2 = r + rowBytes;
                a0 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a0);
                a1 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 2L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a1);
                a2 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 4L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a2);
                a3 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 6L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a3);
                b0 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pk, b0);
                b1 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2 + 2L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pk, b1);
                b2 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2 + 4L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pk, b2);
                b3 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2 + 6L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pk, b3);
            }
            if (j < n) {
                FloatVector pj = FloatVector.broadcast(F, p[po + j]);
                long r = at + j * rowBytes;
                a0 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a0);
                a1 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 2L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a1);
                a2 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 4L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a2);
                a3 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 6L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(pj, a3);
            }
            a0.add(b0).intoArray(acc, i);
            a1.add(b1).intoArray(acc, i + lanes);
            a2.add(b2).intoArray(acc, i + 2 * lanes);
            a3.add(b3).intoArray(acc, i + 3 * lanes);
        }
        for (; i < upper; i += lanes) {
            FloatVector a = FloatVector.fromArray(F, acc, i).mul(corr);
            long at = base + 2L * i;
            for (int j = 0; j < n; j++) {
                a = ((IntVector) ShortVector.fromMemorySegment(S16, values, at + j * rowBytes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.broadcast(F, p[po + j]), a);
            }
            a.intoArray(acc, i);
        }
        for (; i < headDim; i++) {
            float a = acc[i] * corr;
            for (int j = 0; j < n; j++) a = Math.fma(PagedKvCache.bf16At(values, base + j * rowBytes + 2L * i), p[po + j], a);
            acc[i] = a;
        }
    }

    /** {@link #expInPlace(float[], int, int, float, float[], int)} from offset 0, with its own lane buffer. */
    static float expInPlace(float[] x, int n, float max) { return expInPlace(x, 0, n, max, new float[F.length()], 0); }

    /**
     * {@code x[o + j] = exp(x[o + j] - max)} for j < n (all ≤ 0 after the max is subtracted); returns their sum:
     * the vector lanes' partial sums added by {@link Lanes#sum}'s fixed tree, then the scalar tail in order. The exp
     * is {@link SamplingMath#exp}'s polynomial (Cephes' expf, within one float ulp of {@code Math.exp}), written out
     * in the lanes with plain FMAs and adds, so it has the same bits interpreted and compiled (the Vector API's EXP
     * intrinsic and its Java fallback round differently) and in the scalar tail. The lanes' partial sums go through
     * {@code lanes[lo .. lo + L)} and are added there in scalar code, in {@link Lanes#sum}'s halving order: passing
     * the vector to {@code Lanes.sum} boxed it whenever C2 did not inline that call here (a 128-token CPU step
     * allocated 19 MB, {@code WorkspaceAllocationTest}).
     */
    static float expInPlace(float[] x, int o, int n, float max, float[] lanes, int lo) {
        int j = 0, upper = F.loopBound(n);
        float sum = 0f;
        if (upper > 0) {
            FloatVector acc = FloatVector.zero(F);
            for (; j < upper; j += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, o + j).sub(max);
                var low = v.compare(VectorOperators.LT, EXP_LOW);                 // (those lanes compute garbage, then 0)
                IntVector k = (IntVector) v.fma(LOG2E, -0.5f).convert(VectorOperators.F2I, 0);
                FloatVector kf = (FloatVector) k.convert(VectorOperators.I2F, 0), nk = kf.neg();
                FloatVector r = nk.fma(FloatVector.broadcast(F, LN2_LO), nk.fma(FloatVector.broadcast(F, LN2_HI), v));
                FloatVector pp = r.fma(P0, P1).fma(r, FloatVector.broadcast(F, P2)).fma(r, FloatVector.broadcast(F, P3))
                        .fma(r, FloatVector.broadcast(F, P4)).fma(r, FloatVector.broadcast(F, P5));
                pp = pp.fma(r.mul(r), r).add(1f);
                FloatVector scale = k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
                FloatVector e = pp.mul(scale).blend(0f, low);
                e.intoArray(x, o + j);
                acc = acc.add(e);
            }
            acc.intoArray(lanes, lo);
            for (int half = F.length() / 2; half >= 1; half /= 2) {
                for (int i = 0; i < half; i++) lanes[lo + i] = lanes[lo + i] + lanes[lo + i + half];
            }
            sum = lanes[lo];
        }
        for (; j < n; j++) {
            float e = SamplingMath.exp(x[o + j] - max);
            x[o + j] = e;
            sum += e;
        }
        return sum;
    }

    /** {@link SamplingMath#exp}'s constants (Cephes' expf): below EXP_LOW the result is 0. */
    private static final float EXP_LOW = -87.3f, LOG2E = 1.44269504f, LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f, P1 = 1.3981999507e-3f, P2 = 8.3334519073e-3f, P3 = 4.1665795894e-2f,
            P4 = 1.6666665459e-1f, P5 = 5.0000001201e-1f;

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
                    for (int i = 0; i < headDim; i++) d += (double) q[qo + i] * cache.at(keys, base, (long) i * bs + j % bs);
                    sc[j] = d / Math.sqrt(headDim) + (slopes == null ? 0 : (double) slopes[h] * (j - pos));
                    max = Math.max(max, sc[j]);
                }
                double sum = 0;
                for (int j = 0; j <= pos; j++) sum += sc[j] = Math.exp(sc[j] - max);
                for (int i = 0; i < headDim; i++) {
                    double o = 0;
                    for (int j = 0; j <= pos; j++) {
                        long base = cache.offset(batch.block(s, j / bs), kvh, 0);
                        o += sc[j] * cache.at(values, base, (long) (j % bs) * headDim + i);
                    }
                    out[qo + i] = (float) (o / sum);
                }
            }
        }
    }
}
