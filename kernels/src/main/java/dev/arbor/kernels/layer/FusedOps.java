package dev.arbor.kernels.layer;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.kernels.LayerKernels;

import static dev.arbor.kernels.layer.TokenOps.need;
import static dev.arbor.kernels.layer.TokenOps.positive;

/**
 * Host-side launchers of {@link FusedKernels}: check shapes against the arrays (an {@link IllegalArgumentException}
 * naming the mismatch), size the grid, launch. {@code overlap}: launch overlapping the previous kernel on the stream
 * (programmatic dependent launch; each fused kernel waits for that grid before reading anything).
 */
public final class FusedOps {
    private FusedOps() {}

    static final Kernel QKV_BF16 = Kernel.of(FusedKernels.class, "qkvRopeStoreBf16");
    static final Kernel QKV_F16 = Kernel.of(FusedKernels.class, "qkvRopeStoreF16");
    static final Kernel QKV_F32 = Kernel.of(FusedKernels.class, "qkvRopeStoreF32");
    static final Kernel QKV_WIDE_BF16 = Kernel.of(FusedKernels.class, "qkvRopeStoreWideBf16");
    static final Kernel QKV_WIDE_F16 = Kernel.of(FusedKernels.class, "qkvRopeStoreWideF16");
    static final Kernel QKV_WIDE_F32 = Kernel.of(FusedKernels.class, "qkvRopeStoreWideF32");
    static final Kernel SILU_MUL_ROWS = Kernel.of(FusedKernels.class, "siluMulRows");
    static final Kernel ADD_RMS_NORM = Kernel.of(FusedKernels.class, "addRmsNormRows");
    static final Kernel ADD_RMS_NORM_SPLIT = Kernel.of(FusedKernels.class, "addRmsNormSplitRow");
    static final Kernel SILU_MUL_ROWS_BF16 = Kernel.of(FusedKernels.class, "siluMulRowsBf16");
    static final Kernel ADD_RMS_NORM_BF16 = Kernel.of(FusedKernels.class, "addRmsNormRowsBf16");
    static final Kernel SILU_MUL_ROWS_WIDE = Kernel.of(FusedKernels.class, "siluMulRowsWide");
    static final Kernel SILU_MUL_ROWS_WIDE_BF16 = Kernel.of(FusedKernels.class, "siluMulRowsWideBf16");
    static final Kernel SILU_MUL_ROWS_INTERLEAVED = Kernel.of(FusedKernels.class, "siluMulRowsInterleaved");
    static final Kernel SILU_MUL_ROWS_INTERLEAVED_BF16 = Kernel.of(FusedKernels.class, "siluMulRowsInterleavedBf16");

    /**
     * {@code -Darbor.fused.siluWide} (on unless set false): {@link #siluMulRows} runs {@link FusedKernels#siluMulRowsWide}
     * ({@link FusedKernels#SILU_WIDE_ELEMS} elements a work-item, the row from the grid's y, every load first) instead of
     * {@link FusedKernels#siluMulRows} (one element a work-item): the same bits (FusedKernelsTest, FusedKernelsGpuTest).
     * Measured in bench/RESULTS.md run 66-b128 (H200, llama3.2-1b b128 × 512 decode, on / off in one call).
     */
    public static final boolean SILU_WIDE = Boolean.parseBoolean(System.getProperty("arbor.fused.siluWide", "true"));

    /**
     * {@code -Darbor.fused.qkvRopeWide} (on unless set false): {@link #qkvRopeStore} runs {@link FusedKernels#qkvRopeStoreWideBf16}
     * (and its fp16 / fp32 forms: {@link FusedKernels#QKV_WIDE_ELEMS} pairs a work-item, the token from the grid's y, no
     * division a pair) where half the head dimension divides {@link FusedKernels#QKV_WIDE_GROUP}, instead of the one-pair
     * kernels: the same bits (FusedKernelsTest, FusedKernelsGpuTest, FusedForwardGpuTest). Measured in bench/RESULTS.md
     * run 69-fuse18.
     */
    public static final boolean QKV_WIDE = Boolean.parseBoolean(System.getProperty("arbor.fused.qkvRopeWide", "true"));

