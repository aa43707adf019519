package dev.arbor.engine.cache;

import java.util.Arrays;

/**
 * Physical KV blocks {@code 0..n-1}: a reference count per block and a free list.
 *
 * <p>A block is free exactly when its count is 0. Every holder takes one reference: a sequence for
 * each block of its table, the prefix trie for each block it caches. {@link #release} returns a
 * block to the free list when the last holder lets go.
 *
 * <p>NOTE: the free list is a plain stack of ids, not vLLM's doubly linked list with O(1) removal
 * from the middle. vLLM needs that because its cached blocks sit in the free queue and a cache hit
 * pulls one out; here the trie holds its own reference on every cached block, so a free block is
 * never a cache hit and is only ever taken from the top. The stack starts as 0, 1, 2, ... so
 * allocation order is deterministic, and a just-released block (hot in memory) is reused first.
 *
 * <p>Not thread-safe: owned by the engine loop.
 */
public final class BlockPool {
    private final int[] refCounts;   // (numBlocks) references per block; 0 = free
    private final int[] freeStack;   // (numBlocks) free ids; the top is freeStack[numFree - 1]
    private int numFree;

    public BlockPool(int numBlocks) {
        if (numBlocks < 0) throw new IllegalArgumentException("numBlocks must be >= 0, got " + numBlocks);
        refCounts = new int[numBlocks];
        freeStack = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) freeStack[i] = numBlocks - 1 - i;
        numFree = numBlocks;
    }

    public int numTotal() { return refCounts.length; }

    public int numFree() { return numFree; }

    public boolean canAllocate(int n) { return n >= 0 && n <= numFree; }

    /** Takes {@code n} free blocks, each with reference count 1. */
    public int[] allocate(int n) {
        if (n < 0) throw new IllegalArgumentException("cannot allocate " + n + " blocks");
        if (n > numFree) throw new IllegalStateException("cannot allocate " + n + " blocks: " + numFree + " free of " + refCounts.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int b = freeStack[--numFree];
            refCounts[b] = 1;
            out[i] = b;
        }
        return out;
    }

    /** Adds a reference to a block that is in use (a free block must be allocated, not retained). */
    public void retain(int block) {
        check(block);
        if (refCounts[block] == 0) throw new IllegalStateException("retain of free block " + block);
        refCounts[block]++;
    }

    /** Drops a reference; the block goes back to the free list when none is left. */
    public void release(int block) {
        check(block);
        if (refCounts[block] == 0) throw new IllegalStateException("release of block " + block + " would make its reference count negative");
        if (--refCounts[block] == 0) freeStack[numFree++] = block;
    }

    public int refCount(int block) {
        check(block);
        return refCounts[block];
    }

    private void check(int block) {
        if (block < 0 || block >= refCounts.length) throw new IndexOutOfBoundsException("block " + block + " not in 0.." + (refCounts.length - 1));
    }

    /** Test hook: the free list holds exactly the blocks with count 0, each once. */
    void checkInvariants() {
        boolean[] seen = new boolean[refCounts.length];
        for (int i = 0; i < numFree; i++) {
            int b = freeStack[i];
            if (seen[b]) throw new AssertionError("block " + b + " twice in the free list");
            if (refCounts[b] != 0) throw new AssertionError("free block " + b + " has reference count " + refCounts[b]);
            seen[b] = true;
        }
        long zero = Arrays.stream(refCounts).filter(c -> c == 0).count();
        if (zero != numFree) throw new AssertionError(zero + " blocks with count 0 but " + numFree + " in the free list");
        for (int c : refCounts) if (c < 0) throw new AssertionError("negative reference count");
    }
}
