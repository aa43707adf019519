package dev.arbor.engine.cache;

/**
 * A prefix entered and pinned by {@link PrefixCache#pin}: its id and the canonical blocks that hold
 * it (the caller's own where the span was new, the already cached ones where it was not).
 *
 * @param id    handle for {@link PrefixCache#delete(long)}
 * @param match the pinned span; lock it like any match if a request is about to use it
 */
public record PrefixHandle(long id, PrefixMatch match) {
    public int numTokens() { return match.numTokens(); }

    public int[] blocks() { return match.blocks(); }
}
