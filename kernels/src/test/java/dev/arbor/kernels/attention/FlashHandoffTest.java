package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The cascade as a state handoff ({@link FlashPrefillAttention#planHandoff}, {@link FlashPrefillKernels#sharedBf16}) on
 * the accel CPU executor: a cascade group's tokens (decodes and prefill chunks of several sequences stacked as the shared
 * pass's rows) over their shared whole key tiles, then each sequence's own pass from the handed-off (O, m, l) state. The
 * result must be the one-pass result ({@code plan}, no groups) bit for bit, and within {@link FlashPrefillTest}'s
 * tolerance of the double-precision reference: shared prefixes of 0, 63, 64, 65 and 530 keys (0, 0, 1, 1 and 8 shared
 * tiles; block sizes 16, 7, 16, 5, 10), GQA 1 and 4 (4: 16 tokens a row tile, a 17-token chunk split across two), ALiBi
 * with 5 heads on 5 and on 1 kv head (12 tokens a tile, 4 padding rows), bf16 and fp16 stores, a sequence outside the group.
 */
class FlashHandoffTest {
    static final Backend CPU = new CpuBackend();

    /**
     * Sequences 0..2 in one group sharing {@code sharedBlocks} blocks (sequence 0 a decode 10 keys past the prefix, 1 a
     * 17-token chunk 23 keys past it, 2 a decode 36 past it), sequence 3 alone (5 new tokens, 50 keys); the group handed off
     * at {@code sharedKeys} keys.
     */
    static void check(int heads, int kvHeads, int bs, int sharedBlocks, int sharedKeys, boolean alibi, KvStore store, int expectRowTiles,
                      long seed) {
        check(CPU, heads, kvHeads, 64, bs, sharedBlocks, sharedKeys, alibi, store, 3, expectRowTiles, seed);
    }

    /**
     * {@code members} sequences in one group sharing {@code sharedBlocks} blocks (member i: a 17-token chunk if i % 3 == 1,
     * else a decode, its first new token (13·i + 10) % 47 keys past the prefix), one sequence alone (5 new tokens, 50 keys);
     * handed off at {@code sharedKeys} keys: bits against the one-pass kernel, values against the reference.
     */
    static void check(Backend be, int heads, int kvHeads, int headDim, int bs, int sharedBlocks, int sharedKeys, boolean alibi, KvStore store,
                      int members, int expectRowTiles, long seed) {
        int pre = sharedBlocks * bs;
        int[] ctx = new int[members + 1], news = new int[members + 1], shared = new int[members + 1];
        for (int i = 0; i < members; i++) {
            news[i] = i % 3 == 1 ? 17 : 1;
            ctx[i] = pre + (13 * i + 10) % 47 + news[i];
            shared[i] = sharedBlocks;
        }
        ctx[members] = 50;
        news[members] = 5;
        int[] group = new int[members];
        for (int i = 0; i < members; i++) group[i] = i;
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", bs " + bs + ", " + members + " sequences sharing " + sharedKeys + " keys, "
                + store + (alibi ? ", ALiBi" : "");
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, ctx, news, alibi, store, seed, shared)) {
            float[] onePass = FlashPrefillRun.run(be, b, FlashPrefillRun.whole(b));
            float[] handoff = FlashPrefillRun.runHandoff(be, b, new int[][] {group}, new int[] {sharedKeys});
            assertEquals(expectRowTiles, FlashPrefillRun.lastTiles, what + ": the shared pass's row tiles");
            assertBits(onePass, handoff, what + ": handoff against one pass");
            double[] ref = b.reference();
            double err = FlashPrefillTest.maxError(ref, handoff);
            if (be != CPU) System.out.printf("%s: handoff == one pass bit for bit, max error against the reference %.3g%n", what, err);
            assertClose(ref, handoff, FlashPrefillTest.tolerance(store), what + " (max error " + err + ")");
        }
    }

    /**
     * A decode step behind a shared prefix (the seed workloads' decode steps): {@code members} decodes in one group sharing
     * {@code sharedBlocks} blocks (member i's token (13·i + 10) % 47 keys past the prefix) and one decode alone (50 keys), so the
     * per-sequence pass is one-warp tiles alone: the handoff with its launches overlapping
     * ({@link FlashPrefillAttention#setHandoffOverlap}: the shared pass on the kernel before it, the one-warp pass on the shared
     * pass) and the shared pass's dim split ({@link FlashPrefillAttention#setSharedDimSplit}, forced), and without both, give the
     * one-pass kernel's bits.
     */
    static void checkDecodes(Backend be, int heads, int kvHeads, int headDim, int bs, int sharedBlocks, int sharedKeys, boolean alibi,
                             KvStore store, int members, int expectRowTiles, long seed) {
        int pre = sharedBlocks * bs;
        int[] ctx = new int[members + 1], news = new int[members + 1], shared = new int[members + 1];
        for (int i = 0; i < members; i++) {
            news[i] = 1;
            ctx[i] = pre + (13 * i + 10) % 47 + 1;
            shared[i] = sharedBlocks;
        }
        ctx[members] = 50;
        news[members] = 1;
        int[] group = new int[members];
        for (int i = 0; i < members; i++) group[i] = i;
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", bs " + bs + ", " + members + " decodes sharing " + sharedKeys + " keys, "
                + store + (alibi ? ", ALiBi" : "");
        boolean before = FlashPrefillRun.handoffOverlap;
        int splitBefore = FlashPrefillRun.sharedDimSplit;
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, ctx, news, alibi, store, seed, shared)) {
            float[] onePass = FlashPrefillRun.run(be, b, FlashPrefillRun.whole(b));
            FlashPrefillRun.handoffOverlap = true;
            FlashPrefillRun.sharedDimSplit = 1;
            float[] overlapped = FlashPrefillRun.runHandoff(be, b, new int[][] {group}, new int[] {sharedKeys});
            assertEquals(expectRowTiles, FlashPrefillRun.lastTiles, what + ": the shared pass's row tiles");
            assertEquals(true, FlashPrefillRun.lastWarpOnly, what + ": one-warp tiles alone");
            FlashPrefillRun.handoffOverlap = false;
            FlashPrefillRun.sharedDimSplit = 0;
            float[] plain = FlashPrefillRun.runHandoff(be, b, new int[][] {group}, new int[] {sharedKeys});
            assertBits(onePass, plain, what + ": handoff (plain launches, whole shared pass) against one pass");
            assertBits(onePass, overlapped, what + ": handoff (overlapping launches, dim-split shared pass) against one pass");
            double err = FlashPrefillTest.maxError(b.reference(), overlapped);
            if (be != CPU) System.out.printf("%s: handoff overlapped + dim split == plain == one pass bit for bit, max error against the reference %.3g%n", what, err);
            assertClose(b.reference(), overlapped, FlashPrefillTest.tolerance(store), what + " (max error " + err + ")");
        } finally {
            FlashPrefillRun.handoffOverlap = before;
            FlashPrefillRun.sharedDimSplit = splitBefore;
        }
    }

    @Test
    void aDecodeStepsHandoffGivesTheOnePassBitsWithOverlappingLaunchesOrWithout() {
        checkDecodes(CPU, 4, 4, 64, 16, 5, 64, false, KvStore.BF16, 5, 1, 51);
        checkDecodes(CPU, 8, 2, 64, 7, 19, 128, true, KvStore.F16, 9, 1, 52);
    }

    @Test
    void sharedPrefixesBelowOneTileHandOffNothing() {
        check(2, 2, 16, 0, 0, false, KvStore.BF16, 0, 31);
        check(2, 2, 7, 9, 63, false, KvStore.BF16, 0, 32);
    }

    @Test
    void oneSharedTileGivesTheOnePassBits() {
        check(2, 2, 16, 4, 64, false, KvStore.BF16, 1, 33);   // 19 tokens in one 64-row tile
        check(2, 2, 5, 13, 65, false, KvStore.F16, 1, 34);
    }

    @Test
    void eightSharedTilesAt530Keys() {
        check(1, 1, 10, 53, 530, false, KvStore.BF16, 1, 35);
    }

    @Test
    void gqa4SplitsTheGroupsTokensOverRowTiles() {
        check(4, 1, 16, 8, 128, false, KvStore.BF16, 2, 36);   // 20 tokens, 16 a tile
    }

    @Test
    void alibiWithFiveHeads() {
        check(5, 5, 5, 13, 65, true, KvStore.BF16, 1, 37);
        check(5, 1, 5, 13, 65, true, KvStore.F16, 2, 38);     // G = 5: 12 tokens a tile
    }

    /** A group handed off at fewer keys than it shares (fewer shared tiles) ends in the same bits: the tiles are the same either way. */
    @Test
    void theHandoffPointDoesNotChangeTheBits() {
        check(2, 2, 16, 9, 128, false, KvStore.BF16, 1, 39);
    }

    /**
     * The shared pass's deeper K/V ring ({@link FlashSharedKernels}, {@link FlashPrefillAttention#setSharedStages}) at 2, 3 (the lean
     * tile, {@link FlashPrefillAttention#setSharedLean}) and 4 stages, whole dims and the dim split, against the two-stage kernels' bits and the one-pass kernel's: with fewer shared tiles than stages
     * (1 and 3 tiles), more (8), GQA 4 over two row tiles, ALiBi with 5 heads on 1 kv head (G = 5), fp16.
     */
    static void checkRing(Backend be, int heads, int kvHeads, int headDim, int bs, int sharedBlocks, int sharedKeys, boolean alibi, KvStore store,
                          int members, int expectRowTiles, long seed) {
        int pre = sharedBlocks * bs;
        int[] ctx = new int[members + 1], news = new int[members + 1], shared = new int[members + 1];
        for (int i = 0; i < members; i++) {
            news[i] = i % 3 == 1 ? 17 : 1;
            ctx[i] = pre + (13 * i + 10) % 47 + news[i];
            shared[i] = sharedBlocks;
        }
        ctx[members] = 50;
        news[members] = 5;
        int[] group = new int[members];
        for (int i = 0; i < members; i++) group[i] = i;
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", bs " + bs + ", " + members + " sequences sharing " + sharedKeys + " keys, "
                + store + (alibi ? ", ALiBi" : "");
        int stagesBefore = FlashPrefillRun.sharedStages, splitBefore = FlashPrefillRun.sharedDimSplit;
        boolean leanBefore = FlashPrefillRun.sharedLean;
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, ctx, news, alibi, store, seed, shared)) {
            float[] onePass = FlashPrefillRun.run(be, b, FlashPrefillRun.whole(b));
            for (int split = 0; split <= 1; split++) {
                FlashPrefillRun.sharedDimSplit = split;
                for (int stages : new int[] {0, 2, 3, 4}) {
                    FlashPrefillRun.sharedStages = stages;
                    FlashPrefillRun.sharedLean = stages == 3;   // the lean tile (no causal select) at 3 stages, the select at 2 and 4
                    float[] handoff = FlashPrefillRun.runHandoff(be, b, new int[][] {group}, new int[] {sharedKeys});
                    assertEquals(expectRowTiles, FlashPrefillRun.lastTiles, what + ": the shared pass's row tiles");
                    assertBits(onePass, handoff, what + ": handoff (" + stages + " stages" + (stages == 3 ? ", lean" : "") + ", dim split "
                            + split + ") against one pass");
                }
            }
            if (be != CPU) System.out.printf("%s: shared pass at 2/3/4 stages (ring), whole and dim split == one pass bit for bit%n", what);
        } finally {
            FlashPrefillRun.sharedStages = stagesBefore;
            FlashPrefillRun.sharedDimSplit = splitBefore;
            FlashPrefillRun.sharedLean = leanBefore;
        }
    }

    @Test
    void theSharedPassRingGivesTheOnePassBits() {
        checkRing(CPU, 2, 2, 64, 16, 4, 64, false, KvStore.BF16, 3, 1, 71);      // 1 shared tile: fewer than the stages
        checkRing(CPU, 2, 2, 64, 10, 53, 530, false, KvStore.F16, 3, 1, 72);     // 8 tiles
        checkRing(CPU, 4, 1, 64, 7, 28, 192, false, KvStore.BF16, 3, 2, 73);     // 3 tiles, GQA 4: 19 tokens over two row tiles
        checkRing(CPU, 5, 1, 64, 5, 39, 195, true, KvStore.BF16, 3, 2, 74);      // ALiBi, G = 5: 12 tokens a tile
    }
}
