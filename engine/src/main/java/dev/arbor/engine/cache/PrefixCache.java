package dev.arbor.engine.cache;

import it.unimi.dsi.fastutil.ints.IntArrayList;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * A radix trie of token ids at block granularity whose nodes hold the physical KV blocks of their
 * span, after SGLang's {@code RadixCache}. One trie per namespace (cache salt; null is the
 * default): tenants never share a node. Only full blocks are cached.
 *
 * <p>References: the trie holds one {@link BlockPool} reference on every block it contains, taken
 * when it adopts a block ({@link #insert}) and dropped when it evicts or deletes the node. A
 * request that uses cached blocks takes its own references and {@link #lock locks} the path, so
 * the blocks outlive their node if they must.
 *
 * <p>Node state: a lock count (running requests through the node: never evicted while > 0), a pin
 * count (registered prefixes through it: never evicted while > 0), last access (a logical clock
 * ticked by {@link #match}, {@link #insert} and {@link #unlock}, so runs are reproducible), hits,
 * insertion order and a priority, the last four read by the {@link EvictionPolicy}.
 *
 * <p>Not thread-safe: owned by the engine loop, like the {@link BlockPool} it shares. Prefix
 * administration from other threads (the HTTP server) should be posted to that loop.
 */
public final class PrefixCache {
    private final BlockPool pool;
    private final int blockSize;
    private final EvictionPolicy policy;
    private final Comparator<TrieNode> evictionOrder;
    private final Map<String, TrieNode> roots = new HashMap<>();               // salt (null ok) -> root
    private final PrefixRegistry registry = new PrefixRegistry();
    private final Set<TrieNode> detachedAlive = Collections.newSetFromMap(new LinkedHashMap<>());
    private final EvictionCandidates candidates;    // kept incrementally: eviction never rescans the trie

    private static final TrieNode NO_ROOT = new TrieNode(-1, null, new int[0], new int[0], 0);   // empty matches of unseen salts

    private long clock;
    private long nextNodeId;
    private final UnusedBlockCap unused = new UnusedBlockCap();   // blocks of attached nodes neither locked nor pinned, and their cap
    private final CacheCounters counters = new CacheCounters();

    public PrefixCache(BlockPool pool, int blockSize, EvictionPolicy policy) {
        if (blockSize < 1) throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        this.pool = Objects.requireNonNull(pool, "pool");
        this.blockSize = blockSize;
        this.policy = Objects.requireNonNull(policy, "policy");
        this.candidates = new EvictionCandidates(pool);
        this.evictionOrder = ((Comparator<TrieNode>) policy::compare)
                .thenComparingLong(TrieNode::insertionOrder)
                .thenComparingLong(n -> n.id);
    }

    public PrefixCache(BlockPool pool, int blockSize) { this(pool, blockSize, EvictionPolicy.LRU); }

    public int blockSize() { return blockSize; }

    /** Cached blocks no running request locks and no prefix pins (kept incrementally): a bound on what {@link #evict} can free. */
    public int unusedBlocks() { return unused.unused(); }

    public EvictionPolicy policy() { return policy; }

    // ---------------------------------------------------------------- lookup

    /**
     * Finds the longest cached prefix of {@code tokens}, in whole blocks, of at most
     * {@code maxTokens} tokens. The scheduler passes {@code promptLen - 1}: the last prompt token
     * is always recomputed, since its logits are needed.
     *
     * <p>Side effects (as SGLang's {@code match_prefix}):
     * <ul>
     *   <li>if the match ends inside a node (the tokens diverge there, or {@code maxTokens} cuts
     *       it), the node is split at that block boundary, so the match ends exactly at a node and
     *       can be locked; the split changes no content, counts or references;</li>
     *   <li>every node on the matched path gets the current tick as last access and one more hit;</li>
     *   <li>{@code min(tokens.length, maxTokens)} query tokens and {@code numTokens()} hit tokens
     *       are added to {@link #stats}.</li>
     * </ul>
     * It does not lock: the caller retains the blocks and calls {@link #lock} before anything else
     * can evict them. Use {@link #cachedTokens} to ask without side effects.
     */
    public PrefixMatch match(String salt, int[] tokens, int maxTokens) {
        return match(salt, tokens, maxTokens, true);
    }

    /**
     * As {@link #match(String, int[], int)}; {@code countStats=false} leaves the query and hit
     * counters alone (the engine counts one lookup per request, not one per admission: a preempted
     * request is matched again when it is re-admitted).
     */
    public PrefixMatch match(String salt, int[] tokens, int maxTokens, boolean countStats) {
        int bound = Math.max(0, Math.min(tokens.length, maxTokens));
        if (countStats) counters.query(bound);
        TrieNode root = roots.get(salt);
        if (root == null) return new PrefixMatch(NO_ROOT, 0, new int[0]);   // unseen salt: create nothing
        long now = ++clock;
        IntArrayList blocks = new IntArrayList();
        TrieNode end = descend(root, tokens, bound / blockSize, blocks);
        for (TrieNode n = end; !n.isRoot(); n = n.parent) {
            n.lastAccess = now;
            n.hits++;
        }
        if (countStats) counters.hit((long) blocks.size() * blockSize);
        return new PrefixMatch(end, blocks.size() * blockSize, blocks.toIntArray());
    }

    /** Tokens {@link #match} would find, with no side effect at all (no split, no stats, no clock). */
    public int cachedTokens(String salt, int[] tokens, int maxTokens) {
        TrieNode node = roots.get(salt);
        if (node == null) return 0;
        int limit = Math.max(0, Math.min(tokens.length, maxTokens)) / blockSize;
        int pos = 0;
        while (pos < limit) {
            TrieNode child = node.children.get(key(tokens, pos));
            if (child == null) break;
            int k = commonBlocks(child, tokens, pos, limit - pos);
            pos += k;
            if (k < child.blocks.length) break;
            node = child;
        }
        return pos * blockSize;
    }

    /**
     * Blocks {@link #evict} could return to the free list once the match of {@code tokens} (as
     * {@link #match} would make it, at most {@code maxTokens}) were locked, with no side effect:
     * the query form of "match, lock, evict", so a request is admitted only if it will fit
     * (nano-vllm's {@code can_allocate}). Walks the matched path and the eviction candidates.
     */
    public int freeableBlocks(String salt, int[] tokens, int maxTokens) {
        // The matched path: nodes that would be locked, and how many blocks of the last one (it may be split).
        Map<TrieNode, Integer> path = new HashMap<>();
        TrieNode node = roots.get(salt);
        int limit = Math.max(0, Math.min(tokens.length, maxTokens)) / blockSize;
        int pos = 0;
        while (node != null && pos < limit) {
            TrieNode child = node.children.get(key(tokens, pos));
            if (child == null) break;
            int k = commonBlocks(child, tokens, pos, limit - pos);
            path.put(child, k);
            pos += k;
            if (k < child.blocks.length) break;
            node = child;
        }
        return candidates.freeable(path);
    }

    // ---------------------------------------------------------------- locking

    /** Locks the path root to the match's end: none of it is evicted until {@link #unlock}. */
    public void lock(PrefixMatch m) {
        checkLive(m);
        for (TrieNode n = m.node; !n.isRoot(); n = n.parent) {
            int before = unusedContribution(n);
            n.lockCount++;
            unused.change(unusedContribution(n) - before);
            candidates.refresh(n);
        }
    }

    /**
     * Undoes one {@link #lock}. Nodes deleted while locked are freed when their last lock goes.
     * Marks the path as just used, then applies the {@link #setMaxCachedUnusedBlocks cap}.
     */
    public void unlock(PrefixMatch m) {
        for (TrieNode n = m.node; !n.isRoot(); n = n.parent) {
            if (n.lockCount <= 0) throw new IllegalStateException("unlock of a path that is not locked: " + m);
        }
        long now = ++clock;
        unlockPath(m.node, now);
        enforceCap();
    }

    private void unlockPath(TrieNode end, long now) {
        for (TrieNode n = end; !n.isRoot(); n = n.parent) {
            int before = unusedContribution(n);
            n.lockCount--;
            if (now >= 0) n.lastAccess = now;
            if (n.detached && n.lockCount == 0) {
                freeDetached(n);
            } else {
                unused.change(unusedContribution(n) - before);
                candidates.refresh(n);
            }
        }
    }

    private void checkLive(PrefixMatch m) {
        if (m.node.removed || (!m.node.isRoot() && m.node.endDepth != m.numTokens()))
            throw new IllegalStateException("stale match (evicted or deleted since it was made): " + m);
    }

    // ---------------------------------------------------------------- insertion

    /** {@link #insert(String, int[], int[], int)} with priority 0. */
    public PrefixMatch insert(String salt, int[] tokens, int[] blocks) { return insert(salt, tokens, blocks, 0); }

    /**
     * Enters full blocks into the trie: {@code tokens.length == blocks.length * blockSize}, block i
     * holding the KV of tokens {@code [i * blockSize, (i + 1) * blockSize)} after all the ones
     * before it. Where a span is cached already, the cached blocks win: the trie does not take the
     * caller's duplicates (the caller keeps, and in time releases, its own references). Blocks the
     * trie adopts get one reference from it.
     *
     * @param priority raised to on every node of the path (for {@link EvictionPolicy#PRIORITY})
     * @return the whole inserted span with its canonical blocks (compare with {@code blocks} to find
     *     duplicates), ready to {@link #lock}. The {@link #setMaxCachedUnusedBlocks cap} is applied
     *     before returning but neither evicts nor counts this span: its inserter is expected to lock
     *     it at once (a caller that does not is over the cap until the next insert or unlock)
     */
    public PrefixMatch insert(String salt, int[] tokens, int[] blocks, int priority) {
        PrefixMatch m = insertNoCap(salt, tokens, blocks, priority);
        if (unused.excess() > 0) {
            lock(m);                       // the caller has not locked it yet: keep the cap off it
            enforceCap();
            unlockPath(m.node, -1);
        }
        return m;
    }

    private PrefixMatch insertNoCap(String salt, int[] tokens, int[] blocks, int priority) {
        if (tokens.length != blocks.length * blockSize)
            throw new IllegalArgumentException(tokens.length + " tokens for " + blocks.length + " blocks of " + blockSize);
        TrieNode root = root(salt);
        long now = ++clock;
        IntArrayList canonical = new IntArrayList(blocks.length);
        TrieNode node = descend(root, tokens, blocks.length, canonical);
        int pos = canonical.size();
        if (pos < blocks.length) {
            int[] span = Arrays.copyOfRange(blocks, pos, blocks.length);
            for (int b : span) if (pool.refCount(b) == 0) throw new IllegalStateException("insert of free block " + b);
            for (int b : span) pool.retain(b);
            TrieNode child = new TrieNode(nextNodeId++, node, Arrays.copyOfRange(tokens, pos * blockSize, tokens.length),
                    span, tokens.length);
            child.insertionOrder = child.id;
            node.children.put(key(tokens, pos), child);
            unused.change(span.length);
            candidates.refresh(node);
            candidates.refresh(child);
            canonical.addElements(canonical.size(), span);
            node = child;
        }
        for (TrieNode n = node; !n.isRoot(); n = n.parent) {
            n.lastAccess = now;
            n.priority = Math.max(n.priority, priority);
        }
        return new PrefixMatch(node, tokens.length, canonical.toIntArray());
    }

    // ---------------------------------------------------------------- eviction

    /**
     * Frees up to {@code numBlocks} blocks: takes evictable leaves in the policy's order, the
     * parent of an emptied leaf becoming a candidate in turn. Evictable means unlocked, unpinned,
     * and held by nobody but the trie (every block's count is 1), so each block taken goes straight
     * back to the free list. A leaf longer than what is still needed loses only its tail blocks.
     *
     * @return blocks returned to the free list
     */
    public int evict(int numBlocks) {
        if (numBlocks <= 0) return 0;
        PriorityQueue<TrieNode> heap = candidates.queue(evictionOrder);
        int freed = 0;
        while (freed < numBlocks && !heap.isEmpty()) {
            TrieNode n = heap.poll();
            int need = numBlocks - freed;
            if (n.blocks.length <= need) {
                TrieNode parent = n.parent;
                freed += n.blocks.length;
                unused.change(-n.blocks.length);
                parent.children.remove(key(n.tokens, 0));
                releaseBlocks(n, n.blocks.length);
                n.removed = true;
                candidates.remove(n);
                candidates.refresh(parent);
                if (candidates.evictable(parent)) heap.add(parent);
            } else {
                unused.change(-need);
                releaseBlocks(n, need);
                int keep = n.blocks.length - need;
                n.blocks = Arrays.copyOf(n.blocks, keep);
                n.tokens = Arrays.copyOf(n.tokens, keep * blockSize);
                n.endDepth -= need * blockSize;
                freed += need;
            }
        }
        counters.evicted(freed);
        return freed;
    }

    /**
     * Caps the cached blocks that no running request holds and no prefix pins ({@code cap <= 0}:
     * no cap, as in the engine config). Enforced now and after every insert, unlock and delete.
     */
    public void setMaxCachedUnusedBlocks(int cap) {
        unused.setCap(cap);
        enforceCap();
    }

    private void enforceCap() {
        if (unused.excess() > 0) evict(unused.excess());
    }

    // ---------------------------------------------------------------- explicit prefixes

    /** {@link #register(String, int[], int)} with priority 0. */
    public PrefixInfo register(String salt, int[] tokens) { return register(salt, tokens, 0); }

    /**
     * Pins a span that is cached already: every node of the path covering {@code tokens} is kept
     * from eviction until {@link #delete}. Only whole blocks count: 530 tokens with blocks of 16
     * register the first 528 (fewer than one block: {@link IllegalArgumentException}). Registering
     * the same tokens again returns the same prefix. Splits the last node if the span ends inside
     * it.
     *
     * @return the prefix, or null when the span is not fully cached: compute it (a request over
     *     the prefix caches it) and register again, or enter it with {@link #insert} first
     */
    public PrefixInfo register(String salt, int[] tokens, int priority) {
        tokens = wholeBlocks(tokens);
        PrefixRegistry.Prefix p = registry.registered(salt, tokens);
        if (p == null) {
            if (cachedTokens(salt, tokens, tokens.length) < tokens.length) return null;
            TrieNode end = descend(root(salt), tokens, tokens.length / blockSize, new IntArrayList());
            p = registry.add(salt, tokens, end, priority);
            for (TrieNode n = end; !n.isRoot(); n = n.parent) {
                int before = unusedContribution(n);
                n.pinCount++;
                unused.change(unusedContribution(n) - before);
                candidates.refresh(n);
            }
        }
        p.priority = Math.max(p.priority, priority);
        for (TrieNode n = p.end; !n.isRoot(); n = n.parent) n.priority = Math.max(n.priority, p.priority);
        return p.info(blockSize);
    }

    /** Deletes the registered prefix with these tokens (whole blocks, as registered); see {@link #delete(long)}. */
    public boolean delete(String salt, int[] tokens) {
        if (tokens.length < blockSize) return false;
        PrefixRegistry.Prefix p = registry.registered(salt, wholeBlocks(tokens));
        return p != null && delete(p.id);
    }

    /**
     * Unpins a registered prefix and removes its nodes from the trie together with everything
     * cached below them, releasing the trie's references.
     *
     * <p>"Its nodes" are the end of its path and the ancestors that lead only to it; a node that
     * other cached content branches from stays (it is theirs too), and if another registered
     * prefix runs through the end (a longer, nested one), nothing is removed: the prefix is only
     * unregistered.
     *
     * <p>Nodes locked by running requests cannot go yet: they leave the trie at once (no match or
     * insert sees them) and their blocks are released when the last user unlocks. Until then
     * {@link #listPrefixes} shows the prefix as not pinned, with its users.
     *
     * <p>NOTE: a running user that later inserts a longer span re-caches the same tokens as new
     * nodes (with its own, identical blocks). That is ordinary caching, not a resurrection of the
     * deleted prefix: it is unpinned and evictable.
     *
     * @return false if no such prefix was registered
     */
    public boolean delete(long prefixId) {
        PrefixRegistry.Prefix p = registry.byId(prefixId);
        if (p == null || p.deleted) return false;
        registry.markDeleted(p);
        for (TrieNode n = p.end; !n.isRoot(); n = n.parent) {
            int before = unusedContribution(n);
            n.pinCount--;
            unused.change(unusedContribution(n) - before);
            candidates.refresh(n);
        }
        if (p.end.pinCount == 0) {
            TrieNode top = p.end;
            while (!top.parent.isRoot() && top.parent.children.size() == 1 && top.parent.pinCount == 0) top = top.parent;
            top.parent.children.remove(key(top.tokens, 0));
            detachSubtree(top);
            candidates.refresh(top.parent);
        }
        if (!p.end.detached || p.end.removed) registry.forget(p);
        enforceCap();
        return true;
    }

    private void detachSubtree(TrieNode top) {
        ArrayDeque<TrieNode> stack = new ArrayDeque<>();
        stack.push(top);
        while (!stack.isEmpty()) {
            TrieNode n = stack.pop();
            stack.addAll(n.children.values());
            unused.change(-unusedContribution(n));
            n.detached = true;
            candidates.remove(n);
            if (n.lockCount == 0) {
                releaseBlocks(n, n.blocks.length);
                n.removed = true;
            } else {
                detachedAlive.add(n);
            }
        }
    }

    private void freeDetached(TrieNode n) {
        detachedAlive.remove(n);
        releaseBlocks(n, n.blocks.length);
        n.removed = true;
    }

    /** Registered prefixes in registration order, then deleted ones still waiting for users. */
    public List<PrefixInfo> listPrefixes() {
        List<PrefixRegistry.Prefix> all = registry.all();
        List<PrefixInfo> out = new ArrayList<>(all.size());
        for (PrefixRegistry.Prefix p : all) out.add(p.info(blockSize));
        return out;
    }

    // ---------------------------------------------------------------- stats

    public CacheStats stats() {
        registry.purgeFreed();
        int cached = 0, pinned = 0;
        ArrayDeque<TrieNode> stack = new ArrayDeque<>(roots.values());
        while (!stack.isEmpty()) {
            TrieNode n = stack.pop();
            stack.addAll(n.children.values());
            cached += n.blocks.length;
            if (n.pinCount > 0) pinned += n.blocks.length;
        }
        int registered = registry.numRegistered();
        return new CacheStats(counters.queryTokens(), counters.hitTokens(), cached, pinned, unused.unused(), counters.evictedBlocks(),
                pool.numFree(), pool.numTotal(), registered);
    }

    // ---------------------------------------------------------------- trie mechanics

    private int[] wholeBlocks(int[] tokens) {
        int n = tokens.length / blockSize * blockSize;
        if (n == 0) throw new IllegalArgumentException("a prefix needs at least one whole block of " + blockSize + " tokens, got " + tokens.length);
        return n == tokens.length ? tokens : Arrays.copyOf(tokens, n);
    }

    private TrieNode root(String salt) {
        return roots.computeIfAbsent(salt, s -> new TrieNode(nextNodeId++, null, new int[0], new int[0], 0));
    }

    /**
     * Walks down from {@code root} along {@code tokens} for at most {@code limitBlocks} blocks,
     * splitting the node where the walk stops inside one; appends the blocks passed to
     * {@code blocks} and returns the node where the walk ends.
     */
    private TrieNode descend(TrieNode root, int[] tokens, int limitBlocks, IntArrayList blocks) {
        TrieNode node = root;
        int pos = 0;
        while (pos < limitBlocks) {
            TrieNode child = node.children.get(key(tokens, pos));
            if (child == null) break;
            int k = commonBlocks(child, tokens, pos, limitBlocks - pos);
            if (k == 0) break;                       // unreachable: the key is the first block
            boolean partial = k < child.blocks.length;
            if (partial) child = split(child, k);
            blocks.addElements(blocks.size(), child.blocks);
            pos += k;
            node = child;
            if (partial) break;
        }
        return node;
    }

    /** Leading whole blocks of the node's span equal to tokens from block {@code pos} on (at most {@code max}). */
    private int commonBlocks(TrieNode n, int[] tokens, int pos, int max) {
        int limit = Math.min(n.blocks.length, max);
        int k = 0;
        while (k < limit) {
            int a = k * blockSize, b = (pos + k) * blockSize;
            if (!Arrays.equals(n.tokens, a, a + blockSize, tokens, b, b + blockSize)) break;
            k++;
        }
        return k;
    }

    /**
     * Splits {@code n} after its first {@code k} blocks: a new node takes the head of the span and
     * {@code n}'s place under its parent, {@code n} keeps the tail (so handles to {@code n} stay
     * valid). The head inherits locks, pins, clock, hits, order and priority: every path through
     * {@code n} runs through it.
     */
    private TrieNode split(TrieNode n, int k) {
        TrieNode head = new TrieNode(nextNodeId++, n.parent, Arrays.copyOf(n.tokens, k * blockSize),
                Arrays.copyOf(n.blocks, k), n.endDepth - n.tokens.length + k * blockSize);
        head.lockCount = n.lockCount;
        head.pinCount = n.pinCount;
        head.lastAccess = n.lastAccess;
        head.hits = n.hits;
        head.insertionOrder = n.insertionOrder;
        head.priority = n.priority;
        n.parent.children.put(key(n.tokens, 0), head);   // same first block: replaces n
        n.tokens = Arrays.copyOfRange(n.tokens, k * blockSize, n.tokens.length);
        n.blocks = Arrays.copyOfRange(n.blocks, k, n.blocks.length);
        n.parent = head;
        head.children.put(key(n.tokens, 0), n);
        candidates.refresh(head);
        candidates.refresh(n);
        return head;
    }

    private TrieNode.BlockKey key(int[] tokens, int blockIndex) {
        return new TrieNode.BlockKey(tokens, blockIndex * blockSize, blockSize);
    }

    /** Blocks a node adds to the unused count: attached, not locked, not pinned. */
    private static int unusedContribution(TrieNode n) {
        return !n.detached && !n.removed && n.lockCount == 0 && n.pinCount == 0 ? n.blocks.length : 0;
    }

    /** Drops the trie's reference on the node's last {@code count} blocks. */
    private void releaseBlocks(TrieNode n, int count) {
        for (int i = n.blocks.length - count; i < n.blocks.length; i++) pool.release(n.blocks[i]);
    }

    // ---------------------------------------------------------------- test hooks

    /** References the trie holds on each block (attached nodes and deleted ones still locked). */
    int[] trieReferences() {
        int[] refs = new int[pool.numTotal()];
        ArrayDeque<TrieNode> stack = new ArrayDeque<>(roots.values());
        stack.addAll(detachedAlive);
        while (!stack.isEmpty()) {
            TrieNode n = stack.pop();
            if (!n.detached) stack.addAll(n.children.values());
            for (int b : n.blocks) refs[b]++;
        }
        return refs;
    }

    /** Test hook: the trie as indented text, with each node's block reference counts. */
    String dump() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, TrieNode> e : roots.entrySet()) {
            sb.append("salt ").append(e.getKey()).append('\n');
            dump(e.getValue(), 1, sb);
        }
        for (TrieNode n : detachedAlive) sb.append("detached ").append(n).append('\n');
        return sb.toString();
    }

    private void dump(TrieNode n, int depth, StringBuilder sb) {
        for (TrieNode c : n.children.values()) {
            sb.append("  ".repeat(depth)).append(c).append(" refs=");
            for (int b : c.blocks) sb.append(pool.refCount(b)).append(' ');
            sb.append('\n');
            dump(c, depth + 1, sb);
        }
    }

    /** Recomputes what the trie maintains incrementally and checks its structure. */
    void checkInvariants() {
        int unusedRecount = 0;
        Map<TrieNode, Integer> pinsEndingAt = new HashMap<>();
        for (PrefixRegistry.Prefix p : registry.all()) if (!p.deleted) pinsEndingAt.merge(p.end, 1, Integer::sum);
        ArrayDeque<TrieNode> stack = new ArrayDeque<>(roots.values());
        while (!stack.isEmpty()) {
            TrieNode n = stack.pop();
            if (n.detached || n.removed) throw new AssertionError("attached node marked detached/removed: " + n);
            int pins = pinsEndingAt.getOrDefault(n, 0);
            for (Map.Entry<TrieNode.BlockKey, TrieNode> e : n.children.entrySet()) {
                TrieNode c = e.getValue();
                if (c.parent != n) throw new AssertionError("bad parent link: " + c);
                if (!e.getKey().equals(key(c.tokens, 0))) throw new AssertionError("bad child key: " + c);
                if (c.blocks.length == 0 || c.tokens.length != c.blocks.length * blockSize) throw new AssertionError("bad span: " + c);
                if (c.endDepth != n.endDepth + c.tokens.length) throw new AssertionError("bad depth: " + c);
                if (c.lockCount > n.lockCount && !n.isRoot()) throw new AssertionError("child locked more than parent: " + c);
                pins += c.pinCount;
                stack.push(c);
            }
            if (!n.isRoot() && n.pinCount != pins) throw new AssertionError("pin count " + n.pinCount + " != " + pins + ": " + n);
            if (n.lockCount < 0) throw new AssertionError("negative lock: " + n);
            unusedRecount += unusedContribution(n);
        }
        if (unusedRecount != unused.unused()) throw new AssertionError("unused blocks " + unused.unused() + " != recount " + unusedRecount);
        Set<TrieNode> leaves = new java.util.HashSet<>();
        ArrayDeque<TrieNode> all = new ArrayDeque<>(roots.values());
        while (!all.isEmpty()) {
            TrieNode n = all.pop();
            all.addAll(n.children.values());
            if (!n.isRoot() && n.children.isEmpty() && n.lockCount == 0 && n.pinCount == 0) leaves.add(n);
        }
        if (!leaves.equals(candidates.leaves())) throw new AssertionError("eviction candidates " + candidates.leaves() + " != recount " + leaves);
        for (TrieNode n : detachedAlive)
            if (!n.detached || n.removed || n.lockCount <= 0) throw new AssertionError("bad detached node: " + n);
    }
}
