package dev.arbor.models;

import dev.arbor.kernels.gemm.Gemm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.prologueNorm} (issue 12): o and down adding their own slabs into the residual and the next projection
 * (q|k|v, gate|up) computing the RMSNorm in its prologue give the logits of the slab GEMM, addRmsNormSplitRow and the plain
 * projection bit for bit (the default, batch-invariant mode): the same model and steps opened once each way (the property is
 * read when a model is opened), the rows at 8 — a prefill of two prompts (past the rows), decode steps of 1, 2, 3 and 8
 * sequences (the prologue), a 9-sequence one (past the rows) and a decode of one sequence again. The prologue kernels must
 * have been launched with the switch on and not with it off.
 */
@Tag("gpu")
class PrologueNormGpuTest {
    private static final String PROPERTY = "arbor.cuda.prologueNorm", ROWS = "arbor.cuda.prologueNormRows";

    @Test
    void prologueNormGivesTheSameLogits() {
        long l0 = Gemm.normPrologueLaunches();
        List<float[][]> plain = run(false);
        long l1 = Gemm.normPrologueLaunches();
        List<float[][]> fused = run(true);
        long l2 = Gemm.normPrologueLaunches();
        assertEquals(0, l1 - l0, "prologue launches with the switch off");
        assertTrue(l2 - l1 > 0, "no prologue launch with the switch on");
        assertEquals(plain.size(), fused.size());
        int compared = 0;
        for (int s = 0; s < plain.size(); s++) {
            assertEquals(plain.get(s).length, fused.get(s).length, "step " + s + " rows");
            for (int r = 0; r < plain.get(s).length; r++) {
                float[] a = plain.get(s)[r], b = fused.get(s)[r];
                for (int v = 0; v < a.length; v++, compared++)
                    assertEquals(Float.floatToRawIntBits(a[v]), Float.floatToRawIntBits(b[v]), "step " + s + ", row " + r + ", logit " + v);
            }
        }
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("PrologueNormGpuTest: %d steps, %d logits, the same bits (%d prologue launches)%n", plain.size(), compared, l2 - l1);
    }

    private static List<float[][]> run(boolean on) {
        String before = System.getProperty(PROPERTY), rowsBefore = System.getProperty(ROWS);
        System.setProperty(PROPERTY, Boolean.toString(on));
        System.setProperty(ROWS, "8");
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
            for (int size : new int[]{1, 2, 3, 8, 9, 1}) {
                List<int[]> next = new ArrayList<>();
                for (int s = 0; s < size; s++) next.add(tokens(1, 10 * size + s, vocab));
                out.add(r.step(seqs.subList(0, size), next, true));
            }
        } finally {
            if (before == null) System.clearProperty(PROPERTY);
            else System.setProperty(PROPERTY, before);
            if (rowsBefore == null) System.clearProperty(ROWS);
            else System.setProperty(ROWS, rowsBefore);
        }
        return out;
    }

    private static int[] tokens(int count, int seed, int vocab) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = (seed * 131 + i * 37 + 11) % vocab;
        return t;
    }
}
