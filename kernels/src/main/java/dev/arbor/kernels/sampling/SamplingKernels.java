package dev.arbor.kernels.sampling;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.LongArray;

/**
 * Sampling as accel kernels, one work-group of {@code block} work-items per logit row, no sorting: the
 * algorithm of {@link CpuSampler} (see its class comment for the semantics) with block reductions in shared
 * memory. Per row: copy with masks and penalties into {@code work}, max/argmax, e = exp((x - max)/T) in place,
 * the top-k cutoff by bisection on e's float bits (≤ 30 counting passes; e ≥ 0 orders like its bits), the
 * top-p cutoff by bisection on the mass above a candidate cutoff (≤ 30 passes), then a block prefix sum of the
 * kept e over contiguous id ranges and one Philox draw. The row (≤ 600 KB at 152k ids) stays in L2 across
 * the passes; each pass loads {@link #SAMPLE_CHUNK} ids a work-item before using any (the plain strided kernel it
 * replaced, one load used before the next, is the tests' StridedSamplingKernels: same tokens). {@link #logprobs} is a second kernel over the raw logits. {@link DeviceSampler} launches both.
 *
 * <p>e has the same bits as in {@link CpuSampler} ({@link SamplingMath#exp}, no FMA contraction); only the order of
 * the double sums differs, so a token differs from CpuSampler's only where the draw or a top-p cutoff falls within
 * rounding of a boundary (about 1e-7 relative: CpuSampler sums float SIMD lanes per block).
 */
public final class SamplingKernels {
    private SamplingKernels() {}

    /** Float bits of 1.0f: the largest e. */
    private static final int ONE_BITS = 0x3F800000;

