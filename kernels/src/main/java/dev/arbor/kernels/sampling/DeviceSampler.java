package dev.arbor.kernels.sampling;

import dev.arbor.accel.Backend;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaEvent;
import dev.arbor.accel.cuda.DeviceBuffer;
import dev.arbor.accel.cuda.PinnedStaging;
import dev.arbor.accel.cuda.StagingLayout;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import java.lang.foreign.MemorySegment;

/**
 * Host launcher of {@link SamplingKernels} on a {@link Backend}: uploads a filled {@link SamplingBatch}'s
 * inputs, launches the sampling kernel (and the logprob kernel when a row asked for logprobs) over the
 * device-resident logits, and copies the results back into the batch. Owns a (capacity, vocab) float work
 * buffer, allocated once.
 */
public final class DeviceSampler implements AutoCloseable {
    /** Work-items per row on the GPU. */
    public static final int GPU_BLOCK = 256;
    /** Work-items per row on the CPU executor (one virtual thread each there, so fewer). */
    public static final int CPU_BLOCK = 32;

    private static final Kernel SAMPLE = Kernel.of(SamplingKernels.class, "sample");
    private static final Kernel LOGPROBS = Kernel.of(SamplingKernels.class, "logprobs");
    private static final Kernel ARGMAX_SLICES = Kernel.of(SplitArgmaxKernels.class, "argmaxSlices");
    private static final Kernel ARGMAX_FINISH = Kernel.of(SplitArgmaxKernels.class, "argmaxFinish");

    /**
     * {@code -Darbor.sampling.splitArgmax} (on unless set false): a step whose rows are all greedy and unedited
     * ({@link SamplingBatch#allGreedyUnedited}) and number at least {@link #SPLIT_ARGMAX_MIN_ROWS} takes its tokens from
     * {@link SplitArgmaxKernels} (each row's argmax over {@link #argmaxSlices} work-groups, then one to pick) instead of
     * {@link SamplingKernels#sample} (one work-group a row): the same tokens. Measured in bench/RESULTS.md run 66-b128 (H200,
     * llama3.2-1b batch 128: on / off in one call).
     */
    public static final boolean SPLIT_ARGMAX = Boolean.parseBoolean(System.getProperty("arbor.sampling.splitArgmax", "true"));
    /**
     * Fewest rows that take the split argmax ({@code -Darbor.sampling.splitArgmaxMinRows}, 32): measured at 128 rows only; at a
     * few rows the one-group kernel is one short launch where the split is two.
     */
    public static final int SPLIT_ARGMAX_MIN_ROWS = Math.max(1, Integer.getInteger("arbor.sampling.splitArgmaxMinRows", 32));
    /** Work-groups the split argmax aims at over all rows (~8 a multiprocessor of an H200). */
    static final int SPLIT_ARGMAX_GROUPS = 1024;
    /** Most slices a row: the finish kernel's work-items hold one partial each (≤ its block of ≥ 32). */
    static final int SPLIT_ARGMAX_MAX_SLICES = 32;

    private final Backend backend;
    private final int capacity, vocab, block;
    private final FloatArray work;
    private final FloatArray partValue;   // (capacity, SPLIT_ARGMAX_MAX_SLICES) the split argmax's slice maxima
    private final IntArray partId;        // (capacity, SPLIT_ARGMAX_MAX_SLICES) their ids (-1: a NaN in the slice)
    private boolean splitArgmax = SPLIT_ARGMAX;
    /**
     * On a CUDA backend, unless {@code -Darbor.cuda.stagedInputs=false}: the batch's per-row inputs go up through one page-locked
     * block with one 2D copy ({@link SamplingBatch#upload(Backend, PinnedStaging)}: 4 copies a step where 15 pageable ones
     * were); null otherwise. Same bytes, same stream order: the same samples.
     */
    private final PinnedStaging staging;
    /**
     * On a CUDA backend: page-locked (capacity) ints where a deferred step's tokens land ({@link #sampleDeferred}), and the event
     * after their copy; null elsewhere (there {@link #sampleDeferred} samples synchronously).
     */
    private final PinnedStaging results;
    private final CudaEvent resultsReady;
    private int deferredRows = -1;   // rows of the deferred step whose tokens are not yet in the batch, or -1

    /**
     * @param capacity most rows per call
     * @param vocab    logit row length
     */
    public DeviceSampler(Backend backend, int capacity, int vocab) {
        this(backend, capacity, vocab, "cpu".equals(backend.name()) ? CPU_BLOCK : GPU_BLOCK);
    }

    /** @param block work-items per row, a power of two in [32, 1024] */
    public DeviceSampler(Backend backend, int capacity, int vocab, int block) {
        if (block < 32 || block > 1024 || Integer.bitCount(block) != 1) throw new IllegalArgumentException("block " + block + " is not a power of two in [32, 1024]");
        this.backend = backend;
        this.capacity = capacity;
        this.vocab = vocab;
        this.block = block;
        this.work = new FloatArray(capacity * vocab);
        this.partValue = new FloatArray(capacity * SPLIT_ARGMAX_MAX_SLICES);
        this.partId = new IntArray(capacity * SPLIT_ARGMAX_MAX_SLICES);
        this.staging = backend instanceof CudaBackend cuda && PinnedStaging.requested()
                ? new PinnedStaging(cuda.device(), new StagingLayout(SamplingBatch.STAGED_REGIONS, 8L * (capacity + 1))) : null;
        if (backend instanceof CudaBackend cuda) {
            this.results = new PinnedStaging(cuda.device(), new StagingLayout(1, 4L * Math.max(1, capacity)));
            this.resultsReady = new CudaEvent(cuda.device());
        } else {
            this.results = null;
            this.resultsReady = null;
        }
    }

