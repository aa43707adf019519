package dev.arbor.engine.cache;

/**
 * An explicitly registered prefix, as {@link PrefixCache#listPrefixes} reports it.
 *
 * @param id        handle for {@link PrefixCache#delete(long)}
 * @param salt      namespace (null = default)
 * @param numTokens length in tokens
 * @param numBlocks length in blocks
 * @param users     running requests holding the whole prefix locked
 * @param hits      matches that covered the whole prefix
 * @param pinned    false only while a deleted prefix waits for its last user to finish
 * @param priority  priority given at registration (for the priority eviction policy)
 */
public record PrefixInfo(long id, String salt, int numTokens, int numBlocks, int users, long hits,
                         boolean pinned, int priority) {
}
