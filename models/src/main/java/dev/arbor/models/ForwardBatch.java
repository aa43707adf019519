package dev.arbor.models;

import java.util.Arrays;

/**
 * The input side of the step workspace: one forward step over several sequences, laid out in place
 * by the engine's model runner (the only place that turns a schedule into model inputs) in arrays
 * allocated once from a {@link StepShape}. Sequence {@code s} contributes the new tokens
 * {@code tokenIds[queryStart[s] .. queryStart[s+1])}; its earlier tokens are already in the paged KV
 * store. Only the first {@link #numTokens()} / {@link #numSeqs()} / {@link #numLogitRows()} entries
 * are meaningful; the rest is padding a backend may upload but never reads.
 *
 * <p>Fill it with {@link #clear()}, then per sequence {@link #beginSequence}, {@link #addToken} for
 * each new token (in position order) and {@link #addLogitRow} for the rows whose logits are wanted.
 * Every call checks its input against the shape and throws {@link IllegalArgumentException} naming
 * the violated size.
 */
public final class ForwardBatch {
    private final StepShape shape;
    /** (maxTokens) new tokens of all sequences, concatenated in sequence order. */
    private final int[] tokenIds;
    /** (maxTokens) absolute position of each token inside its sequence. */
    private final int[] positions;
    /** (maxTokens) KV slot of each new token: {@code block * blockSize + position % blockSize}. */
    private final int[] slotMapping;
    /** (maxTokens) sequence index of each token. */
    private final int[] seqOfToken;
    /** (maxSeqs + 1) offsets into tokenIds. */
    private final int[] queryStart;
    /** (maxSeqs) tokens of sequence s in the KV store after this step (cached + new). */
    private final int[] contextLens;
    /** (maxSeqs, maxBlocksPerSeq) physical block of each logical block, row-major, padded. */
    private final int[] blockTables;
    /** (maxTokens) token indices whose logits are wanted, in output order. */
    private final int[] logitRows;
    /** (maxSeqs) cascade: keys of sequence s's group's shared prefix (whole blocks), 0 for a sequence in no group. */
    private final int[] keyStart;
    /** (maxTokens) cascade: the tokens of every group, group after group. */
    private final int[] groupTokens;
    /** (maxSeqs + 1) cascade: offsets of each group's tokens into groupTokens. */
    private final int[] groupTokenStart;
    /**
     * (maxTokens, 2) asynchronous scheduling: pairs (token index, sample row of the previous step) of tokens whose id is that
     * step's sampled id, not yet back on the host when this batch was built: the backend feeds them from the sampler's output
     * before the forward pass reads them ({@link #addFeed}).
     */
    private final int[] feeds;
    private int numTokens, numSeqs, numLogitRows, tableLength, numGroups, numFeeds;
    /** keyStart's mark of a member already checked while {@link #addCascadeGroup} checks a group (never a key count). */
    private static final int LISTED = -1;
    /** The real sequence count while {@link #padDecode} padding is in place, else -1. */
    private int paddedFrom = -1;

    public ForwardBatch(StepShape shape) {
        this.shape = shape;
        tokenIds = new int[shape.maxTokens()];
        positions = new int[shape.maxTokens()];
        slotMapping = new int[shape.maxTokens()];
        seqOfToken = new int[shape.maxTokens()];
        queryStart = new int[shape.maxSeqs() + 1];
        contextLens = new int[shape.maxSeqs()];
        blockTables = new int[shape.maxSeqs() * shape.maxBlocksPerSeq()];
        logitRows = new int[shape.maxTokens()];
        keyStart = new int[shape.maxSeqs()];
        groupTokens = new int[shape.maxTokens()];
        groupTokenStart = new int[shape.maxSeqs() + 1];
        feeds = new int[2 * shape.maxTokens()];
    }

    public StepShape shape() { return shape; }

    public void clear() {
        numTokens = numSeqs = numLogitRows = numGroups = numFeeds = 0;
        paddedFrom = -1;
    }

