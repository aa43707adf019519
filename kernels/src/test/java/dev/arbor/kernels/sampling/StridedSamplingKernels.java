package dev.arbor.kernels.sampling;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.LongArray;

/**
 * {@link SamplingKernels#sample} as it was before run 30-gemv5, kept as the reference its chunked loads must agree with token
 * for token: every pass over the row loads one logit a work-item, uses it, then loads the next (a memory latency an element).
 */
public final class StridedSamplingKernels {
    private StridedSamplingKernels() {}

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
        float best = Float.NEGATIVE_INFINITY;
        int bestId = Integer.MAX_VALUE;
        for (int i = t; i < vocab; i += block) {
            float v = edited ? work.get(o + i) : logits.get(o + i);
            if (v > best || bestId == Integer.MAX_VALUE) { best = v; bestId = i; }
        }
        redValue[t] = best;
        redId[t] = bestId;
        ctx.localBarrier();
        for (int s = block >> 1; s > 0; s >>= 1) {
            if (t < s) {
                float v = redValue[t + s];
                int id = redId[t + s];
                if (v > redValue[t] || (v == redValue[t] && id < redId[t])) { redValue[t] = v; redId[t] = id; }
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
        for (int i = t; i < vocab; i += block) {
            float x = edited ? work.get(o + i) : logits.get(o + i);
            work.set(o + i, SamplingMath.exp((x - max) * invT));
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
                for (int i = t; i < vocab; i += block) if (Float.floatToRawIntBits(work.get(o + i)) >= mid) c += 1;
                if (SamplingKernels.blockSum(ctx, red, c, t, block) >= k) lo = mid;
                else hi = mid - 1;
            }
        }
        float tk = Float.intBitsToFloat(lo);

        // 5. top-p cutoff: the largest bits b >= tk with mass(e >= b) >= p * mass(e >= tk)
        float p = topP.get(row);
        if (p < 1f) {
            double m = 0;
            for (int i = t; i < vocab; i += block) {
                float v = work.get(o + i);
                if (Float.floatToRawIntBits(v) >= lo) m += v;
            }
            double need = p * SamplingKernels.blockSum(ctx, red, m, t, block);
            int hi = ONE_BITS;
            while (lo < hi) {
                int mid = lo + (hi - lo + 1) / 2;
                double s = 0;
                for (int i = t; i < vocab; i += block) {
                    float v = work.get(o + i);
                    if (Float.floatToRawIntBits(v) >= mid) s += v;
                }
                if (SamplingKernels.blockSum(ctx, red, s, t, block) >= need) lo = mid;
                else hi = mid - 1;
            }
        }
        float cut = Math.max(Math.max(tk, Float.intBitsToFloat(lo)), Math.max(minP.get(row), 0f));

        // 6. inverse CDF in id order: thread t owns ids [t*chunk, (t+1)*chunk)
        int chunk = (vocab + block - 1) / block;
        int start = Math.min(vocab, t * chunk), end = Math.min(vocab, start + chunk);
        double own = 0;
        int lastKept = -1;
        for (int i = start; i < end; i++) {
            float v = work.get(o + i);
            if (v >= cut && v > 0) { own += v; lastKept = i; }
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
                float v = work.get(o + i);
                if (v >= cut && v > 0) {
                    acc += v;
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

}
