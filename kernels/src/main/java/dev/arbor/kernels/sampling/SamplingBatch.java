package dev.arbor.kernels.sampling;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.LongArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cuda.DeviceBuffer;
import dev.arbor.accel.cuda.PinnedStaging;

/**
 * What to sample for each logit row of a step, and where the results go: off-heap arrays allocated once
 * for {@code capacity} rows and refilled in place every step, so the same object feeds {@link CpuSampler}
 * and the device ({@link SamplingKernels}) and a step allocates nothing.
 *
 * <p>Filling a step, row r describing logit row r:
 * <pre>{@code
 * batch.clear();
 * int r = batch.addRow(temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty,
 *                      seed, Philox.counter(seqIndexInRequest, outputTokensSoFar), numLogprobs);
 * for (each distinct token t of prompt + output) batch.addPenaltyToken(t, countOf(t in output));
 * if (outputLength < minTokens) for (t : eos (unless ignoreEos) and stop_token_ids) batch.addMaskedToken(t);
 * ... next row ...
 * sampler.sample(logits, batch);          // logits (rows(), vocab)
 * int token = batch.token(r);             // and logprob(r), rank(r), topId(r, j), topLogprob(r, j)
 * }</pre>
 *
 * <p>Per-row parameters (vLLM's meanings): temperature 0 = greedy; topK ≤ 0 or ≥ vocab = off; topP ≥ 1 = off;
 * minP ≤ 0 = off; penalties 1, 0, 0 = off. The penalty list of a row holds every distinct token of prompt and
 * output (all of them get the repetition penalty) with its count in the output (frequency and presence
 * penalties use it; 0 for prompt-only tokens); ids may not repeat within a row. The mask list holds ids forced
 * to -inf before anything else (min_tokens: EOS unless ignore_eos, and stop_token_ids); repeats are harmless.
 *
 * <p>Device layout (what the kernels read): per-row arrays of length capacity; CSR lists with
 * {@code penaltyStart[r] .. penaltyStart[r+1]} indexing {@code penaltyIds}/{@code penaltyCounts} and
 * {@code maskStart} likewise {@code maskIds}; results {@code tokens}, {@code logprobs}, {@code ranks} per row
 * and {@code topIds}/{@code topLogprobs} as (capacity, {@link #MAX_TOP_LOGPROBS}).
 *
 * <p>Not thread-safe: one step fills it, one sampler reads it. Close it to free the off-heap memory.
 */
public final class SamplingBatch implements AutoCloseable {
    /** Most top logprobs a row may ask for (vLLM's default max_logprobs). */
    public static final int MAX_TOP_LOGPROBS = 20;

    private final int capacity, vocab, maxPenaltyEntries, maxMaskEntries;
    private int rows, penaltyEntries, maskEntries;

    final FloatArray temperature, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty;
    final IntArray topK, numLogprobs;
    final LongArray seed, counter;
    final IntArray penaltyStart, penaltyIds, penaltyCounts, maskStart, maskIds;
    final IntArray tokens, ranks, topIds;
    final FloatArray logprobs, topLogprobs;
    /** Ids listed in the open row's penalty list, to reject repeats; cleared entry by entry. */
    private final long[] listed;
    private final OffHeapArray[] inputs, outputs;
    /** The per-row inputs ({@link #STAGED_ROWS} of rows elements, then penaltyStart and maskStart of rows + 1), in staging-region order. */
    private final OffHeapArray[] perRow;
    /** The staging whose device views are the per-row inputs' device mirrors (null: their own buffers). */
    private PinnedStaging stagedOn;
    /** Per-row inputs of {@code rows} elements at the head of {@link #perRow}. */
    static final int STAGED_ROWS = 10;
    /** Staging regions {@link #upload(dev.arbor.accel.Backend, PinnedStaging)} takes: one a {@link #perRow} array. */
    static final int STAGED_REGIONS = STAGED_ROWS + 2;

