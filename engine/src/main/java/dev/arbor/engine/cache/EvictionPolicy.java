package dev.arbor.engine.cache;

import java.util.Comparator;
import java.util.Locale;

/**
 * Which evictable trie leaf goes first. A strategy object in the manner of SGLang's
 * {@code EvictionStrategy}: it sees a node only through {@link Entry}, a read-only view of its
 * metadata, and orders two of them. The trie breaks remaining ties by insertion order, so eviction
 * is deterministic under every policy.
 */
public interface EvictionPolicy {

    /** Read-only metadata of a cached trie node. Times are ticks of the trie's logical clock. */
    interface Entry {
        /** Tick of the last match, insert or unlock that touched the node. */
        long lastAccess();

        /** Matches that reached the node. */
        long hits();

        /** Creation order (a node split off an older node keeps the older one's order). */
        long insertionOrder();

        /** Highest priority given at insert or register for a span through the node (0 by default). */
        int priority();

        /** Physical blocks the node holds. */
        int numBlocks();
    }

    /** Negative when {@code a} should be evicted before {@code b}. */
    int compare(Entry a, Entry b);

    String name();

    /** Least recently used first (the default). */
    EvictionPolicy LRU = named("lru", Comparator.comparingLong(Entry::lastAccess));

    /** Oldest inserted first. */
    EvictionPolicy FIFO = named("fifo", Comparator.comparingLong(Entry::insertionOrder));

    /** Fewest hits first; ties least recently used first. */
    EvictionPolicy LFU = named("lfu", Comparator.comparingLong(Entry::hits).thenComparingLong(Entry::lastAccess));

    /** Lowest priority first; ties least recently used first. */
    EvictionPolicy PRIORITY = named("priority", Comparator.comparingInt(Entry::priority).thenComparingLong(Entry::lastAccess));

    /** {@code lru | fifo | lfu | priority}, case-insensitive; anything else fails naming the choices. */
    static EvictionPolicy byName(String name) {
        return switch (name == null ? "" : name.toLowerCase(Locale.ROOT)) {
            case "lru" -> LRU;
            case "fifo" -> FIFO;
            case "lfu" -> LFU;
            case "priority" -> PRIORITY;
            default -> throw new IllegalArgumentException("unknown eviction policy '" + name + "' (lru, fifo, lfu, priority)");
        };
    }

    private static EvictionPolicy named(String name, Comparator<Entry> order) {
        return new EvictionPolicy() {
            @Override public int compare(Entry a, Entry b) { return order.compare(a, b); }
            @Override public String name() { return name; }
            @Override public String toString() { return name; }
        };
    }
}
