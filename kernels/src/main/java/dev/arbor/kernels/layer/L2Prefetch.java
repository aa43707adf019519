package dev.arbor.kernels.layer;

import dev.arbor.accel.array.BFloat16Array;

import static dev.arbor.kernels.layer.TokenOps.need;

/**
 * What a fused kernel asks into the L2 for the GEMM after it ({@link FusedKernels#prefetchNext}): the first {@code rowBytes}
 * bytes of each of the {@code rows} rows of {@code w} ((rows, k) bf16, row-major), or nothing ({@code rows} 0,
 * {@link #none}). A hint that moves weight bytes during the windows between batch-1 decode GEMMs; it changes no value.
 *
 * @param w        (rows, k) the next GEMM's weights; with {@link #none} any bf16 array (unread: a kernel parameter needs one)
 * @param rows     rows asked for, 0 for none
 * @param k        the row length in elements, a multiple of 8 (16-byte row starts)
 * @param rowBytes bytes from each row's start, a multiple of 16, at most the row's 2k bytes
 */
public record L2Prefetch(BFloat16Array w, int rows, int k, int rowBytes) {
    public L2Prefetch {
        if (w == null) throw new IllegalArgumentException("w is null (none takes any bf16 array)");
        if (rows < 0 || k < 0 || rowBytes < 0) throw new IllegalArgumentException("negative rows " + rows + ", k " + k + " or rowBytes " + rowBytes);
        if (rows > 0) {
            if (k % 8 != 0) throw new IllegalArgumentException("k " + k + " is not a multiple of 8 (rows must start 16-byte aligned)");
            if (rowBytes % 16 != 0 || rowBytes == 0 || rowBytes > 2L * k)
                throw new IllegalArgumentException("rowBytes " + rowBytes + " must be a positive multiple of 16 of at most a row's " + 2L * k);
            need("w", w, (long) rows * k);
        }
    }

    /** Nothing asked for; {@code any} fills the kernels' parameter. */
    public static L2Prefetch none(BFloat16Array any) { return new L2Prefetch(any, 0, 0, 0); }

    /**
     * About {@code bytes} of {@code w} (rows, k): the same share of every row from its start, {@code min(2k, bytes / rows)}
     * rounded down to 16 bytes (all of w when bytes reaches its size); none when that is 0.
     */
    public static L2Prefetch firstBytes(BFloat16Array w, int rows, int k, long bytes) {
        long perRow = Math.min(2L * k, bytes / Math.max(1, rows)) / 16 * 16;
        return perRow <= 0 || rows <= 0 ? none(w) : new L2Prefetch(w, rows, k, (int) perRow);
    }

    /** Bytes asked for in all. */
    public long bytes() { return (long) rows * rowBytes; }
}
