package dev.arbor.kernels.layer;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

/**
 * Host-side launchers of {@link TokenKernels}: check shapes against the arrays (an
 * {@link IllegalArgumentException} naming the mismatch), compute the grid, launch. Nothing is
 * allocated on the device. Per-head RMSNorm (Qwen3's q/k norm) needs no kernel of its own:
 * {@code LayerKernels.rmsNorm} with {@code rows = tokens * heads, n = headDim} (tested in TokenKernelsTest).
 */
public final class TokenOps {
    private TokenOps() {}

    static final int BLOCK = 256;
    static final Kernel EMBED_BF16 = Kernel.of(TokenKernels.class, "embeddingBf16");
    static final Kernel EMBED_F16 = Kernel.of(TokenKernels.class, "embeddingF16");
    static final Kernel EMBED_F32 = Kernel.of(TokenKernels.class, "embeddingF32");
    static final Kernel ROPE = Kernel.of(TokenKernels.class, "ropeAtPositions");
    static final Kernel GATHER = Kernel.of(TokenKernels.class, "gatherRows");
    static final Kernel FEED = Kernel.of(TokenKernels.class, "feedTokens");

    /**
     * {@code out (tokens, hidden) = table[ids]}; table (vocab, hidden) is a BFloat16Array, HalfFloatArray
     * or FloatArray. Ids are the caller's to check (an out-of-range id yields a NaN row, never a stray read).
     */
    public static void embedding(Backend b, IntArray ids, OffHeapArray table, FloatArray out, int tokens, int hidden) {
        positive("tokens", tokens);
        positive("hidden", hidden);
        if (table.length() % hidden != 0) throw new IllegalArgumentException("embedding table length " + table.length() + " is not a multiple of hidden " + hidden);
        need("ids", ids, tokens);
        need("out", out, (long) tokens * hidden);
        int vocab = table.length() / hidden;
        Launch l = Launch.cover(tokens * hidden, BLOCK);
        switch (table) {
            case BFloat16Array t -> b.launch(EMBED_BF16, l, ids, t, out, tokens, hidden, vocab);
            case HalfFloatArray t -> b.launch(EMBED_F16, l, ids, t, out, tokens, hidden, vocab);
            case FloatArray t -> b.launch(EMBED_F32, l, ids, t, out, tokens, hidden, vocab);
            default -> throw new IllegalArgumentException("embedding table must be bf16, fp16 or fp32, not " + table.getClass().getSimpleName());
        }
    }

    /** Rotary embedding in place on x (tokens, heads * headDim) with cos/sin tables (maxPositions, headDim/2) at positions. */
    public static void ropeAtPositions(Backend b, FloatArray x, FloatArray cos, FloatArray sin, IntArray positions, int tokens, int heads, int headDim) {
        positive("tokens", tokens);
        positive("heads", heads);
        if (headDim <= 0 || headDim % 2 != 0) throw new IllegalArgumentException("headDim must be positive and even: " + headDim);
        int half = headDim / 2;
        if (cos.length() != sin.length() || cos.length() % half != 0) {
            throw new IllegalArgumentException("cos/sin tables must both be (maxPositions, " + half + "): lengths " + cos.length() + ", " + sin.length());
        }
        need("x", x, (long) tokens * heads * headDim);
        need("positions", positions, tokens);
        b.launch(ROPE, Launch.cover(tokens * heads * half, BLOCK), x, cos, sin, positions, tokens, heads, half, cos.length() / half);
    }

    /** {@code dst (numRows, n) = src (srcRows, n)[rows]}. */
    public static void gatherRows(Backend b, FloatArray src, IntArray rows, FloatArray dst, int numRows, int n) {
        positive("numRows", numRows);
        positive("n", n);
        if (src.length() % n != 0) throw new IllegalArgumentException("src length " + src.length() + " is not a multiple of n " + n);
        need("rows", rows, numRows);
        need("dst", dst, (long) numRows * n);
        b.launch(GATHER, Launch.cover(numRows * n, BLOCK), src, rows, dst, numRows, n, src.length() / n);
    }

    /**
     * {@code tokenIds[feed[2i]] = sampled[feed[2i+1]]} for i < count ({@link TokenKernels#feedTokens}): the previous step's
     * sampled ids into this step's inputs, on the device. {@code tokens} and {@code rows} bound the indices.
     */
    public static void feedTokens(Backend b, IntArray tokenIds, IntArray sampled, IntArray feed, int count, int tokens, int rows) {
        if (count == 0) return;
        positive("count", count);
        need("tokenIds", tokenIds, tokens);
        need("sampled", sampled, rows);
        need("feed", feed, 2L * count);
        b.launch(FEED, Launch.cover(count, BLOCK), tokenIds, sampled, feed, count, tokens, rows);
    }

    static void positive(String what, int v) {
        if (v <= 0) throw new IllegalArgumentException(what + " must be positive: " + v);
    }

    static void need(String what, OffHeapArray a, long elements) {
        if (elements > Integer.MAX_VALUE) throw new IllegalArgumentException(what + " would need " + elements + " elements, over 2^31-1");
        if (a.length() < elements) throw new IllegalArgumentException(what + " holds " + a.length() + " elements, needs " + elements);
    }
}
