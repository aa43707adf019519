package dev.arbor.kernels.sampling;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;

import static dev.arbor.kernels.sampling.SamplingKernels.SAMPLE_CHUNK;
import static dev.arbor.kernels.sampling.SamplingKernels.argmaxChunk;
import static dev.arbor.kernels.sampling.SamplingKernels.loadChunk;

/**
 * Greedy sampling with each row's argmax split over several work-groups: {@link #argmaxSlices} (grid (slices, rows)) leaves
 * every slice's largest logit and its lowest id, {@link #argmaxFinish} (one work-group a row) picks the row's. For a step
 * whose rows are all greedy and unedited ({@link SamplingBatch#allGreedyUnedited}) {@link DeviceSampler} runs these instead
 * of {@link SamplingKernels#sample}, whose one work-group a row reads the whole row (128,256 ids, 513 KB) through one
 * multiprocessor: at batch 128 one work-group a multiprocessor, ~42 µs a step on the H200 against a 15 µs read of the
 * logits at the copy rate (bench/RESULTS.md run 66-prof17).
 *
 * <p>The token is the same as {@link SamplingKernels#sample}'s: without a NaN in the row, both give the lowest id whose
 * logit equals the row's largest (sample's scan takes a work-item's first id and then only strictly larger values, its tree
 * the larger value or, equal, the lower id: an order-free result; so do these). A row with a NaN (whose result depends on
 * where the NaN falls in the scan) is flagged by its slice and {@link #argmaxFinish} reruns {@link SamplingKernels#sample}'s
 * own scan for it (the same work-items, chunks and tree), so the same token there too (SplitArgmaxTest).
 */
public final class SplitArgmaxKernels {
    private SplitArgmaxKernels() {}

    /**
     * Slice {@code ctx.groupIdx} of row {@code ctx.groupIdy}: ids [s·sliceLen, min(vocab, (s+1)·sliceLen)), scanned as
     * {@link SamplingKernels#sample} scans a row (work-item t: ids start + t + j·block in chunks of {@link SamplingKernels#SAMPLE_CHUNK}),
     * the block's tree as sample's. Writes the slice's largest logit and its lowest id to {@code (row, s)}, or id -1 when
     * a logit of the slice is NaN; an empty slice (start ≥ vocab) writes (-inf, {@code Integer.MAX_VALUE}).
     * Launch: grid (slices, rows), {@code block} work-items.
     *
     * @param logits    (rows, vocab)
     * @param partValue (rows, slices) out
     * @param partId    (rows, slices) out
     * @param block     work-items per group, a power of two from 32 to 1024
     */
    public static void argmaxSlices(KernelContext ctx, FloatArray logits, int vocab, int slices, int sliceLen, FloatArray partValue,
                                    IntArray partId, @Constant int block) {
        float[] redValue = ctx.allocateFloatLocalArray(block);
        int[] redId = ctx.allocateIntLocalArray(block);
        int[] redNan = ctx.allocateIntLocalArray(block);
        int s = ctx.groupIdx, row = ctx.groupIdy, t = ctx.localIdx;
        int o = row * vocab, start = s * sliceLen, end = Math.min(vocab, start + sliceLen);
        float[] v = new float[SAMPLE_CHUNK];
        float[] best = new float[1];
        best[0] = Float.NEGATIVE_INFINITY;
        int bestId = Integer.MAX_VALUE, nan = 0;
        for (int i0 = start + t; i0 < end; i0 += SAMPLE_CHUNK * block) {
            loadChunk(logits, v, o, i0, end, block);
            nan |= nanChunk(v, i0, end, block);
            bestId = argmaxChunk(v, best, bestId, i0, end, block);
        }
        redValue[t] = best[0];
        redId[t] = bestId;
        redNan[t] = nan;
        ctx.localBarrier();
        for (int h = block >> 1; h > 0; h >>= 1) {
            if (t < h) {
                float other = redValue[t + h];
                int id = redId[t + h];
                if (other > redValue[t] || (other == redValue[t] && id < redId[t])) { redValue[t] = other; redId[t] = id; }
                redNan[t] |= redNan[t + h];
            }
            ctx.localBarrier();
        }
        if (t == 0) {
            partValue.set(row * slices + s, redValue[0]);
            partId.set(row * slices + s, redNan[0] != 0 ? -1 : redId[0]);
        }
    }

