package dev.arbor.engine.core;

import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.KvCache;

import java.util.List;

/**
 * The one place that turns a schedule into model inputs: concatenates the scheduled chunks,
 * gives each token its position, passes the block tables, and asks for logits only where they
 * are used (the last row of a chunk that samples, every row of a chunk that wants prompt logprobs).
 */
public final class ModelRunner {
    private final CausalLM model;
    private final KvCache cache;

    public ModelRunner(CausalLM model, KvCache cache) {
        this.model = model;
        this.cache = cache;
    }

    /**
     * Logits of one step, per scheduled sequence: {@code sample[i]} is the distribution to sample
     * from (null when the chunk does not reach the end), {@code prompt[i]} the rows of prompt
     * positions {@code start .. start+n-1} when prompt logprobs were asked for (else null).
     */
    public record StepLogits(float[][] sample, float[][][] prompt) {}

    public StepLogits execute(SchedulerOutput out) {
        List<ScheduledSeq> chunks = out.scheduled();
        int numTokens = out.numTokens(), numSeqs = chunks.size();
        int[] tokenIds = new int[numTokens];      // (numTokens)
        int[] positions = new int[numTokens];     // (numTokens)
        int[] queryStart = new int[numSeqs + 1];  // (numSeqs + 1)
        int[] contextLen = new int[numSeqs];      // (numSeqs)
        int[][] blockTables = new int[numSeqs][];
        int numLogitRows = 0;
        for (ScheduledSeq c : chunks) numLogitRows += c.wantsPromptLogprobs() ? c.numTokens() : (c.sample() ? 1 : 0);
        int[] logitRows = new int[numLogitRows];

        int t = 0, r = 0;
        for (int s = 0; s < numSeqs; s++) {
            ScheduledSeq c = chunks.get(s);
            Sequence seq = c.seq();
            queryStart[s] = t;
            for (int i = 0; i < c.numTokens(); i++) {
                tokenIds[t + i] = seq.tokens.getInt(c.start() + i);
                positions[t + i] = c.start() + i;
            }
            contextLen[s] = c.start() + c.numTokens();
            blockTables[s] = seq.blockTableArray();
            if (c.wantsPromptLogprobs()) {
                for (int i = 0; i < c.numTokens(); i++) logitRows[r++] = t + i;
            } else if (c.sample()) {
                logitRows[r++] = t + c.numTokens() - 1;
            }
            t += c.numTokens();
        }
        queryStart[numSeqs] = t;

        float[][] logits = model.forward(new ForwardBatch(tokenIds, positions, queryStart, contextLen, blockTables, logitRows), cache);

        float[][] sample = new float[numSeqs][];
        float[][][] prompt = new float[numSeqs][][];
        r = 0;
        for (int s = 0; s < numSeqs; s++) {
            ScheduledSeq c = chunks.get(s);
            if (c.wantsPromptLogprobs()) {
                prompt[s] = new float[c.numTokens()][];
                for (int i = 0; i < c.numTokens(); i++) prompt[s][i] = logits[r++];
                if (c.sample()) sample[s] = prompt[s][c.numTokens() - 1];
            } else if (c.sample()) {
                sample[s] = logits[r++];
            }
        }
        return new StepLogits(sample, prompt);
    }
}
