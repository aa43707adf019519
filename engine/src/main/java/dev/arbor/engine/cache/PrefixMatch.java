package dev.arbor.engine.cache;

/**
 * A cached prefix found by {@link PrefixCache#match} or entered by {@link PrefixCache#insert}: its
 * length in tokens (a whole number of blocks) and the physical blocks that hold it. It is also the
 * handle to {@link PrefixCache#lock lock} and {@link PrefixCache#unlock unlock} that trie path.
 *
 * <p>A match is valid until the trie next evicts or deletes; lock it (or drop it) before calling the
 * cache again. Locking a match whose path was evicted meanwhile fails with
 * {@link IllegalStateException}.
 */
public final class PrefixMatch {
    final TrieNode node;      // last node of the path (the namespace root when empty)
    private final int numTokens;
    private final int[] blocks;

    PrefixMatch(TrieNode node, int numTokens, int[] blocks) {
        this.node = node;
        this.numTokens = numTokens;
        this.blocks = blocks;
    }

    /** Cached tokens, a multiple of the block size. */
    public int numTokens() { return numTokens; }

    /** The blocks holding them, in order (a copy). */
    public int[] blocks() { return blocks.clone(); }

    public int numBlocks() { return blocks.length; }

    public boolean isEmpty() { return numTokens == 0; }

    /**
     * Whether part of this path was deleted while in use: its blocks are on their way out of the
     * cache, so a user must not enter them (or anything that extends them) into the trie again.
     */
    public boolean isDetached() {
        for (TrieNode n = node; n != null; n = n.parent) if (n.detached) return true;
        return false;
    }

    @Override
    public String toString() { return "PrefixMatch[" + numTokens + " tokens, " + blocks.length + " blocks]"; }
}
