package dev.arbor.engine.core;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.cache.PrefixScheduling;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/**
 * Continuous batching: every step serves the running sequences first (one token each when
 * decoding, the next chunk when prefilling) and then admits waiting ones while the token budget,
 * the sequence cap and the KV pool allow. Prefill and decode share steps; a prompt longer than the
 * budget is prefilled in chunks. When a running sequence cannot get a block, the most recently
 * admitted one is preempted: its blocks are freed and it is recomputed later from its tokens so
 * far, so it still finishes with exactly the same output.
 *
 * <p>Sequences that share a prefix nobody has cached yet are not prefilled side by side: a waiting
 * sequence whose prompt shares more full blocks with a sequence being prefilled than the trie
 * holds waits until that prefill has entered them in the trie, then takes them as a cache hit.
 */
public final class Scheduler {
    private final EngineConfig config;
    private final KvCacheManager kv;
    private final Deque<Sequence> waiting = new ArrayDeque<>();
    private final List<Sequence> running = new ArrayList<>();
    private long cachedTokensAtAdmission;    // prompt tokens taken from the trie at each request's first admission
    private long preemptions;
    private long admissions;                 // counter behind Sequence.admitOrder

    public Scheduler(EngineConfig config, KvCacheManager kv) {
        this.config = config;
        this.kv = kv;
    }

    public void add(Sequence seq) {
        seq.status = Sequence.Status.WAITING;
        waiting.addLast(seq);
    }

    public int numWaiting() { return waiting.size(); }

    public int numRunning() { return running.size(); }

    public long cachedTokensAtAdmission() { return cachedTokensAtAdmission; }

    public long preemptions() { return preemptions; }

    public boolean hasUnfinished() { return !waiting.isEmpty() || !running.isEmpty(); }

    /**
     * The request of the waiting sequence first in line when nothing is running (else null). Called
     * after a step scheduled nothing: admission then already evicted every evictable block, so this
     * sequence cannot fit while the blocks that are not free stay pinned.
     */
    public String headOfLineRequestId() {
        return running.isEmpty() && !waiting.isEmpty() ? orderWaiting().getFirst().request.requestId : null;
    }

    public SchedulerOutput schedule() {
        List<ScheduledSeq> out = new ArrayList<>();
        List<Sequence> preempted = new ArrayList<>();
        int budget = config.maxNumBatchedTokens();

        // 1. Running sequences, oldest first; preempt from the newest end when blocks run out.
        for (int i = 0; i < running.size() && budget > 0; i++) {
            Sequence seq = running.get(i);
            int n = Math.min(seq.numUncomputed(), budget);
            boolean fits;
            while (!(fits = kv.grow(seq, n))) {
                Sequence victim = running.getLast();
                preempt(victim);
                preempted.add(victim);
                if (victim == seq) break;
            }
            if (!fits) break;
            out.add(chunk(seq, n));
            budget -= n;
        }

        // 2. Waiting sequences, unless this step already had to preempt. NOTE: per-step cost must not
        //    grow with queue length x prompt length: FCFS walks the queue in place, nothing copies a
        //    prompt, and the shared-prefill check keeps its per-sequence result between steps.
        if (preempted.isEmpty()) {
            boolean ordered = lpmApplies();
            Iterator<Sequence> it = ordered ? orderWaiting().iterator() : waiting.iterator();
            while (it.hasNext()) {
                Sequence seq = it.next();
                if (budget <= 0 || running.size() >= config.maxNumSeqs()) break;
                if (waitsForSharedPrefill(seq)) continue;
                int n = kv.admit(seq, budget);
                if (n == 0) break;                       // KV pool is full: keep FCFS fairness
                if (seq.request.cachedTokens < 0) {       // counted once per request, not per (re-)admission
                    seq.request.cachedTokens = seq.numComputed;
                    cachedTokensAtAdmission += seq.numComputed;
                }
                if (ordered) waiting.remove(seq); else it.remove();
                seq.status = Sequence.Status.RUNNING;
                seq.admitOrder = admissions++;
                seq.waitFor = null;
                seq.checkedUpTo = -1;
                running.add(seq);
                out.add(chunk(seq, n));
                budget -= n;
            }
        }
        return new SchedulerOutput(out, preempted);
    }

    private ScheduledSeq chunk(Sequence seq, int n) {
        return new ScheduledSeq(seq, seq.numComputed, n, seq.numComputed + n == seq.numTokens());
    }

