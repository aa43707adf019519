package dev.arbor.engine.core;

import dev.arbor.engine.cache.BlockPool;
import dev.arbor.engine.cache.PrefixCache;
import dev.arbor.engine.cache.PrefixMatch;

import java.util.Arrays;

/**
 * Owns sequences' block tables: admission with a cached prefix, growth as tokens are scheduled,
 * entry of computed full blocks into the prefix trie, and release. Ids and counts only.
 *
 * <p>Reference counting: a sequence holds one pool reference on every block of its table; the trie
 * holds one on every block it caches. A block returns to the free list when both let go.
 *
 * <p>NOTE: only full blocks are ever shared (the trie caches full blocks, and a match stops at
 * {@code promptLen - 1} tokens rounded down to a block), so a block in a table is written only by
 * its owner and no copy-on-write is needed: the price is recomputing at most one block of a fully
 * cached prompt.
 */
public final class KvCacheManager {
    private final BlockPool pool;
    private final PrefixCache prefixCache;   // null when prefix caching is off
    private final int blockSize;

    public KvCacheManager(BlockPool pool, PrefixCache prefixCache, int blockSize) {
        this.pool = pool;
        this.prefixCache = prefixCache;
        this.blockSize = blockSize;
    }

    public int blockSize() { return blockSize; }

    public BlockPool pool() { return pool; }

    public PrefixCache prefixCache() { return prefixCache; }

    public int blocksFor(int tokens) { return (tokens + blockSize - 1) / blockSize; }

    /**
     * Whether this sequence takes cached blocks from the trie: not when caching is off, nor when it
     * asked for prompt logprobs. NOTE: those need the logits of every prompt position, and a cached
     * block has none: its positions would have to be recomputed anyway, which is all that reading
     * the cache would save (vLLM skips the lookup for such requests too). Such a sequence still
     * enters the blocks it computes into the trie ({@link #cacheComputedBlocks}), for others.
     */
    public boolean shares(Sequence seq) {
        return prefixCache != null && seq.params().promptLogprobs() == null;
    }

    /** Cached tokens a waiting sequence would reuse if admitted now (no side effect on the trie). */
    public int cachedPrefixTokens(Sequence seq) {
        if (!shares(seq)) return 0;
        return prefixCache.cachedTokens(seq.salt(), seq.tokens.elements(), seq.numTokens() - 1);
    }

    /**
     * Tokens {@link #admit} would schedule for a waiting sequence now, or 0 when it does not fit
     * even after evicting every block it could: no side effect at all (no split, no stats, no LFU
     * touch, no eviction).
     */
    public int canAdmit(Sequence seq, int tokenBudget) {
        int cached = cachedPrefixTokens(seq);
        int n = Math.min(seq.numTokens() - cached, tokenBudget);
        if (n <= 0) return 0;
        int need = blocksFor(cached + n) - cached / blockSize;
        if (pool.numFree() >= need) return n;
        if (prefixCache == null || pool.numFree() + prefixCache.unusedBlocks() < need) return 0;   // O(1) bound first
        int freeable = prefixCache.freeableBlocks(seq.salt(), seq.tokens.elements(), shares(seq) ? seq.numTokens() - 1 : 0);
        return pool.numFree() + freeable >= need ? n : 0;
    }

    /**
     * Admits a waiting sequence: takes the longest cached prefix (retained and locked) and makes
     * room for its first uncached tokens, evicting cold cache if needed. Asks {@link #canAdmit}
     * first, so a sequence that does not fit changes nothing; the prefix lookup is counted in the
     * cache's statistics on the request's first admission only.
     *
     * @param tokenBudget most tokens this step may still compute
     * @return tokens scheduled for it this step, or 0 when it does not fit (nothing changed)
     */
    public int admit(Sequence seq, int tokenBudget) {
        if (canAdmit(seq, tokenBudget) == 0) return 0;
        PrefixMatch m = shares(seq) ? prefixCache.match(seq.salt(), seq.tokens.elements(), seq.numTokens() - 1,
                seq.request.cachedTokens < 0) : null;
        if (m != null && m.numTokens() > 0) {
            for (int b : m.blocks()) { pool.retain(b); seq.blockTable.add(b); }
            prefixCache.lock(m);
            seq.lockedPrefix = m;
            seq.numComputed = m.numTokens();
            seq.numCachedBlocks = m.blocks().length;
        }
        int n = Math.min(seq.numUncomputed(), tokenBudget);
        if (!grow(seq, n)) {
            release(seq);
            return 0;
        }
        return n;
    }

    /** Whether the table can grow to hold {@code n} more tokens, evicting cold cached blocks if needed. */
    public boolean grow(Sequence seq, int n) {
        int need = blocksFor(seq.numComputed + n) - seq.blockTable.size();
        if (need <= 0) return true;
        if (pool.numFree() < need && prefixCache != null) prefixCache.evict(need - pool.numFree());
        if (pool.numFree() < need) return false;
        for (int b : pool.allocate(need)) seq.blockTable.add(b);
        return true;
    }

    /**
     * Enters the sequence's newly computed full blocks into the trie. Where another sequence cached
     * the same tokens first, its blocks win: this sequence switches to them and frees its copies.
     */
    public void cacheComputedBlocks(Sequence seq) {
        if (prefixCache == null) return;
        int full = seq.numComputed / blockSize;
        if (full <= seq.numCachedBlocks) return;
        // A prefix deleted while this sequence uses it is freed when the sequence ends: re-entering
        // its blocks here would silently undo the delete.
        if (seq.lockedPrefix != null && seq.lockedPrefix.isDetached()) return;
        int[] tokens = Arrays.copyOf(seq.tokens.elements(), full * blockSize);
        int[] blocks = Arrays.copyOf(seq.blockTable.elements(), full);
        PrefixMatch m = prefixCache.insert(seq.salt(), tokens, blocks);
        int[] canonical = m.blocks();
        for (int i = 0; i < canonical.length; i++) {
            int mine = seq.blockTable.getInt(i);
            if (canonical[i] != mine) {
                pool.retain(canonical[i]);
                seq.blockTable.set(i, canonical[i]);
                pool.release(mine);
            }
        }
        prefixCache.lock(m);
        if (seq.lockedPrefix != null) prefixCache.unlock(seq.lockedPrefix);
        seq.lockedPrefix = m;
        seq.numCachedBlocks = canonical.length;
    }

    /** Returns all of the sequence's blocks (cached ones stay in the trie) and unlocks its prefix. */
    public void release(Sequence seq) {
        for (int i = 0; i < seq.blockTable.size(); i++) pool.release(seq.blockTable.getInt(i));
        seq.blockTable.clear();
        if (seq.lockedPrefix != null) {
            prefixCache.unlock(seq.lockedPrefix);
            seq.lockedPrefix = null;
        }
        seq.numComputed = 0;
        seq.numCachedBlocks = 0;
    }
}
