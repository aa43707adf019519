package dev.arbor.models.cpu;

import dev.arbor.accel.array.BFloat16Array;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Paged K/V storage for the CPU transformer: per layer one off-heap segment for K and one for V, float32
 * (the default) or bfloat16 (opt-in, {@code --kv-cache-dtype bf16} on the CPU: half the bytes that decode
 * attention streams, K/V rounded to nearest even when stored, widened exactly when read). By default the layout is head-major:
 * V is {@code [kvHead][block][slot][headDim]}, K is transposed within a block, {@code [kvHead][block][headDim][slot]}, so that
 * {@link Attention} scores a block's slots in vector lanes; a head's part of a block is one contiguous range, and a sequence's
 * consecutive blocks (the allocator hands them out in order) are adjacent for each head, so decode attention streams one long
 * range a head instead of a head's 2-4 KiB every {@code kvHeads × block} bytes (run 79-cpu20: batch-8 decode attention 1.2-1.5x
 * faster on the 2-core VM, the same bits). {@code -Darbor.cpu.kvHeadMajor=false} keeps the block-major layout
 * {@code [block][kvHead]...} of earlier sessions.
 * Freed by the GC when the cache is dropped. Also holds each worker thread's attention scratch rows,
 * grown to the longest context seen, so a step allocates none.
 */
public final class PagedKvCache {
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT;

    /**
     * Whether the CPU KV cache stores bfloat16 for {@code --kv-cache-dtype}: {@code auto} and {@code fp32} keep float32
     * (the default: the CPU backend is the reference the others are compared with, so it keeps K/V unrounded), {@code bf16}
     * stores bfloat16.
     *
     * @throws IllegalArgumentException for fp16 (no fp16 store on the CPU) or an unknown value, naming the choices
     */
    public static boolean bf16For(String kvCacheDtype) {
        return switch (kvCacheDtype == null ? "auto" : kvCacheDtype.trim().toLowerCase()) {
            case "auto", "fp32", "float32", "float" -> false;
            case "bf16", "bfloat16" -> true;
            default -> throw new IllegalArgumentException("--kv-cache-dtype on the CPU must be auto (= fp32), fp32 or bf16, not '"
                    + kvCacheDtype + "'");
        };
    }

    private final boolean bf16;
    private final int elementBytes;     // 4 (float32) or 2 (bfloat16)

    private final int numLayers, numBlocks, blockSize, numKvHeads, headDim;

    /** {@code -Darbor.cpu.kvHeadMajor} (default true): the layout new caches take, see the class comment. */
    static final boolean HEAD_MAJOR = Boolean.parseBoolean(System.getProperty("arbor.cpu.kvHeadMajor", "true"));
    private final boolean headMajor;
    private final MemorySegment[] keys, values; // (layer) -> (kvHead, block, slot, headDim) or (block, kvHead, slot, headDim)

