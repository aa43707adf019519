package dev.arbor.models;

import dev.arbor.kernels.attention.FlashPrefillAttention;
import dev.arbor.kernels.gemm.Gemm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.earlyTrigger} with {@code -Darbor.flash.splitOverlap} (issue 12; the latter on by default): the decode
 * GEMMs' early-trigger twins and the split-form attention launched overlapping (and letting o_proj in first thing) give the
 * logits of the plain launches bit for bit (the default, batch-invariant mode): the same model and steps opened once with both
 * off, once with both on — a prefill of two prompts, a prefill of
 * seven, decode steps of 1, 2, 3, 8 and 9 sequences and of one again. The twins and the overlapping split launches must have
 * been launched with the switch on and not with it off.
 */
@Tag("gpu")
class EarlyTriggerGpuTest {
    private static final String PROPERTY = "arbor.cuda.earlyTrigger", SPLIT = "arbor.flash.splitOverlap";

    @Test
    void theEarlyTriggerGivesTheSameLogits() {
        long g0 = Gemm.triggerLaunches(), s0 = FlashPrefillAttention.splitOverlapLaunches();
        List<float[][]> plain = run(false);
        long g1 = Gemm.triggerLaunches(), s1 = FlashPrefillAttention.splitOverlapLaunches();
        List<float[][]> early = run(true);
        long g2 = Gemm.triggerLaunches(), s2 = FlashPrefillAttention.splitOverlapLaunches();
        assertEquals(0, g1 - g0, "GEMM twins launched with the switch off");
        assertEquals(0, s1 - s0, "overlapping split launches with the switch off");
        assertTrue(g2 - g1 > 0, "no GEMM twin launched with the switch on");
        assertTrue(s2 - s1 > 0, "no overlapping split launch with the switch on");
        int compared = 0;
        assertEquals(plain.size(), early.size());
        for (int s = 0; s < plain.size(); s++) {
            assertEquals(plain.get(s).length, early.get(s).length, "step " + s + " rows");
            for (int r = 0; r < plain.get(s).length; r++) {
                float[] a = plain.get(s)[r], b = early.get(s)[r];
                for (int v = 0; v < a.length; v++, compared++)
                    assertEquals(Float.floatToRawIntBits(a[v]), Float.floatToRawIntBits(b[v]), "step " + s + ", row " + r + ", logit " + v);
            }
        }
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("EarlyTriggerGpuTest: %d steps, %d logits, the same bits (%d GEMM twins, %d overlapping split launches)%n", plain.size(),
                compared, g2 - g1, s2 - s1);
    }

    private static List<float[][]> run(boolean on) {
        String before = System.getProperty(PROPERTY), splitBefore = System.getProperty(SPLIT);
        System.setProperty(PROPERTY, Boolean.toString(on));
        System.setProperty(SPLIT, Boolean.toString(on));
        List<float[][]> out = new ArrayList<>();
        try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", true));
             PagedRunner r = new PagedRunner(m, 1024, 16, 96)) {
            int vocab = m.config().vocabSize();
            List<PagedRunner.Sequence> seqs = new ArrayList<>();
            for (int s = 0; s < 9; s++) seqs.add(r.newSequence());
            out.add(r.step(seqs.subList(0, 2), List.of(tokens(40, 1, vocab), tokens(17, 2, vocab)), true));
            List<int[]> prompts = new ArrayList<>();
            for (int s = 2; s < 9; s++) prompts.add(tokens(5 + s, 3 + s, vocab));
            out.add(r.step(seqs.subList(2, 9), prompts, false));
            for (int size : new int[]{1, 2, 3, 8, 9, 1, 1}) {
                List<int[]> next = new ArrayList<>();
                for (int s = 0; s < size; s++) next.add(tokens(1, 10 * size + s, vocab));
                out.add(r.step(seqs.subList(0, size), next, true));
            }
        } finally {
            if (before == null) System.clearProperty(PROPERTY);
            else System.setProperty(PROPERTY, before);
            if (splitBefore == null) System.clearProperty(SPLIT);
            else System.setProperty(SPLIT, splitBefore);
        }
        return out;
    }

    private static int[] tokens(int count, int seed, int vocab) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = (seed * 131 + i * 37 + 11) % vocab;
        return t;
    }
}
