package dev.arbor.models;

/**
 * The sizes a step can reach, fixed when the engine opens the model: everything a step touches is
 * allocated once from these (the KV store and the workspace), so a step allocates nothing.
 *
 * @param numBlocks       physical KV blocks in the store
 * @param blockSize       token slots per block
 * @param maxTokens       new tokens in one step at most (the scheduler's token budget)
 * @param maxSeqs         sequences in one step at most
 * @param maxBlocksPerSeq logical blocks of one sequence at most (ceil(max_model_len / blockSize))
 * @param maxLogitRows    logit rows computed at once; a step that asks for more (prompt logprobs of a
 *                        long chunk) is served in passes of this many rows
 */
public record StepShape(int numBlocks, int blockSize, int maxTokens, int maxSeqs, int maxBlocksPerSeq, int maxLogitRows) {
    public StepShape {
        if (numBlocks < 1 || blockSize < 1 || maxTokens < 1 || maxSeqs < 1 || maxBlocksPerSeq < 1 || maxLogitRows < 1) {
            throw new IllegalArgumentException("every StepShape size must be >= 1: " + numBlocks + " blocks of " + blockSize
                    + ", " + maxTokens + " tokens, " + maxSeqs + " seqs, " + maxBlocksPerSeq + " blocks/seq, " + maxLogitRows + " logit rows");
        }
    }

    /** A shape for tests and tools: {@code maxTokens} tokens over at most {@code maxSeqs} sequences of {@code maxLen} tokens. */
    public static StepShape forTokens(int numBlocks, int blockSize, int maxTokens, int maxSeqs, int maxLen) {
        return new StepShape(numBlocks, blockSize, maxTokens, maxSeqs, (maxLen + blockSize - 1) / blockSize, Math.max(1, Math.min(maxTokens, 256)));
    }
}
