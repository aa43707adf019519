package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static dev.arbor.kernels.attention.PagedAttentionTest.rows;

/**
 * DecodeKernels' pipelined rounds ({@link PagedAttention#pipelineRounds}) on the GPU ({@code @Tag("gpu")}): at Llama-2-7B's shape
 * (32 × 128; bf16 and fp16 stores, bf16 output) and Baichuan2-13B's (40 heads, ALiBi), contexts 1, 15, 17, 255, 1,000, 4,096 and
 * 4,097, the same bits as the plain loop with the fused merge and with the separate merge launch (the two-launch path), as whole
 * mode, launched again (the arrival counters back at zero), and a token alone; batch 1 × 4,096 through the launcher's own rule. Run
 * 85-dec22's forms ({@link PagedAttention#pipelineForm}: skewed rounds, paired row offsets, launch bounds of 5) the same bits too.
 */
@Tag("gpu")
class PipelinedDecodeGpuTest {
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    @Test
    void pipelinedRoundsGiveThePlainLoopsBitsOnTheDevice() {
        int[] ctx = {1, 15, 17, 255, 1000, 4096, 4097}, one = {1, 1, 1, 1, 1, 1, 1};
        Object[][] cases = {{32, KvStore.BF16, false, false}, {32, KvStore.F16, false, false}, {40, KvStore.BF16, true, false}, {32, KvStore.BF16, false, true}};
        int seed = 70;
        for (Object[] c : cases) {
            int heads = (Integer) c[0];
            boolean alibi = (Boolean) c[2], bf16Out = (Boolean) c[3];
            String what = java.util.Arrays.toString(c);
            try (PagedBatch b = new PagedBatch(heads, heads, 128, 16, ctx, one, alibi, (KvStore) c[1], seed++);
                 PagedAttention plain = new PagedAttention(heads, heads, 128, 16, b.maxContext(), b.tokens).pipelineRounds(0);
                 PagedAttention twoLaunch = new PagedAttention(heads, heads, 128, 16, b.maxContext(), b.tokens).pipelineRounds(0).fuseMerge(0, 8);
                 PagedAttention piped = new PagedAttention(heads, heads, 128, 16, b.maxContext(), b.tokens).pipelineRounds(Integer.MAX_VALUE)) {
                java.util.function.Function<java.util.function.Supplier<float[]>, float[]> out =
                        s -> bf16Out ? PagedBatch.withBf16Out(s) : s.get();
                float[] split = out.apply(() -> b.run(cuda, piped, b.allTokens(), true));
                assertClose(b.reference(), split, bf16Out ? 4e-3 : 2e-5, what + " pipelined split mode");
                assertBits(out.apply(() -> b.run(cuda, plain, b.allTokens(), true)), split, what + " pipelined vs plain, fused merge");
                if (!bf16Out) assertBits(b.run(cuda, twoLaunch, b.allTokens(), true), split, what + " pipelined vs plain, separate merge launch");
                assertBits(out.apply(() -> b.run(cuda, plain, b.allTokens(), false)), out.apply(() -> b.run(cuda, piped, b.allTokens(), false)),
                        what + " pipelined vs plain, whole mode");
                assertBits(split, out.apply(() -> b.run(cuda, piped, b.allTokens(), true)), what + " pipelined, launched again");
                // run 85-dec22's forms (skewed rounds, paired row offsets, launch bounds of 5): the same bits
                for (Object[] f : new Object[][] {{true, false, 4}, {false, true, 4}, {false, false, 5}, {false, true, 5}, {true, true, 5}}) {
                    String form = what + " form " + java.util.Arrays.toString(f);
                    try (PagedAttention variant = new PagedAttention(heads, heads, 128, 16, b.maxContext(), b.tokens).pipelineRounds(Integer.MAX_VALUE)
                            .pipelineForm((Boolean) f[0], (Boolean) f[1], (Integer) f[2])) {
                        assertBits(split, out.apply(() -> b.run(cuda, variant, b.allTokens(), true)), form + " vs pipelined, split mode");
                        assertBits(out.apply(() -> b.run(cuda, plain, b.allTokens(), false)), out.apply(() -> b.run(cuda, variant, b.allTokens(), false)),
                                form + " vs plain, whole mode");
                    }
                }
                int row = b.heads * b.headDim;
                for (int t : new int[] {0, 5, 6}) {
                    assertBits(rows(split, new int[] {t}, row), out.apply(() -> b.run(cuda, piped, new int[] {t}, true)), what + " token " + t + " alone");
                }
            }
        }
        // batch 1 × 4,096 at 32 × 128: 512 work-groups, the launcher's rule takes the pipelined form
        try (PagedBatch b = new PagedBatch(32, 32, 128, 16, new int[] {4096}, new int[] {1}, false, KvStore.BF16, seed);
             PagedAttention rule = new PagedAttention(32, 32, 128, 16, 4096, 1).pipelineRounds(PagedAttention.PIPE_WAVE);
             PagedAttention twoLaunch = new PagedAttention(32, 32, 128, 16, 4096, 1).pipelineRounds(0).fuseMerge(0, 8)) {
            float[] got = b.run(cuda, rule, b.allTokens(), null);
            assertClose(b.reference(), got, 2e-5, "b1 x 4096, the rule");
            assertBits(b.run(cuda, twoLaunch, b.allTokens(), true), got, "b1 x 4096: the rule's pipelined form vs the two-launch path");
            for (Object[] f : new Object[][] {{true, false, 4}, {false, true, 4}, {false, false, 5}, {false, true, 5}, {true, true, 5}}) {
                try (PagedAttention variant = new PagedAttention(32, 32, 128, 16, 4096, 1).pipelineRounds(PagedAttention.PIPE_WAVE)
                        .pipelineForm((Boolean) f[0], (Boolean) f[1], (Integer) f[2])) {
                    assertBits(got, b.run(cuda, variant, b.allTokens(), null), "b1 x 4096, form " + java.util.Arrays.toString(f));
                }
            }
        }
    }
}