    /** The wide q|k|v kernels' launch: ({@code ⌈units·half / QKV_WIDE_SPAN⌉}, tokens) work-groups of {@link FusedKernels#QKV_WIDE_GROUP}. */
    static Launch qkvWideLaunch(int tokens, int units, int half) {
        return Launch.of(new int[] {(units * half + FusedKernels.QKV_WIDE_SPAN - 1) / FusedKernels.QKV_WIDE_SPAN, tokens, 1},
                new int[] {FusedKernels.QKV_WIDE_GROUP, 1, 1});
    }

    /** The wide SwiGLU kernels' launch: ({@code ⌈inter / SILU_WIDE_SPAN⌉}, tokens) work-groups of {@link FusedKernels#SILU_WIDE_GROUP}. */
    static Launch siluWideLaunch(int tokens, int inter) {
        return Launch.of(new int[] {(inter + FusedKernels.SILU_WIDE_SPAN - 1) / FusedKernels.SILU_WIDE_SPAN, tokens, 1},
                new int[] {FusedKernels.SILU_WIDE_GROUP, 1, 1});
    }

    private static Launch overlap(Launch l, boolean overlap) { return overlap ? l.overlappingPrevious() : l; }

    /**
     * q (tokens, heads * headDim) = rope(q part), k/v parts (rope on k) into the KV store at {@code slots}.
     *
     * @param qkv    (slices, tokens, (heads + 2 kvHeads) * headDim) the fused projection's partial sums
     * @param kCache (numBlocks, kvHeads, blockSize, headDim) BFloat16Array, HalfFloatArray or FloatArray; vCache alike
     * @param cos    (tokens, headDim / 2) this step's angles, sin alike; both null for ALiBi models (no rotation)
     */
    public static void qkvRopeStore(Backend b, FloatArray qkv, int slices, FloatArray q, OffHeapArray kCache, OffHeapArray vCache,
                                    FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int headDim,
                                    int blockSize, boolean overlap) {
        qkvRopeStore(b, qkv, slices, q, kCache, vCache, cos, sin, slots, tokens, heads, kvHeads, headDim, blockSize, overlap, QKV_WIDE);
    }

    /**
     * As {@link #qkvRopeStore(Backend, FloatArray, int, FloatArray, OffHeapArray, OffHeapArray, FloatArray, FloatArray, IntArray, int, int, int, int, int, boolean)}
     * by the given kernel: {@code wide}, {@link FusedKernels#qkvRopeStoreWideBf16} and its forms where half the head dimension
     * divides {@link FusedKernels#QKV_WIDE_GROUP} (the one-pair kernel otherwise).
     */
    public static void qkvRopeStore(Backend b, FloatArray qkv, int slices, FloatArray q, OffHeapArray kCache, OffHeapArray vCache,
                                    FloatArray cos, FloatArray sin, IntArray slots, int tokens, int heads, int kvHeads, int headDim,
                                    int blockSize, boolean overlap, boolean wide) {
        positive("tokens", tokens);
        positive("slices", slices);
        positive("heads", heads);
        positive("kvHeads", kvHeads);
        positive("blockSize", blockSize);
        if (headDim <= 0 || headDim % 2 != 0) throw new IllegalArgumentException("headDim must be positive and even: " + headDim);
        if (kCache.getClass() != vCache.getClass() || kCache.length() != vCache.length()) {
            throw new IllegalArgumentException("kCache and vCache differ: " + kCache.getClass().getSimpleName() + " of " + kCache.length()
                    + ", " + vCache.getClass().getSimpleName() + " of " + vCache.length());
        }
        long perBlock = (long) kvHeads * blockSize * headDim;
        if (kCache.length() % perBlock != 0) throw new IllegalArgumentException("kCache length " + kCache.length() + " is not whole blocks of " + perBlock);
        int half = headDim / 2, units = heads + 2 * kvHeads;
        need("qkv", qkv, (long) slices * tokens * units * headDim);
        need("q", q, (long) tokens * heads * headDim);
        need("slots", slots, tokens);
        boolean rope = cos != null;
        if (rope) {
            need("cos", cos, (long) tokens * half);
            need("sin", sin, (long) tokens * half);
        }
        FloatArray c = rope ? cos : q, s = rope ? sin : q;   // unread without rope; any array fills the parameter
        int numBlocks = (int) (kCache.length() / perBlock);
        Object[] args = {qkv, slices, q, kCache, vCache, c, s, slots, tokens, heads, kvHeads, half, blockSize, numBlocks, rope ? 1 : 0};
        boolean wideFits = wide && FusedKernels.QKV_WIDE_GROUP % half == 0;
        Launch l = overlap(wideFits ? qkvWideLaunch(tokens, units, half) : Launch.cover(tokens * units * half, 256), overlap);
        Kernel k = switch (kCache) {
            case BFloat16Array a -> wideFits ? QKV_WIDE_BF16 : QKV_BF16;
            case HalfFloatArray a -> wideFits ? QKV_WIDE_F16 : QKV_F16;
            case FloatArray a -> wideFits ? QKV_WIDE_F32 : QKV_F32;
            default -> throw new IllegalArgumentException("no KV store kernel for " + kCache.getClass().getSimpleName());
        };
        b.launch(k, l, args);
    }