    /**
     * Samples row {@code ctx.groupIdx}. Launch: {@code Launch.of1D(rows, block)}.
     *
     * @param logits (rows, vocab) raw logits; not modified
     * @param work   (rows, vocab) scratch: penalised logits (rows with masks or penalties), then e
     * @param tokens (rows) out: the sampled id
     * @param block  work-items per group, a power of two from 32 to 1024
     * The remaining arrays are {@link SamplingBatch}'s, per row or CSR.
     */
    public static void sample(KernelContext ctx, FloatArray logits, FloatArray work, int vocab,
                              FloatArray temperature, IntArray topK, FloatArray topP, FloatArray minP,
                              FloatArray repetitionPenalty, FloatArray frequencyPenalty, FloatArray presencePenalty,
                              LongArray seed, LongArray counter,
                              IntArray penaltyStart, IntArray penaltyIds, IntArray penaltyCounts, IntArray maskStart, IntArray maskIds,
                              IntArray tokens, @Constant int block) {
        double[] red = ctx.allocateDoubleLocalArray(block);
        float[] redValue = ctx.allocateFloatLocalArray(block);
        int[] redId = ctx.allocateIntLocalArray(block);
        int row = ctx.groupIdx, t = ctx.localIdx;
        int o = row * vocab;

        // 1. penalised copy: masks, then repetition / frequency / presence on listed ids (distinct per row). A row with
        // neither (every greedy row of a plain request) reads its logits in place: no copy, a pass of reads and one of
        // writes saved (the copy was most of the kernel at batch 128 × 128,256 ids)
        boolean edited = maskStart.get(row + 1) > maskStart.get(row) || penaltyStart.get(row + 1) > penaltyStart.get(row);
        if (edited) {
            for (int i = t; i < vocab; i += block) work.set(o + i, logits.get(o + i));
            ctx.localBarrier();
            for (int i = maskStart.get(row) + t, end = maskStart.get(row + 1); i < end; i += block) {
                work.set(o + maskIds.get(i), Float.NEGATIVE_INFINITY);
            }
            ctx.localBarrier();
            float rp = repetitionPenalty.get(row), fp = frequencyPenalty.get(row), pp = presencePenalty.get(row);
            for (int i = penaltyStart.get(row) + t, end = penaltyStart.get(row + 1); i < end; i += block) {
                int id = penaltyIds.get(i);
                work.set(o + id, CpuSampler.penalize(work.get(o + id), rp, fp, pp, penaltyCounts.get(i)));
            }
            ctx.localBarrier();
        }

        // 2. max and argmax (lowest id on ties)
        // Every pass over the row goes a chunk of SAMPLE_CHUNK ids a work-item at a time (i = i0 + j·block), the chunk's
        // loads all issued before any is used: one memory latency a chunk, not one an id (run 30-gemv5: at 128,256 ids a
        // work-item of 256 has 501 ids, and a load used before the next is issued made `sample` latency-bound). The ids
        // of a work-item and their order are the strided loop's, so every comparison and sum is the same, as the token.
        float[] v = new float[SAMPLE_CHUNK];
        float[] best = new float[1];
        best[0] = Float.NEGATIVE_INFINITY;
        int bestId = Integer.MAX_VALUE;
        for (int i0 = t; i0 < vocab; i0 += SAMPLE_CHUNK * block) {
            if (edited) loadChunk(work, v, o, i0, vocab, block);
            else loadChunk(logits, v, o, i0, vocab, block);
            bestId = argmaxChunk(v, best, bestId, i0, vocab, block);
        }
        redValue[t] = best[0];
        redId[t] = bestId;
        ctx.localBarrier();
        for (int s = block >> 1; s > 0; s >>= 1) {
            if (t < s) {
                float other = redValue[t + s];
                int id = redId[t + s];
                if (other > redValue[t] || (other == redValue[t] && id < redId[t])) { redValue[t] = other; redId[t] = id; }
            }
            ctx.localBarrier();
        }
        float max = redValue[0];
        int argmax = redId[0];
        ctx.localBarrier();
        float temp = temperature.get(row);
        if (temp == 0f || max == Float.NEGATIVE_INFINITY) {
            if (t == 0) tokens.set(row, argmax);
            return;
        }

        // 3. e = exp((x - max) / T) into work (from the penalised copy in place, or from the logits), with CpuSampler's bits
        float invT = 1f / temp;
        for (int i0 = t; i0 < vocab; i0 += SAMPLE_CHUNK * block) {
            if (edited) loadChunk(work, v, o, i0, vocab, block);
            else loadChunk(logits, v, o, i0, vocab, block);
            expChunk(work, v, o, i0, vocab, block, max, invT);
        }
        ctx.localBarrier();

        // 4. top-k cutoff: the largest bits b with count(e >= b) >= k
        int k = topK.get(row);
        int lo = 0;
        if (k > 0 && k < vocab) {
            int hi = ONE_BITS;
            while (lo < hi) {
                int mid = lo + (hi - lo + 1) / 2;
                double c = 0;
                for (int i0 = t; i0 < vocab; i0 += SAMPLE_CHUNK * block) {
                    loadChunk(work, v, o, i0, vocab, block);
                    c = countChunk(v, c, mid, i0, vocab, block);
                }
                if (blockSum(ctx, red, c, t, block) >= k) lo = mid;
                else hi = mid - 1;
            }
        }
        float tk = Float.intBitsToFloat(lo);

        // 5. top-p cutoff: the largest bits b >= tk with mass(e >= b) >= p * mass(e >= tk)
        float p = topP.get(row);
        if (p < 1f) {
            double m = 0;
            for (int i0 = t; i0 < vocab; i0 += SAMPLE_CHUNK * block) {
                loadChunk(work, v, o, i0, vocab, block);
                m = massChunk(v, m, lo, i0, vocab, block);
            }
            double need = p * blockSum(ctx, red, m, t, block);
            int hi = ONE_BITS;
            while (lo < hi) {
                int mid = lo + (hi - lo + 1) / 2;
                double s = 0;
                for (int i0 = t; i0 < vocab; i0 += SAMPLE_CHUNK * block) {
                    loadChunk(work, v, o, i0, vocab, block);
                    s = massChunk(v, s, mid, i0, vocab, block);
                }
                if (blockSum(ctx, red, s, t, block) >= need) lo = mid;
                else hi = mid - 1;
            }
        }
        float cut = Math.max(Math.max(tk, Float.intBitsToFloat(lo)), Math.max(minP.get(row), 0f));

        // 6. inverse CDF in id order: thread t owns ids [t*chunk, (t+1)*chunk)
        int chunk = (vocab + block - 1) / block;
        int start = Math.min(vocab, t * chunk), end = Math.min(vocab, start + chunk);
        double own = 0;
        int lastKept = -1;
        for (int i0 = start; i0 < end; i0 += SAMPLE_CHUNK) {
            loadChunk(work, v, o, i0, end, 1);
            own = keptChunk(v, own, cut, i0, end);
            lastKept = lastKeptChunk(v, lastKept, cut, i0, end);
        }
        red[t] = own;
        ctx.localBarrier();
        if (t == 0) for (int s = 1; s < block; s++) red[s] += red[s - 1];   // inclusive prefix over threads
        ctx.localBarrier();
        double total = red[block - 1], before = t == 0 ? 0 : red[t - 1], after = red[t];
        double target = Philox.uniform(seed.get(row), counter.get(row)) * total;
        int found = Integer.MAX_VALUE;
        if (before <= target && target < after) {
            double acc = before;
            for (int i = start; i < end && found == Integer.MAX_VALUE; i++) {
                float e = work.get(o + i);
                if (e >= cut && e > 0) {
                    acc += e;
                    if (acc > target) found = i;
                }
            }
            if (found == Integer.MAX_VALUE) found = lastKept;   // rounding inside the chunk
        }
        ctx.localBarrier();
        redId[t] = found;
        redValue[t] = lastKept;
        ctx.localBarrier();
        for (int s = block >> 1; s > 0; s >>= 1) {
            if (t < s) {
                redId[t] = Math.min(redId[t], redId[t + s]);
                redValue[t] = Math.max(redValue[t], redValue[t + s]);
            }
            ctx.localBarrier();
        }
        if (t == 0) tokens.set(row, redId[0] != Integer.MAX_VALUE ? redId[0] : (int) redValue[0]);
    }

