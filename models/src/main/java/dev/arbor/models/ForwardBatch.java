package dev.arbor.models;

/**
 * One forward step over several sequences, laid out by the engine's model runner (the only place
 * that turns a schedule into model inputs). Sequence {@code s} contributes the new tokens
 * {@code tokenIds[queryStart[s] .. queryStart[s+1])}; its earlier tokens are already in the paged
 * KV cache. New tokens' K/V are written to the cache at slot
 * {@code blockTables[s][pos / blockSize] * blockSize + pos % blockSize}.
 *
 * @param tokenIds    (numTokens) new tokens of all sequences, concatenated in sequence order
 * @param positions   (numTokens) absolute position of each token inside its sequence
 * @param queryStart  (numSeqs + 1) offsets into {@code tokenIds}
 * @param contextLen  (numSeqs) tokens of sequence s in the cache after this step (cached + new)
 * @param blockTables (numSeqs)(logical blocks) physical block id of each logical block
 * @param logitRows   token indices into {@code tokenIds} whose logits are returned, in that order
 */
public record ForwardBatch(int[] tokenIds, int[] positions, int[] queryStart, int[] contextLen,
                           int[][] blockTables, int[] logitRows) {

    public int numTokens() { return tokenIds.length; }

    public int numSeqs() { return contextLen.length; }
}
