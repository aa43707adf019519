package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static dev.arbor.kernels.attention.PagedAttentionTest.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The split form of the short tiles ({@link FlashSplitKernels}: four warps, S by keys, O by dims, a ring of 2-4 K/V stages) on
 * the accel CPU executor against the one-warp kernel ({@link FlashPrefillKernels#warpBf16}) and the 64-row kernel
 * ({@link FlashPrefillKernels#prefillBf16}), bit for bit: contexts of 1, 15, 16, 17, 255 and 1,000 keys, each sequence's last
 * {@code 16 / G} tokens as one short chunk and its last token alone (a decode); GQA 1, 4 and 8, ALiBi with 5 heads on 1 kv head
 * (G = 5: 3 tokens, one padding row) and on 5; head sizes 64 and 128; block sizes 16 and 7; bf16 and fp16 stores; and the
 * state handoff (the per-sequence pass continuing the shared pass's state in the split form). The values also within
 * {@link FlashPrefillTest}'s tolerance of the double-precision reference. (cp.async copies at once on the CPU: the ring's
 * timing is the GPU test's, {@code FlashSplitGpuTest}.)
 */
class FlashSplitTest {
    static final Backend CPU = new CpuBackend();
    static final int[] CONTEXTS = {1, 15, 16, 17, 255, 1000};

    /**
     * Sequences of {@code contexts} keys whose last {@code min(context, 16 / G)} tokens are new: whole (short tiles) in the 64-row,
     * one-warp and split kernels (each of {@code stages}), and each sequence's last token alone in the split form, all the same bits.
     */
    static void check(Backend be, int heads, int kvHeads, int headDim, int bs, boolean alibi, KvStore store, int[] contexts, int[] stages, long seed) {
        int warp = FlashPrefillAttention.warpTokens(heads, kvHeads);
        int[] news = new int[contexts.length];
        for (int i = 0; i < contexts.length; i++) news[i] = Math.min(contexts[i], warp);
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", bs " + bs + ", " + store + (alibi ? ", ALiBi" : "");
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, contexts, news, alibi, store, seed)) {
            int row = b.heads * b.headDim;
            int[][] whole = FlashPrefillRun.whole(b);
            float[] oneWarp = FlashPrefillRun.runSplit(be, b, whole, -1, 0);
            assertEquals(contexts.length, FlashPrefillRun.lastWarpTiles, what + ": short tiles");
            assertFalse(FlashPrefillRun.lastSplit, what + ": the one-warp kernel");
            double[] ref = b.reference();
            assertClose(ref, oneWarp, FlashPrefillTest.tolerance(store), what + ": one-warp against the reference");
            float[] tall = FlashPrefillRun.runSplit(be, b, whole, -1, -1);
            assertEquals(0, FlashPrefillRun.lastWarpTiles, what + ": 64-row tiles");
            assertBits(oneWarp, tall, what + ": 64-row against one-warp");
            for (int s : stages) {
                float[] split = FlashPrefillRun.runSplit(be, b, whole, -1, s);
                assertTrue(FlashPrefillRun.lastSplit, what + ": the split form");
                assertBits(oneWarp, split, what + ": split form, " + s + " stages, against one-warp");
            }
            List<int[]> last = new ArrayList<>();
            for (int i = whole.length - 1; i >= 0; i--) last.add(new int[] {whole[i][1] - 1, whole[i][1]});   // another order
            int[][] decodes = last.toArray(new int[0][]);
            float[] got = FlashPrefillRun.runSplit(be, b, decodes, Integer.MAX_VALUE, stages[stages.length - 1]);
            assertTrue(FlashPrefillRun.lastSplit, what + ": decodes in the split form (planBelow)");
            assertBits(rows(oneWarp, FlashPrefillRun.tokens(decodes), row), got, what + ": decodes alone in the split form against whole");
        }
    }

    @Test
    void gqa1AtHeadDim128EveryStageCount() {
        check(CPU, 1, 1, 128, 16, false, KvStore.BF16, CONTEXTS, new int[] {2, 3, 4}, 41);
    }

    @Test
    void gqa4And8() {
        check(CPU, 4, 1, 128, 16, false, KvStore.F16, CONTEXTS, new int[] {3}, 42);
        check(CPU, 8, 1, 64, 7, false, KvStore.BF16, CONTEXTS, new int[] {2, 4}, 43);
    }

    @Test
    void alibiWithFiveHeads() {
        check(CPU, 5, 1, 64, 16, true, KvStore.BF16, CONTEXTS, new int[] {3}, 44);            // G = 5: 3 tokens, one padding row
        check(CPU, 5, 5, 64, 7, true, KvStore.F16, new int[] {1, 17, 255}, new int[] {2}, 45);
    }

    /** The state handoff with the per-sequence pass in the split form: the one-pass bits (a group of decodes and a 17-token chunk). */
    @Test
    void theHandoffContinuesInTheSplitForm() {
        handoff(CPU, 2, 2, 64, 16, 9, 128, KvStore.BF16, 46);
        handoff(CPU, 4, 1, 128, 16, 8, 128, KvStore.F16, 47);
    }

    /** Members 0, 2, 3 decodes, 1 a 17-token chunk, sharing {@code sharedBlocks} blocks, handed off at {@code sharedKeys}; one loner of 5 tokens. */
    static void handoff(Backend be, int heads, int kvHeads, int headDim, int bs, int sharedBlocks, int sharedKeys, KvStore store, long seed) {
        int pre = sharedBlocks * bs;
        int[] ctx = {pre + 11, pre + 40, pre + 23, pre + 70, 50}, news = {1, 17, 1, 1, 5}, shared = {sharedBlocks, sharedBlocks, sharedBlocks, sharedBlocks, 0};
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", " + store + ", handoff at " + sharedKeys + " keys";
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, ctx, news, false, store, seed, shared)) {
            float[] onePass = FlashPrefillRun.runSplit(be, b, FlashPrefillRun.whole(b), -1, -1);
            for (int s : new int[] {2, 3}) {
                float[] got = FlashPrefillRun.runHandoffSplit(be, b, new int[][] {{0, 1, 2, 3}}, new int[] {sharedKeys}, s);
                assertTrue(FlashPrefillRun.lastTiles > 0, what + ": a shared pass");
                assertTrue(FlashPrefillRun.lastSplit, what + ": the per-sequence pass's short tiles in the split form");
                assertBits(onePass, got, what + ", " + s + " stages: handoff (split form) against one pass (64-row tiles)");
            }
        }
    }
}
