package dev.arbor.engine.cache;

import it.unimi.dsi.fastutil.ints.IntArrayList;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Long random runs of what the scheduler does (admit with a match, compute, insert and switch to
 * canonical blocks, finish) mixed with plain matches, evictions, pins, registrations, deletes and
 * cap changes, against a reference model: which token prefix each block holds (the ground truth of
 * its KV), which prefixes are registered, and which blocks the simulated requests hold. After every
 * operation: pool and trie invariants, references conserved (trie + requests == pool counts), locked
 * and pinned spans still cached, and every block any match returns holding exactly the tokens of
 * that position.
 */
class PrefixCachePropertyTest {
    static final int TRIES = 200;
    static final int OPS = 1000;

    @Provide
    Arbitrary<String> policies() { return Arbitraries.of("lru", "fifo", "lfu", "priority"); }

    @Property(tries = TRIES)
    void randomOperationsKeepInvariants(@ForAll long seed, @ForAll("policies") String policy) {
        Run run = new Run(seed, EvictionPolicy.byName(policy));
        run.go();
        Statistics.label("deferred delete").collect(run.deferredDeletes > 0);
        Statistics.label("switched to canonical").collect(run.switches > 0);
        Statistics.label("evicted").collect(run.evicted > 0);
        Statistics.label("register of uncached span").collect(run.registerMisses > 0);
        Statistics.label("admission refused").collect(run.refused > 0);
    }

    /** What a block's KV is: the namespace and all tokens up to the end of the block. */
    record Content(String salt, List<Integer> prefix) {}

