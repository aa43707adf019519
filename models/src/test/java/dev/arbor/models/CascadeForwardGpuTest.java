package dev.arbor.models;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 11 at the model level (without batch invariance, where CudaOps takes cascade groups): a decode step
 * of sequences behind one shared prompt gives the same logits with the batch's cascade group (cascade
 * attention) as without it (paged attention), up to
 * the rounding of the shared part's other grouping: same argmax, within 1% of the logits' scale. The
 * attention outputs differ by under 1e-6 (AttentionGpuTest), but the bf16 activations of the projections
 * that follow can round such a difference to one bf16 step (2^-9 relative) per element and layer:
 * run 16-attn-dec measured 8.0e-3 on logits up to 2.6 after 12 layers.
 */
@Tag("gpu")
class CascadeForwardGpuTest {
    @Test
    void aDecodeStepWithACascadeGroupMatchesThePagedStep() {
        int seqs = 6, sharedBlocks = 6;
        try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", false)); PagedRunner r = new PagedRunner(m, 256, 16)) {
            int vocab = m.config().vocabSize();
            PagedRunner.Sequence parent = r.newSequence();
            int[] prompt = new int[sharedBlocks * 16 + 5];
            for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % vocab;
            r.step(List.of(parent), List.of(prompt), false);
            List<PagedRunner.Sequence> kids = new ArrayList<>();
            List<int[]> own = new ArrayList<>(), next = new ArrayList<>();
            for (int s = 0; s < seqs; s++) {
                kids.add(r.fork(parent, sharedBlocks));
                int[] t = new int[3 + 7 * s];
                for (int i = 0; i < t.length; i++) t[i] = (s * 101 + i * 13 + 5) % vocab;
                own.add(t);
                next.add(new int[] {(s * 7 + 1) % vocab});
            }
            r.step(kids, own, false);
            float[][][] both = aloneThenGrouped(r, kids, next, false, sharedBlocks);
            float[][] paged = both[0], cascade = both[1];
            double worst = 0, scale = 0, closest = Double.MAX_VALUE;
            for (int s = 0; s < seqs; s++) {
                double rowWorst = 0;
                for (int v = 0; v < vocab; v++) {
                    rowWorst = Math.max(rowWorst, Math.abs(paged[s][v] - cascade[s][v]));
                    scale = Math.max(scale, Math.abs(paged[s][v]));
                }
                worst = Math.max(worst, rowWorst);
                // The greedy token agrees, or the two differ only where rounding can decide it: the cascade's pick is within
                // twice this row's largest logit difference of the paged best (a near-tie; the split-K atomics of this mode
                // move the low bits between runs, so a fixed tie can flip either way).
                int p = argmax(paged[s]), c = argmax(cascade[s]);
                closest = Math.min(closest, margin(paged[s], p));
                if (p != c) {
                    assertTrue(paged[s][p] - paged[s][c] <= 2 * rowWorst, "sequence " + s + ": cascade picks " + c + " at paged logit " + paged[s][c]
                            + ", the paged argmax " + p + " is " + paged[s][p] + ", more than twice the row's max |difference| " + rowWorst + " apart");
                }
            }
            System.out.printf("synthetic:100m decode step, %d sequences sharing %d blocks: cascade vs paged max |logit difference| %.2e (logits up to %.2f;"
                    + " smallest top-1/top-2 margin %.2e)%n", seqs, sharedBlocks, worst, scale, closest);
            assertTrue(worst <= 1e-2 * Math.max(1, scale), "cascade vs paged logits differ by " + worst);
        }
    }

    /**
     * A prefill step of a cascade group without batch invariance (CudaOps.nbiHandoff: every token through the tensor-core
     * kernel, the group's 160 shared keys, 2 whole key tiles, walked once by the shared pass and handed off as (O, m, l)
     * state): 17 sequences computing 1 to 25 tokens each after a cached 160-token prefix give every token's logits within
     * 1% of their scale of the same step without the group (chunks of 2+ tokens through the tensor-core kernel alone, the
     * 1-token chunks through the paged kernel), the same greedy tokens but for near-ties. The chunks' attention is the
     * same bits either way (FlashHandoffTest); the decodes round as the tensor-core kernel does, and this mode's split-K
     * atomics move the low bits of the projections.
     */
    @Test
    void aPrefillStepWithACascadeGroupMatchesTheStepWithoutIt() {
        int sharedBlocks = 10, members = 17;
        try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", false)); PagedRunner r = new PagedRunner(m, 256, 16)) {
            int vocab = m.config().vocabSize();
            int[] prompt = new int[sharedBlocks * 16 + 30];
            for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % vocab;
            PagedRunner.Sequence parent = r.newSequence();
            r.step(List.of(parent), List.of(java.util.Arrays.copyOf(prompt, sharedBlocks * 16)), false);
            List<PagedRunner.Sequence> kids = new ArrayList<>();
            List<int[]> chunks = new ArrayList<>();
            for (int k = 0; k < members; k++) {
                kids.add(r.fork(parent, sharedBlocks));
                int len = 1 + (k * 7) % 25;
                chunks.add(java.util.Arrays.copyOfRange(prompt, sharedBlocks * 16, sharedBlocks * 16 + len));
            }
            float[][][] both = aloneThenGrouped(r, kids, chunks, true, sharedBlocks);
            float[][] alone = both[0], grouped = both[1];
            double worst = 0, scale = 0;
            for (int t = 0; t < alone.length; t++) {
                double rowWorst = 0;
                for (int v = 0; v < vocab; v++) {
                    rowWorst = Math.max(rowWorst, Math.abs(alone[t][v] - grouped[t][v]));
                    scale = Math.max(scale, Math.abs(alone[t][v]));
                }
                worst = Math.max(worst, rowWorst);
                int a = argmax(alone[t]), g = argmax(grouped[t]);
                if (a != g) {
                    assertTrue(alone[t][a] - alone[t][g] <= 2 * rowWorst, "token " + t + ": the grouped step picks " + g + ", the step without the group "
                            + a + ", more than twice the row's max |difference| " + rowWorst + " apart");
                }
            }
            System.out.printf("synthetic:100m prefill step without batch invariance, %d sequences (%d tokens) sharing %d blocks: grouped (state handoff) vs "
                    + "alone max |logit difference| %.2e (logits up to %.2f)%n", members, alone.length, sharedBlocks, worst, scale);
            assertTrue(worst <= 1e-2 * Math.max(1, scale), "grouped vs alone logits differ by " + worst);
        }
    }

    /** The paged row's top-1 minus its runner-up. */
    private static double margin(float[] x, int best) {
        double second = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < x.length; i++) if (i != best) second = Math.max(second, x[i]);
        return x[best] - second;
    }

    private static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /**
     * One step run twice on the same sequences: alone, then as one cascade group over their first {@code sharedBlocks}
     * blocks, with each sequence's length and block table put back in between (so the second run writes the same K/V
     * values again). Returns {alone, grouped}, each (tokens, vocab) logits.
     */
    private static float[][][] aloneThenGrouped(PagedRunner r, List<PagedRunner.Sequence> seqs, List<int[]> inputs, boolean prefill, int sharedBlocks) {
        int[] lengths = new int[seqs.size()];
        List<List<Integer>> blocks = new ArrayList<>();
        for (PagedRunner.Sequence q : seqs) {
            lengths[blocks.size()] = q.length;
            blocks.add(new ArrayList<>(q.blocks));
        }
        float[][] alone = r.step(seqs, inputs, prefill);
        for (int s = 0; s < seqs.size(); s++) {
            seqs.get(s).length = lengths[s];
            seqs.get(s).blocks.clear();
            seqs.get(s).blocks.addAll(blocks.get(s));
        }
        return new float[][][] {alone, r.step(seqs, inputs, prefill, sharedBlocks)};
    }
}
