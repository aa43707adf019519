package dev.arbor.engine.core;

import dev.arbor.engine.FinishReason;
import dev.arbor.engine.Logprob;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import dev.arbor.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The third line of the engine step: after the model ran and sampled, appends the token of every
 * sequence whose chunk reached its end, decides whether the sequence finished (EOS, stop
 * token, stop string, max_tokens, context length), frees finished sequences' blocks, and
 * produces the callers' outputs.
 */
public final class StepProcessor {
    private final Scheduler scheduler;
    private final Logprobs logprobs;
    private final int[] eosTokenIds;
    private final int maxModelLen;
    private long nextSeqId;
    private final SplittableRandom unseeded = new SplittableRandom();
    private long promptTokens, computedTokens, prefillTokens, generatedTokens, steps;

    public StepProcessor(Scheduler scheduler, Logprobs logprobs, int[] eosTokenIds, int maxModelLen) {
        this.scheduler = scheduler;
        this.logprobs = logprobs;
        this.eosTokenIds = eosTokenIds;
        this.maxModelLen = maxModelLen;
    }

    /** Engine-wide counters. */
    public record Counters(long promptTokens, long computedTokens, long prefillTokens, long generatedTokens, long cachedPromptTokens,
                           long preemptions, long steps) {}

    public Counters counters() {
        return new Counters(promptTokens, computedTokens, prefillTokens, generatedTokens, scheduler.cachedTokensAtAdmission(),
                scheduler.preemptions(), steps);
    }

    public RequestState newRequest(String id, String text, int[] promptIds, SamplingParams params, String salt,
                                   int prefixPos, Tokenizer tokenizer) {
        RequestState r = new RequestState(id, text, promptIds, params, salt, prefixPos, tokenizer);
        for (int i = 0; i < params.n(); i++) {
            // Draws come from Philox keyed by the seed and counted by (completion index, output position),
            // so a seeded request's n completions are reproducible, distinct, and independent of the batch.
            long seed = params.seed() != null ? params.seed() : unseeded.nextLong();
            Sequence seq = new Sequence(nextSeqId++, r, i, promptIds, seed);
            r.seqs.add(seq);
            scheduler.add(seq);
        }
        promptTokens += promptIds.length;
        return r;
    }

    /**
     * Appends the step's sampled tokens, finishes and frees the sequences that ended, and returns the requests whose
     * state changed, in batch order; {@link #outputs} turns them into the callers' outputs (the engine does that while
     * the device runs its next step: the text of requests without stop strings is decoded then).
     */
    public List<RequestState> update(SchedulerOutput out, ModelRunner.StepResult result) {
        advance(out);
        Set<RequestState> touched = new LinkedHashSet<>();
        for (int s = 0; s < out.scheduled().size(); s++) {
            ScheduledSeq c = out.scheduled().get(s);
            Sequence seq = c.seq();
            if (seq.status == Sequence.Status.FINISHED) continue;   // ended by the previous step's id (asynchronous scheduling)
            RequestState r = seq.request;
            if (result.prompt()[s] != null) recordPromptLogprobs(r, c, result.prompt()[s]);
            if (!c.sample()) continue;
            touched.add(r);
            appendSampled(seq, result.tokens()[s], result.logprobs()[s]);
        }
        return new ArrayList<>(touched);
    }

    /** The step's counters, and the scheduled sequences' computed tokens (the part of {@link #update} that needs no ids). */
    public void advance(SchedulerOutput out) {
        steps++;
        computedTokens += out.numTokens();
        scheduler.afterForward(out);
        for (ScheduledSeq c : out.scheduled()) {
            prefillTokens += Math.max(0, Math.min(c.start() + c.numTokens(), c.seq().numPromptTokens) - c.start());
        }
    }

    // ---- asynchronous scheduling: a step's ids are read one step late ----------------------------------------------------

    /**
     * Whether {@code out}'s ids may stay on the device while the next step is scheduled and launched: it samples a running
     * sequence, wants no prompt logprobs, and no sequence it samples asks for logprobs or a penalty (the next step's sampling
     * row would need the id) or surely ends by length with this token (the next step would grow it past its limit). A
     * sequence that ends by EOS, a stop token or a stop string is learnt one step late ({@link #reconcile}).
     */
    public boolean canDefer(SchedulerOutput out) {
        boolean any = false;
        for (ScheduledSeq c : out.scheduled()) {
            if (c.wantsPromptLogprobs()) return false;
            Sequence seq = c.seq();
            if (!c.sample() || seq.status == Sequence.Status.FINISHED) continue;
            SamplingParams p = seq.params();
            if (p.logprobs() != null || p.hasPenalties()) return false;
            if ((p.maxTokens() != null && seq.numOutputTokens() + 1 >= p.maxTokens()) || seq.numTokens() + 1 >= maxModelLen) return false;
            any = true;
        }
        return any;
    }

