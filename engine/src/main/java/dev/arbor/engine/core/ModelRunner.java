package dev.arbor.engine.core;

import dev.arbor.engine.Logprob;
import dev.arbor.engine.SamplingParams;
import dev.arbor.kernels.sampling.Philox;
import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelExecutor;
import it.unimi.dsi.fastutil.ints.Int2IntOpenHashMap;

import java.util.ArrayList;
import java.util.List;

/**
 * The one place that turns a schedule into model inputs: fills the executor's workspace in place
 * (the scheduled chunks' tokens, positions and KV slots, the block tables, the cascade groups of
 * sequences behind the same cached blocks ({@link CascadeGroups}), and one sampling row per
 * sequence whose chunk reaches its end), runs the step, and collects what comes back: the sampled
 * token ids with the logprobs a request asked for, and, only for chunks that want prompt logprobs,
 * whole logit rows.
 *
 * <p>Logit rows are ordered sampled rows first (one per sampling sequence, in batch order), then the
 * prompt-logprob rows, so the sampled rows are all in the first lm_head pass.
 */
public final class ModelRunner {
    private final ModelExecutor executor;
    private final int vocab;
    private final int[] eosTokenIds;
    private final Logprobs logprobs;
    /** Host copies of prompt-logprob rows, reused across steps (grown to the most rows a step has used). */
    private final List<float[]> rowBuffers = new ArrayList<>();
    /** Token counts of one sequence while its penalty list is built; cleared per row, never reallocated once grown. */
    private final Int2IntOpenHashMap outputCounts = new Int2IntOpenHashMap();
    private final CascadeGroups cascadeGroups = new CascadeGroups();

    public ModelRunner(ModelExecutor executor, int vocab, int[] eosTokenIds, Logprobs logprobs) {
        this.executor = executor;
        this.vocab = vocab;
        this.eosTokenIds = eosTokenIds;
        this.logprobs = logprobs;
    }

    public ModelExecutor executor() { return executor; }

    /**
     * What one step produced, per scheduled sequence: {@code tokens[i]} the sampled token (-1 when the
     * chunk does not reach the end), {@code logprobs[i]} its logprob entry when the request asked for
     * logprobs (else null), {@code prompt[i]} the logit rows of prompt positions {@code start .. start+n-1}
     * when prompt logprobs were asked for (else null; the arrays are reused by the next step).
     */
    public record StepResult(int[] tokens, Logprob[] logprobs, float[][][] prompt) {}

    /**
     * Host nanoseconds of the last {@link #execute}: building the inputs, {@code forward()} (upload + launch), the host work
     * run while the device computes, the rest (logits, sampling, waiting, ids back).
     */
    private long inputsNs, forwardNs, overlapNs, waitNs;
    private boolean lastDecode;
    private int lastTokens;

    public long lastInputsNanos() { return inputsNs; }

    public long lastForwardNanos() { return forwardNs; }

    public long lastWaitNanos() { return waitNs; }

    /** Host nanoseconds of the last {@link #execute}'s {@code whileDeviceRuns}. */
    public long lastOverlapNanos() { return overlapNs; }

    /** The last step had one new token per sequence (a decode step). */
    public boolean lastWasDecode() { return lastDecode; }

    /** New tokens of the last step. */
    public int lastTokens() { return lastTokens; }

    /** The launched step (inputs in the batch, forward pass queued) and its sample rows per scheduled sequence (-1: none). */
    private SchedulerOutput launched;
    private int[] launchedRows;
    /** A step sampled with its ids left on the device ({@link #sample(boolean)} deferred), not yet collected; its rows. */
    private SchedulerOutput deferred;
    private int[] deferredRows;

    /**
     * Runs one step: builds its inputs, launches the forward pass, runs {@code whileDeviceRuns} on the host (work that
     * neither reads this step's results nor changes its inputs: the engine makes the previous step's outputs there), then
     * computes the logits, samples and waits for the ids. On a backend whose forward pass returns before the device
     * finishes (CUDA), the host work overlaps the device's; on the CPU it simply runs after the forward pass.
     */
    public StepResult execute(SchedulerOutput out, Runnable whileDeviceRuns) {
        launch(out);
        long t2 = System.nanoTime();
        whileDeviceRuns.run();
        overlapNs = System.nanoTime() - t2;
        return sample(false);
    }

