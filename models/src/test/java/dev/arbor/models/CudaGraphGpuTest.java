package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.models.testing.Fixtures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decode steps replayed from CUDA graphs give the same logits, in bits, as the same steps launched kernel by
 * kernel: two copies of a fixture model (graphs on, graphs off) run the same sequences through prefill and then
 * decode steps at batch sizes 1, 3, 5 and 12 (buckets 1, 4, 8 and 16, so 0, 1, 3 and 4 padding rows), over block
 * boundaries, over the 256-key boundary of attention's splits (a new context bucket), and with the batch shrinking and
 * growing between buckets. Equal bits hold because every kernel of a
 * step is row-independent and the default GEMM plan does not depend on the row count (batch invariance), so
 * padding a batch to its bucket changes no real row; and the KV slots the padding rows skip leave every real
 * sequence's cache as the eager run writes it (later steps read it).
 */
@Tag("gpu")
class CudaGraphGpuTest {
    private static final int[] BATCHES = {1, 3, 5, 12, 3, 1, 12};
    private static final int STEPS_PER_BATCH = 5;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"tiny-llama3", "tiny-baichuan2-13b"})
    void graphReplayEqualsEagerLaunchBitForBit(String name) {
        String dir = Fixtures.model(name).toString();
        try (CausalLM graphed = ModelLoader.load(dir, new BackendOptions("cuda", "auto", "auto", true, true));
             CausalLM eager = ModelLoader.load(dir, new BackendOptions("cuda", "auto", "auto", true, false));
             PagedRunner g = new PagedRunner(graphed, 512, 16);
             PagedRunner e = new PagedRunner(eager, 512, 16)) {
            int vocab = graphed.config().vocabSize();
            int maxBatch = 12;
            List<PagedRunner.Sequence> gs = new ArrayList<>(), es = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (int s = 0; s < maxBatch; s++) {
                int[] p = new int[5 + 23 * s];                      // 5 .. 258 tokens: contexts cross block boundaries and the 256-key split at different steps
                for (int i = 0; i < p.length; i++) p[i] = 3 + (i * 131 + s * 977) % (vocab - 3);
                prompts.add(p);
                gs.add(g.newSequence());
                es.add(e.newSequence());
            }
            // prefill every sequence in one (eager on both) step; its last logits give each sequence's first decode token
            float[][] gl = g.step(gs, prompts, false), el = e.step(es, prompts, false);
            for (int s = 0; s < maxBatch; s++) assertArrayEquals(el[s], gl[s], "prefill logits of sequence " + s);
            int[] next = new int[maxBatch];
            for (int s = 0; s < maxBatch; s++) next[s] = PagedRunner.argmax(el[s]);
            int steps = 0;
            java.util.Set<List<Integer>> graphKeys = new java.util.HashSet<>();   // (rows bucket, splits bucket) a step needs
            for (int batch : BATCHES) {
                for (int k = 0; k < STEPS_PER_BATCH; k++, steps++) {
                    List<int[]> toks = new ArrayList<>();
                    for (int s = 0; s < batch; s++) toks.add(new int[] {next[s]});
                    int longest = 0;
                    for (int s = 0; s < batch; s++) longest = Math.max(longest, gs.get(s).length + 1);
                    graphKeys.add(List.of(pow2AtLeast(batch), pow2AtLeast((longest + 255) / 256)));
                    gl = g.step(gs.subList(0, batch), toks, false);
                    el = e.step(es.subList(0, batch), toks, false);
                    for (int s = 0; s < batch; s++) {
                        assertArrayEquals(el[s], gl[s], name + ": decode step " + steps + " (batch " + batch + "), sequence " + s);
                        next[s] = PagedRunner.argmax(el[s]);
                    }
                }
            }
            // sequences outside a batch fell behind: their lengths differ, which the runners track alike
            for (int s = 0; s < maxBatch; s++) assertEquals(es.get(s).length, gs.get(s).length);
            assertEquals(0, e.executor.graphReplays(), "graphs off: every step launched kernel by kernel");
            // one eager step per (batch bucket, context bucket): its first; every other decode step replayed
            assertTrue(graphKeys.size() >= 4 && graphKeys.stream().anyMatch(key -> key.get(1) > 1),
                    "the steps cover several batch buckets and a context past one split: " + graphKeys);
            assertEquals(steps - graphKeys.size(), g.executor.graphReplays(), "graphs on: decode steps replayed, buckets " + graphKeys);
            System.out.printf("%s: %d decode steps, %d replayed from CUDA graphs, logits equal in bits to eager launches%n",
                    name, steps, g.executor.graphReplays());
            assertTrue(steps > 30);
        }
    }

    private static int pow2AtLeast(int n) {
        int p = 1;
        while (p < n) p *= 2;
        return p;
    }
}
