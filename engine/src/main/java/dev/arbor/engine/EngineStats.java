package dev.arbor.engine;

import dev.arbor.engine.cache.CacheStats;

/**
 * A snapshot of the engine's counters.
 *
 * @param running            sequences being computed
 * @param waiting            sequences waiting for admission
 * @param totalBlocks        KV blocks in the pool
 * @param freeBlocks         blocks on the free list
 * @param blockSize          tokens per block
 * @param promptTokens       prompt tokens of all admitted requests
 * @param computedTokens     tokens whose K/V the model computed (prefill + decode, recomputation included)
 * @param prefillTokens      of those, prompt positions (what the prefix cache saves)
 * @param generatedTokens    tokens sampled
 * @param cachedPromptTokens prompt tokens served from the prefix cache
 * @param preemptions        sequences preempted for lack of blocks
 * @param steps              engine steps run
 * @param prefixCache        trie counters (null when prefix caching is off)
 */
public record EngineStats(int running, int waiting, int totalBlocks, int freeBlocks, int blockSize,
                          long promptTokens, long computedTokens, long prefillTokens, long generatedTokens, long cachedPromptTokens,
                          long preemptions, long steps, CacheStats prefixCache) {

    public int usedBlocks() { return totalBlocks - freeBlocks; }

    public double kvUsage() { return totalBlocks == 0 ? 0 : (double) usedBlocks() / totalBlocks; }
}