    /**
     * Builds the step's inputs and launches its forward pass (the first half of {@link #execute}). A sequence whose last token
     * is a placeholder for an id the deferred step sampled ({@link Sequence#pendingRow}) takes that id on the device
     * ({@link ForwardBatch#addFeed}): the host never waits for it. Then {@link #collectDeferred()} (if a step is deferred) and
     * {@link #sample(boolean)}.
     */
    public void launch(SchedulerOutput out) {
        long t0 = System.nanoTime();
        collectNs = 0;
        List<ScheduledSeq> chunks = out.scheduled();
        int numSeqs = chunks.size();
        ForwardBatch b = executor.batch();
        b.clear();
        int[] lastToken = new int[numSeqs];
        for (int s = 0; s < numSeqs; s++) {
            ScheduledSeq c = chunks.get(s);
            Sequence seq = c.seq();
            b.beginSequence(seq.blockTable.elements(), seq.blockTable.size());
            for (int i = 0; i < c.numTokens(); i++) {
                int pos = c.start() + i;
                b.addToken(seq.tokens.getInt(pos), pos);
                if (seq.pendingRow >= 0 && pos == seq.numTokens() - 1) {
                    if (deferred == null) throw new IllegalStateException(seq + " waits for a sampled id, but no step is deferred");
                    b.addFeed(b.numTokens() - 1, seq.pendingRow);
                }
            }
            lastToken[s] = b.numTokens() - 1;
        }
        cascadeGroups.form(b);   // sequences behind the same cached prefix blocks: attention reads those once per group
        // sampled rows first (sampling row r = logit row r), then every row of the chunks that want prompt logprobs
        int[] sampleRow = new int[numSeqs];
        for (int s = 0; s < numSeqs; s++) {
            sampleRow[s] = -1;
            if (!chunks.get(s).sample()) continue;
            sampleRow[s] = b.numLogitRows();
            b.addLogitRow(lastToken[s]);
        }
        for (int s = 0; s < numSeqs; s++) {
            ScheduledSeq c = chunks.get(s);
            if (c.wantsPromptLogprobs()) for (int i = c.numTokens() - 1; i >= 0; i--) b.addLogitRow(lastToken[s] - i);
        }
        lastTokens = b.numTokens();
        lastDecode = lastTokens == numSeqs;
        long t1 = System.nanoTime();
        executor.forward();
        long t2 = System.nanoTime();
        inputsNs = t1 - t0;
        forwardNs = t2 - t1;
        overlapNs = 0;
        launched = out;
        launchedRows = sampleRow;
    }

    /** A step's ids are still on the device ({@link #sample(boolean)} deferred them). */
    public boolean hasDeferred() { return deferred != null; }

    /** The step whose ids are deferred, or null. */
    public SchedulerOutput deferredStep() { return deferred; }

    /** The deferred step's sample row per scheduled sequence (-1: none), or null. */
    public int[] deferredRows() { return deferredRows; }

    /**
     * Waits for the deferred step's ids and returns its result (null when no step is deferred). Call it after the next step's
     * {@link #launch} (whose fed tokens read the ids on the device) and before its {@link #sample}, which refills the batch.
     */
    public StepResult collectDeferred() {
        if (deferred == null) return null;
        long t0 = System.nanoTime();
        executor.awaitSample();
        StepResult r = results(deferred, deferredRows, 0);
        deferred = null;
        deferredRows = null;
        collectNs = System.nanoTime() - t0;
        return r;
    }

    private long collectNs;

    /** Host nanoseconds {@link #collectDeferred} spent since the last {@link #launch} (mostly waiting for the device); 0 if not called. */
    public long lastCollectNanos() { return collectNs; }