    /**
     * Log-probabilities under the raw logits for rows that asked (numLogprobs ≥ 0): ln softmax of the sampled
     * token, its rank (1 + ids with a larger logit) and the top n ids (ties: lower id first), n passes of a
     * block argmax that skips what came before. Launch: {@code Launch.of1D(rows, block)} after {@link #sample}.
     *
     * @param logits      (rows, vocab) raw
     * @param tokens      (rows) the sampled ids
     * @param logprobs    (rows) out
     * @param ranks       (rows) out
     * @param topIds      (rows, 20) out, first n of each row
     * @param topLogprobs (rows, 20) out
     */
    public static void logprobs(KernelContext ctx, FloatArray logits, int vocab, IntArray tokens, IntArray numLogprobs,
                                FloatArray logprobs, IntArray ranks, IntArray topIds, FloatArray topLogprobs, @Constant int block) {
        double[] red = ctx.allocateDoubleLocalArray(block);
        float[] redValue = ctx.allocateFloatLocalArray(block);
        int[] redId = ctx.allocateIntLocalArray(block);
        int row = ctx.groupIdx, t = ctx.localIdx;
        int n = numLogprobs.get(row);
        if (n < 0) return;
        int o = row * vocab;
        float m = Float.NEGATIVE_INFINITY;
        for (int i = t; i < vocab; i += block) m = Math.max(m, logits.get(o + i));
        redValue[t] = m;
        ctx.localBarrier();
        for (int s = block >> 1; s > 0; s >>= 1) {
            if (t < s) redValue[t] = Math.max(redValue[t], redValue[t + s]);
            ctx.localBarrier();
        }
        float max = redValue[0];
        ctx.localBarrier();
        double sum = 0;
        for (int i = t; i < vocab; i += block) sum += SamplingMath.exp(logits.get(o + i) - max);
        float lse = (float) (max + Math.log(blockSum(ctx, red, sum, t, block)));
        int token = tokens.get(row);
        float xt = logits.get(o + token);
        double above = 0;
        for (int i = t; i < vocab; i += block) if (logits.get(o + i) > xt) above += 1;
        double rank = 1 + blockSum(ctx, red, above, t, block);
        if (t == 0) {
            logprobs.set(row, xt - lse);
            ranks.set(row, (int) rank);
        }
        // top n: each pass takes the largest (value, -id) strictly after the previous pick
        float pv = Float.POSITIVE_INFINITY;
        int pid = -1;
        int count = Math.min(n, vocab);
        for (int j = 0; j < count; j++) {
            float bv = Float.NEGATIVE_INFINITY;
            int bid = Integer.MAX_VALUE;
            for (int i = t; i < vocab; i += block) {
                float v = logits.get(o + i);
                boolean after = v < pv || (v == pv && i > pid);
                if (after && (v > bv || bid == Integer.MAX_VALUE)) { bv = v; bid = i; }
            }
            redValue[t] = bv;
            redId[t] = bid;
            ctx.localBarrier();
            for (int s = block >> 1; s > 0; s >>= 1) {
                if (t < s) {
                    float v = redValue[t + s];
                    int id = redId[t + s];
                    if (id != Integer.MAX_VALUE && (redId[t] == Integer.MAX_VALUE || v > redValue[t] || (v == redValue[t] && id < redId[t]))) {
                        redValue[t] = v;
                        redId[t] = id;
                    }
                }
                ctx.localBarrier();
            }
            pv = redValue[0];
            pid = redId[0];
            ctx.localBarrier();
            if (t == 0) {
                topIds.set(row * SamplingBatch.MAX_TOP_LOGPROBS + j, pid);
                topLogprobs.set(row * SamplingBatch.MAX_TOP_LOGPROBS + j, pv - lse);
            }
        }
    }

