package dev.arbor.kernels.sampling;

import dev.arbor.accel.Backend;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.PinnedStaging;
import dev.arbor.accel.cuda.StagingLayout;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;

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

    private final Backend backend;
    private final int capacity, vocab, block;
    private final FloatArray work;
    /**
     * On a CUDA backend, unless {@code -Darbor.cuda.stagedInputs=false}: the batch's per-row inputs go up through one page-locked
     * block with one 2D copy ({@link SamplingBatch#upload(Backend, PinnedStaging)}: 4 copies a step where 15 pageable ones
     * were); null otherwise. Same bytes, same stream order: the same samples.
     */
    private final PinnedStaging staging;

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
        this.staging = backend instanceof CudaBackend cuda && PinnedStaging.requested()
                ? new PinnedStaging(cuda.device(), new StagingLayout(SamplingBatch.STAGED_REGIONS, 8L * (capacity + 1))) : null;
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
        int rows = batch.rows();
        if (batch.vocab() != vocab || rows > capacity) {
            throw new IllegalArgumentException("batch of " + rows + " rows × vocab " + batch.vocab() + " does not fit sampler of "
                    + capacity + " × " + vocab);
        }
        if ((long) rows * vocab > logits.length()) throw new IllegalArgumentException("logits hold " + logits.length() + " floats, need " + rows + " × " + vocab);
        if (rows == 0) {
            if (afterLaunch != null) afterLaunch.run();
            return;
        }
        if (staging != null && batch.capacity() <= capacity) batch.upload(backend, staging);
        else batch.upload(backend);
        backend.launch(SAMPLE, Launch.of1D(rows, block), logits, work, vocab, batch.temperature, batch.topK, batch.topP, batch.minP,
                batch.repetitionPenalty, batch.frequencyPenalty, batch.presencePenalty, batch.seed, batch.counter,
                batch.penaltyStart, batch.penaltyIds, batch.penaltyCounts, batch.maskStart, batch.maskIds, batch.tokens, block);
        boolean anyLogprobs = false;
        for (int r = 0; r < rows; r++) anyLogprobs |= batch.numLogprobs.get(r) >= 0;
        if (anyLogprobs) {
            backend.launch(LOGPROBS, Launch.of1D(rows, block), logits, vocab, batch.tokens, batch.numLogprobs, batch.logprobs,
                    batch.ranks, batch.topIds, batch.topLogprobs, block);
        }
        if (afterLaunch != null) afterLaunch.run();
        batch.download(backend, anyLogprobs);
    }

    @Override
    public void close() {
        work.close();
        if (staging != null) staging.close();
    }
}