    /**
     * Samples the batch's rows from {@code logits} (rows, vocab), already on the device (or uploaded here on
     * first use), and leaves tokens and requested logprobs in the batch's host arrays.
     *
     * @throws IllegalArgumentException when the batch does not fit this sampler
     */
    public void sample(FloatArray logits, SamplingBatch batch) {
        sample(logits, batch, null);
    }

    /** As {@link #sample(FloatArray, SamplingBatch)}, running {@code afterLaunch} (e.g. an event record) after the last kernel, before the results come back. */
    public void sample(FloatArray logits, SamplingBatch batch, Runnable afterLaunch) {
        deferredRows = -1;
        boolean anyLogprobs = launch(logits, batch, afterLaunch);
        if (batch.rows() > 0) batch.download(backend, anyLogprobs);
    }

    /**
     * As {@link #sample(FloatArray, SamplingBatch, Runnable)} without waiting for the tokens: on a CUDA backend their copy back is
     * queued into page-locked memory behind the kernels, and {@link #awaitDeferred} puts them in the batch, so the host may queue
     * the next step's work meanwhile (asynchronous scheduling). The batch's inputs must stay as they are until then. A batch with
     * a logprobs row, or a backend other than CUDA, samples synchronously (the tokens are in the batch on return).
     */
    public void sampleDeferred(FloatArray logits, SamplingBatch batch, Runnable afterLaunch) {
        if (results == null || batch.rows() == 0 || batch.anyLogprobs()) {
            sample(logits, batch, afterLaunch);
            return;
        }
        launch(logits, batch, afterLaunch);
        int rows = batch.rows();
        ((DeviceBuffer) batch.tokens.deviceMirror()).downloadAsync(results.host(0), 0, 4L * rows, MemorySegment.NULL);
        resultsReady.record(null);
        deferredRows = rows;
    }

    /** Waits for the tokens of the last {@link #sampleDeferred} (if it deferred them) and puts them in {@code batch}. */
    public void awaitDeferred(SamplingBatch batch) {
        if (deferredRows < 0) return;
        resultsReady.synchronize();
        MemorySegment.copy(results.host(0), 0, batch.tokens.segment(), 0, 4L * deferredRows);
        deferredRows = -1;
    }

    /** Uploads the batch's inputs and launches its kernels (then {@code afterLaunch}); returns whether a row wants logprobs. */
    private boolean launch(FloatArray logits, SamplingBatch batch, Runnable afterLaunch) {
        int rows = batch.rows();
        if (batch.vocab() != vocab || rows > capacity) {
            throw new IllegalArgumentException("batch of " + rows + " rows × vocab " + batch.vocab() + " does not fit sampler of "
                    + capacity + " × " + vocab);
        }
        if ((long) rows * vocab > logits.length()) throw new IllegalArgumentException("logits hold " + logits.length() + " floats, need " + rows + " × " + vocab);
        if (rows == 0) {
            if (afterLaunch != null) afterLaunch.run();
            return false;
        }
        if (staging != null && batch.capacity() <= capacity) batch.upload(backend, staging);
        else batch.upload(backend);
        if (splitArgmax && rows >= SPLIT_ARGMAX_MIN_ROWS && batch.allGreedyUnedited()) {
            int slices = argmaxSlices(rows, vocab), sliceLen = (vocab + slices - 1) / slices;
            backend.launch(ARGMAX_SLICES, Launch.of(new int[] {slices, rows, 1}, new int[] {block, 1, 1}), logits, vocab, slices, sliceLen,
                    partValue, partId, block);
            backend.launch(ARGMAX_FINISH, Launch.of1D(rows, block), logits, vocab, slices, partValue, partId, batch.tokens, block);
        } else {
            backend.launch(SAMPLE, Launch.of1D(rows, block), logits, work, vocab, batch.temperature, batch.topK, batch.topP, batch.minP,
                    batch.repetitionPenalty, batch.frequencyPenalty, batch.presencePenalty, batch.seed, batch.counter,
                    batch.penaltyStart, batch.penaltyIds, batch.penaltyCounts, batch.maskStart, batch.maskIds, batch.tokens, block);
        }
        boolean anyLogprobs = batch.anyLogprobs();
        if (anyLogprobs) {
            backend.launch(LOGPROBS, Launch.of1D(rows, block), logits, vocab, batch.tokens, batch.numLogprobs, batch.logprobs,
                    batch.ranks, batch.topIds, batch.topLogprobs, block);
        }
        if (afterLaunch != null) afterLaunch.run();
        return anyLogprobs;
    }

    /** Sets whether all-greedy steps may take the split argmax ({@link #SPLIT_ARGMAX}; tests compare both). */
    public void splitArgmax(boolean on) { this.splitArgmax = on; }

    /**
     * Slices of a row for the split argmax of {@code rows} rows: about {@link #SPLIT_ARGMAX_GROUPS} work-groups in all, at least
     * 2 and at most {@link #SPLIT_ARGMAX_MAX_SLICES}, none longer than the row (128 rows × 128,256 ids: 8 slices of 16,032).
     */
    static int argmaxSlices(int rows, int vocab) {
        int s = Math.max(2, Math.min(SPLIT_ARGMAX_MAX_SLICES, (SPLIT_ARGMAX_GROUPS + rows - 1) / rows));
        return Math.max(1, Math.min(s, vocab));
    }

    @Override
    public void close() {
        work.close();
        partValue.close();
        partId.close();
        if (staging != null) staging.close();
        if (results != null) results.close();
        if (resultsReady != null) resultsReady.close();
    }
}
