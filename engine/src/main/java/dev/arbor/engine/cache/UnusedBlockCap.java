package dev.arbor.engine.cache;

/**
 * The blocks of attached trie nodes that no request holds and no pin keeps (what eviction may free),
 * counted incrementally as nodes are locked, unlocked, inserted, pinned and evicted, and the optional
 * cap on them ({@code --max-cached-blocks}): past it, the coldest are evicted.
 */
final class UnusedBlockCap {
    private int unused;
    private int cap;     // 0 = no cap

    int unused() { return unused; }

    int cap() { return cap; }

    void setCap(int cap) { this.cap = Math.max(0, cap); }

    /** Adds {@code delta} (negative when blocks become used, pinned or evicted). */
    void change(int delta) { unused += delta; }

    /** Blocks over the cap, to evict now (0 without a cap or under it). */
    int excess() { return cap > 0 && unused > cap ? unused - cap : 0; }
}
