package dev.arbor.engine.core;

import dev.arbor.engine.SamplingParams;
import dev.arbor.engine.cache.PrefixMatch;
import it.unimi.dsi.fastutil.ints.IntArrayList;


/**
 * One token stream being generated: the prompt followed by its output so far, how much of it is
 * in the KV cache, and the physical blocks that hold it. A request with n > 1 has n sequences.
 * Scheduler state only: ids and counts, no tensors.
 */
public final class Sequence {
    public enum Status { WAITING, RUNNING, FINISHED }

    final long seqId;
    final RequestState request;
    final int index;                       // which of the request's n completions
    final IntArrayList tokens;             // (numPromptTokens + outputs) token ids
    final int numPromptTokens;
    final IntArrayList blockTable = new IntArrayList();   // logical block -> physical block
    final long seed;                       // Philox key of this sequence's draws (derived from the request's seed when it has one)
    Status status = Status.WAITING;
    int numComputed;                       // tokens whose K/V are in the cache
    int numCachedBlocks;                   // leading blocks already entered in the prefix trie
    PrefixMatch lockedPrefix;              // trie path this sequence holds locked (null when none)
    long admitOrder = -1;                  // when it last joined the running list (the scheduler's counter)
    // Scheduler memo while waiting (see Scheduler.waitsForSharedPrefill): running sequences admitted up
    // to checkedUpTo were compared with this one; waitFor is the prefill it waits for, sharing waitCommon tokens.
    long checkedUpTo = -1;
    Sequence waitFor;
    int waitCommon;
    /**
     * Asynchronous scheduling: the sample row (of the step in flight) whose id the last token is; that token is a placeholder
     * until the id comes back ({@link StepProcessor#reconcile}). -1 when every token is known.
     */
    int pendingRow = -1;

    Sequence(long seqId, RequestState request, int index, int[] promptTokens, long seed) {
        this.seqId = seqId;
        this.request = request;
        this.index = index;
        this.tokens = new IntArrayList(promptTokens);
        this.numPromptTokens = promptTokens.length;
        this.seed = seed;
    }

    public int numTokens() { return tokens.size(); }

    public int numOutputTokens() { return tokens.size() - numPromptTokens; }

    public int lastToken() { return tokens.getInt(tokens.size() - 1); }

    /** Tokens still to be computed before the next sample: the rest of the prompt, or the last output. */
    public int numUncomputed() { return tokens.size() - numComputed; }

    public boolean inPrefill() { return numComputed < numPromptTokens; }

    public SamplingParams params() { return request.params; }

    public String salt() { return request.salt; }

    public Status status() { return status; }

    public int numComputed() { return numComputed; }

    public int[] blockTableArray() { return blockTable.toIntArray(); }

    @Override
    public String toString() {
        return "seq" + seqId + "(" + request.requestId + "#" + index + ", tokens=" + tokens.size()
                + ", computed=" + numComputed + ", blocks=" + blockTable.size() + ", " + status + ")";
    }
}
