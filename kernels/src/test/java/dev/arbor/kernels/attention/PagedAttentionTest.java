package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Paged attention on the accel CPU executor against the double-precision dense reference, at odd
 * contexts (1, 15, 16, 17, 255, 1000: tile, block and split edges), GQA ratios 1, 4, 8, ALiBi with 5
 * heads, block sizes 16, 7, 5 and 3, head sizes 128, 64, 32, 16 (the streamed {@link DecodeKernels}), 12, 7 and 6 (the
 * CUDA-core tile kernel; 6 and 7 with scalar loads), keys per lane 2, 4, 8, 16, bf16, fp16 and fp32
 * stores (each against the reference over its own rounding of K/V); and, for bf16 and fp16, batch invariance bit for bit: a token alone or batched, split or whole mode, prefill chunked or whole.
 */
class PagedAttentionTest {
    static final Backend CPU = new CpuBackend();

    /** |got - ref| ≤ tol for every element (outputs are convex combinations of values in [-1, 1]). */
    static void assertClose(double[] ref, float[] got, double tol, String what) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (!(Math.abs(got[i] - ref[i]) <= tol)) fail(what + ": element " + i + " is " + got[i] + ", reference " + ref[i]);
        }
    }

    static void assertBits(float[] expected, float[] got, String what) {
        assertEquals(expected.length, got.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(got[i])) {
                fail(what + ": element " + i + " is " + got[i] + ", expected the bits of " + expected[i]);
            }
        }
    }

    /** Rows {@code which} of a (tokens, row) array. */
    static float[] rows(float[] all, int[] which, int row) {
        float[] out = new float[which.length * row];
        for (int i = 0; i < which.length; i++) System.arraycopy(all, which[i] * row, out, i * row, row);
        return out;
    }

    static void checkBothModes(PagedBatch b, double tol, String what) {
        double[] ref = b.reference();
        try (PagedAttention attn = new PagedAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), b.tokens)) {
            float[] split = b.run(CPU, attn, b.allTokens(), true), whole = b.run(CPU, attn, b.allTokens(), false);
            assertClose(ref, split, tol, what + " split mode");
            assertBits(whole, split, what + " whole vs split mode");
        }
    }

    @Test
    void decodeAgreesWithTheReferenceAtOddContextsAndGqaRatios() {
        int[] ctx = {1, 15, 16, 17, 255, 1000}, one = {1, 1, 1, 1, 1, 1};
        for (int[] shape : new int[][] {{2, 2, 64}, {4, 1, 32}, {16, 2, 16}}) {   // (heads, kvHeads, headDim): G = 1, 4, 8
            try (PagedBatch b = new PagedBatch(shape[0], shape[1], shape[2], 16, ctx, one, false, true, 11 + shape[0])) {
                checkBothModes(b, 2e-6, "G=" + shape[0] / shape[1] + " D=" + shape[2]);
            }
        }
    }

    /**
     * The merge loads its slots in groups of {@code ahead}: at depth 4, contexts of 1025 and 1300 keys (5 and 6 splits) are
     * folded in two groups, the last partial; split mode and whole mode (in-kernel fold) agree bit for bit whether the merge
     * runs in the split kernel's last-arriving work-group (the default up to {@link PagedAttention#FUSE_MAX_SPLITS} splits;
     * depths 8 (default) and 4) or as a separate launch (depths 4, 32). G = 2 × headDim 16 (one element per work-item)
     * and G = 8 × headDim 32 (two per work-item).
     */
    @Test
    void theMergeFoldsItsSlotsInGroupsWithTheSameBits() {
        int[] ctx = {1024, 1025, 1300}, one = {1, 1, 1};
        for (KvStore store : new KvStore[] {KvStore.BF16, KvStore.F16}) {
            try (PagedBatch b = new PagedBatch(2, 1, 16, 16, ctx, one, store == KvStore.BF16, store, 51);
                 PagedAttention attn = new PagedAttention(2, 1, 16, 16, b.maxContext(), b.tokens)) {
                float[] whole = b.run(CPU, attn, b.allTokens(), false);
                assertClose(b.reference(), whole, 2e-6, store + " whole mode");
                assertBits(whole, b.run(CPU, attn, b.allTokens(), true), store + " fused merge (default) vs whole mode");
                // the arrival counters are left at zero: a second launch merges again
                assertBits(whole, b.run(CPU, attn, b.allTokens(), true), store + " fused merge, launched again");
                assertBits(whole, b.run(CPU, attn.fuseMerge(PagedAttention.FUSE_MAX_SPLITS, 4), b.allTokens(), true), store + " fused merge depth 4");
                for (int ahead : new int[] {4, 32}) {
                    assertBits(whole, b.run(CPU, attn.fuseMerge(0, 8).mergeAhead(ahead), b.allTokens(), true), store + " separate merge depth " + ahead);
                }
            }
        }
        // G = 8 × headDim 32: two (head, dim) elements per work-item in the fused merge
        try (PagedBatch b = new PagedBatch(16, 2, 32, 16, ctx, one, false, KvStore.BF16, 52);
             PagedAttention attn = new PagedAttention(16, 2, 32, 16, b.maxContext(), b.tokens)) {
            float[] whole = b.run(CPU, attn, b.allTokens(), false);
            assertBits(whole, b.run(CPU, attn, b.allTokens(), true), "G=8 fused merge (default) vs whole mode");
            assertBits(whole, b.run(CPU, attn.fuseMerge(0, 8).mergeAhead(4), b.allTokens(), true), "G=8 separate merge depth 4");
        }
    }

    @Test
    void headDim128AndOddBlockSizesAndHeadDims() {
        try (PagedBatch b = new PagedBatch(1, 1, 128, 16, new int[] {300, 33}, new int[] {1, 2}, false, true, 5)) {
            checkBothModes(b, 2e-6, "D=128");
        }
        try (PagedBatch b = new PagedBatch(6, 2, 12, 7, new int[] {1, 15, 16, 17, 270}, new int[] {1, 3, 1, 17, 2}, false, true, 6)) {
            checkBothModes(b, 2e-6, "bs=7 D=12 G=3");
        }
        try (PagedBatch b = new PagedBatch(4, 4, 6, 5, new int[] {17, 260}, new int[] {17, 1}, false, true, 7)) {
            checkBothModes(b, 2e-6, "bs=5 D=6 (scalar loads)");
        }
    }

    /** The streamed kernel's keys per lane per iteration (U) changes the grouping only: each agrees with the reference, both modes alike. */
    @Test
    void everyKeysPerLaneAgreesWithTheReference() {
        for (int u : new int[] {2, 4, 16}) {
            try (PagedBatch b = new PagedBatch(2, 1, 128, 16, new int[] {1, 17, 300}, new int[] {1, 1, 2}, u == 4, true, 40 + u)) {
                double[] ref = b.reference();
                try (PagedAttention attn = new PagedAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), b.tokens).keysPerLane(u)) {
                    float[] split = b.run(CPU, attn, b.allTokens(), true);
                    assertClose(ref, split, 2e-6, "U=" + u + " split mode");
                    assertBits(split, b.run(CPU, attn, b.allTokens(), false), "U=" + u + " whole vs split mode");
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(1, 1, 8, 16, 64, 1).keysPerLane(16), "KPI over a split");
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(1, 1, 64, 16, 64, 1).keysPerLane(3));
    }

    /**
     * The streamed kernel's work-group of 4 warps (the launcher's) or 8 (a bench option where a round fits a split and the row
     * states 48 KiB) changes the fold's grouping only: each agrees with the reference, split and whole mode alike; GQA 8 at
     * headDim 128 does not fit 8.
     */
    @Test
    void fourAndEightWarpsAgreeWithTheReference() {
        for (int warps : new int[] {4, 8}) {
            try (PagedBatch b = new PagedBatch(4, 1, 128, 16, new int[] {1, 17, 300}, new int[] {1, 1, 2}, warps == 8, true, 60 + warps)) {
                double[] ref = b.reference();
                try (PagedAttention attn = new PagedAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), b.tokens).decodeWarps(warps)) {
                    float[] split = b.run(CPU, attn, b.allTokens(), true);
                    assertClose(ref, split, 2e-6, warps + " warps split mode");
                    assertBits(split, b.run(CPU, attn, b.allTokens(), false), warps + " warps, whole vs split mode");
                }
            }
        }
        assertEquals(4, DecodeKernels.warps(32, 32, 128, 4));
        assertTrue(DecodeKernels.fitsWarps(32, 8, 128, 4, 8));
        assertFalse(DecodeKernels.fitsWarps(64, 8, 128, 4, 8), "GQA 8: 16 row states x 8 heads x 130 floats are over 48 KiB");
        assertFalse(DecodeKernels.fitsWarps(2, 2, 16, 4, 8), "headDim 16: a round of 8 warps is 512 keys, over a split");
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(64, 8, 128, 16, 64, 1).decodeWarps(8));
    }

    /**
     * DecodeKernels' pipelined rounds ({@link PagedAttention#pipelineRounds}, two rounds of K/V loads in flight a warp): the same bits
     * as the plain loop in split and whole mode, fp32 and (bf16 store) bf16 output, at contexts 1, 15, 17, 255, 1,000 and 4,096 (one head: the CPU executor's slowest; an odd
     * number of rounds at headDim 16: one round a split), a prefill chunk of 4 tokens, ALiBi, fp16, small splits of 128 keys below 4,096; and
     * the launcher's rule: one wave of {@link PagedAttention#PIPE_WAVE} work-groups an SM, G = 1 only (G = 4 and 8 keep the plain form).
     */
    @Test
    void pipelinedRoundsGiveTheBitsOfThePlainLoop() {
        int[] ctx = {1, 15, 17, 255, 1000, 300}, fresh = {1, 1, 1, 1, 1, 4};
        record Shape(int heads, int headDim, KvStore store, boolean alibi, int small) {}
        Shape[] shapes = {new Shape(2, 128, KvStore.BF16, false, 0), new Shape(2, 64, KvStore.F16, true, 0), new Shape(4, 16, KvStore.BF16, false, 0),
                new Shape(2, 128, KvStore.BF16, true, 128)};
        int seed = 120;
        for (Shape sh : shapes) {
            String what = sh.toString();
            try (PagedBatch b = new PagedBatch(sh.heads, sh.heads, sh.headDim, 16, ctx, fresh, sh.alibi, sh.store, seed++);
                 PagedAttention plain = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens, sh.small, 4096).pipelineRounds(0);
                 PagedAttention piped = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens, sh.small, 4096)
                         .pipelineRounds(Integer.MAX_VALUE)) {
                assertEquals(sh.small, piped.smallSplit(), what);
                float[] split = b.run(CPU, plain, b.allTokens(), true);
                assertClose(b.reference(), split, 2e-6, what + " plain split mode");
                assertBits(split, b.run(CPU, piped, b.allTokens(), true), what + " pipelined vs plain, split mode");
                assertBits(b.run(CPU, plain, b.allTokens(), false), b.run(CPU, piped, b.allTokens(), false), what + " pipelined vs plain, whole mode");
                if (sh.store == KvStore.BF16) {   // the bf16-output twin is for bf16 stores
                    assertBits(PagedBatch.withBf16Out(() -> b.run(CPU, plain, b.allTokens(), true)),
                            PagedBatch.withBf16Out(() -> b.run(CPU, piped, b.allTokens(), true)), what + " pipelined vs plain, bf16 out");
                }
            }
        }
        // 4,096 keys (16 splits, the b1 × 4k row's shape per head), one head: the CPU executor's slowest case, run once each way
        try (PagedBatch b = new PagedBatch(1, 1, 128, 16, new int[] {4096}, new int[] {1}, false, KvStore.BF16, seed++);
             PagedAttention plain = new PagedAttention(1, 1, 128, 16, 4096, 1).pipelineRounds(0);
             PagedAttention piped = new PagedAttention(1, 1, 128, 16, 4096, 1).pipelineRounds(PagedAttention.PIPE_WAVE)) {
            float[] split = b.run(CPU, piped, b.allTokens(), true);
            assertClose(b.reference(), split, 2e-6, "4,096 keys pipelined");
            assertBits(b.run(CPU, plain, b.allTokens(), true), split, "4,096 keys pipelined vs plain");
        }
        assertTrue(DecodeKernels.pipelines(32, 32, 128));
        assertFalse(DecodeKernels.pipelines(32, 8, 128), "G = 4 spills at 128 registers");
        assertFalse(DecodeKernels.pipelines(64, 8, 128), "G = 8");
        // G = 4 and 8: the rule keeps the plain form, whatever the setter says
        for (int[] g : new int[][] {{8, 2}, {16, 2}}) {
            try (PagedBatch b = new PagedBatch(g[0], g[1], 32, 16, new int[] {17, 1000}, new int[] {1, 1}, false, KvStore.BF16, seed++);
                 PagedAttention plain = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens).pipelineRounds(0);
                 PagedAttention piped = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens).pipelineRounds(Integer.MAX_VALUE)) {
                float[] split = b.run(CPU, piped, b.allTokens(), true);
                assertClose(b.reference(), split, 2e-6, "G=" + g[0] / g[1]);
                assertBits(b.run(CPU, plain, b.allTokens(), true), split, "G=" + g[0] / g[1] + " plain either way");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(2, 2, 64, 16, 64, 1).pipelineRounds(-1));
    }

    /**
     * The pipelined form's variants of run 85-dec22 ({@link PagedAttention#pipelineForm}): skewed rounds ({@link DecodeKernels#skewedRounds}),
     * paired row offsets ({@link DecodeKernels#pairedRowOffsets}) and launch bounds of 5, alone and together, give the plain loop's bits
     * in split and whole mode, fp32 and bf16 output, at contexts 1, 15, 17, 255, 1,000, a 4-token prefill chunk, headDim 128 / 64 / 16
     * (one round a split: the skewed loop's odd tail), ALiBi, fp16, small splits of 128 keys (a work-item's second offset past the
     * split), block-table entries out of the store (masked rows); one head at 4,096 and 4,097 keys; G = 4 and 8 keep the plain form.
     */
    @Test
    void skewedRoundsAndPairedOffsetsGiveTheBitsOfThePlainLoop() {
        int[] ctx = {1, 15, 17, 255, 1000, 300}, fresh = {1, 1, 1, 1, 1, 4};
        record Shape(int heads, int headDim, KvStore store, boolean alibi, int small) {}
        Shape[] shapes = {new Shape(2, 128, KvStore.BF16, false, 0), new Shape(2, 64, KvStore.F16, true, 0), new Shape(4, 16, KvStore.BF16, false, 0),
                new Shape(2, 128, KvStore.BF16, true, 128)};
        boolean[][] forms = {{true, false}, {false, true}};   // both together: the masked-blocks, 4,096-key and G cases below
        int seed = 220;
        for (Shape sh : shapes) {
            try (PagedBatch b = new PagedBatch(sh.heads, sh.heads, sh.headDim, 16, ctx, fresh, sh.alibi, sh.store, seed++);
                 PagedAttention plain = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens, sh.small, 4096).pipelineRounds(0)) {
                float[] split = b.run(CPU, plain, b.allTokens(), true);
                assertClose(b.reference(), split, 2e-6, sh + " plain split mode");
                float[] whole = b.run(CPU, plain, b.allTokens(), false);
                float[] bf16 = sh.store == KvStore.BF16 ? PagedBatch.withBf16Out(() -> b.run(CPU, plain, b.allTokens(), true)) : null;
                for (boolean[] f : forms) {
                    String what = sh + " skewed " + f[0] + " paired " + f[1];
                    try (PagedAttention piped = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens, sh.small, 4096)
                            .pipelineRounds(Integer.MAX_VALUE).pipelineForm(f[0], f[1], f[0] && f[1] ? 5 : 4)) {
                        assertBits(split, b.run(CPU, piped, b.allTokens(), true), what + " vs plain, split mode");
                        assertBits(whole, b.run(CPU, piped, b.allTokens(), false), what + " vs plain, whole mode");
                        if (bf16 != null) assertBits(bf16, PagedBatch.withBf16Out(() -> b.run(CPU, piped, b.allTokens(), true)), what + " vs plain, bf16 out");
                    }
                }
            }
        }
        // masked rows: block-table entries outside the store (-1 and numBlocks) read as no key, the same in every form
        try (PagedBatch b = new PagedBatch(2, 2, 64, 16, new int[] {300, 40}, new int[] {1, 1}, false, KvStore.BF16, seed++);
             PagedAttention plain = new PagedAttention(2, 2, 64, 16, b.maxContext(), b.tokens).pipelineRounds(0);
             PagedAttention piped = new PagedAttention(2, 2, 64, 16, b.maxContext(), b.tokens).pipelineRounds(Integer.MAX_VALUE).pipelineForm(true, true, 4)) {
            b.tablesA.set(3, -1);
            b.tablesA.set(7, b.numBlocks);
            float[] split = b.run(CPU, plain, b.allTokens(), true);
            assertBits(split, b.run(CPU, piped, b.allTokens(), true), "masked blocks, skewed + paired vs plain, split mode");
            assertBits(b.run(CPU, plain, b.allTokens(), false), b.run(CPU, piped, b.allTokens(), false), "masked blocks, whole mode");
        }
        // 4,096 and 4,097 keys (16 and 17 splits; the b1 × 4k row per head), one head, through the launcher's rule
        for (int keys : new int[] {4096, 4097}) {
            try (PagedBatch b = new PagedBatch(1, 1, 128, 16, new int[] {keys}, new int[] {1}, false, KvStore.BF16, seed++);
                 PagedAttention plain = new PagedAttention(1, 1, 128, 16, keys, 1).pipelineRounds(0);
                 PagedAttention piped = new PagedAttention(1, 1, 128, 16, keys, 1).pipelineRounds(PagedAttention.PIPE_WAVE).pipelineForm(true, true, 5)) {
                float[] split = b.run(CPU, piped, b.allTokens(), true);
                assertClose(b.reference(), split, 2e-6, keys + " keys skewed + paired");
                assertBits(b.run(CPU, plain, b.allTokens(), true), split, keys + " keys skewed + paired vs plain");
            }
        }
        // G = 4 and 8: the plain form whatever the pipelined form says
        for (int[] g : new int[][] {{8, 2}, {16, 2}}) {
            try (PagedBatch b = new PagedBatch(g[0], g[1], 32, 16, new int[] {17, 1000}, new int[] {1, 1}, false, KvStore.BF16, seed++);
                 PagedAttention plain = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens).pipelineRounds(0);
                 PagedAttention piped = new PagedAttention(b.heads, b.kvHeads, b.headDim, 16, b.maxContext(), b.tokens).pipelineRounds(Integer.MAX_VALUE)
                         .pipelineForm(true, true, 5)) {
                assertBits(b.run(CPU, plain, b.allTokens(), true), b.run(CPU, piped, b.allTokens(), true), "G=" + g[0] / g[1] + " plain either way");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(2, 2, 64, 16, 64, 1).pipelineForm(false, false, 0));
    }

    /**
     * The launcher's mode rule by shape ({@link DecodeKernels#splitBelowGroups}): whole mode from 1,024 whole-mode work-groups at
     * G = 4 × headDim 64 (Llama-3.2-1B), from {@link PagedAttention#SPLIT_BELOW_GROUPS} elsewhere; either mode gives the same bits
     * there (G = 4 × headDim 64, odd contexts, ALiBi), so the rule is for speed only.
     */
    @Test
    void gqa4HeadDim64TakesWholeModeFrom1024WorkGroupsWithTheSameBits() {
        assertEquals(1024, DecodeKernels.splitBelowGroups(32, 8, 64));
        assertEquals(PagedAttention.SPLIT_BELOW_GROUPS, DecodeKernels.splitBelowGroups(32, 8, 128));
        assertEquals(PagedAttention.SPLIT_BELOW_GROUPS, DecodeKernels.splitBelowGroups(32, 32, 64));
        int[] ctx = {1, 17, 300, 520}, one = {1, 1, 1, 1};
        for (boolean alibi : new boolean[] {false, true}) {
            try (PagedBatch b = new PagedBatch(8, 2, 64, 16, ctx, one, alibi, true, alibi ? 81 : 80)) {
                checkBothModes(b, 2e-6, "G=4 D=64" + (alibi ? " ALiBi" : ""));
            }
        }
    }

    @Test
    void alibiWithFiveHeads() {
        for (int kvHeads : new int[] {1, 5}) {
            try (PagedBatch b = new PagedBatch(5, kvHeads, 16, 16, new int[] {1, 17, 300}, new int[] {1, 17, 2}, true, true, 8 + kvHeads)) {
                checkBothModes(b, 2e-6, "ALiBi heads=5 kvHeads=" + kvHeads);
            }
        }
    }

    @Test
    void float32StoreAndPrefillChunks() {
        try (PagedBatch b = new PagedBatch(8, 2, 20, 16, new int[] {40, 290, 3}, new int[] {40, 36, 3}, false, false, 9)) {
            checkBothModes(b, 2e-6, "fp32 store, prefill chunks");
        }
        try (PagedBatch b = new PagedBatch(5, 1, 8, 16, new int[] {270}, new int[] {270}, true, false, 10)) {
            checkBothModes(b, 2e-6, "fp32 store, ALiBi prefill across a split edge");
        }
    }

    @Test
    void float16StoreAgreesWithTheReference() {
        int[] ctx = {1, 15, 16, 17, 255, 1000}, one = {1, 1, 1, 1, 1, 1};
        for (int[] shape : new int[][] {{2, 2, 64}, {4, 1, 32}, {16, 2, 16}}) {   // G = 1, 4, 8
            try (PagedBatch b = new PagedBatch(shape[0], shape[1], shape[2], 16, ctx, one, false, KvStore.F16, 31 + shape[0])) {
                checkBothModes(b, 2e-6, "fp16 G=" + shape[0] / shape[1] + " D=" + shape[2]);
            }
        }
        try (PagedBatch b = new PagedBatch(1, 1, 128, 16, new int[] {300, 33}, new int[] {1, 2}, false, KvStore.F16, 35)) {
            checkBothModes(b, 2e-6, "fp16 D=128");
        }
        try (PagedBatch b = new PagedBatch(6, 2, 12, 7, new int[] {1, 15, 16, 17, 270}, new int[] {1, 3, 1, 17, 2}, false, KvStore.F16, 36)) {
            checkBothModes(b, 2e-6, "fp16 bs=7 D=12 G=3");
        }
        try (PagedBatch b = new PagedBatch(4, 4, 6, 5, new int[] {17, 260}, new int[] {17, 1}, false, KvStore.F16, 37)) {
            checkBothModes(b, 2e-6, "fp16 bs=5 D=6 (scalar loads)");
        }
        try (PagedBatch b = new PagedBatch(5, 1, 7, 3, new int[] {1, 40, 290}, new int[] {1, 40, 2}, true, KvStore.F16, 38)) {
            checkBothModes(b, 2e-6, "fp16 ALiBi heads=5 bs=3 D=7 (scalar loads), prefill across a split edge");
        }
    }

    @Test
    void aTokensBitsDoNotDependOnTheBatchTheChunkingOrTheMode() {
        invariance(KvStore.BF16);
    }

    @Test
    void float16StoreIsBatchInvariantToo() {
        invariance(KvStore.F16);
    }

    private static void invariance(KvStore store) {
        for (boolean alibi : new boolean[] {false, true}) {
            try (PagedBatch b = new PagedBatch(4, 1, 16, 16, new int[] {280, 37, 600}, new int[] {280, 5, 1}, alibi, store, 12);
                 PagedAttention attn = new PagedAttention(4, 1, 16, 16, 600, 286)) {
                int row = b.heads * b.headDim;
                float[] whole = b.run(CPU, attn, b.allTokens(), false);
                assertBits(whole, b.run(CPU, attn, b.allTokens(), true), store + " batch: split vs whole mode");
                // alone, in either mode
                for (int t : new int[] {0, 31, 256, 279, 280, 285}) {
                    float[] expected = rows(whole, new int[] {t}, row);
                    assertBits(expected, b.run(CPU, attn, new int[] {t}, true), store + " token " + t + " alone, split mode");
                    assertBits(expected, b.run(CPU, attn, new int[] {t}, false), store + " token " + t + " alone, whole mode");
                }
                // sequence 0's prefill in chunks, batched with the others' tokens in another order
                int[][] chunks = {{0, 90}, {90, 257}, {257, 280}};
                for (int[] c : chunks) {
                    int[] which = new int[c[1] - c[0] + 2];
                    which[0] = 285;
                    for (int t = c[0]; t < c[1]; t++) which[t - c[0] + 1] = t;
                    which[which.length - 1] = 282;
                    assertBits(rows(whole, which, row), b.run(CPU, attn, which, null), store + " chunk " + c[0] + ".." + c[1] + " alibi=" + alibi);
                }
            }
        }
    }

    /**
     * Small splits ({@link PagedAttention#smallSplit}: 64 or 128 keys below a position, 256 from it): against the reference, and
     * a token's bits the same alone or batched, in split or whole mode, prefill chunked or whole (the split length is a function
     * of the position only). Positions straddle the bound (200) and the small and large split edges; headDim 64 (a round of 64
     * keys) and 128 (32), ALiBi, bf16 and fp16; a split that is not a whole number of rounds (32 keys at headDim 64) keeps 256.
     */
    @Test
    void smallSplitsBelowAPositionKeepTheBitsOfAToken() {
        assertEquals(0, new PagedAttention(2, 1, 64, 16, 600, 4, 32, 200).smallSplit(), "32 keys are half a round at headDim 64");
        assertEquals(64, new PagedAttention(2, 1, 64, 16, 600, 4, 64, 200).smallSplit());
        assertEquals(0, new PagedAttention(4, 1, 16, 16, 600, 4, 128, 200).smallSplit(), "headDim 16: a round is 256 keys");
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(2, 1, 64, 16, 600, 4, 96, 200));
        for (int[] c : new int[][] {{64, 64, 0}, {128, 128, 1}, {64, 128, 2}}) {   // headDim, small split, variant
            KvStore store = c[2] == 1 ? KvStore.F16 : KvStore.BF16;
            boolean alibi = c[2] == 2;
            String what = store + " D=" + c[0] + " small " + c[1] + (alibi ? " ALiBi" : "");
            // sequence 0: 24 new tokens at positions 186..209 (across the bound 200 and the 64-key edge 192); 5 at 32..36; one at
            // 599 (256-key splits) and one at 128 (a small split's first key)
            try (PagedBatch b = new PagedBatch(2, 1, c[0], 16, new int[] {210, 37, 600, 129}, new int[] {24, 5, 1, 1}, alibi, store, 90 + c[2]);
                 PagedAttention attn = new PagedAttention(2, 1, c[0], 16, 600, 31, c[1], 200)) {
                assertEquals(c[1], attn.smallSplit(), what);
                int row = b.heads * b.headDim;
                float[] whole = b.run(CPU, attn, b.allTokens(), false);
                assertClose(b.reference(), whole, 2e-6, what + " whole mode");
                assertBits(whole, b.run(CPU, attn, b.allTokens(), true), what + " split vs whole mode");
                for (int t : new int[] {0, 6, 13, 14, 23, 24, 28, 29, 30}) {
                    float[] expected = rows(whole, new int[] {t}, row);
                    assertBits(expected, b.run(CPU, attn, new int[] {t}, true), what + " token " + t + " alone, split mode");
                    assertBits(expected, b.run(CPU, attn, new int[] {t}, false), what + " token " + t + " alone, whole mode");
                }
                int[] which = {30, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 29};
                assertBits(rows(whole, which, row), b.run(CPU, attn, which, null), what + " chunk 5..15 with others");
                // the cascade-free launch path through FlashPrefillAttention.launchOthers shares this rule; the separate merge is
                // never taken with small splits (it knows 256-key splits only): fuseMerge(0) still merges in the kernel
                assertBits(whole, b.run(CPU, attn.fuseMerge(0, 8), b.allTokens(), true), what + " fuseMerge(0): still fused");
            }
        }
    }

    /**
     * {@code --no-batch-invariance}'s narrow splits ({@link PagedAttention#narrowSplits}): a launch of few work-groups whose
     * contexts fit the scratch at that split length runs 64-key splits from position 0, the same bits as small splits below every
     * position; over the scratch's depth (contexts past slots × 64 keys) the launch keeps the 256-key form.
     */
    @Test
    void narrowSplitsRunSmallSplitsFromPositionZeroWhereTheyFit() {
        int[] ctx = {1, 65, 200, 256}, one = {1, 1, 1, 1};
        try (PagedBatch b = new PagedBatch(2, 1, 64, 16, ctx, one, true, KvStore.BF16, 97);
             PagedAttention narrow = new PagedAttention(2, 1, 64, 16, 1024, 4).narrowSplits(64);
             PagedAttention small = new PagedAttention(2, 1, 64, 16, 1024, 4, 64, Integer.MAX_VALUE);
             PagedAttention plain = new PagedAttention(2, 1, 64, 16, 1024, 4)) {
            assertTrue(narrow.narrowFits(4, 256) && !narrow.narrowFits(4, 257), "4 slots of the scratch: 256 keys at 64 a split");
            float[] got = b.run(CPU, narrow, b.allTokens(), null);
            assertClose(b.reference(), got, 2e-6, "narrow splits");
            assertBits(b.run(CPU, small, b.allTokens(), null), got, "narrow splits vs small splits below every position");
            assertFalse(plain.narrowFits(4, 256), "off by default");
        }
        assertThrows(IllegalArgumentException.class, () -> new PagedAttention(2, 1, 64, 16, 1024, 4).narrowSplits(48));
    }

    @Test
    void badShapesAreRefusedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PagedAttention(6, 4, 64, 16, 100, 1)).getMessage().contains("kvHeads"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PagedAttention(8, 8, 256, 16, 100, 1)).getMessage().contains("headDim"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new PagedAttention(32, 1, 128, 16, 100, 1)).getMessage().contains("shared memory"));
        try (PagedAttention attn = new PagedAttention(2, 1, 8, 16, 64, 4);
             FloatArray q = new FloatArray(2 * 2 * 8); FloatArray out = new FloatArray(2 * 2 * 8);
             BFloat16Array k = new BFloat16Array(4 * 16 * 8); BFloat16Array v = new BFloat16Array(4 * 16 * 8);
             BFloat16Array odd = new BFloat16Array(100); FloatArray kf = new FloatArray(4 * 16 * 8);
             IntArray pos = new IntArray(2); IntArray seq = new IntArray(2); IntArray tables = new IntArray(4)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, k, v, out, pos, seq, tables, 4, null, 3, 10))
                    .getMessage().contains("q holds"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, odd, odd, out, pos, seq, tables, 4, null, 2, 10))
                    .getMessage().contains("whole blocks"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, k, kf, out, pos, seq, tables, 4, null, 2, 10))
                    .getMessage().contains("both"));
            try (HalfFloatArray kh = new HalfFloatArray(4 * 16 * 8); IntArray ki = new IntArray(4 * 16 * 8)) {
                String mixed = assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, kh, v, out, pos, seq, tables, 4, null, 2, 10)).getMessage();
                assertTrue(mixed.contains("HalfFloatArray and BFloat16Array"), mixed);
                String ints = assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, ki, ki, out, pos, seq, tables, 4, null, 2, 10)).getMessage();
                assertTrue(ints.contains("IntArray"), ints);
            }
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, k, v, out, pos, seq, tables, 4, null, 2, 65))
                    .getMessage().contains("maxContext"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, k, v, out, pos, seq, tables, 4, FloatArray.of(0.5f), 2, 10))
                    .getMessage().contains("alibiSlopes"));
        }
    }
}