    /**
     * Decode-shaped: every sequence has exactly one new token and that token is logit row s, in order
     * (the layout a CUDA graph bucket is captured for).
     */
    public boolean isDecode() {
        if (numSeqs == 0 || numTokens != numSeqs || numLogitRows != numTokens) return false;
        for (int i = 0; i < numLogitRows; i++) if (logitRows[i] != i) return false;
        return true;
    }

    /**
     * Pads a decode batch ({@link #isDecode}) to {@code rows} sequences with inert ones, so launches shaped for
     * {@code rows} (a captured graph's bucket) read valid inputs: token 0 at position 0, KV slot -1 (the KV
     * write skips it), block table row {@code [0]} (block 0 is read, never written), its own logit row. Their
     * outputs are garbage no real row depends on (every kernel of a step is row-independent). {@link #unpad}
     * restores the real batch; {@link #clear} forgets the padding.
     */
    public void padDecode(int rows) {
        if (!isDecode()) throw new IllegalStateException("padDecode needs a decode batch: " + this);
        if (rows < numSeqs || rows > shape.maxSeqs() || rows > shape.maxTokens()) {
            throw new IllegalArgumentException("cannot pad " + numSeqs + " sequences to " + rows + " (shape: " + shape.maxSeqs()
                    + " seqs, " + shape.maxTokens() + " tokens)");
        }
        int w = shape.maxBlocksPerSeq();
        for (int t = numTokens; t < rows; t++) {
            tokenIds[t] = 0;
            positions[t] = 0;
            slotMapping[t] = -1;
            seqOfToken[t] = t;
            logitRows[t] = t;
            queryStart[t + 1] = t + 1;
            contextLens[t] = 1;
            blockTables[t * w] = 0;
            keyStart[t] = 0;
        }
        paddedFrom = numSeqs;
        numTokens = numSeqs = numLogitRows = rows;
    }

    /** Drops the {@link #padDecode} padding (no-op without it). */
    public void unpad() {
        if (paddedFrom < 0) return;
        numTokens = numSeqs = numLogitRows = paddedFrom;
        paddedFrom = -1;
    }

    /**
     * Starts sequence {@link #numSeqs()} with block table {@code table[0 .. length)} (physical block ids);
     * its tokens follow through {@link #addToken}.
     */
    public void beginSequence(int[] table, int length) {
        if (numSeqs == shape.maxSeqs()) throw new IllegalArgumentException("batch holds at most " + shape.maxSeqs() + " sequences");
        if (length > shape.maxBlocksPerSeq()) {
            throw new IllegalArgumentException("block table of " + length + " blocks exceeds the shape's " + shape.maxBlocksPerSeq());
        }
        for (int i = 0; i < length; i++) {
            if (table[i] < 0 || table[i] >= shape.numBlocks()) {
                throw new IllegalArgumentException("block " + table[i] + " outside the KV store's " + shape.numBlocks() + " blocks");
            }
        }
        int s = numSeqs++;
        System.arraycopy(table, 0, blockTables, s * shape.maxBlocksPerSeq(), length);
        tableLength = length;
        queryStart[s] = numTokens;
        queryStart[s + 1] = numTokens;
        contextLens[s] = 0;
        keyStart[s] = 0;
    }

    /** Appends a new token of the current sequence at {@code position}; positions must be consecutive. */
    public void addToken(int tokenId, int position) {
        if (numSeqs == 0) throw new IllegalStateException("addToken before beginSequence");
        if (numTokens == shape.maxTokens()) throw new IllegalArgumentException("batch holds at most " + shape.maxTokens() + " tokens");
        int s = numSeqs - 1, bs = shape.blockSize();
        if (queryStart[s + 1] > queryStart[s] && position != contextLens[s]) {
            throw new IllegalArgumentException("positions of a sequence's new tokens must be consecutive: " + position + " after " + (contextLens[s] - 1));
        }
        if (position < 0 || position / bs >= tableLength) {
            throw new IllegalArgumentException("position " + position + " is outside the sequence's block table of " + tableLength + " blocks");
        }
        int t = numTokens++;
        tokenIds[t] = tokenId;
        positions[t] = position;
        seqOfToken[t] = s;
        slotMapping[t] = blockTables[s * shape.maxBlocksPerSeq() + position / bs] * bs + position % bs;
        queryStart[s + 1] = numTokens;
        contextLens[s] = position + 1;
    }