    /** Longest-prefix-first ordering applies (else FCFS, in queue order). */
    private boolean lpmApplies() {
        return config.schedulingPolicy().equals("lpm") && kv.prefixCache() != null
                && waiting.size() >= 2 && waiting.size() <= config.lpmFcfsThreshold();
    }

    private List<Sequence> orderWaiting() {
        List<Sequence> list = new ArrayList<>(waiting);
        if (!lpmApplies()) return list;
        return PrefixScheduling.longestPrefixFirst(list, kv::cachedPrefixTokens, config.lpmFcfsThreshold());
    }

    /**
     * True when a running sequence is still prefilling full blocks that this one could share but
     * the trie does not hold yet: computing them twice would waste the step.
     *
     * <p>Kept between steps: each running sequence is compared with a waiting one once (the common
     * prefix of two prompts does not change), and the prefill it waits for is remembered; the
     * wait ends when that prefill has cached the shared blocks, is no longer prefilling or is gone.
     * NOTE: blocks cached by a third sequence meanwhile do not end the wait early; it ends a
     * step or so later, when the awaited prefill caches them too.
     */
    private boolean waitsForSharedPrefill(Sequence seq) {
        if (!kv.shares(seq)) return false;
        int bs = kv.blockSize();
        if (seq.waitFor != null) {
            Sequence r = seq.waitFor;
            if (r.status == Sequence.Status.RUNNING && r.inPrefill() && r.numCachedBlocks * bs < seq.waitCommon) return true;
            seq.waitFor = null;
            seq.checkedUpTo = -1;                 // others may still share with it: compare again, once
        }
        int shareable = (seq.numTokens() - 1) / bs * bs;
        if (shareable == 0) return false;
        long newest = seq.checkedUpTo;
        int cached = -1;
        for (int i = running.size() - 1; i >= 0; i--) {
            Sequence r = running.get(i);
            if (r.admitOrder <= seq.checkedUpTo) break;              // running is in admission order
            newest = Math.max(newest, r.admitOrder);
            if (!r.inPrefill() || !Objects.equals(r.salt(), seq.salt())) continue;
            int common = commonPrefix(seq, r, shareable) / bs * bs;
            if (common <= r.numCachedBlocks * bs) continue;          // what it shares is cached already
            if (cached < 0) cached = kv.cachedPrefixTokens(seq);
            if (common > cached) {
                seq.waitFor = r;
                seq.waitCommon = common;
                seq.checkedUpTo = newest;
                return true;
            }
        }
        seq.checkedUpTo = newest;
        return false;
    }

    private static int commonPrefix(Sequence a, Sequence b, int limit) {
        int n = Math.min(limit, Math.min(a.numTokens(), b.numTokens()));
        int[] x = a.tokens.elements(), y = b.tokens.elements();
        int i = 0;
        while (i < n && x[i] == y[i]) i++;
        return i;
    }

    private void preempt(Sequence seq) {
        running.remove(seq);
        kv.release(seq);
        seq.status = Sequence.Status.WAITING;
        preemptions++;
        waiting.addFirst(seq);
    }

    /**
     * Advances computed counts after the model ran and enters newly full blocks in the trie. A sequence that finished meanwhile
     * (asynchronous scheduling: its previous token ended it after this step was launched) is skipped: its blocks are freed.
     */
    public void afterForward(SchedulerOutput out) {
        for (ScheduledSeq s : out.scheduled()) {
            if (s.seq().status == Sequence.Status.FINISHED) continue;   // ended one step late (asynchronous scheduling): freed
            s.seq().numComputed += s.numTokens();
            kv.cacheComputedBlocks(s.seq());
        }
    }

    /** Pins the whole blocks of an explicit prefix (the seed's prefix_pos) in the trie. */
    void pinPrefix(String salt, int[] prefixTokens) {
        if (kv.prefixCache() != null && prefixTokens.length >= kv.blockSize()) kv.prefixCache().register(salt, prefixTokens);
    }

    /** Removes a sequence (finished or aborted) wherever it is and frees its blocks. */
    public void finish(Sequence seq) {
        if (seq.status == Sequence.Status.FINISHED) return;
        if (!running.remove(seq)) waiting.remove(seq);
        kv.release(seq);
        seq.status = Sequence.Status.FINISHED;
    }

    /** All sequences currently known (waiting then running), for diagnostics. */
    public List<Sequence> all() {
        List<Sequence> all = new ArrayList<>(waiting);
        all.addAll(running);
        return all;
    }
}