    /** Ids of a row one work-item of {@link #sample} loads before using any. */
    static final int SAMPLE_CHUNK = 16;

    /** v[j] = a[o + i] for i = i0 + j·stride &lt; end. */
    @Unroll
    static void loadChunk(FloatArray a, float[] v, int o, int i0, int end, int stride) {
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            int i = i0 + j * stride;
            if (i < end) v[j] = a.get(o + i);
        }
    }

    /** The strided argmax's step over a loaded chunk (ascending ids; the first id taken whatever its value): best[0] updated, the new id returned. */
    @Unroll
    static int argmaxChunk(float[] v, float[] best, int bestId, int i0, int vocab, int block) {
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            int i = i0 + j * block;
            if (i < vocab && (v[j] > best[0] || bestId == Integer.MAX_VALUE)) {
                best[0] = v[j];
                bestId = i;
            }
        }
        return bestId;
    }

    /** work[o + i] = exp((v[j] - max) · invT) for i = i0 + j·block &lt; vocab. */
    @Unroll
    static void expChunk(FloatArray work, float[] v, int o, int i0, int vocab, int block, float max, float invT) {
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            int i = i0 + j * block;
            if (i < vocab) work.set(o + i, SamplingMath.exp((v[j] - max) * invT));
        }
    }

    /** c + the number of loaded e whose bits are at least {@code bits}, added one at a time by ascending id. */
    @Unroll
    static double countChunk(float[] v, double c, int bits, int i0, int vocab, int block) {
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            if (i0 + j * block < vocab && Float.floatToRawIntBits(v[j]) >= bits) c += 1;
        }
        return c;
    }

    /** m + Σ of the loaded e whose bits are at least {@code bits}, by ascending id. */
    @Unroll
    static double massChunk(float[] v, double m, int bits, int i0, int vocab, int block) {
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            if (i0 + j * block < vocab && Float.floatToRawIntBits(v[j]) >= bits) m += v[j];
        }
        return m;
    }

    /** own + Σ of the kept e (e ≥ cut and e &gt; 0) of a contiguous chunk i0 + j &lt; end, by ascending id. */
    @Unroll
    static double keptChunk(float[] v, double own, float cut, int i0, int end) {
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            if (i0 + j < end && v[j] >= cut && v[j] > 0) own += v[j];
        }
        return own;
    }

    /** The last kept id of a contiguous chunk, or {@code lastKept} when it keeps none. */
    @Unroll
    static int lastKeptChunk(float[] v, int lastKept, float cut, int i0, int end) {
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            if (i0 + j < end && v[j] >= cut && v[j] > 0) lastKept = i0 + j;
        }
        return lastKept;
    }

    /** Σ v over the group (every work-item must call it); leaves {@code red} free for the next call. */
    static double blockSum(KernelContext ctx, double[] red, double v, int t, int block) {
        red[t] = v;
        ctx.localBarrier();
        for (int s = block >> 1; s > 0; s >>= 1) {
            if (t < s) red[t] += red[t + s];
            ctx.localBarrier();
        }
        double r = red[0];
        ctx.localBarrier();
        return r;
    }
}
