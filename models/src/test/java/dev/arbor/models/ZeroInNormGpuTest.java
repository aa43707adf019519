package dev.arbor.models;

import dev.arbor.kernels.gemm.Gemm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.arbor.models.SwitchedRuns.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.gemm.zeroInNorm} (issue 12, run 94-b128g): without batch invariance, the bf16 RMSNorm before the stacked q|k|v
 * zeroes q|k|v's output rows and the split-K GEMM skips its zeroing launch. The same model and steps opened once each way
 * (synthetic:100m: q|k|v 2304×768 at 65-128 rows is TMA_128 in 3 K slices, atomics): a prefill of two prompts of 60 and 40
 * tokens (100 rows), one of 70 and one of 30, then decode steps of 96 sequences (the 128-row bucket: a captured graph, replayed) and of 9 (below the
 * bf16 producers' 64 rows: untouched). Split-K's atomics add in any order, so the logits are compared within a tolerance that a
 * missing zero (q|k|v plus the previous layer's) would break by orders of magnitude; the skip must have run with the switch on only.
 */
@Tag("gpu")
class ZeroInNormGpuTest {
    private static final String PROPERTY = "arbor.gemm.zeroInNorm";

    @Test
    void zeroInNormGivesTheSameLogitsWithinTheAtomicsNoise() {
        long l0 = Gemm.intoZeroedLaunches();
        List<float[][]> plain = run(false);
        long l1 = Gemm.intoZeroedLaunches();
        List<float[][]> zeroing = run(true);
        long l2 = Gemm.intoZeroedLaunches();
        assertEquals(0, l1 - l0, "products into a zeroed C with the switch off");
        assertTrue(l2 - l1 > 0, "no product into a zeroed C with the switch on");
        assertEquals(plain.size(), zeroing.size());
        int compared = 0;
        double worst = 0;
        for (int s = 0; s < plain.size(); s++) {
            assertEquals(plain.get(s).length, zeroing.get(s).length, "step " + s + " rows");
            for (int r = 0; r < plain.get(s).length; r++) {
                float[] a = plain.get(s)[r], b = zeroing.get(s)[r];
                double max = 0, diff = 0;
                for (int v = 0; v < a.length; v++, compared++) {
                    max = Math.max(max, Math.abs(a[v]));
                    diff = Math.max(diff, Math.abs(a[v] - b[v]));
                    assertTrue(Float.isFinite(b[v]), "step " + s + ", row " + r + ", logit " + v + " = " + b[v]);
                }
                worst = Math.max(worst, diff / (max + 1e-6));
                assertTrue(diff <= 1e-2 * max + 1e-3, "step " + s + ", row " + r + ": logits differ by up to " + diff + " (largest |logit| " + max + ")");
            }
        }
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("ZeroInNormGpuTest: %d steps, %d logits, largest row difference %.3g of the row's largest logit (%d products into a zeroed C)%n",
                plain.size(), compared, worst, l2 - l1);
    }

    private static List<float[][]> run(boolean on) {
        return SwitchedRuns.withProperties(Map.of(PROPERTY, Boolean.toString(on)), () -> {
            List<float[][]> out = new ArrayList<>();
            try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", false));
                 PagedRunner r = new PagedRunner(m, 1024, 16, 128)) {
                int vocab = m.config().vocabSize();
                List<PagedRunner.Sequence> seqs = new ArrayList<>();
                for (int s = 0; s < 96; s++) seqs.add(r.newSequence());
                out.add(r.step(seqs.subList(0, 2), List.of(tokens(60, 1, vocab), tokens(40, 2, vocab)), true));
                out.add(r.step(seqs.subList(2, 4), List.of(tokens(70, 3, vocab), tokens(30, 4, vocab)), true));
                List<int[]> prompts = new ArrayList<>();
                for (int s = 4; s < 96; s++) prompts.add(tokens(1 + s % 3, 5 + s, vocab));
                out.add(r.step(seqs.subList(4, 96), prompts, false));
                for (int size : new int[]{96, 96, 9, 96}) {
                    List<int[]> next = new ArrayList<>();
                    for (int s = 0; s < size; s++) next.add(tokens(1, 10 * size + s, vocab));
                    out.add(r.step(seqs.subList(0, size), next, true));
                }
            }
            return out;
        });
    }
}