    /**
     * Row {@code ctx.groupIdx}'s token from its {@code slices} (≤ block) partials: the largest value, the lowest id among equal
     * ones (the same tree); a row with a flagged slice (a NaN) instead runs {@link SamplingKernels#sample}'s scan over the whole
     * row. Launch: {@code Launch.of1D(rows, block)} after {@link #argmaxSlices}.
     *
     * @param tokens (rows) out
     */
    public static void argmaxFinish(KernelContext ctx, FloatArray logits, int vocab, int slices, FloatArray partValue, IntArray partId,
                                    IntArray tokens, @Constant int block) {
        float[] redValue = ctx.allocateFloatLocalArray(block);
        int[] redId = ctx.allocateIntLocalArray(block);
        int[] redNan = ctx.allocateIntLocalArray(block);
        int row = ctx.groupIdx, t = ctx.localIdx;
        float pv = Float.NEGATIVE_INFINITY;
        int pid = Integer.MAX_VALUE, nan = 0;
        if (t < slices) {
            pv = partValue.get(row * slices + t);
            pid = partId.get(row * slices + t);
            if (pid < 0) {
                nan = 1;
                pv = Float.NEGATIVE_INFINITY;
                pid = Integer.MAX_VALUE;
            }
        }
        redValue[t] = pv;
        redId[t] = pid;
        redNan[t] = nan;
        ctx.localBarrier();
        reduce(ctx, redValue, redId, redNan, t, block);
        int anyNan = redNan[0], argmax = redId[0];
        ctx.localBarrier();
        if (anyNan == 0) {
            if (t == 0) tokens.set(row, argmax);
            return;
        }
        // a NaN in the row: SamplingKernels.sample's step 2 over the raw logits (an unedited row), work-item for work-item
        int o = row * vocab;
        float[] v = new float[SAMPLE_CHUNK];
        float[] best = new float[1];
        best[0] = Float.NEGATIVE_INFINITY;
        int bestId = Integer.MAX_VALUE;
        for (int i0 = t; i0 < vocab; i0 += SAMPLE_CHUNK * block) {
            loadChunk(logits, v, o, i0, vocab, block);
            bestId = argmaxChunk(v, best, bestId, i0, vocab, block);
        }
        redValue[t] = best[0];
        redId[t] = bestId;
        redNan[t] = 0;
        ctx.localBarrier();
        reduce(ctx, redValue, redId, redNan, t, block);
        if (t == 0) tokens.set(row, redId[0]);
    }

    /** sample's tree: the larger value, or equal, the lower id; the NaN flags OR'd. Ends with a barrier. */
    private static void reduce(KernelContext ctx, float[] redValue, int[] redId, int[] redNan, int t, int block) {
        for (int h = block >> 1; h > 0; h >>= 1) {
            if (t < h) {
                float other = redValue[t + h];
                int id = redId[t + h];
                if (other > redValue[t] || (other == redValue[t] && id < redId[t])) { redValue[t] = other; redId[t] = id; }
                redNan[t] |= redNan[t + h];
            }
            ctx.localBarrier();
        }
    }

    /** 1 if a loaded logit of ids i0 + j·stride &lt; end is NaN, else 0. */
    @Unroll
    static int nanChunk(float[] v, int i0, int end, int stride) {
        int nan = 0;
        for (int j = 0; j < SAMPLE_CHUNK; j++) {
            if (i0 + j * stride < end && v[j] != v[j]) nan = 1;
        }
        return nan;
    }
}