    /**
     * Token {@code tokenIndex} (added with a placeholder id) takes the id the previous step sampled in its row {@code sampleRow}:
     * the backend copies it in on the device before the forward pass reads the ids (asynchronous scheduling).
     */
    public void addFeed(int tokenIndex, int sampleRow) {
        if (tokenIndex < 0 || tokenIndex >= numTokens) throw new IllegalArgumentException("feed of token " + tokenIndex + " outside the batch's " + numTokens);
        if (sampleRow < 0) throw new IllegalArgumentException("feed from sample row " + sampleRow);
        feeds[2 * numFeeds] = tokenIndex;
        feeds[2 * numFeeds + 1] = sampleRow;
        numFeeds++;
    }

    /** Tokens fed from the previous step's samples ({@link #addFeed}). */
    public int numFeeds() { return numFeeds; }

    /** (numFeeds, 2) pairs (token index, sample row). */
    public int[] feedArray() { return feeds; }

    /** Sets token {@code t}'s id (a backend that feeds on the host: the sampled id in place of the placeholder). */
    public void setTokenId(int t, int id) {
        if (t < 0 || t >= numTokens) throw new IllegalArgumentException("token " + t + " outside the batch's " + numTokens);
        tokenIds[t] = id;
    }

    /** Asks for the logits of token {@code tokenIndex} (an index into this batch's tokens); rows come back in call order. */
    public void addLogitRow(int tokenIndex) {
        if (tokenIndex < 0 || tokenIndex >= numTokens) throw new IllegalArgumentException("logit row " + tokenIndex + " outside the batch's " + numTokens + " tokens");
        logitRows[numLogitRows++] = tokenIndex;
    }

    /**
     * Fills the batch in one call (tests and tools): sequence s has new tokens
     * {@code tokenIds[queryStart[s] .. queryStart[s+1])} at consecutive positions from {@code firstPos[s]}.
     */
    public ForwardBatch fill(int[] tokenIds, int[] queryStart, int[] firstPos, int[][] blockTables, int[] logitRows) {
        clear();
        for (int s = 0; s < blockTables.length; s++) {
            beginSequence(blockTables[s], blockTables[s].length);
            for (int t = queryStart[s]; t < queryStart[s + 1]; t++) addToken(tokenIds[t], firstPos[s] + t - queryStart[s]);
        }
        for (int r : logitRows) addLogitRow(r);
        return this;
    }

    /**
     * Cascade attention (issue 11): sequences {@code seqs[0 .. count)} (indices into this batch, all of
     * whose tokens are already added) share their first {@code sharedBlocks} physical blocks, so their
     * attention may read those keys once for the whole group. A backend without cascade attention
     * ignores groups (the result differs in rounding only). Call after every sequence's tokens are in.
     *
     * @throws IllegalArgumentException if a sequence is unknown, already grouped, listed twice, or its
     *         block table does not begin with the group's first sequence's {@code sharedBlocks} blocks
     */
    public void addCascadeGroup(int[] seqs, int count, int sharedBlocks) {
        if (count < 1) throw new IllegalArgumentException("a cascade group needs a sequence");
        if (sharedBlocks < 1) throw new IllegalArgumentException("a cascade group shares at least one block: " + sharedBlocks);
        int mb = shape.maxBlocksPerSeq(), bs = shape.blockSize(), lead = seqs[0];
        // a member that passed is marked LISTED in keyStart (a group of n members: O(n) to find one listed twice, where
        // comparing with every earlier member cost n²/2 a step, ~94k compares at seed workload 2's 434-sequence group);
        // the marks are undone if a later member fails, so a rejected group changes nothing
        int i = 0;
        try {
            for (; i < count; i++) {
                int s = seqs[i];
                if (s < 0 || s >= numSeqs) throw new IllegalArgumentException("cascade group sequence " + s + " outside the batch's " + numSeqs);
                if (keyStart[s] == LISTED) throw new IllegalArgumentException("sequence " + s + " is listed twice");
                if (keyStart[s] != 0) throw new IllegalArgumentException("sequence " + s + " is already in a cascade group");
                if ((contextLens[s] + bs - 1) / bs < sharedBlocks) {
                    throw new IllegalArgumentException("sequence " + s + " has " + contextLens[s] + " keys, fewer than " + sharedBlocks + " shared blocks");
                }
                for (int b = 0; b < sharedBlocks; b++) {
                    if (blockTables[s * mb + b] != blockTables[lead * mb + b]) {
                        throw new IllegalArgumentException("sequence " + s + "'s block " + b + " is " + blockTables[s * mb + b] + ", not the group's "
                                + blockTables[lead * mb + b]);
                    }
                }
                keyStart[s] = LISTED;
            }
        } catch (IllegalArgumentException e) {
            for (int k = 0; k < i; k++) keyStart[seqs[k]] = 0;
            throw e;
        }
        for (i = 0; i < count; i++) keyStart[seqs[i]] = sharedBlocks * bs;   // only once every member passed
        int g = numGroups++, at = groupTokenStart[g];
        for (i = 0; i < count; i++) for (int t = queryStart[seqs[i]]; t < queryStart[seqs[i] + 1]; t++) groupTokens[at++] = t;
        groupTokenStart[g + 1] = at;
    }