    /**
     * @param capacity          most rows per step
     * @param vocab             logit row length
     * @param maxPenaltyEntries most penalty-list entries over all rows of a step
     * @param maxMaskEntries    most mask-list entries over all rows of a step
     */
    public SamplingBatch(int capacity, int vocab, int maxPenaltyEntries, int maxMaskEntries) {
        if (capacity < 1 || vocab < 1 || maxPenaltyEntries < 0 || maxMaskEntries < 0) {
            throw new IllegalArgumentException("capacity " + capacity + ", vocab " + vocab + ", penalty entries " + maxPenaltyEntries
                    + ", mask entries " + maxMaskEntries + ": need capacity, vocab >= 1 and entries >= 0");
        }
        this.capacity = capacity;
        this.vocab = vocab;
        this.maxPenaltyEntries = maxPenaltyEntries;
        this.maxMaskEntries = maxMaskEntries;
        temperature = new FloatArray(capacity);
        topP = new FloatArray(capacity);
        minP = new FloatArray(capacity);
        repetitionPenalty = new FloatArray(capacity);
        frequencyPenalty = new FloatArray(capacity);
        presencePenalty = new FloatArray(capacity);
        topK = new IntArray(capacity);
        numLogprobs = new IntArray(capacity);
        seed = new LongArray(capacity);
        counter = new LongArray(capacity);
        penaltyStart = new IntArray(capacity + 1);
        penaltyIds = new IntArray(Math.max(1, maxPenaltyEntries));
        penaltyCounts = new IntArray(Math.max(1, maxPenaltyEntries));
        maskStart = new IntArray(capacity + 1);
        maskIds = new IntArray(Math.max(1, maxMaskEntries));
        tokens = new IntArray(capacity);
        ranks = new IntArray(capacity);
        logprobs = new FloatArray(capacity);
        topIds = new IntArray(capacity * MAX_TOP_LOGPROBS);
        topLogprobs = new FloatArray(capacity * MAX_TOP_LOGPROBS);
        listed = new long[(vocab + 63) >>> 6];
        inputs = new OffHeapArray[] {temperature, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, topK, numLogprobs,
                seed, counter, penaltyStart, penaltyIds, penaltyCounts, maskStart, maskIds};
        outputs = new OffHeapArray[] {tokens, ranks, logprobs, topIds, topLogprobs};
        perRow = new OffHeapArray[] {temperature, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty, topK, numLogprobs, seed,
                counter, penaltyStart, maskStart};
    }

    public int capacity() { return capacity; }

    public int vocab() { return vocab; }

    /** Rows added since {@link #clear()}. */
    public int rows() { return rows; }

    /** Whether a row asks for logprobs (numLogprobs >= 0): the step then runs the logprobs kernel and reads its results back. */
    boolean anyLogprobs() {
        for (int r = 0; r < rows; r++) if (numLogprobs.get(r) >= 0) return true;
        return false;
    }

    /** Starts a new step: no rows, empty lists. */
    public void clear() {
        forgetListed();
        rows = 0;
        penaltyEntries = 0;
        maskEntries = 0;
        penaltyStart.set(0, 0);
        maskStart.set(0, 0);
    }

