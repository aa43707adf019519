package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Without batch invariance, a wide GQA decode step through the tensor-core kernel (CudaOps.nbiFlashDecode: G ≥ 4, one-warp
 * tiles from 4 × SMs (sequence, kv head) walks) against the same steps through the CUDA-core paged kernel
 * ({@code -Darbor.cuda.nbiFlashBelow=0}, the mode's decode before run 57-gqa12): synthetic:llama3.2-1b (32 on 8 heads × 64),
 * 80 sequences (640 walks; padded to the graph bucket of 96) prefilled with 8-47 tokens, then 3 decode steps replayed from
 * CUDA graphs. The tensor-core kernel rounds Q and P to bf16, so the logits differ a little: as in
 * {@link CascadeForwardGpuTest}, within 1% of the largest logit, and the greedy token the same or a near-tie.
 */
@Tag("gpu")
class NbiFlashDecodeGpuTest {
    private static final int SEQS = 80, STEPS = 3;

    @Test
    void aWideGqaDecodeStepOnTheTensorCoresMatchesThePagedKernel() {
        float[][][] flash = decodes(null), paged = decodes("0");
        int vocab = flash[0][0].length;
        double worst = 0, scale = 0;
        int flips = 0;
        for (int k = 0; k < STEPS; k++) {
            for (int s = 0; s < SEQS; s++) {
                double rowWorst = 0;
                for (int v = 0; v < vocab; v++) {
                    rowWorst = Math.max(rowWorst, Math.abs(flash[k][s][v] - paged[k][s][v]));
                    scale = Math.max(scale, Math.abs(paged[k][s][v]));
                }
                worst = Math.max(worst, rowWorst);
                int p = PagedRunner.argmax(paged[k][s]), f = PagedRunner.argmax(flash[k][s]);
                if (p != f) {
                    flips++;
                    assertTrue(paged[k][s][p] - paged[k][s][f] <= 2 * rowWorst, "step " + k + ", sequence " + s + ": the tensor-core step picks "
                            + f + " at paged logit " + paged[k][s][f] + ", the paged argmax " + p + " is " + paged[k][s][p] + ", over twice the row's "
                            + "max |difference| " + rowWorst + " apart");
                }
            }
        }
        System.out.printf("synthetic:llama3.2-1b nbi, %d sequences x %d decode steps: tensor-core vs paged decode attention max |logit difference| "
                + "%.2e (logits up to %.2f; %d near-tie argmax flips)%n", SEQS, STEPS, worst, scale, flips);
        assertTrue(worst <= 1e-2 * Math.max(1, scale), "tensor-core vs paged decode logits differ by " + worst);
    }

    /** The 3 decode steps' logits (step, sequence, vocab) with {@code arbor.cuda.nbiFlashBelow} = {@code bound} (null: the default). */
    private static float[][][] decodes(String bound) {
        String key = "arbor.cuda.nbiFlashBelow", before = System.getProperty(key);
        if (bound != null) System.setProperty(key, bound);
        try (CausalLM m = ModelLoader.load("synthetic:llama3.2-1b", new BackendOptions("cuda", "bf16", "bfloat16", false));
             PagedRunner r = new PagedRunner(m, 1024, 16, 96)) {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
            int vocab = m.config().vocabSize();
            List<PagedRunner.Sequence> seqs = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                int[] p = new int[8 + (s * 5) % 40];
                for (int i = 0; i < p.length; i++) p[i] = 3 + (i * 131 + s * 977) % (vocab - 3);
                prompts.add(p);
                seqs.add(r.newSequence());
            }
            r.step(seqs, prompts, false);
            float[][][] out = new float[STEPS][][];
            for (int k = 0; k < STEPS; k++) {
                List<int[]> toks = new ArrayList<>();
                for (int s = 0; s < SEQS; s++) toks.add(new int[] {3 + (s * 7 + k * 1009) % (vocab - 3)});
                out[k] = r.step(seqs, toks, false);
            }
            assertTrue(r.executor.graphReplays() > 0, "decode steps replayed from CUDA graphs");
            return out;
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }
}
