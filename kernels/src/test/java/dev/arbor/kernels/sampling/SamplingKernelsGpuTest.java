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
