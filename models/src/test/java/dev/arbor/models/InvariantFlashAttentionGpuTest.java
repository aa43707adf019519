package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The batch-invariant mode's attention on the tensor cores ({@code -Darbor.cuda.flashBelow=N}, 1,024 by default; CudaOps: every
 * token at a position below N through FlashPrefillAttention, the others through the paged kernel), inside a model
 * whose shape it takes (synthetic:100m, 12 heads × 64, bf16 KV, CUDA graphs on): a token's logits are the same bits
 * whether its prompt ran whole or in chunks of 1 (decode-shaped steps, replayed from CUDA graphs), 7 or 64; beside
 * other sequences in a mixed prefill/decode step; over a cached prefix (a table that begins with another sequence's
 * blocks); and in a padded decode batch. At bound 100 a 200-token prompt crosses it, so both kernels serve one
 * sequence (and a decode graph launches both). The logits differ from the paged kernel's (bound 0), which shows the
 * tensor-core kernel was taken.
 */
@Tag("gpu")
class InvariantFlashAttentionGpuTest {
    private static final String MODEL = "synthetic:100m";

    @ParameterizedTest(name = "flashBelow {0}")
    @ValueSource(ints = {2048, 100})
    void aTokensLogitsDoNotDependOnChunkingCompanionsOrTheCache(int flashBelow) {
        int[] prompt = new int[200];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % 3001;
        float[][] paged;
        try (CausalLM m = ModelLoader.load(MODEL, BackendOptions.of("cuda")); PagedRunner r = runner(m, 0, 128)) {
            paged = r.prefill(prompt, prompt.length);
        }
        try (CausalLM m = ModelLoader.load(MODEL, BackendOptions.of("cuda")); PagedRunner r = runner(m, flashBelow, 128)) {
            float[][] whole = r.prefill(prompt, prompt.length);
            assertTrue(FlashPrefillModelGpuTest.maxDiff(whole, paged) > 0, "the tensor-core kernel rounds otherwise than the paged one");
            for (int chunk : new int[] {1, 7, 64}) {
                float[][] chunked = r.prefill(prompt, chunk);
                for (int p = 0; p < prompt.length; p++) assertArrayEquals(whole[p], chunked[p], "chunk " + chunk + ", position " + p);
            }
            // a mixed step: a (100 tokens cached) decodes one token beside b's first 50 and c, whose table begins with a's
            // first 5 blocks (80 tokens, as the prefix cache shares them), computing positions 80..149
            PagedRunner.Sequence a = r.newSequence(), b = r.newSequence();
            r.step(List.of(a), List.of(Arrays.copyOf(prompt, 100)), false);
            PagedRunner.Sequence c = r.fork(a, 5);
            float[][] mixed = r.step(List.of(a, b, c), List.of(new int[] {prompt[100]}, Arrays.copyOf(prompt, 50),
                    Arrays.copyOfRange(prompt, 80, 150)), true);
            assertArrayEquals(whole[100], mixed[0], "a's decode beside b's prefill");
            for (int p = 0; p < 50; p++) assertArrayEquals(whole[p], mixed[1 + p], "b at " + p);
            for (int p = 80; p < 150; p++) assertArrayEquals(whole[p], mixed[51 + p - 80], "c over a's cached blocks at " + p);
            // a decode batch of 3 (bucket 4: one padding row), twice (captured, then replayed), contexts 51..182
            List<PagedRunner.Sequence> seqs = new ArrayList<>();
            int[] lengths = {50, 120, 180};
            for (int len : lengths) {
                PagedRunner.Sequence s = r.newSequence();
                r.step(List.of(s), List.of(Arrays.copyOf(prompt, len)), false);
                seqs.add(s);
            }
            for (int k = 0; k < 2; k++) {
                List<int[]> toks = new ArrayList<>();
                for (int len : lengths) toks.add(new int[] {prompt[len + k]});
                float[][] dec = r.step(seqs, toks, false);
                for (int s = 0; s < lengths.length; s++) assertArrayEquals(whole[lengths[s] + k], dec[s], "decode batch step " + k + ", sequence " + s);
            }
            assertTrue(r.executor.graphReplays() > 0, "decode steps replayed from CUDA graphs");
            System.out.printf("%s, flashBelow %d: logits equal in bits whole, in chunks of 1/7/64, in a mixed step, over a cached prefix and in a "
                    + "padded decode batch (%d graph replays); max |diff| against the paged kernel %.3e%n", MODEL, flashBelow,
                    r.executor.graphReplays(), FlashPrefillModelGpuTest.maxDiff(whole, paged));
        }
    }

