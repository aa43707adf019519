package dev.arbor.kernels.sampling;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The sampling kernels on the GPU against {@link CpuSampler} ({@code @Tag("gpu")}): same tokens, ranks and top ids,
 * logprobs within 1e-4 (the GPU's exp and log are approximations), at odd vocabulary sizes and Llama/Qwen ones;
 * then the time per step of 64 top-p rows at vocab 151,936 (printed, not asserted).
 */
@Tag("gpu")
class SamplingKernelsGpuTest {
    @Test
    void gpuMatchesCpuSampler() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            int rows = 0;
            for (int vocab : new int[] {1, 7, 13, 255, 1000, 32000, 151936}) {
                rows += SamplingCheck.compare(cuda, vocab, vocab > 32000 ? 24 : 48, vocab, DeviceSampler.GPU_BLOCK, 1e-4f);
            }
            System.out.println("sampling on the GPU: " + rows + " rows agree with CpuSampler");
        }
    }

    @Test
    void chunkedLoadsGiveTheStridedKernelsTokens() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            int rows = 0;
            for (int vocab : new int[] {1, 7, 1000, 32000, 128256, 151936}) {
                rows += SamplingCheck.compareWithStrided(cuda, vocab, vocab > 32000 ? 24 : 48, vocab + 30, DeviceSampler.GPU_BLOCK);
            }
            System.out.println("sampling on the GPU: " + rows + " rows, chunked == strided");
        }
    }

    /**
     * Device time of one {@code sample} launch (CUDA events around it, median of 21 after 5 warm-ups, random logits), the
     * chunked kernel against the strided one before it: greedy at 1 × 32,000 (llama-7b batch 1) and 128 × 128,256 (llama3.2-1b
     * batch 128), top-p 0.9 at 64 × 151,936 (printed, not asserted: run 30-gemv5 records them).
     */
    @Test
    void timesChunkedAgainstStrided() {
        int[][] cases = {{1, 32000, 0}, {128, 128256, 0}, {64, 151936, 1}};
        try (CudaBackend cuda = CudaBackend.open(0); var a = new dev.arbor.accel.cuda.CudaEvent(cuda.device());
             var z = new dev.arbor.accel.cuda.CudaEvent(cuda.device())) {
            for (int[] c : cases) {
                int rows = c[0], vocab = c[1];
                boolean topP = c[2] == 1;
                try (SamplingBatch b = new SamplingBatch(rows, vocab, 0, 0); FloatArray logits = new FloatArray(rows * vocab);
                     FloatArray work = new FloatArray(rows * vocab)) {
                    java.util.Random r = new java.util.Random(rows + vocab);
                    for (int i = 0; i < rows * vocab; i++) logits.set(i, (float) (r.nextGaussian() * 2.5));
                    cuda.toDevice(logits, work);
                    b.clear();
                    for (int row = 0; row < rows; row++) b.addRow(topP ? 1 : 0, 0, topP ? 0.9 : 1, 0, 1, 0, 0, 9, Philox.counter(row, 1), -1);
                    b.upload(cuda);
                    double[] us = new double[2];
                    for (int k = 0; k < 2; k++) {
                        dev.arbor.accel.Kernel kernel = k == 0 ? SamplingCheck.STRIDED : dev.arbor.accel.Kernel.of(SamplingKernels.class, "sample");
                        double[] t = new double[21];
                        for (int rep = 0; rep < t.length + 5; rep++) {
                            a.record(null);
                            cuda.launch(kernel, dev.arbor.accel.Launch.of1D(rows, DeviceSampler.GPU_BLOCK), logits, work, vocab, b.temperature,
                                    b.topK, b.topP, b.minP, b.repetitionPenalty, b.frequencyPenalty, b.presencePenalty, b.seed, b.counter,
                                    b.penaltyStart, b.penaltyIds, b.penaltyCounts, b.maskStart, b.maskIds, b.tokens, DeviceSampler.GPU_BLOCK);
                            z.record(null);
                            if (rep >= 5) t[rep - 5] = z.millisSince(a) * 1e3;
                        }
                        java.util.Arrays.sort(t);
                        us[k] = t[t.length / 2];
                    }
                    System.out.printf("sample kernel, %d rows × vocab %d, %s: strided %.1f µs, chunked %.1f µs (%.2fx)%n",
                            rows, vocab, topP ? "top-p 0.9" : "greedy", us[0], us[1], us[0] / us[1]);
                }
            }
        }
    }

    @Test
    void timesTopPAtQwenVocab() {
        int vocab = 151936, rows = 64;
        try (CudaBackend cuda = CudaBackend.open(0); SamplingBatch b = new SamplingBatch(rows, vocab, 0, 0);
             FloatArray logits = new FloatArray(rows * vocab); DeviceSampler sampler = new DeviceSampler(cuda, rows, vocab)) {
            java.util.Random r = new java.util.Random(1);
            for (int i = 0; i < rows * vocab; i++) logits.set(i, (float) (r.nextGaussian() * 2.5));
            cuda.toDevice(logits);
            for (String mode : new String[] {"greedy", "top-k 50", "top-p 0.9"}) {
                double[] t = new double[21];
                for (int rep = 0; rep < t.length + 5; rep++) {
                    b.clear();
                    for (int row = 0; row < rows; row++) {
                        b.addRow(mode.equals("greedy") ? 0 : 1, mode.equals("top-k 50") ? 50 : 0, mode.equals("top-p 0.9") ? 0.9 : 1, 0,
                                1, 0, 0, 9, Philox.counter(row, rep), -1);
                    }
                    long t0 = System.nanoTime();
                    sampler.sample(logits, b);          // upload params, launch, copy tokens back (synchronous)
                    if (rep >= 5) t[rep - 5] = (System.nanoTime() - t0) / 1e3;
                }
                java.util.Arrays.sort(t);
                System.out.printf("GPU sampling, %d rows × vocab %d, %s: median %.1f µs per step (%.2f µs per row)%n",
                        rows, vocab, mode, t[t.length / 2], t[t.length / 2] / rows);
                assertTrue(b.token(0) >= 0 && b.token(0) < vocab);
            }
        }
    }
}
