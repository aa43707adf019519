package dev.arbor.models.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Paged K/V storage for the CPU transformer: per layer one off-heap float32 segment for K and one
 * for V, each laid out {@code [block][kvHead][slot][headDim]}, so a block is one contiguous range
 * (cheap copy-on-write) and a head's slots in a block are contiguous (attention streams them).
 * Freed by the GC when the cache is dropped. Also holds each worker thread's attention scratch rows,
 * grown to the longest context seen, so a step allocates none.
 */
public final class PagedKvCache {
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;

    private final int numLayers, numBlocks, blockSize, numKvHeads, headDim;
    private final MemorySegment[] keys, values; // (layer) -> (block, kvHead, slot, headDim)

    public PagedKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim) {
        if (numBlocks <= 0 || blockSize <= 0) {
            throw new IllegalArgumentException("numBlocks and blockSize must be positive: " + numBlocks + ", " + blockSize);
        }
        this.numLayers = numLayers;
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.numKvHeads = numKvHeads;
        this.headDim = headDim;
        Arena arena = Arena.ofAuto();
        long bytes = (long) numBlocks * blockBytesPerLayer();
        keys = new MemorySegment[numLayers];
        values = new MemorySegment[numLayers];
        for (int l = 0; l < numLayers; l++) {
            keys[l] = arena.allocate(bytes, 64);
            values[l] = arena.allocate(bytes, 64);
        }
    }

    /** Bytes of one block of K (or V) in one layer. */
    long blockBytesPerLayer() {
        return (long) numKvHeads * blockSize * headDim * Float.BYTES;
    }

    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[2][0]);

    /** This thread's first scratch row, at least n floats (grown, never shrunk). */
    float[] scratch(int n) {
        float[][] s = scratch.get();
        if (s[0].length < n) s[0] = new float[Math.max(n, 2 * s[0].length)];
        return s[0];
    }

    /** This thread's second scratch row, at least n floats. */
    float[] scratch2(int n) {
        float[][] s = scratch.get();
        if (s[1].length < n) s[1] = new float[n];
        return s[1];
    }

    public int numBlocks() { return numBlocks; }

    public int blockSize() { return blockSize; }

    int numLayers() { return numLayers; }

    int numKvHeads() { return numKvHeads; }

    int headDim() { return headDim; }

    MemorySegment keys(int layer) { return keys[layer]; }

    MemorySegment values(int layer) { return values[layer]; }

    /** Byte offset of (block, kvHead, slot) in a layer's segment. */
    long offset(int block, int kvHead, int slot) {
        if (block < 0 || block >= numBlocks) {
            throw new IndexOutOfBoundsException("block " + block + " outside the cache's " + numBlocks + " blocks");
        }
        return (((long) block * numKvHeads + kvHead) * blockSize + slot) * headDim * Float.BYTES;
    }

    /** Stores {@code k, v (tokens, kvHeads * headDim)} of token {@code t} at cache slot (block, slot). */
    void write(int layer, float[] k, float[] v, int t, int block, int slot) {
        write(layer, MemorySegment.ofArray(k), MemorySegment.ofArray(v), t, block, slot);
    }

    /**
     * As {@link #write(int, float[], float[], int, int, int)} from heap segments over the same arrays: the caller
     * keeps the views, so a step copies without creating one per (token, head), as the array overload does inside
     * {@link MemorySegment#copy(Object, int, MemorySegment, java.lang.foreign.ValueLayout, long, int)}.
     */
    void write(int layer, MemorySegment k, MemorySegment v, int t, int block, int slot) {
        int kvDim = numKvHeads * headDim;
        long rowBytes = (long) headDim * Float.BYTES;
        for (int h = 0; h < numKvHeads; h++) {
            long off = offset(block, h, slot), src = ((long) t * kvDim + (long) h * headDim) * Float.BYTES;
            MemorySegment.copy(k, src, keys[layer], off, rowBytes);
            MemorySegment.copy(v, src, values[layer], off, rowBytes);
        }
    }

}
