package dev.arbor.models;

import dev.arbor.kernels.gemm.Gemm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.qkvRopeEpilogue} (issue 12): the stacked q|k|v GEMM rotating q and k and storing q and the k / v rows
 * itself gives the logits of the GEMM + qkvRopeStoreWide composition bit for bit (the default, batch-invariant mode): the same
 * model and steps opened once with it off, once on, once on with the norm prologue ({@code arbor.cuda.prologueNorm}, its own
 * bits equal to the default's), the rows at 8 — a prefill of two prompts (past the rows), decode steps of 1, 2, 3 and 8
 * sequences (the epilogue), a 9-sequence one (past the rows) and a decode of one sequence again. The epilogue kernels must
 * have been launched with the switch on and not with it off.
 */
@Tag("gpu")
class QkvRopeEpilogueGpuTest {
    private static final String PROPERTY = "arbor.cuda.qkvRopeEpilogue", ROWS = "arbor.cuda.qkvRopeEpilogueRows", PROLOGUE = "arbor.cuda.prologueNorm";

    @Test
    void theEpilogueGivesTheSameLogits() {
        long l0 = Gemm.qkvRopeLaunches();
        List<float[][]> plain = run(false, false);
        long l1 = Gemm.qkvRopeLaunches();
        List<float[][]> fused = run(true, false);
        long l2 = Gemm.qkvRopeLaunches();
        List<float[][]> both = run(true, true);
        long l3 = Gemm.qkvRopeLaunches();
        assertEquals(0, l1 - l0, "epilogue launches with the switch off");
        assertTrue(l2 - l1 > 0, "no epilogue launch with the switch on");
        assertTrue(l3 - l2 > 0, "no epilogue launch with the switch and the norm prologue on");
        int compared = 0;
        for (List<float[][]> other : List.of(fused, both)) {
            assertEquals(plain.size(), other.size());
            for (int s = 0; s < plain.size(); s++) {
                assertEquals(plain.get(s).length, other.get(s).length, "step " + s + " rows");
                for (int r = 0; r < plain.get(s).length; r++) {
                    float[] a = plain.get(s)[r], b = other.get(s)[r];
                    for (int v = 0; v < a.length; v++, compared++)
                        assertEquals(Float.floatToRawIntBits(a[v]), Float.floatToRawIntBits(b[v]),
                                (other == fused ? "" : "with the norm prologue: ") + "step " + s + ", row " + r + ", logit " + v);
                }
            }
        }
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("QkvRopeEpilogueGpuTest: %d steps, %d logits, the same bits (%d / %d epilogue launches)%n", plain.size(), compared,
                l2 - l1, l3 - l2);
    }

    private static List<float[][]> run(boolean on, boolean prologue) {
        String before = System.getProperty(PROPERTY), rowsBefore = System.getProperty(ROWS), prologueBefore = System.getProperty(PROLOGUE);
        System.setProperty(PROPERTY, Boolean.toString(on));
        System.setProperty(ROWS, "8");
        System.setProperty(PROLOGUE, Boolean.toString(prologue));
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
            restore(PROPERTY, before);
            restore(ROWS, rowsBefore);
            restore(PROLOGUE, prologueBefore);
        }
        return out;
    }

    private static void restore(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }

    private static int[] tokens(int count, int seed, int vocab) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = (seed * 131 + i * 37 + 11) % vocab;
        return t;
    }
}