    /**
     * The cascade as a state handoff (CudaOps in the default mode, FlashPrefillAttention.planHandoff): 17 sequences behind
     * one cached 160-token prefix (10 blocks: 2 whole shared key tiles) in one cascade group compute the prompt's tokens
     * 160.. in chunks of 1 to 25 (a prefill step of the group), then decode the next token each (a decode step of the
     * group, launched eagerly), then 3 of them decode again alone (no group, a graph replay): every token's logits are
     * its whole-prompt logits bit for bit.
     */
    @Test
    void aCascadeGroupsTokensGetTheirOnePassBits() {
        int[] prompt = new int[220];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % 3001;
        try (CausalLM m = ModelLoader.load(MODEL, BackendOptions.of("cuda")); PagedRunner r = runner(m, 2048, 512)) {
            float[][] whole = r.prefill(prompt, prompt.length);
            PagedRunner.Sequence a = r.newSequence();
            r.step(List.of(a), List.of(Arrays.copyOf(prompt, 160)), false);
            List<PagedRunner.Sequence> kids = new ArrayList<>();
            List<int[]> chunks = new ArrayList<>();
            int[] lengths = new int[17];
            for (int k = 0; k < lengths.length; k++) {
                lengths[k] = 1 + (k * 7) % 25;
                kids.add(r.fork(a, 10));
                chunks.add(Arrays.copyOfRange(prompt, 160, 160 + lengths[k]));
            }
            float[][] rows = r.step(kids, chunks, true, 10);
            for (int k = 0, at = 0; k < lengths.length; at += lengths[k], k++) {
                for (int i = 0; i < lengths[k]; i++) assertArrayEquals(whole[160 + i], rows[at + i], "sequence " + k + " at " + (160 + i) + " in the group's prefill step");
            }
            List<int[]> next = new ArrayList<>();
            for (int len : lengths) next.add(new int[] {prompt[160 + len]});
            float[][] dec = r.step(kids, next, false, 10);
            for (int k = 0; k < lengths.length; k++) assertArrayEquals(whole[160 + lengths[k]], dec[k], "sequence " + k + "'s decode in the group");
            long replays = r.executor.graphReplays();
            List<PagedRunner.Sequence> three = kids.subList(0, 3);
            List<int[]> after = new ArrayList<>();
            for (int k = 0; k < 3; k++) after.add(new int[] {prompt[161 + lengths[k]]});
            for (int rep = 0; rep < 2; rep++) {   // the first captures the bucket's graph, the second replays it
                float[][] alone = r.step(three, after, false);
                for (int k = 0; k < 3; k++) assertArrayEquals(whole[161 + lengths[k]], alone[k], "sequence " + k + "'s decode without a group, step " + rep);
                for (int k = 0; k < 3; k++) {   // the same token again: a sequence's cache grows, so step back to repeat it
                    three.get(k).length--;
                }
            }
            assertTrue(r.executor.graphReplays() > replays, "the decodes without a group replayed a CUDA graph");
            System.out.printf("%s: a cascade group's prefill chunks and decodes and the same sequences' decodes alone equal their whole-prompt "
                    + "logits in bits%n", MODEL);
        }
    }

    /** A runner whose CudaOps reads {@code arbor.cuda.flashBelow} = {@code flashBelow} at construction. */
    static PagedRunner runner(CausalLM m, int flashBelow, int numBlocks) {
        String key = "arbor.cuda.flashBelow", before = System.getProperty(key);
        System.setProperty(key, Integer.toString(flashBelow));
        try {
            return new PagedRunner(m, numBlocks, 16);
        } finally {
            if (before == null) System.clearProperty(key);
            else System.setProperty(key, before);
        }
    }
}