    /** {@code out (tokens, inter) = silu(gate) * up} from the fused projection's (slices, tokens, 2 inter) partial sums. */
    public static void siluMulRows(Backend b, FloatArray gateUp, int slices, FloatArray out, int tokens, int inter, boolean overlap) {
        siluMulRows(b, gateUp, slices, out, tokens, inter, overlap, SILU_WIDE);
    }

    /** As {@link #siluMulRows(Backend, FloatArray, int, FloatArray, int, int, boolean)} by the given kernel: {@code wide}, {@link FusedKernels#siluMulRowsWide}. */
    public static void siluMulRows(Backend b, FloatArray gateUp, int slices, FloatArray out, int tokens, int inter, boolean overlap, boolean wide) {
        launchSiluMulRows(b, wide ? SILU_MUL_ROWS_WIDE : SILU_MUL_ROWS, wide, gateUp, slices, out, tokens, inter, overlap);
    }

    /** As {@link #siluMulRows(Backend, FloatArray, int, FloatArray, int, int, boolean)} into bf16 (rounded to nearest even): a GEMM's X. */
    public static void siluMulRows(Backend b, FloatArray gateUp, int slices, BFloat16Array out, int tokens, int inter, boolean overlap) {
        siluMulRows(b, gateUp, slices, out, tokens, inter, overlap, SILU_WIDE);
    }

    /** As {@link #siluMulRows(Backend, FloatArray, int, BFloat16Array, int, int, boolean)} by the given kernel: {@code wide}, {@link FusedKernels#siluMulRowsWideBf16}. */
    public static void siluMulRows(Backend b, FloatArray gateUp, int slices, BFloat16Array out, int tokens, int inter, boolean overlap, boolean wide) {
        launchSiluMulRows(b, wide ? SILU_MUL_ROWS_WIDE_BF16 : SILU_MUL_ROWS_BF16, wide, gateUp, slices, out, tokens, inter, overlap);
    }

    /** One SwiGLU launch of {@code kernel}: the wide kernels' grid ({@link #siluWideLaunch}) or one work-item an element. */
    private static void launchSiluMulRows(Backend b, Kernel kernel, boolean wide, FloatArray gateUp, int slices, OffHeapArray out, int tokens,
                                          int inter, boolean overlap) {
        checkSiluMulRows(gateUp, slices, out, tokens, inter);
        Launch l = wide ? siluWideLaunch(tokens, inter) : Launch.cover(tokens * inter, 256);
        b.launch(kernel, overlap(l, overlap), gateUp, slices, out, tokens, inter);
    }

    /**
     * {@code out (tokens, inter) = silu(gate) * up} from an interleaved gate|up projection's (slices, tokens, 2 inter) partial sums
     * ({@link FusedKernels#siluMulRowsInterleaved}); out fp32 or bf16 (a GEMM's X); inter a multiple of 8.
     */
    public static void siluMulRowsInterleaved(Backend b, FloatArray gateUp, int slices, OffHeapArray out, int tokens, int inter, boolean overlap) {
        checkSiluMulRows(gateUp, slices, out, tokens, inter);
        if (inter % 8 != 0) throw new IllegalArgumentException("interleaved gate|up needs inter a multiple of 8: " + inter);
        Launch l = overlap(Launch.cover(tokens * inter, 256), overlap);
        switch (out) {
            case FloatArray f -> b.launch(SILU_MUL_ROWS_INTERLEAVED, l, gateUp, slices, f, tokens, inter);
            case BFloat16Array h -> b.launch(SILU_MUL_ROWS_INTERLEAVED_BF16, l, gateUp, slices, h, tokens, inter);
            default -> throw new IllegalArgumentException("SwiGLU writes fp32 or bf16, not " + out.getClass().getSimpleName());
        }
    }