    public PagedKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim) {
        this(numLayers, numBlocks, blockSize, numKvHeads, headDim, false);
    }

    /** @param bf16 store K/V as bfloat16 (rounded to nearest even) instead of float32 */
    public PagedKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, boolean bf16) {
        this(numLayers, numBlocks, blockSize, numKvHeads, headDim, bf16, HEAD_MAJOR);
    }

    /**
     * @param bf16      store K/V as bfloat16 (rounded to nearest even) instead of float32
     * @param headMajor the head-major layout (see the class comment) rather than the block-major one; the same values either way
     */
    PagedKvCache(int numLayers, int numBlocks, int blockSize, int numKvHeads, int headDim, boolean bf16, boolean headMajor) {
        this.headMajor = headMajor;
        this.bf16 = bf16;
        this.elementBytes = bf16 ? 2 : Float.BYTES;
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
        for (int l = 0; l < numLayers; l++) {   // on 2 MiB pages where the OS allows (HugePages: the same bytes, fewer TLB misses)
            keys[l] = HugePages.kv ? HugePages.allocate(arena, bytes) : arena.allocate(bytes, 64);
            values[l] = HugePages.kv ? HugePages.allocate(arena, bytes) : arena.allocate(bytes, 64);
        }
    }

    /** Bytes of one block of K (or V) in one layer. */
    long blockBytesPerLayer() {
        return (long) numKvHeads * blockSize * headDim * elementBytes;
    }

    /** Whether K/V are stored as bfloat16. */
    boolean bf16() { return bf16; }

    /** Bytes of one stored K/V element: 4 or 2. */
    int elementBytes() { return elementBytes; }

    /** Element {@code index} of {@code seg} counted from byte offset {@code base}, as a float (either dtype). */
    float at(MemorySegment seg, long base, long index) {
        return bf16 ? bf16At(seg, base + 2 * index) : seg.get(FLOAT, base + 4 * index);
    }

    /** The bfloat16 at byte offset {@code off}, widened to float32 (exact: bf16 is a float's top half). */
    static float bf16At(MemorySegment seg, long off) { return BFloat16Array.toFloat(seg.get(SHORT, off)); }

    /** float32 to bfloat16, rounded to nearest, ties to even (NaN stays a quiet NaN): accel's rounding, as the GPU's KV store. */
    static short toBf16(float f) { return BFloat16Array.fromFloat(f); }

    private final ThreadLocal<float[][]> scratch = ThreadLocal.withInitial(() -> new float[3][0]);

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

    /** This thread's third scratch row, at least n floats (grown, never shrunk): attention's per-block maxima and corrections. */
    float[] scratch3(int n) {
        float[][] s = scratch.get();
        if (s[2].length < n) s[2] = new float[Math.max(n, 2 * s[2].length)];
        return s[2];
    }

    public int numBlocks() { return numBlocks; }

    public int blockSize() { return blockSize; }

    int numLayers() { return numLayers; }

    int numKvHeads() { return numKvHeads; }

    int headDim() { return headDim; }

    MemorySegment keys(int layer) { return keys[layer]; }

    MemorySegment values(int layer) { return values[layer]; }

    /**
     * Byte offset of (block, kvHead, slot) in a layer's V segment; with slot 0, of (block, kvHead) in K's too: the one place
     * that knows the layout (head-major or block-major); within a (block, kvHead) the two are the same.
     */
    long offset(int block, int kvHead, int slot) {
        if (block < 0 || block >= numBlocks) {
            throw new IndexOutOfBoundsException("block " + block + " outside the cache's " + numBlocks + " blocks");
        }
        return headMajor ? (((long) kvHead * numBlocks + block) * blockSize + slot) * headDim * elementBytes
                : (((long) block * numKvHeads + kvHead) * blockSize + slot) * headDim * elementBytes;
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
        MemorySegment kl = keys[layer];
        if (bf16) {
            MemorySegment vl = values[layer];
            for (int h = 0; h < numKvHeads; h++) {
                long src = (long) t * kvDim + (long) h * headDim;
                long vo = offset(block, h, slot), kt = offset(block, h, 0) + 2L * slot;
                for (int d = 0; d < headDim; d++) {
                    vl.set(SHORT, vo + 2L * d, toBf16(v.getAtIndex(FLOAT, src + d)));
                    kl.set(SHORT, kt + 2L * d * blockSize, toBf16(k.getAtIndex(FLOAT, src + d)));
                }
            }
            return;
        }
        for (int h = 0; h < numKvHeads; h++) {
            long src = (long) t * kvDim + (long) h * headDim;   // float index of (t, h, 0) in k and v
            MemorySegment.copy(v, src * Float.BYTES, values[layer], offset(block, h, slot), rowBytes);
            long kt = offset(block, h, 0) + (long) slot * Float.BYTES;   // K[d][slot] at kt + d * blockSize floats
            for (int d = 0; d < headDim; d++) kl.set(FLOAT, kt + (long) d * blockSize * Float.BYTES, k.getAtIndex(FLOAT, src + d));
        }
    }

}
