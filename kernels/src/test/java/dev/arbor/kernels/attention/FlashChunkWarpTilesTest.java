package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.function.Supplier;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Chunks in short tiles ({@link FlashPrefillAttention#CHUNK_WARP_TILES}, {@link FlashPrefillAttention#setChunkWarpTokens}) on the accel
 * CPU executor: a sequence's chunk of more than 16 / G tokens and at most the bound, cut into one-warp (or split-form) tiles of 16 / G
 * tokens, gives the 64-row tile's bits row for row: chunks of 17, 28, 32 tokens beside decodes and a chunk past the bound (a tall tile),
 * planned by {@code plan} and by {@code planBelow}, headDim 64 and 128, GQA 1, 4 and 5 (ALiBi), bf16 and fp16 stores, the one-buffer
 * and two-buffer one-warp kernels and the split form, and a state handoff behind a shared prefix (seed workload 2's mixed step in small).
 */
class FlashChunkWarpTilesTest {
    static final Backend CPU = new CpuBackend();

    /** {@code run} with chunks of up to {@code tokens} tokens in short tiles. */
    static <T> T chunkWarp(int tokens, Supplier<T> run) {
        int before = FlashPrefillRun.chunkWarpTokens;
        FlashPrefillRun.chunkWarpTokens = tokens;
        try {
            return run.get();
        } finally {
            FlashPrefillRun.chunkWarpTokens = before;
        }
    }

    /**
     * Sequences of {@code ctx[i]} keys, the last {@code news[i]} new, each one chunk: with chunks of up to {@code bound} tokens in
     * short tiles ({@code expectShort} of them, {@code expectTall} 64-row tiles) against every chunk over 16 / G in 64-row tiles, and
     * against every tile tall; by {@code plan} and by {@code planBelow} (a bound past every position); the split form too.
     */
    static void check(Backend be, int heads, int kvHeads, int headDim, int bs, int[] ctx, int[] news, boolean alibi, KvStore store, int bound,
                      int expectShort, int expectTall, long seed) {
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", bs " + bs + ", " + ctx.length + " sequences, chunks ≤ " + bound + " short, "
                + store + (alibi ? ", ALiBi" : "");
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, ctx, news, alibi, store, seed)) {
            int[][] w = FlashPrefillRun.whole(b);
            float[] tall = FlashPrefillRun.runSplit(be, b, w, -1, -1);
            assertEquals(0, FlashPrefillRun.lastWarpTiles, what + ": every tile tall");
            float[] before = chunkWarp(0, () -> FlashPrefillRun.run(be, b, w));
            assertBits(tall, before, what + ": short tiles for decodes alone against every tile tall");
            for (int positionBound : new int[] {-1, 1 << 20}) {
                String how = what + (positionBound < 0 ? ", plan" : ", planBelow");
                float[] cut = chunkWarp(bound, () -> FlashPrefillRun.run(be, b, w, positionBound));
                assertEquals(expectShort, FlashPrefillRun.lastWarpTiles, how + ": short tiles");
                assertEquals(expectShort + expectTall, FlashPrefillRun.lastTiles, how + ": tiles");
                assertFalse(FlashPrefillRun.lastSplit, how + ": one-warp kernel");
                assertBits(tall, cut, how + ": chunks in one-warp tiles against 64-row tiles");
            }
            float[] split = chunkWarp(bound, () -> FlashPrefillRun.runSplit(be, b, w, -1, 3));
            assertTrue(FlashPrefillRun.lastSplit, what + ": split form");
            assertEquals(expectShort, FlashPrefillRun.lastWarpTiles, what + ": split-form tiles");
            assertBits(tall, split, what + ": chunks in split-form tiles against 64-row tiles");
            double err = FlashPrefillTest.maxError(b.reference(), tall);
            if (be != CPU) System.out.printf("%s: chunks in one-warp and split tiles == 64-row tiles bit for bit, max error against the reference %.3g%n", what, err);
            assertClose(b.reference(), tall, FlashPrefillTest.tolerance(store), what + " (max error " + err + ")");
        }
    }

    /**
     * A mixed step behind a shared prefix of {@code sharedBlocks} blocks (seed workload 2's, small): members with chunks of {@code chunk}
     * tokens and decodes in one group, handed off at {@code sharedKeys} keys, the per-sequence pass's chunks in short tiles, against
     * the one-pass 64-row kernel (no group, no cut).
     */
    static void checkHandoff(Backend be, int heads, int kvHeads, int headDim, int bs, int sharedBlocks, int sharedKeys, int members, int chunk,
                             KvStore store, int expectRowTiles, long seed) {
        int pre = sharedBlocks * bs;
        int[] ctx = new int[members], news = new int[members], shared = new int[members];
        int[] group = new int[members];
        for (int i = 0; i < members; i++) {
            news[i] = i % 4 == 3 ? 1 : chunk;
            ctx[i] = pre + (13 * i + 10) % 47 + news[i];
            shared[i] = sharedBlocks;
            group[i] = i;
        }
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", bs " + bs + ", " + members + " sequences (" + chunk + "-token chunks) sharing "
                + sharedKeys + " keys, " + store;
        boolean overlapBefore = FlashPrefillRun.handoffOverlap;
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, ctx, news, false, store, seed, shared)) {
            float[] onePass = FlashPrefillRun.runSplit(be, b, FlashPrefillRun.whole(b), -1, -1);
            for (boolean overlap : new boolean[] {false, true}) {
                FlashPrefillRun.handoffOverlap = overlap;
                float[] handoff = chunkWarp(2 * FlashPrefillAttention.warpTokens(heads, kvHeads),
                        () -> FlashPrefillRun.runHandoff(be, b, new int[][] {group}, new int[] {sharedKeys}));
                assertEquals(expectRowTiles, FlashPrefillRun.lastTiles, what + ": the shared pass's row tiles");
                assertTrue(FlashPrefillRun.lastWarpOnly, what + ": the per-sequence pass in one-warp tiles alone");
                assertBits(onePass, handoff, what + ": handoff into one-warp chunk tiles (overlap " + overlap + ") against one 64-row pass");
            }
            double err = FlashPrefillTest.maxError(b.reference(), onePass);
            if (be != CPU) System.out.printf("%s: handoff into one-warp chunk tiles == one pass bit for bit, max error against the reference %.3g%n", what, err);
            assertClose(b.reference(), onePass, FlashPrefillTest.tolerance(store), what + " (max error " + err + ")");
        } finally {
            FlashPrefillRun.handoffOverlap = overlapBefore;
        }
    }

    @Test
    void chunksUpToTheBoundGiveTheTallBits() {
        // G = 1 (16 tokens a short tile), bound 32: 17 → 2, 28 → 2, 32 → 2, 5 → 1, decode → 1 short; 33 → one tall tile
        check(CPU, 2, 2, 64, 16, new int[] {40, 70, 130, 200, 9, 77}, new int[] {17, 28, 32, 5, 1, 33}, false, KvStore.BF16, 32, 8, 1, 201);
        check(CPU, 1, 1, 128, 7, new int[] {29, 300}, new int[] {28, 20}, false, KvStore.F16, 32, 4, 0, 202);   // headDim 128
    }

    @Test
    void gqaAndAlibi() {
        // G = 4 (4 tokens a short tile), bound 8: 5 → 2, 8 → 2, decode → 1; 9 → one tall tile
        check(CPU, 8, 2, 64, 5, new int[] {12, 70, 40, 90}, new int[] {5, 8, 1, 9}, false, KvStore.BF16, 8, 5, 1, 203);
        // G = 5 (3 tokens a short tile), bound 6, ALiBi: 4 → 2, 6 → 2
        check(CPU, 5, 1, 64, 16, new int[] {40, 97}, new int[] {4, 6}, true, KvStore.F16, 6, 4, 0, 204);
    }

    @Test
    void aBf16OutHasTheSameBits() {
        boolean before = PagedBatch.outBf16;
        PagedBatch.outBf16 = true;
        try {
            check(CPU, 2, 2, 64, 16, new int[] {45, 150}, new int[] {28, 1}, false, KvStore.BF16, 32, 3, 0, 205);
        } finally {
            PagedBatch.outBf16 = before;
        }
    }

    @Test
    void aMixedStepsHandoffIntoChunkTilesGivesTheOnePassBits() {
        checkHandoff(CPU, 2, 2, 64, 16, 5, 64, 6, 28, KvStore.BF16, 3, 206);    // 5 x 28 + 1 decode = 141 rows: 3 row tiles, 1 shared key tile
        checkHandoff(CPU, 1, 1, 128, 16, 9, 128, 4, 17, KvStore.F16, 1, 207);   // 3 x 17 + 1 = 52 rows, 2 shared key tiles, headDim 128
    }
}