    /**
     * Appends a row; the penalty and mask lists that follow belong to it.
     *
     * @param temperature 0 = greedy, else > 0
     * @param topK        ≤ 0 or ≥ vocab: off
     * @param topP        in (0, 1]; 1 = off
     * @param minP        in [0, 1]; 0 = off
     * @param seed        Philox key (the request's seed; the engine picks one for unseeded requests)
     * @param counter     Philox counter, {@link Philox#counter(int, long)}
     * @param numLogprobs -1: no logprobs; 0: the sampled token's logprob and rank; n ≤ 20: also the top n
     * @return the row index
     * @throws IllegalStateException    when the batch is full
     * @throws IllegalArgumentException naming a parameter out of range
     */
    public int addRow(double temperature, int topK, double topP, double minP, double repetitionPenalty,
                      double frequencyPenalty, double presencePenalty, long seed, long counter, int numLogprobs) {
        if (rows == capacity) throw new IllegalStateException("sampling batch full: capacity " + capacity + " rows");
        if (!(temperature >= 0) || Double.isInfinite(temperature)) throw bad("temperature", temperature);
        if (!(topP > 0 && topP <= 1)) throw bad("top_p", topP);
        if (!(minP >= 0 && minP <= 1)) throw bad("min_p", minP);
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) throw bad("repetition_penalty", repetitionPenalty);
        if (!Double.isFinite(frequencyPenalty)) throw bad("frequency_penalty", frequencyPenalty);
        if (!Double.isFinite(presencePenalty)) throw bad("presence_penalty", presencePenalty);
        if (numLogprobs < -1 || numLogprobs > MAX_TOP_LOGPROBS) throw bad("logprobs", numLogprobs);
        forgetListed();
        int r = rows++;
        this.temperature.set(r, (float) temperature);
        this.topK.set(r, topK);
        this.topP.set(r, (float) topP);
        this.minP.set(r, (float) minP);
        this.repetitionPenalty.set(r, (float) repetitionPenalty);
        this.frequencyPenalty.set(r, (float) frequencyPenalty);
        this.presencePenalty.set(r, (float) presencePenalty);
        this.seed.set(r, seed);
        this.counter.set(r, counter);
        this.numLogprobs.set(r, numLogprobs);
        penaltyStart.set(r + 1, penaltyEntries);
        maskStart.set(r + 1, maskEntries);
        return r;
    }

    /**
     * Lists {@code token} (in prompt or output) for the last row's penalties, with its number of
     * occurrences in the output (0 if only in the prompt).
     *
     * @throws IllegalArgumentException for an id outside the vocabulary, a negative count, or an id already listed for the row
     * @throws IllegalStateException    before any row, or when the penalty lists are full
     */
    public void addPenaltyToken(int token, int outputCount) {
        checkOpen();
        checkId(token);
        if (outputCount < 0) throw new IllegalArgumentException("output count " + outputCount + " of token " + token + " is negative");
        if ((listed[token >>> 6] & (1L << token)) != 0) throw new IllegalArgumentException("token " + token + " listed twice for row " + (rows - 1));
        if (penaltyEntries == maxPenaltyEntries) throw new IllegalStateException("penalty lists full: " + maxPenaltyEntries + " entries");
        listed[token >>> 6] |= 1L << token;
        penaltyIds.set(penaltyEntries, token);
        penaltyCounts.set(penaltyEntries, outputCount);
        penaltyStart.set(rows, ++penaltyEntries);
    }

    /** Forces {@code token}'s logit to -inf for the last row (min_tokens). Same errors as {@link #addPenaltyToken}. */
    public void addMaskedToken(int token) {
        checkOpen();
        checkId(token);
        if (maskEntries == maxMaskEntries) throw new IllegalStateException("mask lists full: " + maxMaskEntries + " entries");
        maskIds.set(maskEntries, token);
        maskStart.set(rows, ++maskEntries);
    }

    /**
     * Whether every row is greedy (temperature 0) with no penalty or mask entries: the rows whose token
     * {@link SamplingKernels#sample} takes as the raw logits' argmax (and {@link SplitArgmaxKernels} may compute instead).
     */
    public boolean allGreedyUnedited() {
        if (penaltyEntries > 0 || maskEntries > 0) return false;
        for (int r = 0; r < rows; r++) if (temperature.get(r) != 0f) return false;
        return true;
    }

    /** The sampled token of row r (after a sampler ran). */
    /** The (capacity) sampled ids as the kernels write them (the device copy: the next step's inputs may be fed from it). */
    public IntArray tokenArray() { return tokens; }

    public int token(int r) { return tokens.get(check(r)); }

    /** ln P(token) under the raw logits of row r (when numLogprobs ≥ 0). */
    public float logprob(int r) { return logprobs.get(check(r)); }

    /** 1 + the number of ids with a larger raw logit than the sampled token (when numLogprobs ≥ 0). */
    public int rank(int r) { return ranks.get(check(r)); }

    /** The j-th most likely id of row r under the raw logits, j < numLogprobs (ties: lower id first). */
    public int topId(int r, int j) { return topIds.get(check(r) * MAX_TOP_LOGPROBS + j); }

    /** Its log-probability. */
    public float topLogprob(int r, int j) { return topLogprobs.get(check(r) * MAX_TOP_LOGPROBS + j); }

    public int numLogprobs(int r) { return numLogprobs.get(check(r)); }

    /**
     * Copies this step's inputs to the device, queued behind the work already launched (the step's forward pass and
     * lm_head) without waiting for it: synchronous copies here made the host wait for the whole step and then left the
     * GPU idle through fifteen small copies (about 0.3 ms a step at batch 1; bench/RESULTS.md, run 26-lead).
     */
    void upload(dev.arbor.accel.Backend b) {
        for (int i = 0; i < perRow.length; i++) b.toDeviceAsync(perRow[i], perRowLength(i));
        uploadLists(b);
    }

    /** Elements of {@link #perRow}[i] this step filled: rows, or rows + 1 for the CSR starts (penaltyStart, maskStart). */
    private int perRowLength(int i) { return i < STAGED_ROWS ? rows : rows + 1; }

    /** The CSR lists' used entries (at least one word each), after the per-row arrays. */
    private void uploadLists(dev.arbor.accel.Backend b) {
        b.toDeviceAsync(penaltyIds, Math.max(1, penaltyEntries));
        b.toDeviceAsync(penaltyCounts, Math.max(1, penaltyEntries));
        b.toDeviceAsync(maskIds, Math.max(1, maskEntries));
    }

    /**
     * As {@link #upload(dev.arbor.accel.Backend)}, the per-row inputs through {@code staging} (page-locked, regions of at least
     * {@code 8 × (capacity + 1)} bytes, one per {@link #perRow} array): their rows copied into its host regions, then one 2D
     * copy; the first call with a staging makes its device regions the arrays' device mirrors (the kernels then read them
     * there; an own buffer from an earlier upload is freed). The CSR lists go as before. The staging's host regions must be
     * free, i.e. its last copy run: {@link DeviceSampler} downloads every step's results synchronously after its copy.
     */
    void upload(dev.arbor.accel.Backend b, PinnedStaging staging) {
        if (stagedOn != staging) {
            for (int i = 0; i < perRow.length; i++) {
                OffHeapArray a = perRow[i];
                if (a.deviceMirror() instanceof DeviceBuffer d && !d.isView()) d.close();
                a.deviceMirror(staging.deviceView(i, a.byteSize()));
            }
            stagedOn = staging;
        }
        long width = 0;
        for (int i = 0; i < perRow.length; i++) {
            OffHeapArray a = perRow[i];
            long bytes = (long) perRowLength(i) * a.elementBytes();
            java.lang.foreign.MemorySegment.copy(a.segment(), 0, staging.host(i), 0, bytes);
            width = Math.max(width, bytes);
        }
        staging.upload(width, perRow.length, java.lang.foreign.MemorySegment.NULL);
        uploadLists(b);
    }

    /** Copies this step's results back: tokens, and the logprob arrays when {@code logprobs}. */
    void download(dev.arbor.accel.Backend b, boolean logprobs) {
        b.toHost(tokens, rows);
        if (!logprobs) return;
        b.toHost(ranks, rows);
        b.toHost(this.logprobs, rows);
        b.toHost(topIds, rows * MAX_TOP_LOGPROBS);
        b.toHost(topLogprobs, rows * MAX_TOP_LOGPROBS);
    }

    /** Every array the kernels read, for uploads (one array, made once). */
    OffHeapArray[] inputs() { return inputs; }

    /** Every array the kernels write. */
    OffHeapArray[] outputs() { return outputs; }

    private int check(int r) {
        if (r < 0 || r >= rows) throw new IndexOutOfBoundsException("row " + r + " of " + rows);
        return r;
    }

    private void checkOpen() {
        if (rows == 0) throw new IllegalStateException("add a row before its lists");
    }

    private void checkId(int token) {
        if (token < 0 || token >= vocab) throw new IllegalArgumentException("token " + token + " outside the vocabulary [0, " + vocab + ")");
    }

    private void forgetListed() {
        if (rows == 0) return;
        for (int i = penaltyStart.get(rows - 1); i < penaltyEntries; i++) listed[penaltyIds.get(i) >>> 6] = 0;
    }

    private static IllegalArgumentException bad(String field, Object value) {
        return new IllegalArgumentException("invalid sampling parameter '" + field + "' = " + value);
    }

    @Override
    public void close() {
        for (OffHeapArray a : inputs()) a.close();
        for (OffHeapArray a : outputs()) a.close();
    }
}
