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
import jdk.incubator.vector.VectorShuffle;
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
 * head's keys and values (they stay in L1/L2). Four consecutive tokens of one sequence (prefill), or of sequences whose
 * block tables begin with the same physical blocks (decode of requests sharing a prompt prefix), go as a tile that loads
 * each shared K/V vector once for the four queries. Every query's arithmetic is defined by its own position and
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
            int idx = from;
            while (idx < to) {
                int h = idx / tokens, t = idx % tokens, s = batch.seqOfToken(t);
                // A tile: QUERIES consecutive tokens of one sequence and head (prefill), sharing each K/V load and
                // widening; otherwise (decode, a chunk's edges) one query. The same arithmetic per query either way.
                boolean tile = idx + QUERIES <= to && t + QUERIES <= tokens;
                for (int k = 1; tile && k < QUERIES; k++) tile = batch.seqOfToken(t + k) == s;
                int shared = tile || !groupedDecode || idx + QUERIES > to || t + QUERIES > tokens ? 0 : sharedBlocks(t);
                if (tile) {
                    queryTile(h, t, s);
                    idx += QUERIES;
                } else if (shared > 0) {
                    // decode: QUERIES consecutive sequences whose block tables begin with the same physical blocks
                    // (a shared prompt prefix), the shared blocks' K/V read once for the four
                    queryTileShared(h, t, shared);
                    idx += QUERIES;
                } else {
                    queryTile1(h, t, s);
                    idx++;
                }
            }
        }

        /** One query (head h, token t of sequence s): its scores, then the block-by-block online softmax and P·V. */
        private void queryTile1(int h, int t, int s) {
            int kvh = h / group, pos = batch.position(t), qo = t * qDim + h * headDim, nb = pos / bs + 1;
            float[] p = cache.scratch(nb * bs);   // (nb, blockSize) the context's scores, then probabilities
            // Every block's raw scores first: they don't depend on the running max, so several blocks' FMA
            // chains can run side by side (see scores).
            if (bf16) scoresBf16(qo, s, kvh, pos, p, 0, 0);
            else scores(qo, s, kvh, pos, p, 0, 0);
            float[] acc = cache.scratch2(QUERIES * headDim);  // (headDim) the running Σ p_j v_j
            softmaxValues(h, t, s, p, 0, acc, 0);
        }

        /**
         * {@link #QUERIES} queries of head h, tokens {@code t ..} of sequence s (any positions): the scores of all four from
         * each K vector loaded (and widened) once, then each query's softmax and P·V as {@link #queryTile1} runs them, the
         * value rows loaded once for each pair of queries whose block holds the same keys. Every query's results have the
         * bits {@link #queryTile1} gives it.
         */
        private void queryTile(int h, int t, int s) {
            int kvh = h / group, posMax = 0;
            for (int k = 0; k < QUERIES; k++) posMax = Math.max(posMax, batch.position(t + k));
            int stride = (posMax / bs + 1) * bs;
            float[] p = cache.scratch(QUERIES * stride);   // (QUERIES, stride): each query's scores row, as queryTile1's
            if (bf16) scores4Bf16(t * qDim + h * headDim, s, kvh, posMax, p, stride, Integer.MAX_VALUE);
            else scores4(t * qDim + h * headDim, s, kvh, posMax, p, stride, Integer.MAX_VALUE);
            for (int k = 0; k < QUERIES; k++) tailScores(t * qDim + qDim * k + h * headDim, s, kvh, batch.position(t + k), p, k * stride);
            float[] acc = cache.scratch2(QUERIES * headDim);
            for (int k = 0; k < QUERIES; k += 2) softmaxValues2(h, t + k, p, k * stride, (k + 1) * stride, acc);
        }

        /**
         * Query (h, t)'s softmax over its scores {@code p[po ..]} block by block (scale, ALiBi, running max, exp, sum) and
         * the values weighted into {@code acc[ao .. ao + headDim)}; writes its output row.
         */
        private void softmaxValues(int h, int t, int s, float[] p, int pb, float[] acc, int ao) {
            int kvh = h / group, pos = batch.position(t), qo = t * qDim + h * headDim, nb = pos / bs + 1;
            float slope = slopes == null ? 0f : slopes[h];
            float m = Float.NEGATIVE_INFINITY, l = 0f;     // running max and sum of exp(score - m)
            java.util.Arrays.fill(acc, ao, ao + headDim, 0f);
            for (int kb = 0; kb < nb; kb++) {
                int n = Math.min(bs, pos + 1 - kb * bs);  // keys of this block in the context
                int po = pb + kb * bs;
                // scores / sqrt(d) (+ ALiBi bias), and the running max over them
                float bm = Math.max(m, scaleAndMax(p, po, n, scale, slopes != null, slope, kb * bs - pos));
                // online softmax: rescale what came before by exp(m - bm), add this block's exp(score - bm)
                float corr = SamplingMath.exp(m - bm);
                float sum = Attention.expInPlace(p, po, n, bm);
                l = l * corr + sum;
                m = bm;
                long vb = cache.offset(batch.block(s, kb), kvh, 0);
                if (bf16) accumulateBf16(acc, ao, corr, p, po, n, values, vb, headDim);
                else accumulate(acc, ao, corr, p, po, n, values, vb, headDim);
            }
            float inv = 1f / l;
            for (int i = 0; i < headDim; i++) out[qo + i] = acc[ao + i] * inv;
        }

        /**
         * Leading cache blocks that tokens {@code t .. t + QUERIES - 1} (of any sequences) all read from the same physical
         * blocks (a prefix the block tables share), at most the blocks of the shortest context among them; 0 when that is
         * under {@link #groupedDecodeMinShare}% (default half) of the longest context's blocks: there the tile was measured
         * slower than four queries alone ({@code SharedPrefixAttentionBench}, 16 sequences, 48 own tokens: 1 of 4 blocks
         * shared 0.83x, 3 of 6 1.07x, 32 of 35 1.20-1.27x).
         */
        private int sharedBlocks(int t) {
            int s0 = batch.seqOfToken(t), n = batch.position(t) / bs + 1, longest = n;
            for (int k = 1; k < QUERIES; k++) {
                n = Math.min(n, batch.position(t + k) / bs + 1);
                longest = Math.max(longest, batch.position(t + k) / bs + 1);
            }
            for (int k = 1; k < QUERIES && n > 0; k++) {
                int sk = batch.seqOfToken(t + k), i = 0;
                if (sk == s0) continue;
                while (i < n && batch.block(sk, i) == batch.block(s0, i)) i++;
                n = i;
            }
            return 100 * n >= groupedDecodeMinShare * longest ? n : 0;
        }

        /**
         * {@link #QUERIES} queries of head h, tokens {@code t ..} of sequences whose first {@code shared} blocks are the same
         * physical blocks (decode of requests sharing a prompt prefix): a loop interchange over the shared blocks, each K
         * vector loaded (and widened) once for the four queries' score chains ({@link #scores4} stopped at the shared jobs),
         * then each query's own blocks' scores ({@link #scores} from the first unshared job, its own block table), then
         * pairs' softmax and P·V, the value rows of a block both read loaded once ({@link #softmaxValues2}). Each score is one
         * chain over d whichever loop computes it, and every query's softmax and accumulation order is
         * {@link #queryTile1}'s, so every query's results have the bits it gets alone.
         */
        private void queryTileShared(int h, int t, int shared) {
            int kvh = h / group, posMax = 0, s0 = batch.seqOfToken(t);
            for (int k = 0; k < QUERIES; k++) posMax = Math.max(posMax, batch.position(t + k));
            int stride = (posMax / bs + 1) * bs, sharedJobs = shared * (bs / F.length());
            float[] p = cache.scratch(QUERIES * stride);   // (QUERIES, stride): each query's scores row, as queryTile1's
            if (bf16) scores4Bf16(t * qDim + h * headDim, s0, kvh, posMax, p, stride, sharedJobs);
            else scores4(t * qDim + h * headDim, s0, kvh, posMax, p, stride, sharedJobs);
            for (int k = 0; k < QUERIES; k++) {   // the rest of each query's jobs, and every block's tail slots, on its own table
                int tk = t + k, qk = tk * qDim + h * headDim;
                if (bf16) scoresBf16(qk, batch.seqOfToken(tk), kvh, batch.position(tk), p, k * stride, sharedJobs);
                else scores(qk, batch.seqOfToken(tk), kvh, batch.position(tk), p, k * stride, sharedJobs);
            }
            float[] acc = cache.scratch2(QUERIES * headDim);
            for (int k = 0; k < QUERIES; k += 2) softmaxValues2(h, t + k, p, k * stride, (k + 1) * stride, acc);
        }

        /**
         * {@link #softmaxValues} for tokens t and t + 1 (head h; scores at {@code pa}, {@code pb}) side by side, of one
         * sequence or of two: in a block both see in full and both read from the same physical cache block (always within
         * a sequence; a shared prefix's blocks across two), the value rows are loaded once for both ({@link #accumulate2});
         * each query's chains and their order are {@link #accumulate}'s, so each gets its own bits.
         */
        private void softmaxValues2(int h, int t, float[] p, int pa, int pb, float[] acc) {
            if (softmaxPasses) {
                softmaxValues2Passes(h, t, p, pa, pb, acc);
                return;
            }
            int sA = batch.seqOfToken(t), sB = batch.seqOfToken(t + 1);
            int kvh = h / group, posA = batch.position(t), posB = batch.position(t + 1);
            int nbA = posA / bs + 1, nbB = posB / bs + 1, nbMax = Math.max(nbA, nbB);
            float slope = slopes == null ? 0f : slopes[h];
            float mA = Float.NEGATIVE_INFINITY, lA = 0f, mB = Float.NEGATIVE_INFINITY, lB = 0f;
            java.util.Arrays.fill(acc, 0, 2 * headDim, 0f);
            for (int kb = 0; kb < nbMax; kb++) {
                int nA = kb < nbA ? Math.min(bs, posA + 1 - kb * bs) : 0, nB = kb < nbB ? Math.min(bs, posB + 1 - kb * bs) : 0;
                long vb = kb < nbA ? cache.offset(batch.block(sA, kb), kvh, 0) : 0L;
                long vbB = kb < nbB ? cache.offset(batch.block(sB, kb), kvh, 0) : 0L;
                float corrA = 0f, corrB = 0f;
                if (nA > 0) {
                    int po = pa + kb * bs;
                    float bm = Math.max(mA, scaleAndMax(p, po, nA, scale, slopes != null, slope, kb * bs - posA));
                    corrA = SamplingMath.exp(mA - bm);
                    lA = lA * corrA + Attention.expInPlace(p, po, nA, bm);
                    mA = bm;
                }
                if (nB > 0) {
                    int po = pb + kb * bs;
                    float bm = Math.max(mB, scaleAndMax(p, po, nB, scale, slopes != null, slope, kb * bs - posB));
                    corrB = SamplingMath.exp(mB - bm);
                    lB = lB * corrB + Attention.expInPlace(p, po, nB, bm);
                    mB = bm;
                }
                accumulatePair(acc, corrA, corrB, p, pa + kb * bs, pb + kb * bs, nA, nB, vb, vbB);
            }
            writePair(t, h, acc, lA, lB);
        }

        /**
         * {@link #softmaxValues2} in three passes over the blocks ({@link #softmaxPasses}): both queries' every block's scale,
         * ALiBi and max first (independent of each other), then their running max, correction, exp and sum block by block,
         * then the P·V block by block with the same shared value loads. The same operations on the same values in the same
         * order per value as the one-pass loop, so the same bits; but the blocks' lane-max trees, whose latency the one-pass
         * loop waits out in every block before its exp and P·V can start, no longer sit on that chain.
         */
        private void softmaxValues2Passes(int h, int t, float[] p, int pa, int pb, float[] acc) {
            int sA = batch.seqOfToken(t), sB = batch.seqOfToken(t + 1);
            int kvh = h / group, posA = batch.position(t), posB = batch.position(t + 1);
            int nbA = posA / bs + 1, nbB = posB / bs + 1, nbMax = Math.max(nbA, nbB);
            float slope = slopes == null ? 0f : slopes[h];
            float[] c = cache.scratch3(2 * nbMax);   // A's blocks' maxima, then corrections, at [0, nbA); B's at [nbMax, ..)
            for (int kb = 0; kb < nbMax; kb++) {
                if (kb < nbA) c[kb] = scaleAndMax(p, pa + kb * bs, Math.min(bs, posA + 1 - kb * bs), scale, slopes != null, slope, kb * bs - posA);
                if (kb < nbB) c[nbMax + kb] = scaleAndMax(p, pb + kb * bs, Math.min(bs, posB + 1 - kb * bs), scale, slopes != null, slope, kb * bs - posB);
            }
            float mA = Float.NEGATIVE_INFINITY, lA = 0f, mB = Float.NEGATIVE_INFINITY, lB = 0f;
            for (int kb = 0; kb < nbMax; kb++) {
                if (kb < nbA) {
                    float bm = Math.max(mA, c[kb]);
                    float corr = SamplingMath.exp(mA - bm);
                    lA = lA * corr + Attention.expInPlace(p, pa + kb * bs, Math.min(bs, posA + 1 - kb * bs), bm);
                    mA = bm;
                    c[kb] = corr;
                }
                if (kb < nbB) {
                    float bm = Math.max(mB, c[nbMax + kb]);
                    float corr = SamplingMath.exp(mB - bm);
                    lB = lB * corr + Attention.expInPlace(p, pb + kb * bs, Math.min(bs, posB + 1 - kb * bs), bm);
                    mB = bm;
                    c[nbMax + kb] = corr;
                }
            }
            java.util.Arrays.fill(acc, 0, 2 * headDim, 0f);
            for (int kb = 0; kb < nbMax; kb++) {
                int nA = kb < nbA ? Math.min(bs, posA + 1 - kb * bs) : 0, nB = kb < nbB ? Math.min(bs, posB + 1 - kb * bs) : 0;
                long vb = kb < nbA ? cache.offset(batch.block(sA, kb), kvh, 0) : 0L;
                long vbB = kb < nbB ? cache.offset(batch.block(sB, kb), kvh, 0) : 0L;
                float corrA = kb < nbA ? c[kb] : 0f, corrB = kb < nbB ? c[nbMax + kb] : 0f;
                accumulatePair(acc, corrA, corrB, p, pa + kb * bs, pb + kb * bs, nA, nB, vb, vbB);
            }
            writePair(t, h, acc, lA, lB);
        }

        /**
         * One block's P·V for a pair of queries into {@code acc} (A's row at 0, B's at headDim), each rescaled by its correction
         * first: one pass over shared value rows where both read the same {@code nA} rows of the same block, else each alone.
         */
        private void accumulatePair(float[] acc, float corrA, float corrB, float[] p, int pa, int pb, int nA, int nB, long vb, long vbB) {
            if (nA == nB && vb == vbB && headDim % (4 * F.length()) == 0) {
                if (bf16) accumulate2Bf16(acc, corrA, corrB, p, pa, pb, nA, values, vb, headDim);
                else accumulate2(acc, corrA, corrB, p, pa, pb, nA, values, vb, headDim);
                return;
            }
            if (nA > 0) {
                if (bf16) accumulateBf16(acc, 0, corrA, p, pa, nA, values, vb, headDim);
                else accumulate(acc, 0, corrA, p, pa, nA, values, vb, headDim);
            }
            if (nB > 0) {
                if (bf16) accumulateBf16(acc, headDim, corrB, p, pb, nB, values, vbB, headDim);
                else accumulate(acc, headDim, corrB, p, pb, nB, values, vbB, headDim);
            }
        }

        /** Queries t and t + 1 of head h: their rows of {@code acc} over their softmax sums into {@code out}. */
        private void writePair(int t, int h, float[] acc, float lA, float lB) {
            int qa = t * qDim + h * headDim, qb = qa + qDim;
            float invA = 1f / lA, invB = 1f / lB;
            for (int i = 0; i < headDim; i++) out[qa + i] = acc[i] * invA;
            for (int i = 0; i < headDim; i++) out[qb + i] = acc[headDim + i] * invB;
        }

        /** The slots past each block's vectors (block sizes not a multiple of L), of the query at {@code pos}: scalar chains. */
        private void tailScores(int qo, int s, int kvh, int pos, float[] p, int pb) {
            int lanes = F.length(), vpb = bs / lanes, nb = pos / bs + 1;
            for (int kb = 0; kb < nb && vpb * lanes < bs; kb++) {
                int n = Math.min(bs, pos + 1 - kb * bs);
                long base = cache.offset(batch.block(s, kb), kvh, 0);
                for (int j = vpb * lanes; j < n; j++) {
                    float sc = 0f;
                    for (int d = 0; d < headDim; d++) sc = Math.fma(cache.at(keys, base, (long) d * bs + j), q[qo + d], sc);
                    p[pb + kb * bs + j] = sc;
                }
            }
        }

        /**
         * Raw scores {@code p[kb·bs + j] = Σ_d q[qo + d] · K[d][j]} over the context of the query at {@code pos}
         * (K laid out {@code [headDim][bs]} per block): one FMA chain over d per score, in increasing d, lanes =
         * a block's slots; the slots past a block's vector bound by scalar {@link Math#fma}, the same operation.
         * The lane vectors ("jobs": block kb, lanes v·L ..) go through their chains eight (then four) at a time:
         * independent chains that keep both FMA pipes busy (one chain alone waits out every FMA's 4-cycle latency)
         * and share each q[d] broadcast. Lanes past a partial last block's n keys hold garbage nobody reads. Into
         * {@code p[pb ..]}, from job {@code g0} on (the jobs before it computed elsewhere: {@link #queryTileShared}).
         */
        private void scores(int qo, int s, int kvh, int pos, float[] p, int pb, int g0) {
            int lanes = F.length(), vpb = bs / lanes, nb = pos / bs + 1;
            int lastN = pos + 1 - (nb - 1) * bs;
            int jobs = (nb - 1) * vpb + Math.min(vpb, (lastN + lanes - 1) / lanes);
            long rowBytes = 4L * bs;
            int g = g0;
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
                s0.intoArray(p, pb + jobSlot(g, vpb));
                s1.intoArray(p, pb + jobSlot(g + 1, vpb));
                s2.intoArray(p, pb + jobSlot(g + 2, vpb));
                s3.intoArray(p, pb + jobSlot(g + 3, vpb));
                s4.intoArray(p, pb + jobSlot(g + 4, vpb));
                s5.intoArray(p, pb + jobSlot(g + 5, vpb));
                s6.intoArray(p, pb + jobSlot(g + 6, vpb));
                s7.intoArray(p, pb + jobSlot(g + 7, vpb));
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
                s0.intoArray(p, pb + jobSlot(g, vpb));
                s1.intoArray(p, pb + jobSlot(g + 1, vpb));
                s2.intoArray(p, pb + jobSlot(g + 2, vpb));
                s3.intoArray(p, pb + jobSlot(g + 3, vpb));
            }
            for (; g < jobs; g++) {
                long b0 = jobBase(g, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F);
                for (int d = 0; d < headDim; d++) {
                    s0 = FloatVector.fromMemorySegment(F, keys, b0 + d * rowBytes, ORDER).fma(FloatVector.broadcast(F, q[qo + d]), s0);
                }
                s0.intoArray(p, pb + jobSlot(g, vpb));
            }
            for (int kb = 0; kb < nb && vpb * lanes < bs; kb++) {   // the slots past each block's vectors
                int n = Math.min(bs, pos + 1 - kb * bs);
                long base = cache.offset(batch.block(s, kb), kvh, 0);
                for (int j = vpb * lanes; j < n; j++) {
                    float sc = 0f;
                    for (int d = 0; d < headDim; d++) sc = Math.fma(cache.at(keys, base, (long) d * bs + j), q[qo + d], sc);
                    p[pb + kb * bs + j] = sc;
                }
            }
        }

        /**
         * {@link #scores} over a bfloat16 cache: the same chains on the stored values widened to float32 (exact). Written out
         * beside {@link #scores} rather than sharing it through a load helper: a helper returning the widened vector was
         * not inlined by C2 there and the chains ran 2x slower (boxed vectors); the same holds for {@link #accumulateBf16}.
         */
        private void scoresBf16(int qo, int s, int kvh, int pos, float[] p, int pb, int g0) {
            int lanes = F.length(), vpb = bs / lanes, nb = pos / bs + 1;
            int lastN = pos + 1 - (nb - 1) * bs;
            int jobs = (nb - 1) * vpb + Math.min(vpb, (lastN + lanes - 1) / lanes);
            long rowBytes = 2L * bs;
            int g = g0;
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
                s0.intoArray(p, pb + jobSlot(g, vpb));
                s1.intoArray(p, pb + jobSlot(g + 1, vpb));
                s2.intoArray(p, pb + jobSlot(g + 2, vpb));
                s3.intoArray(p, pb + jobSlot(g + 3, vpb));
                s4.intoArray(p, pb + jobSlot(g + 4, vpb));
                s5.intoArray(p, pb + jobSlot(g + 5, vpb));
                s6.intoArray(p, pb + jobSlot(g + 6, vpb));
                s7.intoArray(p, pb + jobSlot(g + 7, vpb));
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
                s0.intoArray(p, pb + jobSlot(g, vpb));
                s1.intoArray(p, pb + jobSlot(g + 1, vpb));
                s2.intoArray(p, pb + jobSlot(g + 2, vpb));
                s3.intoArray(p, pb + jobSlot(g + 3, vpb));
            }
            for (; g < jobs; g++) {
                long b0 = jobBase(g, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F);
                for (int d = 0; d < headDim; d++) {
                    s0 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b0 + d * rowBytes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.broadcast(F, q[qo + d]), s0);
                }
                s0.intoArray(p, pb + jobSlot(g, vpb));
            }
            for (int kb = 0; kb < nb && vpb * lanes < bs; kb++) {   // the slots past each block's vectors
                int n = Math.min(bs, pos + 1 - kb * bs);
                long base = cache.offset(batch.block(s, kb), kvh, 0);
                for (int j = vpb * lanes; j < n; j++) {
                    float sc = 0f;
                    for (int d = 0; d < headDim; d++) sc = Math.fma(cache.at(keys, base, (long) d * bs + j), q[qo + d], sc);
                    p[pb + kb * bs + j] = sc;
                }
            }
        }

        /**
         * {@link #scores} for the four queries at {@code q[qo + k·qDim ..]} (k < 4) of one head and sequence, over the jobs of the
         * context up to {@code pos} (the latest of the four), into rows {@code p[k·stride ..]}: each K vector is loaded once
         * for four FMAs, one into each query's chain; each chain is {@link #scores}' (over d in increasing order from zero),
         * so each query's scores have the bits it gets alone. Jobs past a query's own context fill lanes it never reads.
         * The slots past a block's vectors: {@link #tailScores}.
         */
        private void scores4(int qo, int s, int kvh, int pos, float[] p, int stride, int jobLimit) {
            int lanes = F.length(), vpb = bs / lanes, nb = pos / bs + 1;
            int lastN = pos + 1 - (nb - 1) * bs;
            int jobs = Math.min(jobLimit, (nb - 1) * vpb + Math.min(vpb, (lastN + lanes - 1) / lanes));
            long rowBytes = 4L * bs;
            int q1 = qo + qDim, q2 = qo + 2 * qDim, q3 = qo + 3 * qDim, p1 = stride, p2 = 2 * stride, p3 = 3 * stride;
            int g = 0;
            for (; g + 4 <= jobs; g += 4) {
                long b0 = jobBase(g, vpb, s, kvh), b1 = jobBase(g + 1, vpb, s, kvh);
                long b2 = jobBase(g + 2, vpb, s, kvh), b3 = jobBase(g + 3, vpb, s, kvh);
                FloatVector s00 = FloatVector.zero(F), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
                FloatVector s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
                for (int d = 0; d < headDim; d++) {
                    long o = d * rowBytes;
                    FloatVector k0 = FloatVector.fromMemorySegment(F, keys, b0 + o, ORDER);
                    FloatVector k1 = FloatVector.fromMemorySegment(F, keys, b1 + o, ORDER);
                    FloatVector k2 = FloatVector.fromMemorySegment(F, keys, b2 + o, ORDER);
                    FloatVector k3 = FloatVector.fromMemorySegment(F, keys, b3 + o, ORDER);
                    FloatVector q0d = FloatVector.broadcast(F, q[qo + d]);
                    s00 = k0.fma(q0d, s00); s10 = k1.fma(q0d, s10); s20 = k2.fma(q0d, s20); s30 = k3.fma(q0d, s30);
                    FloatVector q1d = FloatVector.broadcast(F, q[q1 + d]);
                    s01 = k0.fma(q1d, s01); s11 = k1.fma(q1d, s11); s21 = k2.fma(q1d, s21); s31 = k3.fma(q1d, s31);
                    FloatVector q2d = FloatVector.broadcast(F, q[q2 + d]);
                    s02 = k0.fma(q2d, s02); s12 = k1.fma(q2d, s12); s22 = k2.fma(q2d, s22); s32 = k3.fma(q2d, s32);
                    FloatVector q3d = FloatVector.broadcast(F, q[q3 + d]);
                    s03 = k0.fma(q3d, s03); s13 = k1.fma(q3d, s13); s23 = k2.fma(q3d, s23); s33 = k3.fma(q3d, s33);
                }
                int j0 = jobSlot(g, vpb), j1 = jobSlot(g + 1, vpb), j2 = jobSlot(g + 2, vpb), j3 = jobSlot(g + 3, vpb);
                s00.intoArray(p, j0); s10.intoArray(p, j1); s20.intoArray(p, j2); s30.intoArray(p, j3);
                s01.intoArray(p, p1 + j0); s11.intoArray(p, p1 + j1); s21.intoArray(p, p1 + j2); s31.intoArray(p, p1 + j3);
                s02.intoArray(p, p2 + j0); s12.intoArray(p, p2 + j1); s22.intoArray(p, p2 + j2); s32.intoArray(p, p2 + j3);
                s03.intoArray(p, p3 + j0); s13.intoArray(p, p3 + j1); s23.intoArray(p, p3 + j2); s33.intoArray(p, p3 + j3);
            }
            for (; g < jobs; g++) {
                long b0 = jobBase(g, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
                for (int d = 0; d < headDim; d++) {
                    FloatVector k0 = FloatVector.fromMemorySegment(F, keys, b0 + d * rowBytes, ORDER);
                    s0 = k0.fma(FloatVector.broadcast(F, q[qo + d]), s0);
                    s1 = k0.fma(FloatVector.broadcast(F, q[q1 + d]), s1);
                    s2 = k0.fma(FloatVector.broadcast(F, q[q2 + d]), s2);
                    s3 = k0.fma(FloatVector.broadcast(F, q[q3 + d]), s3);
                }
                int j0 = jobSlot(g, vpb);
                s0.intoArray(p, j0); s1.intoArray(p, p1 + j0); s2.intoArray(p, p2 + j0); s3.intoArray(p, p3 + j0);
            }
        }

        /** {@link #scores4} over a bfloat16 cache: each K vector widened once for the four queries (written out, as {@link #scoresBf16}). */
        private void scores4Bf16(int qo, int s, int kvh, int pos, float[] p, int stride, int jobLimit) {
            int lanes = F.length(), vpb = bs / lanes, nb = pos / bs + 1;
            int lastN = pos + 1 - (nb - 1) * bs;
            int jobs = Math.min(jobLimit, (nb - 1) * vpb + Math.min(vpb, (lastN + lanes - 1) / lanes));
            long rowBytes = 2L * bs;
            int q1 = qo + qDim, q2 = qo + 2 * qDim, q3 = qo + 3 * qDim, p1 = stride, p2 = 2 * stride, p3 = 3 * stride;
            int g = 0;
            for (; g + 4 <= jobs; g += 4) {
                long b0 = jobBase(g, vpb, s, kvh), b1 = jobBase(g + 1, vpb, s, kvh);
                long b2 = jobBase(g + 2, vpb, s, kvh), b3 = jobBase(g + 3, vpb, s, kvh);
                FloatVector s00 = FloatVector.zero(F), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00, s12 = s00, s13 = s00;
                FloatVector s20 = s00, s21 = s00, s22 = s00, s23 = s00, s30 = s00, s31 = s00, s32 = s00, s33 = s00;
                for (int d = 0; d < headDim; d++) {
                    long o = d * rowBytes;
                    FloatVector k0 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b0 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    FloatVector k1 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b1 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    FloatVector k2 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b2 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    FloatVector k3 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b3 + o, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    FloatVector q0d = FloatVector.broadcast(F, q[qo + d]);
                    s00 = k0.fma(q0d, s00); s10 = k1.fma(q0d, s10); s20 = k2.fma(q0d, s20); s30 = k3.fma(q0d, s30);
                    FloatVector q1d = FloatVector.broadcast(F, q[q1 + d]);
                    s01 = k0.fma(q1d, s01); s11 = k1.fma(q1d, s11); s21 = k2.fma(q1d, s21); s31 = k3.fma(q1d, s31);
                    FloatVector q2d = FloatVector.broadcast(F, q[q2 + d]);
                    s02 = k0.fma(q2d, s02); s12 = k1.fma(q2d, s12); s22 = k2.fma(q2d, s22); s32 = k3.fma(q2d, s32);
                    FloatVector q3d = FloatVector.broadcast(F, q[q3 + d]);
                    s03 = k0.fma(q3d, s03); s13 = k1.fma(q3d, s13); s23 = k2.fma(q3d, s23); s33 = k3.fma(q3d, s33);
                }
                int j0 = jobSlot(g, vpb), j1 = jobSlot(g + 1, vpb), j2 = jobSlot(g + 2, vpb), j3 = jobSlot(g + 3, vpb);
                s00.intoArray(p, j0); s10.intoArray(p, j1); s20.intoArray(p, j2); s30.intoArray(p, j3);
                s01.intoArray(p, p1 + j0); s11.intoArray(p, p1 + j1); s21.intoArray(p, p1 + j2); s31.intoArray(p, p1 + j3);
                s02.intoArray(p, p2 + j0); s12.intoArray(p, p2 + j1); s22.intoArray(p, p2 + j2); s32.intoArray(p, p2 + j3);
                s03.intoArray(p, p3 + j0); s13.intoArray(p, p3 + j1); s23.intoArray(p, p3 + j2); s33.intoArray(p, p3 + j3);
            }
            for (; g < jobs; g++) {
                long b0 = jobBase(g, vpb, s, kvh);
                FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
                for (int d = 0; d < headDim; d++) {
                    FloatVector k0 = ((IntVector) ShortVector.fromMemorySegment(S16, keys, b0 + d * rowBytes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                    s0 = k0.fma(FloatVector.broadcast(F, q[qo + d]), s0);
                    s1 = k0.fma(FloatVector.broadcast(F, q[q1 + d]), s1);
                    s2 = k0.fma(FloatVector.broadcast(F, q[q2 + d]), s2);
                    s3 = k0.fma(FloatVector.broadcast(F, q[q3 + d]), s3);
                }
                int j0 = jobSlot(g, vpb);
                s0.intoArray(p, j0); s1.intoArray(p, p1 + j0); s2.intoArray(p, p2 + j0); s3.intoArray(p, p3 + j0);
            }
        }

        /** Byte offset of job g's first key slot (block g / vpb, lanes (g % vpb)·L). */
        private long jobBase(int g, int vpb, int s, int kvh) {
            return cache.offset(batch.block(s, g / vpb), kvh, 0) + (long) cache.elementBytes() * (g % vpb) * F.length();
        }

        private int jobSlot(int g, int vpb) { return (g / vpb) * bs + (g % vpb) * F.length(); }
    }

    /** Queries of one head and sequence per tile (prefill): their scores share each K load, pairs share V loads. */
    static final int QUERIES = 4;

    /**
     * {@code -Darbor.cpu.groupedDecodeAttention} (default on): decode queries of sequences whose block tables begin with the
     * same physical blocks are tiled four at a time so the shared blocks' K/V are read once for the four
     * ({@link Task#queryTileShared}); off, each such query runs alone. The same bits either way.
     */
    static boolean groupedDecode = Boolean.parseBoolean(System.getProperty("arbor.cpu.groupedDecodeAttention", "true"));

    /**
     * {@code -Darbor.cpu.groupedDecodeMinShare} (percent, default 50): the least share of a tile's longest context that its
     * common blocks must be for {@link #groupedDecode} to tile it (the tests set 0 to run the tile on any shared block).
     */
    static int groupedDecodeMinShare = Integer.getInteger("arbor.cpu.groupedDecodeMinShare", 50);

    /**
     * {@code -Darbor.cpu.softmaxPasses} (default off: see run 95-cpu23): the four-query tiles' pairs (a prefill chunk's, a
     * shared prefix's decode tiles) run their softmax and P·V in three passes ({@link Task#softmaxValues2Passes}: the blocks'
     * maxima, then the running max / exp / sum, then P·V) rather than one loop whose every block waits for its own max. The
     * same bits. Single queries keep the one-pass loop: there, with K/V from DRAM (batched decode), the passes measured
     * slower (the value loads no longer overlap the softmax). Not final: benches flip it in one JVM.
     */
    static boolean softmaxPasses = Boolean.parseBoolean(System.getProperty("arbor.cpu.softmaxPasses", "false"));

    private static final ByteOrder ORDER = ByteOrder.nativeOrder();
    private static final VectorSpecies<Short> S16 = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));

    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());

    /**
     * {@code p[po + j] = p[po + j] · scale (+ slope · (rel + j))} for j < n; returns their max. A block of exactly one
     * vector (block size = L, every full block of synthetic:100m's cache) in the lanes: the same multiply and add per
     * element, the max by the halving tree of exact lane maxes (max is exact, so any order gives the scalar loop's value);
     * no {@code reduceLanes}, which allocated 228 bytes per block in the engine's compiled code (19 MB per 128-token step,
     * {@code WorkspaceAllocationTest}). Other n: the scalar loop.
     */
    static float scaleAndMax(float[] p, int po, int n, float scale, boolean alibi, float slope, int rel) {
        if (n == F.length()) {
            FloatVector v = FloatVector.fromArray(F, p, po).mul(scale);
            if (alibi) v = v.add(((FloatVector) IOTA.add(rel).convert(VectorOperators.I2F, 0)).mul(slope));
            v.intoArray(p, po);
            for (VectorShuffle<Float> sw : Lanes.SWAPS) v = v.max(v.rearrange(sw));
            return v.lane(0);
        }
        float bm = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            float sc = p[po + j] * scale;
            if (alibi) sc += slope * (rel + j);
            p[po + j] = sc;
            if (sc > bm) bm = sc;
        }
        return bm;
    }

    /** Lanes 0, 1, .., L - 1 (ALiBi's key offsets in a block). */
    private static final IntVector IOTA = IntVector.fromArray(I, java.util.stream.IntStream.range(0, F.length()).toArray(), 0);

    /**
     * {@code acc[i] = acc[i] · corr + Σ_{j<n} p[po + j] · V[j][i]} for the block whose values start at byte
     * {@code base}, laid out {@code [slot][headDim]}; vectors over i. Four head-dim vectors at a time, each as two FMA
     * chains (even keys onto acc · corr, odd keys from zero, in order, then added): eight independent chains to
     * hide the FMA latency. The rest one vector at a time, then scalar, with one chain (j in order) each. A fixed
     * order that depends on the block alone, so a query's bits don't depend on what else is in the step.
     */
    private static void accumulate(float[] acc, int ao, float corr, float[] p, int po, int n, MemorySegment values, long base, int headDim) {
        int i = 0, lanes = F.length(), upper = F.loopBound(headDim);
        long rowBytes = 4L * headDim;
        for (; i + 4 * lanes <= upper; i += 4 * lanes) {
            // eight chains: four head-dim vectors × the block's even and odd keys, added together at the end
            FloatVector a0 = FloatVector.fromArray(F, acc, ao + i).mul(corr);
            FloatVector a1 = FloatVector.fromArray(F, acc, ao + i + lanes).mul(corr);
            FloatVector a2 = FloatVector.fromArray(F, acc, ao + i + 2 * lanes).mul(corr);
            FloatVector a3 = FloatVector.fromArray(F, acc, ao + i + 3 * lanes).mul(corr);
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
            a0.add(b0).intoArray(acc, ao + i);
            a1.add(b1).intoArray(acc, ao + i + lanes);
            a2.add(b2).intoArray(acc, ao + i + 2 * lanes);
            a3.add(b3).intoArray(acc, ao + i + 3 * lanes);
        }
        for (; i < upper; i += lanes) {
            FloatVector a = FloatVector.fromArray(F, acc, ao + i).mul(corr);
            long at = base + 4L * i;
            for (int j = 0; j < n; j++) {
                a = FloatVector.fromMemorySegment(F, values, at + j * rowBytes, ORDER).fma(FloatVector.broadcast(F, p[po + j]), a);
            }
            a.intoArray(acc, ao + i);
        }
        for (; i < headDim; i++) {
            float a = acc[ao + i] * corr;
            for (int j = 0; j < n; j++) a = Math.fma(values.get(PagedKvCache.FLOAT, base + j * rowBytes + 4L * i), p[po + j], a);
            acc[ao + i] = a;
        }
    }

    /** {@link #accumulate} over a bfloat16 cache: the same chains on the stored values widened to float32 (exact). */
    private static void accumulateBf16(float[] acc, int ao, float corr, float[] p, int po, int n, MemorySegment values, long base, int headDim) {
        int i = 0, lanes = F.length(), upper = F.loopBound(headDim);
        long rowBytes = 2L * headDim;
        for (; i + 4 * lanes <= upper; i += 4 * lanes) {
            // eight chains: four head-dim vectors × the block's even and odd keys, added together at the end
            FloatVector a0 = FloatVector.fromArray(F, acc, ao + i).mul(corr);
            FloatVector a1 = FloatVector.fromArray(F, acc, ao + i + lanes).mul(corr);
            FloatVector a2 = FloatVector.fromArray(F, acc, ao + i + 2 * lanes).mul(corr);
            FloatVector a3 = FloatVector.fromArray(F, acc, ao + i + 3 * lanes).mul(corr);
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
            a0.add(b0).intoArray(acc, ao + i);
            a1.add(b1).intoArray(acc, ao + i + lanes);
            a2.add(b2).intoArray(acc, ao + i + 2 * lanes);
            a3.add(b3).intoArray(acc, ao + i + 3 * lanes);
        }
        for (; i < upper; i += lanes) {
            FloatVector a = FloatVector.fromArray(F, acc, ao + i).mul(corr);
            long at = base + 2L * i;
            for (int j = 0; j < n; j++) {
                a = ((IntVector) ShortVector.fromMemorySegment(S16, values, at + j * rowBytes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(FloatVector.broadcast(F, p[po + j]), a);
            }
            a.intoArray(acc, ao + i);
        }
        for (; i < headDim; i++) {
            float a = acc[ao + i] * corr;
            for (int j = 0; j < n; j++) a = Math.fma(PagedKvCache.bf16At(values, base + j * rowBytes + 2L * i), p[po + j], a);
            acc[ao + i] = a;
        }
    }

    /**
     * {@link #accumulate} for two queries over the same n keys of one block: query A's accumulators at {@code acc[0 ..]}
     * (rescaled by corrA, probabilities {@code p[pa ..]}), B's at {@code acc[headDim ..]} (corrB, {@code p[pb ..]}); each value
     * vector is loaded once for an FMA into each query's chain. Per query the chains and their order are {@link #accumulate}'s
     * (four head-dim vectors × even and odd keys, added at the end), so each gets the bits it gets alone. headDim a multiple
     * of 4·L (the caller checks).
     */
    private static void accumulate2(float[] acc, float corrA, float corrB, float[] p, int pa, int pb, int n, MemorySegment values, long base, int headDim) {
        int lanes = F.length(), bo = headDim;
        long rowBytes = 4L * headDim;
        for (int i = 0; i < headDim; i += 4 * lanes) {
            FloatVector a0 = FloatVector.fromArray(F, acc, i).mul(corrA), c0 = FloatVector.fromArray(F, acc, bo + i).mul(corrB);
            FloatVector a1 = FloatVector.fromArray(F, acc, i + 1 * lanes).mul(corrA), c1 = FloatVector.fromArray(F, acc, bo + i + 1 * lanes).mul(corrB);
            FloatVector a2 = FloatVector.fromArray(F, acc, i + 2 * lanes).mul(corrA), c2 = FloatVector.fromArray(F, acc, bo + i + 2 * lanes).mul(corrB);
            FloatVector a3 = FloatVector.fromArray(F, acc, i + 3 * lanes).mul(corrA), c3 = FloatVector.fromArray(F, acc, bo + i + 3 * lanes).mul(corrB);
            FloatVector b0 = FloatVector.zero(F), b1 = b0, b2 = b0, b3 = b0, d0 = b0, d1 = b0, d2 = b0, d3 = b0;
            long at = base + 4L * i;
            int j = 0;
            for (; j + 2 <= n; j += 2) {
                FloatVector pj = FloatVector.broadcast(F, p[pa + j]), pk = FloatVector.broadcast(F, p[pa + j + 1]);
                FloatVector qj = FloatVector.broadcast(F, p[pb + j]), qk = FloatVector.broadcast(F, p[pb + j + 1]);
                long r = at + j * rowBytes, r2 = r + rowBytes;
                FloatVector v0 = FloatVector.fromMemorySegment(F, values, r, ORDER);
                a0 = v0.fma(pj, a0); c0 = v0.fma(qj, c0);
                FloatVector v1 = FloatVector.fromMemorySegment(F, values, r + 4L * lanes, ORDER);
                a1 = v1.fma(pj, a1); c1 = v1.fma(qj, c1);
                FloatVector v2 = FloatVector.fromMemorySegment(F, values, r + 8L * lanes, ORDER);
                a2 = v2.fma(pj, a2); c2 = v2.fma(qj, c2);
                FloatVector v3 = FloatVector.fromMemorySegment(F, values, r + 12L * lanes, ORDER);
                a3 = v3.fma(pj, a3); c3 = v3.fma(qj, c3);
                v0 = FloatVector.fromMemorySegment(F, values, r2, ORDER);
                b0 = v0.fma(pk, b0); d0 = v0.fma(qk, d0);
                v1 = FloatVector.fromMemorySegment(F, values, r2 + 4L * lanes, ORDER);
                b1 = v1.fma(pk, b1); d1 = v1.fma(qk, d1);
                v2 = FloatVector.fromMemorySegment(F, values, r2 + 8L * lanes, ORDER);
                b2 = v2.fma(pk, b2); d2 = v2.fma(qk, d2);
                v3 = FloatVector.fromMemorySegment(F, values, r2 + 12L * lanes, ORDER);
                b3 = v3.fma(pk, b3); d3 = v3.fma(qk, d3);
            }
            if (j < n) {
                FloatVector pj = FloatVector.broadcast(F, p[pa + j]), qj = FloatVector.broadcast(F, p[pb + j]);
                long r = at + j * rowBytes;
                FloatVector v0 = FloatVector.fromMemorySegment(F, values, r, ORDER);
                a0 = v0.fma(pj, a0); c0 = v0.fma(qj, c0);
                FloatVector v1 = FloatVector.fromMemorySegment(F, values, r + 4L * lanes, ORDER);
                a1 = v1.fma(pj, a1); c1 = v1.fma(qj, c1);
                FloatVector v2 = FloatVector.fromMemorySegment(F, values, r + 8L * lanes, ORDER);
                a2 = v2.fma(pj, a2); c2 = v2.fma(qj, c2);
                FloatVector v3 = FloatVector.fromMemorySegment(F, values, r + 12L * lanes, ORDER);
                a3 = v3.fma(pj, a3); c3 = v3.fma(qj, c3);
            }
            a0.add(b0).intoArray(acc, i); c0.add(d0).intoArray(acc, bo + i);
            a1.add(b1).intoArray(acc, i + 1 * lanes); c1.add(d1).intoArray(acc, bo + i + 1 * lanes);
            a2.add(b2).intoArray(acc, i + 2 * lanes); c2.add(d2).intoArray(acc, bo + i + 2 * lanes);
            a3.add(b3).intoArray(acc, i + 3 * lanes); c3.add(d3).intoArray(acc, bo + i + 3 * lanes);
        }
    }

    /** {@link #accumulate2} over a bfloat16 cache: each value vector widened once for the two queries. */
    private static void accumulate2Bf16(float[] acc, float corrA, float corrB, float[] p, int pa, int pb, int n, MemorySegment values, long base, int headDim) {
        int lanes = F.length(), bo = headDim;
        long rowBytes = 2L * headDim;
        for (int i = 0; i < headDim; i += 4 * lanes) {
            FloatVector a0 = FloatVector.fromArray(F, acc, i).mul(corrA), c0 = FloatVector.fromArray(F, acc, bo + i).mul(corrB);
            FloatVector a1 = FloatVector.fromArray(F, acc, i + 1 * lanes).mul(corrA), c1 = FloatVector.fromArray(F, acc, bo + i + 1 * lanes).mul(corrB);
            FloatVector a2 = FloatVector.fromArray(F, acc, i + 2 * lanes).mul(corrA), c2 = FloatVector.fromArray(F, acc, bo + i + 2 * lanes).mul(corrB);
            FloatVector a3 = FloatVector.fromArray(F, acc, i + 3 * lanes).mul(corrA), c3 = FloatVector.fromArray(F, acc, bo + i + 3 * lanes).mul(corrB);
            FloatVector b0 = FloatVector.zero(F), b1 = b0, b2 = b0, b3 = b0, d0 = b0, d1 = b0, d2 = b0, d3 = b0;
            long at = base + 2L * i;
            int j = 0;
            for (; j + 2 <= n; j += 2) {
                FloatVector pj = FloatVector.broadcast(F, p[pa + j]), pk = FloatVector.broadcast(F, p[pa + j + 1]);
                FloatVector qj = FloatVector.broadcast(F, p[pb + j]), qk = FloatVector.broadcast(F, p[pb + j + 1]);
                long r = at + j * rowBytes, r2 = r + rowBytes;
                FloatVector v0 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a0 = v0.fma(pj, a0); c0 = v0.fma(qj, c0);
                FloatVector v1 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 2L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a1 = v1.fma(pj, a1); c1 = v1.fma(qj, c1);
                FloatVector v2 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 4L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a2 = v2.fma(pj, a2); c2 = v2.fma(qj, c2);
                FloatVector v3 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 6L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a3 = v3.fma(pj, a3); c3 = v3.fma(qj, c3);
                v0 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                b0 = v0.fma(pk, b0); d0 = v0.fma(qk, d0);
                v1 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2 + 2L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                b1 = v1.fma(pk, b1); d1 = v1.fma(qk, d1);
                v2 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2 + 4L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                b2 = v2.fma(pk, b2); d2 = v2.fma(qk, d2);
                v3 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r2 + 6L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                b3 = v3.fma(pk, b3); d3 = v3.fma(qk, d3);
            }
            if (j < n) {
                FloatVector pj = FloatVector.broadcast(F, p[pa + j]), qj = FloatVector.broadcast(F, p[pb + j]);
                long r = at + j * rowBytes;
                FloatVector v0 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a0 = v0.fma(pj, a0); c0 = v0.fma(qj, c0);
                FloatVector v1 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 2L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a1 = v1.fma(pj, a1); c1 = v1.fma(qj, c1);
                FloatVector v2 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 4L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a2 = v2.fma(pj, a2); c2 = v2.fma(qj, c2);
                FloatVector v3 = ((IntVector) ShortVector.fromMemorySegment(S16, values, r + 6L * lanes, ORDER).convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                a3 = v3.fma(pj, a3); c3 = v3.fma(qj, c3);
            }
            a0.add(b0).intoArray(acc, i); c0.add(d0).intoArray(acc, bo + i);
            a1.add(b1).intoArray(acc, i + 1 * lanes); c1.add(d1).intoArray(acc, bo + i + 1 * lanes);
            a2.add(b2).intoArray(acc, i + 2 * lanes); c2.add(d2).intoArray(acc, bo + i + 2 * lanes);
            a3.add(b3).intoArray(acc, i + 3 * lanes); c3.add(d3).intoArray(acc, bo + i + 3 * lanes);
        }
    }

    /** {@link #expInPlace(float[], int, int, float)} from offset 0. */
    static float expInPlace(float[] x, int n, float max) { return expInPlace(x, 0, n, max); }

    /**
     * {@code x[o + j] = exp(x[o + j] - max)} for j < n (all ≤ 0 after the max is subtracted); returns their sum:
     * the vector lanes' partial sums added by {@link Lanes#sum}'s fixed tree, then the scalar tail in order. The exp
     * is {@link SamplingMath#exp}'s polynomial (Cephes' expf, within one float ulp of {@code Math.exp}), written out
     * in the lanes with plain FMAs and adds, so it has the same bits interpreted and compiled (the Vector API's EXP
     * intrinsic and its Java fallback round differently) and in the scalar tail. The lanes' partial sums are added by
     * {@link Lanes#sum}'s halving tree written out here (exact rearranges and lane adds, the same pairs): passing the vector
     * to {@code Lanes.sum} boxed it whenever C2 did not inline that call (a 128-token CPU step allocated 19 MB,
     * {@code WorkspaceAllocationTest}); through a scalar buffer (until cpu9) the tree cost a store and fifteen dependent
     * scalar adds a block.
     */
    static float expInPlace(float[] x, int o, int n, float max) {
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
            for (VectorShuffle<Float> sw : Lanes.SWAPS) acc = acc.add(acc.rearrange(sw));   // Lanes.sum's pairs, in the lanes
            sum = acc.lane(0);
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