    /**
     * After {@link #advance} of a deferred step: each sampling sequence gets a placeholder token (its last id so far) for the
     * id of its sample row {@code rows[s]}, so the scheduler can give it the next step; {@link #reconcile} puts the id there.
     */
    public void deferSampled(SchedulerOutput out, int[] rows) {
        for (int s = 0; s < out.scheduled().size(); s++) {
            ScheduledSeq c = out.scheduled().get(s);
            Sequence seq = c.seq();
            if (!c.sample() || seq.status == Sequence.Status.FINISHED) continue;
            seq.tokens.add(seq.lastToken());
            seq.pendingRow = rows[s];
        }
    }

    /**
     * The deferred step's ids are back: each placeholder becomes its id, appended as {@link #update} appends, with the same
     * stop checks. A sequence that finished or was aborted meanwhile (its previous id ended it after this step was launched)
     * gets nothing: the extra token is dropped, its blocks are already free. Returns the requests whose state changed.
     */
    public List<RequestState> reconcile(SchedulerOutput out, ModelRunner.StepResult result) {
        Set<RequestState> touched = new LinkedHashSet<>();
        for (int s = 0; s < out.scheduled().size(); s++) {
            ScheduledSeq c = out.scheduled().get(s);
            Sequence seq = c.seq();
            if (!c.sample() || seq.pendingRow < 0) continue;
            seq.pendingRow = -1;
            if (seq.status == Sequence.Status.FINISHED) continue;
            seq.tokens.removeInt(seq.tokens.size() - 1);
            touched.add(seq.request);
            appendSampled(seq, result.tokens()[s], result.logprobs()[s]);
        }
        return new ArrayList<>(touched);
    }

    /** Each request's output since its previous one (text and tokens new since then), in the order given. */
    public List<RequestOutput> outputs(List<RequestState> changed) {
        List<RequestOutput> outputs = new ArrayList<>(changed.size());
        for (RequestState r : changed) outputs.add(r.snapshot());
        return outputs;
    }

    /** Appends the token the model sampled for {@code seq} (with its logprobs when asked for) and checks the stop conditions. */
    private void appendSampled(Sequence seq, int token, Logprob lp) {
        SamplingParams p = seq.params();
        RequestState r = seq.request;
        seq.tokens.add(token);
        generatedTokens++;

        boolean stopToken = p.stopTokenIds().contains(token);
        boolean eos = !p.ignoreEos() && contains(eosTokenIds, token);
        boolean stopString = r.appendToken(seq.index, token, lp, stopToken || eos);
        FinishReason reason = null;
        Object stopReason = null;
        if (stopString) {
            reason = FinishReason.STOP;
            stopReason = r.texts[seq.index].stopReason;
        } else if (stopToken) {
            reason = FinishReason.STOP;
            stopReason = token;
        } else if (eos) {
            reason = FinishReason.STOP;
        } else if ((p.maxTokens() != null && seq.numOutputTokens() >= p.maxTokens()) || seq.numTokens() >= maxModelLen) {
            reason = FinishReason.LENGTH;
        }
        if (reason != null) finishSequence(seq, reason, stopReason);
    }

    private void finishSequence(Sequence seq, FinishReason reason, Object stopReason) {
        RequestState r = seq.request;
        r.finish(seq.index, reason, stopReason);
        // Pin an explicit prefix while this sequence still holds it locked, so no cap can evict it first.
        if (r.finished() && r.prefixPos > 0) scheduler.pinPrefix(r.salt, Arrays.copyOf(r.promptIds, r.prefixPos));
        scheduler.finish(seq);
    }

    private void recordPromptLogprobs(RequestState r, ScheduledSeq c, float[][] rows) {
        int k = r.params.promptLogprobs();
        for (int i = 0; i < rows.length; i++) {
            int next = c.start() + i + 1;                 // the row at position p predicts token p + 1
            if (next >= c.seq().numPromptTokens) break;
            if (r.promptLogprobs.size() != next) continue;   // recomputed after a preemption: already recorded
            r.promptLogprobs.add(logprobs.logprob(rows[i], c.seq().tokens.getInt(next), k));
        }
    }

    /** Ends every sequence of the request now and frees its blocks. */
    public RequestOutput abort(RequestState r) {
        for (Sequence s : r.seqs) {
            if (s.status != Sequence.Status.FINISHED) {
                r.finish(s.index, FinishReason.ABORT, null);
                scheduler.finish(s);
            }
        }
        return r.snapshot();
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) if (x == v) return true;
        return false;
    }
}
