package dev.arbor.engine.cache;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One node of the prefix trie: a span of whole blocks, its tokens and physical blocks, and the
 * bookkeeping eviction and deletion need. Plain data; {@link PrefixCache} does all the work.
 * Never leaves the package (callers get {@link PrefixMatch} and {@link PrefixInfo}).
 */
final class TrieNode implements EvictionPolicy.Entry {
    final long id;                                   // unique, the last tie-break in eviction order
    TrieNode parent;                                 // null for a namespace root
    final Map<BlockKey, TrieNode> children = new LinkedHashMap<>(2);
    int[] tokens;                                    // (numBlocks * blockSize) token ids of the span
    int[] blocks;                                    // (numBlocks) physical blocks of the span
    int endDepth;                                    // tokens from the root to the end of this span
    int lockCount;                                   // locked matches whose path runs through here
    int pinCount;                                    // registered prefixes whose path runs through here
    long lastAccess;
    long hits;
    long insertionOrder;
    int priority;
    boolean detached;   // deleted while locked: out of its parent's map, freed at the last unlock
    boolean removed;    // evicted or freed: its blocks went back to the pool

    TrieNode(long id, TrieNode parent, int[] tokens, int[] blocks, int endDepth) {
        this.id = id;
        this.parent = parent;
        this.tokens = tokens;
        this.blocks = blocks;
        this.endDepth = endDepth;
    }

    boolean isRoot() { return parent == null; }

    @Override public long lastAccess() { return lastAccess; }
    @Override public long hits() { return hits; }
    @Override public long insertionOrder() { return insertionOrder; }
    @Override public int priority() { return priority; }
    @Override public int numBlocks() { return blocks.length; }

    @Override
    public String toString() {
        return "TrieNode#" + id + "[end=" + endDepth + ", blocks=" + Arrays.toString(blocks) + ", lock=" + lockCount + ", pin=" + pinCount + "]";
    }

    /** A child's key: the tokens of its first block, compared in full (the hash only picks the bucket). */
    static final class BlockKey {
        private final int[] tokens;
        private final int hash;

        BlockKey(int[] source, int from, int length) {
            this.tokens = Arrays.copyOfRange(source, from, from + length);
            this.hash = Arrays.hashCode(tokens);
        }

        @Override public boolean equals(Object o) { return o instanceof BlockKey k && Arrays.equals(tokens, k.tokens); }
        @Override public int hashCode() { return hash; }
    }
}
