package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Without batch invariance, a wide GQA decode step through the tensor-core kernel (CudaOps.nbiFlashDecode: G ≥ 4, one-warp
 * tiles from 4 × SMs (sequence, kv head) walks) against the same steps through the CUDA-core paged kernel
 * ({@code -Darbor.cuda.nbiFlashBelow=0}, the mode's decode before run 57-gqa12) and in the default (batch-invariant) mode,
 * whose decodes below position 1,024 take the same tensor-core kernel: synthetic:llama3.2-1b (32 on 8 heads × 64), 80
 * sequences (640 walks; padded to the graph bucket of 96) prefilled with 8-47 tokens, then 3 decode steps replayed from CUDA
 * graphs. The tensor-core kernel rounds Q and P to bf16, the paged kernel does not: the tensor-core decodes must be closer to
 * the default mode's logits (which differ from them only by the GEMM plans' fp32 sums and the K/V they leave in bf16) than
 * the paged decodes are — the step took the tensor-core kernel, and only it; and the greedy token of the two non-invariant
 * forms the same or a near-tie (as in {@link CascadeForwardGpuTest}).
 */
@Tag("gpu")
class NbiFlashDecodeGpuTest {
    private static final int SEQS = 80, STEPS = 3;

    @Test
    void aWideGqaDecodeStepOnTheTensorCoresRoundsAsTheDefaultModesKernel() {
        float[][][] flash = decodes(false, null), paged = decodes(false, "0"), invariant = decodes(true, null);
        int vocab = flash[0][0].length;
        double flashVsPaged = 0, flashVsInvariant = 0, pagedVsInvariant = 0, scale = 0;
        int flips = 0;
        for (int k = 0; k < STEPS; k++) {
            for (int s = 0; s < SEQS; s++) {
                double rowWorst = 0;
                for (int v = 0; v < vocab; v++) {
                    rowWorst = Math.max(rowWorst, Math.abs(flash[k][s][v] - paged[k][s][v]));
                    flashVsInvariant = Math.max(flashVsInvariant, Math.abs(flash[k][s][v] - invariant[k][s][v]));
                    pagedVsInvariant = Math.max(pagedVsInvariant, Math.abs(paged[k][s][v] - invariant[k][s][v]));
                    scale = Math.max(scale, Math.abs(paged[k][s][v]));
                }
                flashVsPaged = Math.max(flashVsPaged, rowWorst);
                int p = PagedRunner.argmax(paged[k][s]), f = PagedRunner.argmax(flash[k][s]);
                if (p != f) {
                    flips++;
                    assertTrue(paged[k][s][p] - paged[k][s][f] <= 2 * rowWorst, "step " + k + ", sequence " + s + ": the tensor-core step picks "
                            + f + " at paged logit " + paged[k][s][f] + ", the paged argmax " + p + " is " + paged[k][s][p] + ", over twice the row's "
                            + "max |difference| " + rowWorst + " apart");
                }
            }
        }
        System.out.printf("synthetic:llama3.2-1b, %d sequences x %d decode steps, max |logit difference| (logits up to %.2f): nbi tensor-core vs "
                + "nbi paged %.2e (%d near-tie argmax flips), nbi tensor-core vs default mode %.2e, nbi paged vs default mode %.2e%n",
                SEQS, STEPS, scale, flashVsPaged, flips, flashVsInvariant, pagedVsInvariant);
        assertTrue(flashVsInvariant < pagedVsInvariant, "the nbi tensor-core decodes (" + flashVsInvariant + " from the default mode's) are not "
                + "closer to the default mode's tensor-core decodes than the paged ones (" + pagedVsInvariant + ")");
    }

    /** The 3 decode steps' logits (step, sequence, vocab), batch-invariant or not, {@code arbor.cuda.nbiFlashBelow} = {@code bound} (null: the default). */
    private static float[][][] decodes(boolean batchInvariant, String bound) {
        String key = "arbor.cuda.nbiFlashBelow", before = System.getProperty(key);
        if (bound != null) System.setProperty(key, bound);
        try (CausalLM m = ModelLoader.load("synthetic:llama3.2-1b", new BackendOptions("cuda", "bf16", "bfloat16", batchInvariant));
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
