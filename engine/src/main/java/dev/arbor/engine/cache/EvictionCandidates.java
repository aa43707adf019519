package dev.arbor.engine.cache;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * What a {@link PrefixCache} can evict, kept incrementally so that eviction never rescans the trie:
 * the attached leaves with no lock and no pin, updated by {@link #refresh} wherever a node's
 * children, locks, pins or attachment change. Whether a candidate is evictable now also depends
 * on its blocks' reference counts (a running request may hold one), checked when it is asked.
 */
final class EvictionCandidates {
    private final BlockPool pool;
    private final Set<TrieNode> leaves = new HashSet<>();

    EvictionCandidates(BlockPool pool) {
        this.pool = pool;
    }

    /** Re-files a node whose children, locks, pins or attachment changed. */
    void refresh(TrieNode n) {
        if (!n.isRoot() && !n.detached && !n.removed && n.children.isEmpty() && n.lockCount == 0 && n.pinCount == 0) {
            leaves.add(n);
        } else {
            leaves.remove(n);
        }
    }

    void remove(TrieNode n) {
        leaves.remove(n);
    }

    /** A leaf {@link PrefixCache#evict} can take now: unlocked, unpinned, every block held by the trie alone. */
    boolean evictable(TrieNode n) {
        return n.children.isEmpty() && evictableOnceLeaf(n, 0);
    }

    /** Evictable as soon as its children are gone (its blocks from {@code fromBlock} on, the rest being split off). */
    boolean evictableOnceLeaf(TrieNode n, int fromBlock) {
        if (n.isRoot() || n.detached || n.lockCount > 0 || n.pinCount > 0 || fromBlock >= n.blocks.length) return false;
        for (int i = fromBlock; i < n.blocks.length; i++) if (pool.refCount(n.blocks[i]) != 1) return false;
        return true;
    }

    /** The evictable leaves, first to go at the head. */
    PriorityQueue<TrieNode> queue(Comparator<TrieNode> order) {
        PriorityQueue<TrieNode> heap = new PriorityQueue<>(order);
        for (TrieNode n : leaves) if (evictable(n)) heap.add(n);
        return heap;
    }

    /**
     * Blocks eviction could free if the nodes of {@code lockedPath} were locked (each mapped to how
     * many of its leading blocks: a node matched in part is split, its head locked and its tail free
     * to go). Evicts without evicting: from the evictable leaves up, a parent joining once all its
     * children went.
     */
    int freeable(Map<TrieNode, Integer> lockedPath) {
        int freeable = 0;
        Map<TrieNode, Integer> childrenLeft = new HashMap<>();
        ArrayDeque<TrieNode> gone = new ArrayDeque<>(leaves);
        while (!gone.isEmpty()) {
            TrieNode n = gone.pop();
            int locked = lockedPath.getOrDefault(n, 0);
            if (!evictableOnceLeaf(n, locked)) continue;
            freeable += n.blocks.length - locked;
            if (locked > 0 || n.parent.isRoot()) continue;
            int left = childrenLeft.getOrDefault(n.parent, n.parent.children.size()) - 1;
            childrenLeft.put(n.parent, left);
            if (left == 0) gone.add(n.parent);
        }
        return freeable;
    }

    /** For invariant checks. */
    Set<TrieNode> leaves() {
        return Collections.unmodifiableSet(leaves);
    }
}
