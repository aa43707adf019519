package dev.arbor.engine.cache;

/**
 * Counters of the prefix cache and its pool.
 *
 * @param queryTokens     tokens asked for by {@link PrefixCache#match} (the {@code maxTokens} bound of each call)
 * @param hitTokens       tokens those matches found cached
 * @param cachedBlocks    blocks in the trie that a match can return
 * @param pinnedBlocks    of those, blocks on a registered prefix's path
 * @param evictableBlocks of those, blocks neither pinned nor locked by a running request
 * @param evictedBlocks   blocks removed by eviction so far (not counting deletes)
 * @param freeBlocks      free blocks in the pool
 * @param totalBlocks     blocks in the pool
 * @param numPrefixes     registered prefixes
 */
public record CacheStats(long queryTokens, long hitTokens, int cachedBlocks, int pinnedBlocks,
                         int evictableBlocks, long evictedBlocks, int freeBlocks, int totalBlocks,
                         int numPrefixes) {

    /** {@code hitTokens / queryTokens}, 0 before the first query. */
    public double hitRate() { return queryTokens == 0 ? 0.0 : (double) hitTokens / queryTokens; }
}