    public int numTokens() { return numTokens; }

    /** Cascade groups of this batch ({@link #addCascadeGroup}). */
    public int numCascadeGroups() { return numGroups; }

    /** Shared prefix of sequence s's cascade group in keys, 0 outside any group. */
    public int keyStart(int s) { return keyStart[s]; }

    /** Most tokens in one cascade group (0 without groups). */
    public int maxGroupTokens() {
        int m = 0;
        for (int g = 0; g < numGroups; g++) m = Math.max(m, groupTokenStart[g + 1] - groupTokenStart[g]);
        return m;
    }

    /** Longest shared prefix of a cascade group in keys (0 without groups). */
    public int maxSharedLen() {
        int m = 0;
        for (int s = 0; s < numSeqs; s++) m = Math.max(m, keyStart[s]);
        return m;
    }

    public int numSeqs() { return numSeqs; }

    public int numLogitRows() { return numLogitRows; }

    public int tokenId(int t) { return tokenIds[t]; }

    public int position(int t) { return positions[t]; }

    public int slot(int t) { return slotMapping[t]; }

    public int seqOfToken(int t) { return seqOfToken[t]; }

    public int queryStart(int s) { return queryStart[s]; }

    public int contextLen(int s) { return contextLens[s]; }

    public int logitRow(int r) { return logitRows[r]; }

    /** Physical block of logical block {@code i} of sequence {@code s}. */
    public int block(int s, int i) { return blockTables[s * shape.maxBlocksPerSeq() + i]; }

    /** Largest context of the batch's sequences, in tokens. */
    public int maxContextLen() {
        int m = 0;
        for (int s = 0; s < numSeqs; s++) m = Math.max(m, contextLens[s]);
        return m;
    }

    // Raw arrays for backends that upload them whole (the first num* entries are meaningful).
    public int[] tokenIdArray() { return tokenIds; }
    public int[] positionArray() { return positions; }
    public int[] slotMappingArray() { return slotMapping; }
    public int[] seqOfTokenArray() { return seqOfToken; }
    public int[] queryStartArray() { return queryStart; }
    public int[] contextLenArray() { return contextLens; }
    public int[] blockTableArray() { return blockTables; }
    public int[] logitRowArray() { return logitRows; }
    public int[] keyStartArray() { return keyStart; }
    public int[] groupTokenArray() { return groupTokens; }
    /** (numCascadeGroups + 1) offsets into groupTokenArray. */
    public int[] groupTokenStartArray() { return groupTokenStart; }

    @Override
    public String toString() {
        return "ForwardBatch[" + numTokens + " tokens, " + numSeqs + " seqs, queryStart "
                + Arrays.toString(Arrays.copyOf(queryStart, numSeqs + 1)) + ", " + numLogitRows + " logit rows, " + numGroups + " cascade groups]";
    }
}
