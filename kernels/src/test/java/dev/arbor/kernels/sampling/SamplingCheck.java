package dev.arbor.kernels.sampling;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * One batch of mixed rows (greedy, temperature, top-k, top-p, min-p, all together, penalties, masks,
 * logprobs, an all-masked row) sampled by {@link CpuSampler} and by {@link DeviceSampler} on a backend;
 * asserts the same tokens, ranks and top ids, and logprobs within {@code tolerance}.
 */
final class SamplingCheck {
    private SamplingCheck() {}

    /** @return the number of rows compared */
    static int compare(Backend backend, int vocab, int rows, long seed, int block, float tolerance) {
        Random r = new Random(seed);
        float[] x = new float[rows * vocab];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * (1 + (i / vocab) % 4));
        try (SamplingBatch cpu = new SamplingBatch(rows, vocab, rows * 40, rows * 4);
             SamplingBatch dev = new SamplingBatch(rows, vocab, rows * 40, rows * 4);
             FloatArray logits = SamplerTest.offHeap(x);
             DeviceSampler device = new DeviceSampler(backend, rows, vocab, block)) {
            for (SamplingBatch b : new SamplingBatch[] {cpu, dev}) fill(b, rows, vocab, seed);
            new CpuSampler(vocab).sample(logits, cpu);
            device.sample(logits, dev);
            for (int row = 0; row < rows; row++) {
                String what = backend.name() + " vocab " + vocab + " row " + row;
                assertEquals(cpu.token(row), dev.token(row), what);
                int n = cpu.numLogprobs(row);
                if (n < 0) continue;
                assertEquals(cpu.logprob(row), dev.logprob(row), tolerance, what);
                assertEquals(cpu.rank(row), dev.rank(row), what);
                for (int j = 0; j < Math.min(n, vocab); j++) {
                    assertEquals(cpu.topId(row, j), dev.topId(row, j), what + " top " + j);
                    assertEquals(cpu.topLogprob(row, j), dev.topLogprob(row, j), tolerance, what + " top " + j);
                }
            }
        }
        return rows;
    }

    /** The mixed rows of {@link #compare}: row % 8 picks greedy, temperature, top-k, top-p, min-p, all, penalties, masks. */
    static void fill(SamplingBatch b, int rows, int vocab, long seed) {
        Random p = new Random(seed + 1);
        b.clear();
        for (int row = 0; row < rows; row++) {
            int kind = row % 8;
            double temperature = kind == 0 ? 0 : 0.4 + p.nextDouble() * 1.2;
            int topK = kind == 2 || kind == 5 ? 1 + p.nextInt(Math.min(vocab, 60)) : 0;
            double topP = kind == 3 || kind == 5 ? 0.5 + 0.45 * p.nextDouble() : 1;
            double minP = kind == 4 || kind == 5 ? 0.1 * p.nextDouble() : 0;
            boolean penalised = kind == 6 || kind == 5;
            b.addRow(temperature, topK, topP, minP, penalised ? 1.3 : 1, penalised ? 0.4 : 0, penalised ? 0.3 : 0,
                    p.nextLong(), Philox.counter(row % 3, p.nextInt(1000)), row % 3 == 0 ? -1 : p.nextInt(21));
            if (penalised) {
                java.util.BitSet seen = new java.util.BitSet();
                for (int j = 0; j < 30; j++) {
                    int t = p.nextInt(vocab);
                    if (!seen.get(t)) { seen.set(t); b.addPenaltyToken(t, p.nextInt(3)); }
                }
            }
            if (kind == 7) {
                for (int j = 0; j < 3; j++) b.addMaskedToken(p.nextInt(vocab));
                if (row == 7) for (int t = 0; t < Math.min(vocab, 4); t++) b.addMaskedToken(t);
            }
        }
    }

    static final Kernel STRIDED = Kernel.of(StridedSamplingKernels.class, "sample");

    /**
     * {@link SamplingKernels#sample} (through {@link DeviceSampler}) against {@link StridedSamplingKernels#sample}, the kernel
     * before its chunked loads, on one backend: the same token for every row, exactly (even rows at vocab ≥ 1000 rounded to 1/4
     * and capped at 1: many ids tie at the maximum, within a work-item too, so the lowest-id rule is exercised). @return the number of rows compared
     */
    static int compareWithStrided(Backend backend, int vocab, int rows, long seed, int block) {
        Random r = new Random(seed);
        float[] x = new float[rows * vocab];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * (1 + (i / vocab) % 4));
            if (vocab >= 1000 && (i / vocab) % 2 == 0) x[i] = Math.min(Math.round(x[i] * 4) / 4f, 1f);
        }
        try (SamplingBatch chunked = new SamplingBatch(rows, vocab, rows * 40, rows * 4);
             SamplingBatch strided = new SamplingBatch(rows, vocab, rows * 40, rows * 4);
             FloatArray logits = SamplerTest.offHeap(x); FloatArray work = new FloatArray(rows * vocab);
             DeviceSampler device = new DeviceSampler(backend, rows, vocab, block)) {
            fill(chunked, rows, vocab, seed);
            fill(strided, rows, vocab, seed);
            device.sample(logits, chunked);
            strided.upload(backend);
            backend.toDevice(work);
            backend.launch(STRIDED, Launch.of1D(rows, block), logits, work, vocab, strided.temperature, strided.topK, strided.topP,
                    strided.minP, strided.repetitionPenalty, strided.frequencyPenalty, strided.presencePenalty, strided.seed,
                    strided.counter, strided.penaltyStart, strided.penaltyIds, strided.penaltyCounts, strided.maskStart,
                    strided.maskIds, strided.tokens, block);
            strided.download(backend, false);
            for (int row = 0; row < rows; row++) {
                assertEquals(strided.token(row), chunked.token(row), backend.name() + " vocab " + vocab + " row " + row + " (kind " + row % 8 + ")");
            }
        }
        return rows;
    }
}