    /**
     * Samples the launched step: fills the sampling rows, computes the logits and samples. With {@code defer} the ids stay on the
     * device (the next step's placeholders are fed from there) and this returns null: {@link #collectDeferred} returns the result
     * later (the step must then sample something, want no prompt logprobs and no logprobs). Otherwise waits and returns the result.
     */
    public StepResult sample(boolean defer) {
        if (launched == null) throw new IllegalStateException("sample() before launch()");
        if (deferred != null) throw new IllegalStateException("the deferred step's ids are not collected yet");
        long t0 = System.nanoTime();
        SchedulerOutput out = launched;
        int[] sampleRow = launchedRows;
        launched = null;
        List<ScheduledSeq> chunks = out.scheduled();
        SamplingBatch sampling = executor.sampling();
        sampling.clear();
        for (int s = 0; s < chunks.size(); s++) {
            if (sampleRow[s] < 0) continue;
            int r = addSamplingRow(sampling, chunks.get(s).seq());
            if (r != sampleRow[s]) throw new IllegalStateException("sampling row " + r + " for logit row " + sampleRow[s]);
        }
        int numSampled = sampling.rows();
        if (defer) {
            if (numSampled == 0) throw new IllegalStateException("a deferred step must sample");
            executor.computeLogits(0);
            executor.sampleDeferred();
            deferred = out;
            deferredRows = sampleRow;
            waitNs = System.nanoTime() - t0;
            return null;
        }
        if (numSampled > 0) {
            executor.computeLogits(0);
            executor.sample();
        }
        StepResult result = results(out, sampleRow, numSampled);
        waitNs = System.nanoTime() - t0;
        return result;
    }

    /** The step's sampled tokens and logprobs from the sampling batch, and its prompt-logprob rows (after the sampled ones). */
    private StepResult results(SchedulerOutput out, int[] sampleRow, int numSampled) {
        List<ScheduledSeq> chunks = out.scheduled();
        int numSeqs = chunks.size();
        SamplingBatch sampling = executor.sampling();
        int[] tokens = new int[numSeqs];
        Logprob[] lps = new Logprob[numSeqs];
        for (int s = 0; s < numSeqs; s++) {
            tokens[s] = sampleRow[s] < 0 ? -1 : sampling.token(sampleRow[s]);
            Integer k = chunks.get(s).seq().params().logprobs();
            lps[s] = sampleRow[s] >= 0 && k != null ? logprobs.fromBatch(sampling, sampleRow[s], k) : null;
        }
        float[][][] prompt = new float[numSeqs][][];
        boolean anyPrompt = false;
        for (ScheduledSeq c : chunks) anyPrompt |= c.wantsPromptLogprobs();
        if (!anyPrompt) return new StepResult(tokens, lps, prompt);
        // prompt-logprob rows: lm_head in passes, copied out to reused host rows
        int rows = executor.batch().numLogitRows();
        while (rowBuffers.size() < rows - numSampled) rowBuffers.add(new float[vocab]);
        for (int first = numSampled; first < rows; ) {
            int n = executor.computeLogits(first);
            for (int i = 0; i < n; i++) executor.readLogits(i, rowBuffers.get(first - numSampled + i));
            first += n;
        }
        int r = 0;
        for (int s = 0; s < numSeqs; s++) {
            ScheduledSeq c = chunks.get(s);
            if (!c.wantsPromptLogprobs()) continue;
            prompt[s] = new float[c.numTokens()][];
            for (int i = 0; i < c.numTokens(); i++) prompt[s][i] = rowBuffers.get(r++);
        }
        return new StepResult(tokens, lps, prompt);
    }

    /**
     * Row of {@code seq}'s next draw: its sampling parameters, Philox key and counter (completion index,
     * output position), penalty list (every distinct prompt and output token with its output count) when a
     * penalty is on, and the ids min_tokens masks while the output is shorter.
     */
    private int addSamplingRow(SamplingBatch sampling, Sequence seq) {
        SamplingParams p = seq.params();
        int numOut = seq.numOutputTokens();
        int r = sampling.addRow(p.temperature(), p.topK(), p.topP(), p.minP(), p.repetitionPenalty(), p.frequencyPenalty(),
                p.presencePenalty(), seq.seed, Philox.counter(seq.index, numOut), p.logprobs() == null ? -1 : p.logprobs());
        if (p.hasPenalties()) {
            outputCounts.clear();
            int[] toks = seq.tokens.elements();
            for (int i = 0; i < seq.numTokens(); i++) outputCounts.addTo(toks[i], i >= seq.numPromptTokens ? 1 : 0);
            for (var e : outputCounts.int2IntEntrySet()) sampling.addPenaltyToken(e.getIntKey(), e.getIntValue());
        }
        if (numOut < p.minTokens()) {
            if (!p.ignoreEos()) for (int e : eosTokenIds) if (e >= 0 && e < vocab) sampling.addMaskedToken(e);
            for (int t : p.stopTokenIds()) sampling.addMaskedToken(t);
        }
        return r;
    }
}
