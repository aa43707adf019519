package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.models.cuda.ComputeDtype;
import dev.arbor.models.cuda.CudaModelBackend;
import dev.arbor.models.cuda.KvCacheDtype;
import dev.arbor.models.synthetic.SyntheticModels;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fused kernels' L2 prefetch of the next projection's weights ({@code -Darbor.cuda.l2PrefetchMiB}, CudaOps; steps of at
 * most 8 tokens) changes no value: the same logits, in bits, as the same model without it, through a prefill of three
 * prompts (past 8 tokens: no prefetch) and decode steps of 3 tokens replayed from CUDA graphs (each layer's RoPE + KV store,
 * SwiGLU and — batch-invariant — both split-row add + RMSNorm kernels asking for the next GEMM's weights), in both modes.
 * 1 MiB a window: part of each row on 100m's q|k|v, gate|up and down, all of tiny's; the argmax tokens fed back alike.
 */
@Tag("gpu")
class L2PrefetchForwardGpuTest {
    private static final String PROPERTY = "arbor.cuda.l2PrefetchMiB";

    /** The model loaded with {@code mib} as the prefetch property (read when CudaOps is built), the property restored after. */
    private static CausalLM load(String shape, boolean batchInvariant, String mib) {
        String before = System.getProperty(PROPERTY);
        System.setProperty(PROPERTY, mib);
        try {
            return SyntheticModels.load(shape, CudaModelBackend.open(0, KvCacheDtype.BF16, ComputeDtype.BFLOAT16, batchInvariant, true, true));
        } finally {
            if (before == null) System.clearProperty(PROPERTY);
            else System.setProperty(PROPERTY, before);
        }
    }

    @ParameterizedTest(name = "{0}, batch-invariant {1}, {2} MiB")
    @CsvSource({"tiny, true, 1", "100m, true, 1", "100m, true, '4,1,2,1'", "100m, false, 1"})
    void prefetchKeepsTheBits(String shape, boolean batchInvariant, String mib) {
        try (CausalLM on = load(shape, batchInvariant, mib);
             CausalLM off = load(shape, batchInvariant, "0");
             PagedRunner f = new PagedRunner(on, 256, 16);
             PagedRunner p = new PagedRunner(off, 256, 16)) {
            int vocab = on.config().vocabSize(), batch = 3;
            List<PagedRunner.Sequence> fs = new ArrayList<>(), ps = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (int s = 0; s < batch; s++) {
                int[] prompt = new int[9 + 40 * s];
                for (int i = 0; i < prompt.length; i++) prompt[i] = 3 + (i * 131 + s * 977) % (Math.min(vocab, 259) - 3);
                prompts.add(prompt);
                fs.add(f.newSequence());
                ps.add(p.newSequence());
            }
            float[][] fl = f.step(fs, prompts, true), pl = p.step(ps, prompts, true);
            for (int r = 0; r < pl.length; r++) assertArrayEquals(pl[r], fl[r], shape + ": prefill logits of row " + r);
            int[] next = new int[batch];
            fl = f.step(fs, List.of(new int[] {5}, new int[] {6}, new int[] {7}), false);
            pl = p.step(ps, List.of(new int[] {5}, new int[] {6}, new int[] {7}), false);
            for (int step = 0; step < 6; step++) {
                for (int s = 0; s < batch; s++) {
                    assertArrayEquals(pl[s], fl[s], shape + ": decode step " + step + ", sequence " + s);
                    next[s] = PagedRunner.argmax(pl[s]);
                }
                List<int[]> toks = new ArrayList<>();
                for (int s = 0; s < batch; s++) toks.add(new int[] {next[s]});
                fl = f.step(fs, toks, false);
                pl = p.step(ps, toks, false);
            }
            assertTrue(f.executor.graphReplays() > 0, "decode steps replayed from graphs");
            System.out.printf("%s (batch-invariant %b, %s MiB): the L2 prefetch kept the bits (prefill %d rows, 7 decode steps, %d replayed)%n",
                    shape, batchInvariant, mib, pl.length, f.executor.graphReplays());
        }
    }
}