    static List<Integer> list(int[] a, int n) {
        List<Integer> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) l.add(a[i]);
        return l;
    }

    static final class Seq {
        final String salt;
        final int[] tokens;
        final IntArrayList table = new IntArrayList();
        PrefixMatch locked;
        int lockedTokens;
        boolean maybeDeleted;   // a delete touched its locked span: it may have left the trie
        int cachedBlocks;

        Seq(String salt, int[] tokens) { this.salt = salt; this.tokens = tokens; }

        int fullBlocks(int bs) { return tokens.length / bs; }
    }

    record Registered(String salt, int[] tokens) {}

    static final class Run {
        final SplittableRandom rnd;
        final int bs;
        final BlockPool pool;
        final PrefixCache cache;
        final Map<Integer, Content> content = new HashMap<>();
        final List<Seq> running = new ArrayList<>();
        final List<int[]> history = new ArrayList<>();
        final Map<Long, Registered> registered = new LinkedHashMap<>();
        final String[] salts = {null, null, "tenant-a"};
        int step;
        final StringBuilder log = new StringBuilder();
        int deferredDeletes, switches, evicted, registerMisses, refused;

        Run(long seed, EvictionPolicy policy) {
            rnd = new SplittableRandom(seed);
            bs = 1 + rnd.nextInt(3);
            pool = new BlockPool(16 + rnd.nextInt(48));
            cache = new PrefixCache(pool, bs, policy);
            if (rnd.nextInt(3) == 0) cache.setMaxCachedUnusedBlocks(1 + rnd.nextInt(12));
        }

        void go() {
            for (step = 0; step < OPS; step++) {
                int op = rnd.nextInt(100);
                log.append(step).append(':').append(op).append(' ');
                if (op < 25) admit();
                else if (op < 40) computeAndInsert();
                else if (op < 55) finish();
                else if (op < 65) query();
                else if (op < 73) evict();
                else if (op < 80) pin();
                else if (op < 86) register();
                else if (op < 93) delete();
                else if (op < 95) cache.setMaxCachedUnusedBlocks(rnd.nextInt(3) == 0 ? 0 : 1 + rnd.nextInt(12));
                else stats();
                check();
            }
            while (!running.isEmpty()) { finishSeq(running.getFirst()); check(); }
            for (long id : new ArrayList<>(registered.keySet())) { assertTrue(cache.delete(id)); registered.remove(id); check(); }
            cache.evict(pool.numTotal());
            check();
            assertEquals(pool.numTotal(), pool.numFree(), "everything released at the end");
        }

        int[] randomTokens() {
            int len = 1 + rnd.nextInt(8 * bs);
            int[] t = new int[len];
            int from = 0;
            if (!history.isEmpty() && rnd.nextInt(4) != 0) {   // share a prefix with an earlier sequence
                int[] h = history.get(rnd.nextInt(history.size()));
                from = Math.min(len, rnd.nextInt(h.length + 1));
                System.arraycopy(h, 0, t, 0, from);
            }
            for (int i = from; i < len; i++) t[i] = rnd.nextInt(3);
            history.add(t);
            if (history.size() > 40) history.removeFirst();
            return t;
        }

        String salt() { return salts[rnd.nextInt(salts.length)]; }

        void checkMatch(String salt, int[] tokens, PrefixMatch m) {
            assertEquals(0, m.numTokens() % bs);
            assertEquals(m.numTokens() / bs, m.numBlocks());
            int[] blocks = m.blocks();
            for (int i = 0; i < blocks.length; i++) {
                assertEquals(new Content(salt, list(tokens, (i + 1) * bs)), content.get(blocks[i]),
                        "step " + step + ": block " + blocks[i] + " at position " + i + " holds other tokens");
                assertTrue(pool.refCount(blocks[i]) > 0, "matched a free block");
            }
        }

        /** Like KvCacheManager.admit: match (promptLen - 1), retain, lock, allocate the rest. */
        void admit() {
            if (running.size() > 8) return;
            Seq s = new Seq(salt(), randomTokens());
            // The query form: what evict could free once this match is locked (checked against evict below).
            int freeable = cache.freeableBlocks(s.salt, s.tokens, s.tokens.length - 1);
            PrefixMatch m = cache.match(s.salt, s.tokens, s.tokens.length - 1);
            checkMatch(s.salt, s.tokens, m);
            assertTrue(m.numTokens() <= s.tokens.length - 1);
            assertEquals(cache.cachedTokens(s.salt, s.tokens, s.tokens.length - 1), m.numTokens());
            for (int b : m.blocks()) { pool.retain(b); s.table.add(b); }
            cache.lock(m);
            s.locked = m;
            s.lockedTokens = m.numTokens();
            s.cachedBlocks = m.numBlocks();
            int need = (s.tokens.length + bs - 1) / bs - s.table.size();
            if (pool.numFree() < need) {
                int want = need - pool.numFree();
                assertEquals(Math.min(freeable, want), cache.evict(want), "step " + step + ": freeableBlocks disagrees with evict");
            }
            if (pool.numFree() < need) {       // does not fit: undo
                for (int b : s.table) pool.release(b);
                cache.unlock(m);
                refused++;
                return;
            }
            int first = s.table.size();
            for (int b : pool.allocate(need)) s.table.add(b);
            for (int i = first; i < s.table.size(); i++) {     // "compute" the KV: full blocks get their content
                boolean full = (i + 1) * bs <= s.tokens.length;
                content.put(s.table.getInt(i), full ? new Content(s.salt, list(s.tokens, (i + 1) * bs)) : new Content(s.salt, null));
            }
            running.add(s);
        }

        /** Like KvCacheManager.cacheComputedBlocks, for some or all of the full blocks. */
        void computeAndInsert() {
            if (running.isEmpty()) return;
            Seq s = running.get(rnd.nextInt(running.size()));
            int full = s.fullBlocks(bs);
            if (full <= s.cachedBlocks) return;
            int upto = s.cachedBlocks + 1 + rnd.nextInt(full - s.cachedBlocks);
            int[] tokens = Arrays.copyOf(s.tokens, upto * bs);
            int[] blocks = Arrays.copyOf(s.table.elements(), upto);
            int freeBefore = pool.numFree();
            PrefixMatch m = cache.insert(s.salt, tokens, blocks, rnd.nextInt(4));
            assertEquals(tokens.length, m.numTokens());
            checkMatch(s.salt, tokens, m);
            assertTrue(pool.numFree() >= freeBefore, "insert never allocates");
            int[] canonical = m.blocks();
            for (int i = 0; i < canonical.length; i++) {
                int mine = s.table.getInt(i);
                if (canonical[i] != mine) {
                    switches++;
                    pool.retain(canonical[i]);
                    s.table.set(i, canonical[i]);
                    pool.release(mine);
                }
            }
            cache.lock(m);
            cache.unlock(s.locked);
            s.locked = m;
            s.lockedTokens = m.numTokens();
            s.maybeDeleted = false;
            s.cachedBlocks = upto;
            assertEquals(tokens.length, cache.cachedTokens(s.salt, tokens, tokens.length), "just inserted and locked");
        }

        void finish() {
            if (!running.isEmpty()) finishSeq(running.get(rnd.nextInt(running.size())));
        }

        void finishSeq(Seq s) {
            running.remove(s);
            for (int b : s.table) pool.release(b);
            cache.unlock(s.locked);
        }

        void query() {
            String salt = salt();
            int[] t = randomTokens();
            int max = rnd.nextInt(t.length + 2);
            int peek = cache.cachedTokens(salt, t, max);
            PrefixMatch m = cache.match(salt, t, max);
            assertEquals(peek, m.numTokens());
            assertTrue(m.numTokens() <= Math.max(0, max));
            checkMatch(salt, t, m);
        }

        void evict() {
            int n = rnd.nextInt(10);
            int unused = cache.stats().evictableBlocks();
            int free = pool.numFree();
            String before = cache.dump();
            int freed = cache.evict(n);
            assertTrue(freed <= Math.min(n, unused));
            evicted += freed;
            // Exact unless a request still holds a deleted path: its blocks may have been cached
            // again by another request, unlocked there but not free to go.
            if (running.stream().noneMatch(s -> s.maybeDeleted))
                assertEquals(Math.min(n, unused), freed, "step " + step + ": evict frees what it can\n" + before + "\n" + log);
            assertEquals(free + freed, pool.numFree());
        }

        void pin() {
            String salt = salt();
            int[] t = randomTokens();
            int nb = t.length / bs;
            if (nb == 0 || pool.numFree() < nb) return;
            int[] tokens = Arrays.copyOf(t, nb * bs);
            int[] blocks = pool.allocate(nb);
            for (int i = 0; i < nb; i++) content.put(blocks[i], new Content(salt, list(tokens, (i + 1) * bs)));
            int priority = rnd.nextInt(4);
            PrefixMatch m = cache.insert(salt, tokens, blocks, priority);     // entered, then pinned
            long id = cache.register(salt, tokens, priority).id();
            checkMatch(salt, tokens, m);
            for (int b : blocks) pool.release(b);
            Registered prev = registered.put(id, new Registered(salt, tokens));
            if (prev != null) assertArrayEquals(prev.tokens(), tokens);
        }

        void register() {
            String salt = salt();
            int[] t;
            if (!running.isEmpty() && rnd.nextBoolean()) {
                Seq s = running.get(rnd.nextInt(running.size()));
                salt = s.salt;
                t = s.tokens;
            } else {
                t = randomTokens();
            }
            if (t.length < bs) return;
            int whole = t.length / bs * bs;
            boolean cached = cache.cachedTokens(salt, t, whole) == whole;
            PrefixInfo info = cache.register(salt, t);
            if (!cached) { assertNull(info); registerMisses++; return; }
            assertNotNull(info);
            assertEquals(whole, info.numTokens());
            assertTrue(info.pinned());
            registered.put(info.id(), new Registered(salt, Arrays.copyOf(t, whole)));
        }

        void delete() {
            if (registered.isEmpty() || rnd.nextInt(5) == 0) {
                int[] t = randomTokens();
                String salt = salt();
                boolean expected = registered.values().stream()
                        .anyMatch(r -> Objects.equals(r.salt(), salt) && t.length >= bs && Arrays.equals(r.tokens(), Arrays.copyOf(t, t.length / bs * bs)));
                boolean got = cache.delete(salt, t);
                assertEquals(expected, got);
                if (got) deleted(salt, Arrays.copyOf(t, t.length / bs * bs));
                return;
            }
            List<Long> ids = new ArrayList<>(registered.keySet());
            long id = ids.get(rnd.nextInt(ids.size()));
            Registered r = registered.get(id);
            assertTrue(cache.delete(id));
            assertFalse(cache.delete(id), "deleted twice");
            deleted(r.salt(), r.tokens());
        }

        void deleted(String salt, int[] tokens) {
            registered.values().removeIf(r -> Objects.equals(r.salt(), salt) && Arrays.equals(r.tokens(), tokens));
            for (Seq s : running) {
                if (Objects.equals(s.salt, salt) && s.lockedTokens >= bs && tokens.length >= bs
                        && Arrays.equals(s.tokens, 0, bs, tokens, 0, bs)) s.maybeDeleted = true;
            }
            if (cache.listPrefixes().stream().anyMatch(p -> !p.pinned())) deferredDeletes++;
            boolean stillNeeded = registered.values().stream().anyMatch(r -> Objects.equals(r.salt(), salt)
                    && r.tokens().length >= tokens.length && Arrays.equals(r.tokens(), 0, tokens.length, tokens, 0, tokens.length));
            if (!stillNeeded) assertTrue(cache.cachedTokens(salt, tokens, tokens.length) < tokens.length, "deleted prefix still matches");
        }

        void stats() {
            CacheStats st = cache.stats();
            assertTrue(st.hitTokens() <= st.queryTokens());
            assertTrue(st.hitRate() >= 0 && st.hitRate() <= 1);
            assertTrue(st.pinnedBlocks() + st.evictableBlocks() <= st.cachedBlocks());
            assertEquals(pool.numFree(), st.freeBlocks());
            assertEquals(registered.size(), st.numPrefixes());
            List<PrefixInfo> listed = cache.listPrefixes();
            assertEquals(registered.size(), listed.stream().filter(PrefixInfo::pinned).count());
        }

        void check() {
            try {
                pool.checkInvariants();
                cache.checkInvariants();
                int[] refs = cache.trieReferences();
                for (Seq s : running) for (int b : s.table) refs[b]++;
                for (int b = 0; b < pool.numTotal(); b++) {
                    if (refs[b] != pool.refCount(b))
                        fail("block " + b + ": pool count " + pool.refCount(b) + " but trie + requests hold " + refs[b]);
                }
                for (Seq s : running) {
                    for (int i = 0; i < s.fullBlocks(bs); i++)
                        assertEquals(new Content(s.salt, list(s.tokens, (i + 1) * bs)), content.get(s.table.getInt(i)), "request's block overwritten");
                    if (!s.maybeDeleted) assertEquals(s.lockedTokens, cache.cachedTokens(s.salt, s.tokens, s.lockedTokens), "locked span evicted");
                }
                for (Registered r : registered.values())
                    assertEquals(r.tokens().length, cache.cachedTokens(r.salt(), r.tokens(), r.tokens().length), "pinned span evicted");
            } catch (AssertionError e) {
                throw new AssertionError("step " + step + ": " + e.getMessage(), e);
            }
        }
    }
}
