package dev.arbor.kernels.layer;

import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;

/**
 * Per-token gathers of the forward pass as accel kernels: the embedding lookup, rotary embedding at
 * arbitrary positions (cos/sin tables indexed by each token's position) and the gather of logit rows.
 * One work-item per output element; plain references in {@link TokenReference}. Host code checks
 * indices (token ids, positions, rows) before launching; the kernels only make sure an out-of-range
 * index never reads outside its array: such an output is NaN (visible, never silent garbage).
 */
public final class TokenKernels {
    private TokenKernels() {}

    /**
     * Embedding gather from a bf16 table: {@code out[t, i] = table[ids[t], i]} (exact widening).
     *
     * @param ids   (tokens) token ids; an id outside [0, vocab) gives a NaN row
     * @param table (vocab, hidden)
     * @param out   (tokens, hidden) fp32
     *              Launch: {@code Launch.cover(tokens * hidden, 256)}.
     */
    public static void embeddingBf16(KernelContext ctx, IntArray ids, BFloat16Array table, FloatArray out, int tokens, int hidden, int vocab) {
        int idx = ctx.globalIdx;
        if (idx >= tokens * hidden) return;
        int t = idx / hidden, i = idx - t * hidden;
        int id = ids.get(t);
        out.set(idx, id >= 0 && id < vocab ? table.get(id * hidden + i) : Float.NaN);
    }

    /** As {@link #embeddingBf16} for an fp16 table. */
    public static void embeddingF16(KernelContext ctx, IntArray ids, HalfFloatArray table, FloatArray out, int tokens, int hidden, int vocab) {
        int idx = ctx.globalIdx;
        if (idx >= tokens * hidden) return;
        int t = idx / hidden, i = idx - t * hidden;
        int id = ids.get(t);
        out.set(idx, id >= 0 && id < vocab ? table.get(id * hidden + i) : Float.NaN);
    }

    /** As {@link #embeddingBf16} for an fp32 table. */
    public static void embeddingF32(KernelContext ctx, IntArray ids, FloatArray table, FloatArray out, int tokens, int hidden, int vocab) {
        int idx = ctx.globalIdx;
        if (idx >= tokens * hidden) return;
        int t = idx / hidden, i = idx - t * hidden;
        int id = ids.get(t);
        out.set(idx, id >= 0 && id < vocab ? table.get(id * hidden + i) : Float.NaN);
    }

    /**
     * Rotary embedding (rotate_half form), in place, one work-item per rotated pair, with the angles
     * of each token's position taken from full tables: the arithmetic of
     * {@link dev.arbor.kernels.LayerKernels#rope} operation for operation, so given the same table
     * values the results are bit-identical to it (and to the CPU forward pass).
     *
     * @param x         (tokens, heads * 2*half)
     * @param cos       (maxPositions, half): cos(position * invFreq[i])
     * @param sin       (maxPositions, half)
     * @param positions (tokens); a position outside [0, maxPositions) makes the token's pairs NaN
     *                  Launch: {@code Launch.cover(tokens * heads * half, 256)}.
     */
    public static void ropeAtPositions(KernelContext ctx, FloatArray x, FloatArray cos, FloatArray sin, IntArray positions,
                                       int tokens, int heads, int half, int maxPositions) {
        int idx = ctx.globalIdx;
        if (idx >= tokens * heads * half) return;
        int i = idx % half, th = idx / half, t = th / heads;
        int o = th * 2 * half;
        int pos = positions.get(t);
        if (pos < 0 || pos >= maxPositions) {
            x.set(o + i, Float.NaN);
            x.set(o + i + half, Float.NaN);
            return;
        }
        float x1 = x.get(o + i), x2 = x.get(o + i + half);
        float cs = cos.get(pos * half + i), sn = sin.get(pos * half + i);
        x.set(o + i, x1 * cs - x2 * sn);
        x.set(o + i + half, x2 * cs + x1 * sn);
    }

    /**
     * Row gather: {@code dst[r, c] = src[rows[r], c]}, e.g. the hidden states of the tokens whose
     * logits are needed.
     *
     * @param src     (srcRows, n)
     * @param rowIdx  (numRows) row indices into src; one outside [0, srcRows) gives a NaN row
     * @param dst     (numRows, n)
     *                Launch: {@code Launch.cover(numRows * n, 256)}.
     */
    public static void gatherRows(KernelContext ctx, FloatArray src, IntArray rowIdx, FloatArray dst, int numRows, int n, int srcRows) {
        int idx = ctx.globalIdx;
        if (idx >= numRows * n) return;
        int r = idx / n, c = idx - r * n;
        int row = rowIdx.get(r);
        dst.set(idx, row >= 0 && row < srcRows ? src.get(row * n + c) : Float.NaN);
    }

    /**
     * Feeds sampled token ids into a step's inputs on the device (asynchronous scheduling: the next step is launched before the
     * previous step's ids come back to the host): {@code tokenIds[feed[2i]] = sampled[feed[2i+1]]} for i < count. A pair whose
     * token index or sample row lies outside its array is skipped (the host checks them; the kernel never writes out of bounds).
     *
     * @param tokenIds (tokens) the step's token ids, overwritten at the fed indices
     * @param sampled  (rows) the previous step's sampled ids
     * @param feed     (count, 2) pairs (token index, sample row)
     *                 Launch: {@code Launch.cover(count, 256)}.
     */
    public static void feedTokens(KernelContext ctx, IntArray tokenIds, IntArray sampled, IntArray feed, int count, int tokens, int rows) {
        int i = ctx.globalIdx;
        if (i >= count) return;
        int t = feed.get(2 * i), r = feed.get(2 * i + 1);
        if (t >= 0 && t < tokens && r >= 0 && r < rows) tokenIds.set(t, sampled.get(r));
    }
}
