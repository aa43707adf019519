package dev.arbor.engine.cache;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrefixCacheTest {
    static final int BS = 2;
    BlockPool pool = new BlockPool(16);
    PrefixCache cache = new PrefixCache(pool, BS, EvictionPolicy.LRU);

    @AfterEach
    void invariants() {
        pool.checkInvariants();
        cache.checkInvariants();
    }

    static int[] t(int... tokens) { return tokens; }

    /** Caches a sequence as a finished request leaves it (insert, lock, release, unlock): trie-held only. */
    int[] cacheSeq(String salt, int[] tokens) { return cacheSeq(salt, tokens, 0); }

    int[] cacheSeq(String salt, int[] tokens, int priority) {
        int[] mine = pool.allocate(tokens.length / BS);
        PrefixMatch m = cache.insert(salt, tokens, mine, priority);
        cache.lock(m);
        for (int b : mine) pool.release(b);
        cache.unlock(m);
        return m.blocks();
    }

    @Test
    void partialMatchSplitsTheNode() {
        int[] blocks = cacheSeq(null, t(1, 2, 3, 4, 5, 6));
        PrefixMatch m = cache.match(null, t(1, 2, 3, 4, 9, 9, 9), 6);
        assertEquals(4, m.numTokens());
        assertArrayEquals(new int[] {blocks[0], blocks[1]}, m.blocks());
        // maxTokens cuts inside a node too
        PrefixMatch cut = cache.match(null, t(1, 2, 3, 4, 5, 6), 3);
        assertEquals(2, cut.numTokens());
        assertArrayEquals(new int[] {blocks[0]}, cut.blocks());
        // the split path is lockable and the original span still matches whole
        cache.lock(m);
        assertEquals(6, cache.match(null, t(1, 2, 3, 4, 5, 6, 7), 6).numTokens());
        // a divergent insert shares the split head and adds only its own tail block
        int[] mine = pool.allocate(3);
        PrefixMatch ins = cache.insert(null, t(1, 2, 3, 4, 7, 8), mine);
        assertArrayEquals(new int[] {blocks[0], blocks[1], mine[2]}, ins.blocks());
        assertEquals(1, pool.refCount(mine[0]), "duplicate not retained by the trie");
        assertEquals(2, pool.refCount(mine[2]), "new block adopted");
        for (int b : mine) pool.release(b);
        cache.unlock(m);
        assertEquals(4, cache.stats().cachedBlocks());
        assertEquals(4, cache.evict(100));
        assertEquals(16, pool.numFree());
    }

    @Test
    void matchLeavesTheLastTokenAndCountsStats() {
        cacheSeq(null, t(1, 2, 3, 4));
        PrefixMatch m = cache.match(null, t(1, 2, 3, 4), 3);
        assertEquals(2, m.numTokens());
        assertEquals(2, cache.cachedTokens(null, t(1, 2, 3, 4), 3));
        CacheStats st = cache.stats();
        assertEquals(3, st.queryTokens());
        assertEquals(2, st.hitTokens());
        assertEquals(2.0 / 3, st.hitRate(), 1e-9);
        assertEquals(2, st.cachedBlocks());
        assertEquals(2, st.evictableBlocks());
        assertEquals(14, st.freeBlocks());
    }

    @Test
    void nestedPrefixesShareBlocks() {
        int[] a = pool.allocate(2);
        Pinned ha = pin(null, t(1, 2, 3, 4), a);
        for (int x : a) pool.release(x);
        int[] b = pool.allocate(4);
        Pinned hb = pin(null, t(1, 2, 3, 4, 5, 6, 7, 8), b);
        for (int x : b) pool.release(x);
        assertArrayEquals(new int[] {a[0], a[1], b[2], b[3]}, hb.blocks(), "the longer prefix reuses the shorter one's blocks");
        assertEquals(4, 16 - pool.numFree(), "b's duplicates went back to the pool");
        assertEquals(2, cache.listPrefixes().size());
        assertEquals(4, cache.stats().pinnedBlocks());
        assertEquals(0, cache.evict(100), "pinned blocks never evicted");

        assertTrue(cache.delete(ha.id()));
        assertEquals(8, cache.cachedTokens(null, t(1, 2, 3, 4, 5, 6, 7, 8), 8), "the longer prefix still needs the shared blocks");
        assertEquals(1, cache.listPrefixes().size());
        assertTrue(cache.delete(null, t(1, 2, 3, 4, 5, 6, 7, 8, 9)), "tokens round down to whole blocks");
        assertEquals(0, cache.cachedTokens(null, t(1, 2, 3, 4), 4));
        assertEquals(16, pool.numFree());
        assertFalse(cache.delete(hb.id()));
    }

    @Test
    void deleteKeepsWhatOtherContentBranchesFrom() {
        cacheSeq(null, t(1, 2, 9, 9));                    // shares the first block with the prefix
        int[] p = pool.allocate(3);
        Pinned h = pin(null, t(1, 2, 3, 4, 5, 6), p);
        for (int x : p) pool.release(x);
        cacheSeq(null, t(1, 2, 3, 4, 5, 6, 7, 8));        // cached below the prefix
        assertTrue(cache.delete(h.id()));
        assertEquals(4, cache.cachedTokens(null, t(1, 2, 9, 9), 4), "the other branch keeps the shared block");
        assertEquals(2, cache.cachedTokens(null, t(1, 2, 3, 4, 5, 6, 7, 8), 8), "prefix and what was below it are gone");
        assertEquals(2, cache.stats().cachedBlocks());
    }

    @Test
    void saltsIsolateTenants() {
        int[] x = cacheSeq("x", t(1, 2, 3, 4));
        assertEquals(0, cache.match(null, t(1, 2, 3, 4, 5), 4).numTokens());
        assertEquals(0, cache.match("y", t(1, 2, 3, 4, 5), 4).numTokens());
        assertEquals(4, cache.match("x", t(1, 2, 3, 4, 5), 4).numTokens());
        int[] d = cacheSeq(null, t(1, 2, 3, 4));
        assertNotEquals(x, d);
        assertNull(cache.register("y", t(1, 2, 3, 4)));
        assertNotNull(cache.register("x", t(1, 2, 3, 4)));
        assertFalse(cache.delete(null, t(1, 2, 3, 4)), "registered under x only");
    }

    /** A computed prefix entered and pinned: insert, then register (what the engine does through a request). */
    record Pinned(long id, PrefixMatch match) {
        int[] blocks() { return match.blocks(); }
    }

    private Pinned pin(String salt, int[] tokens, int[] blocks) {
        PrefixMatch m = cache.insert(salt, tokens, blocks);
        return new Pinned(cache.register(salt, tokens).id(), m);
    }

    private static void assertNotEquals(int[] a, int[] b) {
        for (int i : a) for (int j : b) assertTrue(i != j, "tenants share block " + i);
    }

    @Test
    void deleteInUseIsDeferredUntilTheLastUnlock() {
        int[] p = pool.allocate(2);
        Pinned h = pin(null, t(1, 2, 3, 4), p);
        for (int x : p) pool.release(x);
        // a request takes the prefix (as KvCacheManager.admit does)
        PrefixMatch m = cache.match(null, t(1, 2, 3, 4, 5), 4);
        assertEquals(4, m.numTokens());
        for (int b : m.blocks()) pool.retain(b);
        cache.lock(m);

        assertTrue(cache.delete(h.id()));
        assertEquals(0, cache.match(null, t(1, 2, 3, 4, 5), 4).numTokens(), "no longer matched");
        List<PrefixInfo> listed = cache.listPrefixes();
        assertEquals(1, listed.size());
        assertFalse(listed.getFirst().pinned());
        assertEquals(1, listed.getFirst().users());
        assertEquals(2, pool.refCount(p[0]), "trie and request still hold it");
        assertEquals(0, cache.stats().numPrefixes());
        assertFalse(cache.delete(h.id()), "already deleted");

        for (int b : m.blocks()) pool.release(b);
        cache.unlock(m);
        assertEquals(16, pool.numFree(), "freed at the last unlock");
        assertTrue(cache.listPrefixes().isEmpty());
        assertEquals(0, cache.stats().cachedBlocks());
    }

    @Test
    void registerPinsACachedSpan() {
        assertNull(cache.register(null, t(1, 2, 3, 4)), "not cached yet");
        cacheSeq(null, t(1, 2, 3, 4, 5, 6));
        PrefixInfo info = cache.register(null, t(1, 2, 3, 4, 5), 3);   // rounds down to 4 tokens
        assertEquals(4, info.numTokens());
        assertEquals(2, info.numBlocks());
        assertTrue(info.pinned());
        assertEquals(3, info.priority());
        assertEquals(info.id(), cache.register(null, t(1, 2, 3, 4)).id(), "idempotent");
        assertEquals(1, cache.evict(100), "only the unpinned tail block goes");
        assertEquals(4, cache.cachedTokens(null, t(1, 2, 3, 4, 5, 6), 6));
        cache.match(null, t(1, 2, 3, 4, 5), 4);
        assertEquals(1, cache.listPrefixes().getFirst().hits());
        assertThrows(IllegalArgumentException.class, () -> cache.register(null, t(1)));
    }

    @Test
    void evictionTakesTheTailOfALongLeafFirst() {
        int[] b = cacheSeq(null, t(1, 2, 3, 4, 5, 6, 7, 8));
        assertEquals(1, cache.evict(1));
        assertEquals(0, pool.refCount(b[3]));
        assertEquals(1, pool.refCount(b[2]));
        assertEquals(6, cache.cachedTokens(null, t(1, 2, 3, 4, 5, 6, 7, 8), 8));
        assertEquals(1, cache.stats().evictedBlocks());
    }

    @Test
    void lockedBlocksAreNeverEvicted() {
        cacheSeq(null, t(1, 2, 3, 4));
        PrefixMatch m = cache.match(null, t(1, 2, 3, 4), 4);
        cache.lock(m);
        assertEquals(0, cache.evict(10));
        assertEquals(0, cache.stats().evictableBlocks());
        cache.unlock(m);
        assertEquals(2, cache.evict(10));
        assertThrows(IllegalStateException.class, () -> cache.lock(m), "stale after eviction");
        assertThrows(IllegalStateException.class, () -> cache.unlock(m), "not locked");
    }

    /** Three one-block sequences X (1,1), Y (2,2), Z (3,3); returns what is left after each single-block eviction. */
    private String evictionOrder(EvictionPolicy policy, boolean touchX) {
        pool = new BlockPool(8);
        cache = new PrefixCache(pool, BS, policy);
        cacheSeq(null, t(1, 1), 5);
        cacheSeq(null, t(2, 2), 1);
        cacheSeq(null, t(3, 3), 3);
        if (touchX) {
            cache.match(null, t(1, 1), 2);
            cache.match(null, t(1, 1), 2);
            cache.match(null, t(2, 2), 2);
        }
        StringBuilder order = new StringBuilder();
        for (int i = 0; i < 3; i++) {
            assertEquals(1, cache.evict(1));
            for (int tok = 1; tok <= 3; tok++) {
                if (order.indexOf("XYZ".charAt(tok - 1) + "") < 0 && cache.cachedTokens(null, t(tok, tok), 2) == 0)
                    order.append("XYZ".charAt(tok - 1));
            }
        }
        return order.toString();
    }

    @Test
    void evictionOrderPerPolicy() {
        assertEquals("XYZ", evictionOrder(EvictionPolicy.LRU, false));
        assertEquals("ZXY", evictionOrder(EvictionPolicy.LRU, true), "Z untouched, then X (matched before Y)");
        assertEquals("XYZ", evictionOrder(EvictionPolicy.FIFO, true), "insertion order, matches do not matter");
        assertEquals("ZYX", evictionOrder(EvictionPolicy.LFU, true), "0 hits, 1 hit, 2 hits");
        assertEquals("XYZ", evictionOrder(EvictionPolicy.LFU, false), "all 0 hits: least recently used first");
        assertEquals("YZX", evictionOrder(EvictionPolicy.PRIORITY, true), "priorities 1, 3, 5");
        assertEquals(EvictionPolicy.LFU, EvictionPolicy.byName("LFU"));
        assertThrows(IllegalArgumentException.class, () -> EvictionPolicy.byName("mru"));
    }

    @Test
    void capOnUnusedCachedBlocks() {
        cache.setMaxCachedUnusedBlocks(2);
        cacheSeq(null, t(1, 1));
        cacheSeq(null, t(2, 2));
        cacheSeq(null, t(3, 3));                                    // over the cap: X, the oldest, goes
        assertEquals(0, cache.cachedTokens(null, t(1, 1), 2));
        assertEquals(2, cache.cachedTokens(null, t(2, 2), 2));
        assertEquals(2, cache.cachedTokens(null, t(3, 3), 2));
        assertEquals(2, cache.stats().evictableBlocks());

        // blocks a running request holds do not count; when it finishes the cap applies again
        int[] mine = pool.allocate(2);
        PrefixMatch m = cache.insert(null, t(4, 4, 5, 5), mine);
        assertEquals(4, m.numTokens(), "the cap never evicts the span just inserted");
        cache.lock(m);
        for (int b : mine) pool.release(b);
        assertEquals(2, cache.stats().evictableBlocks());
        assertEquals(4, cache.stats().cachedBlocks());
        cache.unlock(m);
        assertEquals(2, cache.stats().evictableBlocks());
        assertEquals(4, cache.cachedTokens(null, t(4, 4, 5, 5), 4), "just used: Y and Z went first");
        cache.setMaxCachedUnusedBlocks(1);
        assertEquals(1, cache.stats().cachedBlocks());
        cache.setMaxCachedUnusedBlocks(0);                           // no cap
        cacheSeq(null, t(6, 6, 7, 7, 8, 8));
        assertEquals(4, cache.stats().cachedBlocks());
    }
}