    /** As {@link #addRmsNorm(Backend, FloatArray, FloatArray, int, FloatArray, FloatArray, int, int, double, boolean)} with the normalised rows in bf16 (x stays fp32). */
    public static void addRmsNorm(Backend b, FloatArray x, FloatArray y, int slices, FloatArray w, BFloat16Array out, int rows, int n,
                                  double eps, boolean overlap) {
        checkAddRmsNorm(x, y, slices, w, out, rows, n);
        b.launch(ADD_RMS_NORM_BF16, overlap(Launch.of1D(rows, FusedKernels.ADD_NORM_GROUP), overlap), x, y, slices, w, out, rows, n, eps);
    }

    /** {@code x (rows, n) += y} (y: (slices, rows, n) partial sums), then {@code out = rmsNorm(x) * w}; out must not be x. */
    public static void addRmsNorm(Backend b, FloatArray x, FloatArray y, int slices, FloatArray w, FloatArray out, int rows, int n,
                                  double eps, boolean overlap) {
        checkAddRmsNorm(x, y, slices, w, out, rows, n);
        b.launch(ADD_RMS_NORM, overlap(Launch.of1D(rows, FusedKernels.ADD_NORM_GROUP), overlap), x, y, slices, w, out, rows, n, eps);
    }

    /** Work-groups of {@link FusedKernels#addRmsNormSplitRow} a row of n: one per {@link LayerKernels#NORM_GROUP} columns. */
    public static int splitRowGroups(int n) { return (n + LayerKernels.NORM_GROUP - 1) / LayerKernels.NORM_GROUP; }

    /**
     * As {@link #addRmsNorm} with each row spread over {@link #splitRowGroups} work-groups, the last-arriving one normalising
     * ({@link FusedKernels#addRmsNormSplitRow}): the same bits. {@code arrivals}: (rows) counters, zero between launches (the
     * kernel leaves them zero), on the device.
     */
    public static void addRmsNormSplitRow(Backend b, FloatArray x, FloatArray y, int slices, FloatArray w, FloatArray out, IntArray arrivals,
                                          int rows, int n, double eps, boolean overlap) {
        checkAddRmsNorm(x, y, slices, w, out, rows, n);
        need("arrivals", arrivals, rows);
        int groups = splitRowGroups(n);
        b.launch(ADD_RMS_NORM_SPLIT, overlap(Launch.of1D(Math.multiplyExact(rows, groups), LayerKernels.NORM_GROUP), overlap),
                x, y, slices, w, out, arrivals, rows, n, groups, eps);
    }

    /** The shapes {@link #siluMulRows} reads and writes; out is fp32 or bf16. */
    private static void checkSiluMulRows(FloatArray gateUp, int slices, OffHeapArray out, int tokens, int inter) {
        positive("tokens", tokens);
        positive("slices", slices);
        positive("inter", inter);
        need("gateUp", gateUp, (long) slices * tokens * 2 * inter);
        need("out", out, (long) tokens * inter);
    }

    /** The shapes {@link #addRmsNorm} and {@link #addRmsNormSplitRow} read and write; out (fp32 or bf16) must not be x. */
    private static void checkAddRmsNorm(FloatArray x, FloatArray y, int slices, FloatArray w, OffHeapArray out, int rows, int n) {
        positive("rows", rows);
        positive("slices", slices);
        positive("n", n);
        if (out == x) throw new IllegalArgumentException("out must not be x (x is updated while other rows are normalised)");
        need("x", x, (long) rows * n);
        need("y", y, (long) slices * rows * n);
        need("w", w, n);
        need("out", out, (long) rows * n);
    }
}
