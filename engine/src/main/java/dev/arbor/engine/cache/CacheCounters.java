package dev.arbor.engine.cache;

/**
 * The prefix cache's running totals for {@link CacheStats}: prompt tokens looked up (once per request),
 * tokens found cached, and blocks evicted.
 */
final class CacheCounters {
    private long queryTokens, hitTokens, evictedBlocks;

    void query(long tokens) { queryTokens += tokens; }

    void hit(long tokens) { hitTokens += tokens; }

    void evicted(long blocks) { evictedBlocks += blocks; }

    long queryTokens() { return queryTokens; }

    long hitTokens() { return hitTokens; }

    long evictedBlocks() { return evictedBlocks; }
}
