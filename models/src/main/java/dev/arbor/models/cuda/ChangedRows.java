package dev.arbor.models.cuda;

import java.lang.foreign.MemorySegment;

/**
 * The rows of a step input that differ from what the device already holds, so that only they are copied. For the block
 * tables: (maxSeqs, maxBlocksPerSeq) ints, of which a decode step changes a few rows at most (a sequence takes a new block every
 * blockSize tokens), while the table is the step's largest input (llama3.2-1b at batch 128: 128 × 512 ints, 256 KB a step
 * through a pageable copy; run 28: 0.2 ms of upload a step there). Only the blocks each row's context reaches are compared
 * (run 57-host12).
 */
final class ChangedRows {
    private ChangedRows() {}

    /**
     * The span of rows {@code [first, end)} among the first {@code rows} rows of {@code width} ints where {@code host} differs from
     * {@code mirror} (the host copy of what the device holds) in the entries a step reads, or null when none does. Row r's
     * entries read are its first {@code ⌈contextLens[r] / blockSize⌉} blocks (no kernel reads a block past a sequence's
     * context; the rest of a row is padding), so only those are compared: llama3.2-1b at batch 128 compares 128 × ~33 ints a
     * decode step instead of 128 × 512, seed workload 2 434 × ~50 instead of 434 × 256. The span's copy takes whole rows, so
     * what the device holds stays equal to {@code mirror} everywhere.
     */
    static int[] span(int[] host, MemorySegment mirror, int rows, int width, int[] contextLens, int blockSize) {
        MemorySegment src = MemorySegment.ofArray(host);
        long rowBytes = 4L * width;
        int first = -1, last = -1;
        for (int r = 0; r < rows; r++) {
            long at = r * rowBytes, used = 4L * Math.min(width, (contextLens[r] + blockSize - 1) / blockSize);
            if (MemorySegment.mismatch(src, at, at + used, mirror, at, at + used) >= 0) {
                if (first < 0) first = r;
                last = r;
            }
        }
        return first < 0 ? null : new int[] {first, last + 1};
    }
}
