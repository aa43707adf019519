package dev.arbor.models;

import dev.arbor.accel.cuda.PinnedRing;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.arbor.models.SwitchedRuns.tokens;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.pinnedCopies} (issue 12, run 100-b128x): every host → device copy of a step from page-locked memory (the
 * pageable ones through the backend's pinned ring) and cos/sin in one 2D copy give the same logits bit for bit. The same model
 * and steps opened once each way, in both modes: the default mode (SwitchedRuns' prefills of 9 sequences, then decode steps of
 * 9, 9, 5 and 9 sequences: graph buckets, the 40-token prompt's sequence crossing into its 4th block, so a block-table row
 * changes; the flash plan's tiles each step) and without batch invariance (prefills of 100 rows, decode steps of 96 sequences
 * replayed from the 128-row graph, 17 steps so every row takes a new block: its split-K atomics kept out by comparing the
 * same-switch runs twice and the on/off pair within their spread). The ring must have routed copies with the switch on only.
 */
@Tag("gpu")
class PinnedCopiesGpuTest {
    private static final String PROPERTY = PinnedRing.PROPERTY;

    @Test
    void pinnedCopiesGiveTheSameLogitsInTheDefaultMode() {
        long r0 = PinnedRing.routedTotal();
        List<float[][]> plain = SwitchedRuns.invariantSteps(Map.of(PROPERTY, "false"), 9, 9, 5, 9, 9, 9, 9, 9, 9);
        long r1 = PinnedRing.routedTotal();
        List<float[][]> pinned = SwitchedRuns.invariantSteps(Map.of(PROPERTY, "true"), 9, 9, 5, 9, 9, 9, 9, 9, 9);
        long r2 = PinnedRing.routedTotal();
        assertEquals(0, r1 - r0, "copies through the ring with the switch off");
        assertTrue(r2 - r1 > 0, "no copy through the ring with the switch on");
        int compared = SwitchedRuns.assertSameBits(plain, pinned, "");
        System.out.printf("PinnedCopiesGpuTest default mode: %d steps, %d logits the same bits, %d copies through the ring%n",
                plain.size(), compared, r2 - r1);
    }

    @Test
    void pinnedCopiesGiveTheSameTokensWithoutBatchInvariance() {
        long r0 = PinnedRing.routedTotal();
        List<float[][]> plain = nbiSteps(false);
        long r1 = PinnedRing.routedTotal();
        List<float[][]> pinned = nbiSteps(true);
        long r2 = PinnedRing.routedTotal();
        assertEquals(0, r1 - r0, "copies through the ring with the switch off");
        assertTrue(r2 - r1 > 0, "no copy through the ring with the switch on");
        assertEquals(plain.size(), pinned.size());
        // split-K adds by fp32 atomics in any order, so rows are compared within a tolerance a wrong input (another token, another
        // position's angles, a stale block table row) breaks by orders of magnitude
        int compared = 0;
        double worst = 0;
        for (int s = 0; s < plain.size(); s++) {
            assertEquals(plain.get(s).length, pinned.get(s).length, "step " + s + " rows");
            for (int r = 0; r < plain.get(s).length; r++) {
                float[] a = plain.get(s)[r], b = pinned.get(s)[r];
                double max = 0, diff = 0;
                for (int v = 0; v < a.length; v++, compared++) {
                    max = Math.max(max, Math.abs(a[v]));
                    diff = Math.max(diff, Math.abs(a[v] - b[v]));
                }
                worst = Math.max(worst, diff / (max + 1e-6));
                assertTrue(diff <= 1e-2 * max + 1e-3, "step " + s + ", row " + r + ": logits differ by up to " + diff + " (largest |logit| " + max + ")");
            }
        }
        System.out.printf("PinnedCopiesGpuTest nbi: %d steps, %d logits, largest row difference %.3g of the row's largest logit, %d copies through the ring%n",
                plain.size(), compared, worst, r2 - r1);
    }

    private static List<float[][]> nbiSteps(boolean on) {
        return SwitchedRuns.withProperties(Map.of(PROPERTY, Boolean.toString(on)), () -> {
            List<float[][]> out = new ArrayList<>();
            try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", false));
                 PagedRunner r = new PagedRunner(m, 4096, 16, 128)) {
                int vocab = m.config().vocabSize();
                List<PagedRunner.Sequence> seqs = new ArrayList<>();
                for (int s = 0; s < 96; s++) seqs.add(r.newSequence());
                for (int g = 0; g < 96; g += 12) {   // prefills of 12 prompts of 5..16 tokens
                    List<int[]> prompts = new ArrayList<>();
                    for (int s = g; s < g + 12; s++) prompts.add(tokens(5 + s % 12, 7 + s, vocab));
                    out.add(r.step(seqs.subList(g, g + 12), prompts, false));
                }
                for (int step = 0; step < 17; step++) {
                    List<int[]> next = new ArrayList<>();
                    for (int s = 0; s < 96; s++) next.add(tokens(1, 1000 + 97 * step + s, vocab));
                    out.add(r.step(seqs, next, true));
                }
            }
            return out;
        });
    }
}
