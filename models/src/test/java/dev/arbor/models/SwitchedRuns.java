package dev.arbor.models;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The switch tests' shared parts (FusedNormGemvGpuTest, PrologueNormGpuTest, QkvRopeEpilogueGpuTest, EarlyTriggerGpuTest,
 * ZeroInNormGpuTest): a model opened with {@code -Darbor.*} properties set (they are read when a model is opened), the same
 * deterministic prompts and steps each way, and the logits compared bit for bit.
 */
final class SwitchedRuns {
    private SwitchedRuns() {}

    /** Runs {@code body} with {@code properties} set (a null value clears one), then puts back each one's value before. */
    static <T> T withProperties(Map<String, String> properties, Supplier<T> body) {
        Map<String, String> before = new HashMap<>();
        for (String key : properties.keySet()) before.put(key, System.getProperty(key));
        try {
            properties.forEach(SwitchedRuns::set);
            return body.get();
        } finally {
            before.forEach(SwitchedRuns::set);
        }
    }

    private static void set(String key, String value) {
        if (value == null) System.clearProperty(key);
        else System.setProperty(key, value);
    }

    /**
     * synthetic:100m on the GPU in the default (batch-invariant) mode with {@code properties} set, 9 sequences: a prefill of two
     * prompts (40 and 17 tokens), a prefill of seven (7..13 tokens), then one-token decode steps over the first
     * {@code decodeSizes[i]} sequences; every step's logits, (rows, vocab) a step.
     */
    static List<float[][]> invariantSteps(Map<String, String> properties, int... decodeSizes) {
        return withProperties(properties, () -> {
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
                for (int size : decodeSizes) {
                    List<int[]> next = new ArrayList<>();
                    for (int s = 0; s < size; s++) next.add(tokens(1, 10 * size + s, vocab));
                    out.add(r.step(seqs.subList(0, size), next, true));
                }
            }
            return out;
        });
    }

    /** Asserts {@code other} holds {@code plain}'s logits bit for bit (messages prefixed by {@code label}); returns the logits compared. */
    static int assertSameBits(List<float[][]> plain, List<float[][]> other, String label) {
        assertEquals(plain.size(), other.size(), label + "steps");
        int compared = 0;
        for (int s = 0; s < plain.size(); s++) {
            assertEquals(plain.get(s).length, other.get(s).length, label + "step " + s + " rows");
            for (int r = 0; r < plain.get(s).length; r++) {
                float[] a = plain.get(s)[r], b = other.get(s)[r];
                for (int v = 0; v < a.length; v++, compared++)
                    assertEquals(Float.floatToRawIntBits(a[v]), Float.floatToRawIntBits(b[v]), label + "step " + s + ", row " + r + ", logit " + v);
            }
        }
        return compared;
    }

    /** {@code count} token ids from {@code seed}, each below {@code vocab}: the switch tests' prompts. */
    static int[] tokens(int count, int seed, int vocab) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) t[i] = (seed * 131 + i * 37 + 11) % vocab;
        return t;
    }
}
