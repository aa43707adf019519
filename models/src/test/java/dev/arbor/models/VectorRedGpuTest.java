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
 * {@code -Darbor.gemm.vectorRed} (issue 12): without batch invariance, the TMA tiles' split-K adds into C as
 * {@code red.global.add.v4.f32} (one per 4 W rows of a token) instead of scalar atomics. The same model and steps opened once each
 * way (synthetic:100m: q|k|v 2304×768 at 65-128 rows is TMA_128 in 3 K slices), as ZeroInNormGpuTest: prefills of 100 rows, 92
 * prompts, decode steps of 96 sequences (the 128-row graph bucket, captured then replayed) and of 9. Split-K's atomics add in any
 * order either way, so the logits are compared within a tolerance that a misplaced quad (the wrong row or token) breaks by orders
 * of magnitude; the default mode is untouched (it never splits by atomics). Vector launches with the switch on only.
 */
@Tag("gpu")
class VectorRedGpuTest {
    private static final String PROPERTY = "arbor.gemm.vectorRed";

    @Test
    void vectorReductionsGiveTheSameLogitsWithinTheAtomicsNoise() {
        long l0 = Gemm.vectorRedLaunches();
        List<float[][]> plain = run(false);
        long l1 = Gemm.vectorRedLaunches();
        List<float[][]> vector = run(true);
        long l2 = Gemm.vectorRedLaunches();
        assertEquals(0, l1 - l0, "vector-reduction launches with the switch off");
        assertTrue(l2 - l1 > 0, "no vector-reduction launch with the switch on");
        assertEquals(plain.size(), vector.size());
        int compared = 0;
        double worst = 0;
        for (int s = 0; s < plain.size(); s++) {
            assertEquals(plain.get(s).length, vector.get(s).length, "step " + s + " rows");
            for (int r = 0; r < plain.get(s).length; r++) {
                float[] a = plain.get(s)[r], b = vector.get(s)[r];
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
        System.out.printf("VectorRedGpuTest: %d steps, %d logits, largest row difference %.3g of the row's largest logit (%d vector-reduction launches)%n",
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
