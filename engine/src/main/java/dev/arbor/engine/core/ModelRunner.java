package dev.arbor.engine.core;

import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelExecutor;

import java.util.ArrayList;
import java.util.List;

/**
 * The one place that turns a schedule into model inputs: fills the executor's workspace batch in
 * place (the scheduled chunks' tokens, their positions and KV slots, the block tables) and asks for
 * logits only where they are used (the last row of a chunk that samples, every row of a chunk that
 * wants prompt logprobs).
 */
public final class ModelRunner {
    private final ModelExecutor executor;
    private final int vocab;
    /** Host copies of logit rows, reused across steps (grown to the most rows a step has used). */
    private final List<float[]> rowBuffers = new ArrayList<>();

    public ModelRunner(ModelExecutor executor, int vocab) {
        this.executor = executor;
        this.vocab = vocab;
    }

    public ModelExecutor executor() { return executor; }

    /**
     * Logits of one step, per scheduled sequence: {@code sample[i]} is the distribution to sample
     * from (null when the chunk does not reach the end), {@code prompt[i]} the rows of prompt
     * positions {@code start .. start+n-1} when prompt logprobs were asked for (else null). The
     * arrays are reused by the next step.
     */
    public record StepLogits(float[][] sample, float[][][] prompt) {}

    public StepLogits execute(SchedulerOutput out) {
        List<ScheduledSeq> chunks = out.scheduled();
        int numSeqs = chunks.size();
        ForwardBatch b = executor.batch();
        b.clear();
        for (ScheduledSeq c : chunks) {
            Sequence seq = c.seq();
            b.beginSequence(seq.blockTable.elements(), seq.blockTable.size());
            int first = b.numTokens();
            for (int i = 0; i < c.numTokens(); i++) b.addToken(seq.tokens.getInt(c.start() + i), c.start() + i);
            if (c.wantsPromptLogprobs()) {
                for (int i = 0; i < c.numTokens(); i++) b.addLogitRow(first + i);
            } else if (c.sample()) {
                b.addLogitRow(first + c.numTokens() - 1);
            }
        }
        executor.forward();

        // lm_head in passes of at most shape().maxLogitRows() rows, copied out to the reused host rows
        int rows = b.numLogitRows();
        while (rowBuffers.size() < rows) rowBuffers.add(new float[vocab]);
        for (int first = 0; first < rows; ) {
            int n = executor.computeLogits(first);
            for (int i = 0; i < n; i++) executor.readLogits(i, rowBuffers.get(first + i));
            first += n;
        }

        float[][] sample = new float[numSeqs][];
        float[][][] prompt = new float[numSeqs][][];
        int r = 0;
        for (int s = 0; s < numSeqs; s++) {
            ScheduledSeq c = chunks.get(s);
            if (c.wantsPromptLogprobs()) {
                prompt[s] = new float[c.numTokens()][];
                for (int i = 0; i < c.numTokens(); i++) prompt[s][i] = rowBuffers.get(r++);
                if (c.sample()) sample[s] = prompt[s][c.numTokens() - 1];
            } else if (c.sample()) {
                sample[s] = rowBuffers.get(r++);
            }
        }
        return new StepLogits(sample, prompt);
    }
}
