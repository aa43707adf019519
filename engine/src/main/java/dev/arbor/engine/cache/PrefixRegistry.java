package dev.arbor.engine.cache;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The explicit-prefix registry of a {@link PrefixCache}: which token spans are registered (pinned),
 * under which random id, and which deleted ones still wait for their last user (deferred deletion).
 * Bookkeeping only: pinning and unpinning the trie path is the cache's.
 */
final class PrefixRegistry {
    /** A registered prefix: its id, namespace, whole-block tokens and the trie node its path ends at. */
    static final class Prefix {
        final long id;
        final String salt;
        final int[] tokens;
        final TrieNode end;
        int priority;
        boolean deleted;

        Prefix(long id, String salt, int[] tokens, TrieNode end, int priority) {
            this.id = id;
            this.salt = salt;
            this.tokens = tokens;
            this.end = end;
            this.priority = priority;
        }

        PrefixInfo info(int blockSize) {
            return new PrefixInfo(id, salt, tokens.length, tokens.length / blockSize, end.lockCount, end.hits, !deleted, priority);
        }
    }

    private record Key(String salt, int[] tokens) {
        @Override public boolean equals(Object o) {
            return o instanceof Key k && Objects.equals(salt, k.salt) && Arrays.equals(tokens, k.tokens);
        }
        @Override public int hashCode() { return 31 * Objects.hashCode(salt) + Arrays.hashCode(tokens); }
    }

    private final Map<Long, Prefix> byId = new LinkedHashMap<>();    // registered, then deletions pending
    private final Map<Key, Prefix> byKey = new HashMap<>();          // registered only
    private final SecureRandom ids = new SecureRandom();

    /** The registered (not deleted) prefix of these tokens in this namespace, or null. */
    Prefix registered(String salt, int[] tokens) {
        return byKey.get(new Key(salt, tokens));
    }

    /** A prefix by id, registered or waiting for its deletion to complete; null if unknown. */
    Prefix byId(long id) {
        return byId.get(id);
    }

    Prefix add(String salt, int[] tokens, TrieNode end, int priority) {
        Prefix p = new Prefix(newId(), salt, tokens.clone(), end, priority);
        byId.put(p.id, p);
        byKey.put(new Key(salt, p.tokens), p);
        return p;
    }

    /** Marks it deleted (no longer found by its tokens); it stays listed until {@link #forget} or its nodes are freed. */
    void markDeleted(Prefix p) {
        p.deleted = true;
        byKey.remove(new Key(p.salt, p.tokens));
    }

    void forget(Prefix p) {
        byId.remove(p.id);
    }

    /** Drops deleted prefixes whose nodes are gone (their last user finished). */
    void purgeFreed() {
        byId.values().removeIf(p -> p.deleted && p.end.removed);
    }

    /** Registered prefixes in registration order, then deleted ones still waiting for users. */
    List<Prefix> all() {
        purgeFreed();
        return new ArrayList<>(byId.values());
    }

    int numRegistered() {
        return byKey.size();
    }

    /**
     * A random positive id, unique among live prefixes: ids are handles a server hands to clients,
     * so they must not be guessable (sequential ids would let one tenant name another's).
     */
    private long newId() {
        long id;
        do id = ids.nextLong() & Long.MAX_VALUE; while (id == 0 || byId.containsKey(id));
        return id;
    }
}
