package dev.arbor.models;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code -Darbor.cuda.stagedInputs=true} (issue 12): the step's inputs through one page-locked block and one 2D copy give
 * the default mode's logits bit for bit: the same model and steps opened once each way (the property is read when a model
 * is opened) — a prefill in chunks, a prefill of sequences behind a shared prompt, a decode step with their cascade group
 * (the state handoff), a decode step without (a graph bucket), and a second grouped decode step.
 */
@Tag("gpu")
class StagedInputsGpuTest {
    private static final String PROPERTY = "arbor.cuda.stagedInputs";

    @Test
    void stagedInputsGiveTheSameLogits() {
        List<float[][]> plain = run(false), staged = run(true);
        assertEquals(plain.size(), staged.size());
        for (int s = 0; s < plain.size(); s++) {
            assertEquals(plain.get(s).length, staged.get(s).length, "step " + s + " rows");
            for (int r = 0; r < plain.get(s).length; r++)
                for (int v = 0; v < plain.get(s)[r].length; v++)
                    assertEquals(Float.floatToRawIntBits(plain.get(s)[r][v]), Float.floatToRawIntBits(staged.get(s)[r][v]),
                            "step " + s + ", row " + r + ", logit " + v);
        }
    }

    private static List<float[][]> run(boolean staged) {
        String before = System.getProperty(PROPERTY);
        System.setProperty(PROPERTY, Boolean.toString(staged));
        List<float[][]> out = new ArrayList<>();
        int seqs = 5, sharedBlocks = 6;
        try (CausalLM m = ModelLoader.load("synthetic:100m", BackendOptions.of("cuda")); PagedRunner r = new PagedRunner(m, 256, 16)) {
            int vocab = m.config().vocabSize();
            PagedRunner.Sequence parent = r.newSequence();
            int[] prompt = new int[sharedBlocks * 16 + 5];
            for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % vocab;
            out.add(r.step(List.of(parent), List.of(java.util.Arrays.copyOf(prompt, 40)), true));
            out.add(r.step(List.of(parent), List.of(java.util.Arrays.copyOfRange(prompt, 40, prompt.length)), true));
            List<PagedRunner.Sequence> kids = new ArrayList<>();
            List<int[]> own = new ArrayList<>();
            for (int s = 0; s < seqs; s++) {
                kids.add(r.fork(parent, sharedBlocks));
                int[] t = new int[3 + 7 * s];
                for (int i = 0; i < t.length; i++) t[i] = (s * 101 + i * 13 + 5) % vocab;
                own.add(t);
            }
            out.add(r.step(kids, own, false));
            for (int step = 0; step < 3; step++) {
                List<int[]> next = new ArrayList<>();
                for (int s = 0; s < seqs; s++) next.add(new int[] {(s * 7 + 11 * step + 1) % vocab});
                out.add(step == 1 ? r.step(kids, next, false) : r.step(kids, next, false, sharedBlocks));
            }
        } finally {
            if (before == null) System.clearProperty(PROPERTY);
            else System.setProperty(PROPERTY, before);
        }
        return out;
    }
}
