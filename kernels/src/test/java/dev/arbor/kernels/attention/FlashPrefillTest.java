package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static dev.arbor.kernels.attention.PagedAttentionTest.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tensor-core prefill attention ({@link FlashPrefillKernels}) on the accel CPU executor (mma emulated:
 * exact products summed in double) against the double-precision dense reference: chunks of 1, 15, 16, 17
 * and 255 new tokens over cached prefixes of 0, 1, 17 and 300 keys, GQA ratios 1, 4 and 8, ALiBi with 5
 * heads, head sizes 64 and 128, block sizes 16 and 7, bf16 and fp16 stores; and batch invariance bit for
 * bit: a token's row is the same whole, chunked, alone, or batched with other sequences in another order.
 *
 * <p>Tolerance: the kernel rounds Q and the probabilities P to the store's 16-bit type (the mma inputs),
 * the reference does not. With |q| ≤ 2.5, |k|, |v| ≤ 1 the observed worst errors are 2.0e-3 (bf16, 8
 * significant bits) and 3.0e-4 (fp16, 11 bits); the bounds are about 2.5 times that. (The emulated mma
 * is slow on the CPU executor: sizes are kept small, heads few.)
 */
class FlashPrefillTest {
    static final Backend CPU = new CpuBackend();
    static final double BF16_TOL = 5e-3, FP16_TOL = 8e-4;

    static double tolerance(KvStore store) { return store == KvStore.F16 ? FP16_TOL : BF16_TOL; }

    /** Maximum |got - ref|, for the messages. */
    static double maxError(double[] ref, float[] got) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(got[i] - ref[i]));
        return m;
    }

    static void againstReference(PagedBatch b, String what) {
        double[] ref = b.reference();
        float[] got = FlashPrefillRun.run(CPU, b, FlashPrefillRun.whole(b));
        assertClose(ref, got, tolerance(b.store), what + " (max error " + maxError(ref, got) + ")");
    }

    /** (cached prefix, chunk) pairs: every chunk size and every prefix length at least once, the big ones not all together (CPU time). */
    static final int[][] PREFIX_CHUNK = {{0, 1}, {0, 15}, {1, 16}, {17, 17}, {300, 15}, {1, 255}, {300, 1}, {17, 1}};

    static int[] contexts(int[][] pc) {
        int[] c = new int[pc.length];
        for (int i = 0; i < pc.length; i++) c[i] = pc[i][0] + pc[i][1];
        return c;
    }

    static int[] chunkSizes(int[][] pc) {
        int[] c = new int[pc.length];
        for (int i = 0; i < pc.length; i++) c[i] = pc[i][1];
        return c;
    }

    @Test
    void noGqaHeadDim64AgreesWithTheReference() {
        try (PagedBatch b = new PagedBatch(1, 1, 64, 16, contexts(PREFIX_CHUNK), chunkSizes(PREFIX_CHUNK), false, KvStore.BF16, 21)) {
            againstReference(b, "G=1 D=64 bf16");
        }
    }

    @Test
    void gqa4And8AtHeadDim128() {
        int[][] pc = {{300, 17}, {0, 16}, {17, 15}, {1, 1}};
        try (PagedBatch b = new PagedBatch(4, 1, 128, 16, contexts(pc), chunkSizes(pc), false, KvStore.BF16, 22)) {
            againstReference(b, "G=4 D=128 bf16");
        }
        try (PagedBatch b = new PagedBatch(8, 1, 64, 7, contexts(pc), chunkSizes(pc), false, KvStore.F16, 23)) {
            againstReference(b, "G=8 D=64 bs=7 fp16");
        }
    }

    @Test
    void alibiWithFiveHeads() {
        int[][] pc = {{300, 15}, {0, 17}, {17, 16}, {1, 1}};
        try (PagedBatch b = new PagedBatch(5, 5, 64, 16, contexts(pc), chunkSizes(pc), true, KvStore.BF16, 24)) {
            againstReference(b, "ALiBi 5 heads bf16");
        }
        try (PagedBatch b = new PagedBatch(5, 1, 64, 16, contexts(pc), chunkSizes(pc), true, KvStore.F16, 25)) {
            againstReference(b, "ALiBi 5 heads on one kv head (G=5: 12 tokens a tile, 4 padding rows) fp16");
        }
    }

    @Test
    void aTokensBitsDoNotDependOnTheBatchTheChunkingOrTheCache() {
        for (KvStore store : new KvStore[] {KvStore.BF16, KvStore.F16}) {
            // sequence 0: 150 new tokens over a 40-key cached prefix; 1: a 5-token chunk; 2: one token at 200
            try (PagedBatch b = new PagedBatch(2, 1, 64, 16, new int[] {190, 37, 201}, new int[] {150, 5, 1}, store == KvStore.F16, store, 26)) {
                int row = b.heads * b.headDim;
                float[] whole = FlashPrefillRun.run(CPU, b, FlashPrefillRun.whole(b));
                assertClose(b.reference(), whole, tolerance(store), store + " whole");
                // sequence 0 in chunks (as chunked prefill, or with more of its prefix cached), batched with the others in another order
                int[][][] steps = store == KvStore.BF16
                        ? new int[][][] {{{155, 156}, {0, 1}, {150, 155}}, {{1, 64}, {155, 156}}, {{64, 90}}, {{90, 150}, {150, 155}}}
                        : new int[][][] {{{150, 155}, {100, 150}}, {{149, 150}}};
                for (int[][] step : steps) {
                    int[] which = FlashPrefillRun.tokens(step);
                    assertBits(rows(whole, which, row), FlashPrefillRun.run(CPU, b, step), store + " step " + java.util.Arrays.deepToString(step));
                }
            }
        }
    }

    /**
     * The default mode's plan ({@link FlashPrefillAttention#planBelow}): a token below the position bound gets the bits it
     * gets whole, in any chunk (1-token decode-like chunks included); a token at or past the bound is left to the paged
     * kernel (its row untouched, NaN here), and a sequence with no token below the bound gets one empty tile that writes
     * nothing, so a batch of 1-token chunks always plans one tile per sequence (a decode graph's fixed grid).
     */
    @Test
    void planBelowTakesTokensByPositionAloneAndKeepsOneTilePerDecode() {
        // sequence 0: 70 new tokens at positions 30..99; 1: one token at 36; 2: one token at 120
        try (PagedBatch b = new PagedBatch(2, 1, 64, 16, new int[] {100, 37, 121}, new int[] {70, 1, 1}, false, KvStore.BF16, 27)) {
            int row = b.heads * b.headDim, bound = 64;
            float[] whole = FlashPrefillRun.run(CPU, b, FlashPrefillRun.whole(b));
            int[][][] steps = {FlashPrefillRun.whole(b), {{71, 72}, {0, 40}, {70, 71}, {40, 70}}, {{33, 34}, {34, 35}, {70, 71}, {71, 72}}};
            for (int[][] step : steps) {
                int[] which = FlashPrefillRun.tokens(step);
                float[] got = FlashPrefillRun.run(CPU, b, step, bound);
                for (int i = 0; i < which.length; i++) {
                    int t = which[i];
                    float[] mine = java.util.Arrays.copyOfRange(got, i * row, (i + 1) * row);
                    if (b.positions[t] < bound) {
                        assertBits(java.util.Arrays.copyOfRange(whole, t * row, (t + 1) * row), mine, "token " + t + " in " + java.util.Arrays.deepToString(step));
                    } else {
                        for (float v : mine) assertTrue(Float.isNaN(v), "token " + t + " at position " + b.positions[t] + " is the paged kernel's, not written here");
                    }
                }
            }
            FlashPrefillRun.run(CPU, b, new int[][] {{33, 34}, {70, 71}, {71, 72}, {69, 70}}, bound);
            assertEquals(4, FlashPrefillRun.lastTiles, "four 1-token chunks, two of them past the bound: one tile each");
            FlashPrefillRun.run(CPU, b, new int[][] {{0, 70}}, bound);
            assertEquals(2, FlashPrefillRun.lastTiles, "positions 30..63 in two tiles of 32 tokens (G = 2), 64..99 left out");
        }
    }

    /**
     * A sequence of at most {@code 16 / G} planned tokens (a decode) runs in a short tile ({@link FlashPrefillKernels#warpBf16}:
     * one warp, one K/V stage), longer chunks in 64-row tiles: a token's row has the same bits either way. Each sequence
     * whole (chunks of 40/33 tokens: tall tiles), then in chunks of {@code 16 / G} tokens and of 1 (short tiles only), over
     * 1-3 key tiles; G = 1 (16 tokens a short tile), G = 4 (4), ALiBi 5 heads on 1 (G = 5: 3 tokens, 1 padding row), head
     * sizes 64/128, block sizes 16/7, bf16/fp16.
     */
    @Test
    void aRowsBitsAreTheSameInAShortTileAndATallOne() {
        Object[][] shapes = {{1, 1, 64, 16, false, KvStore.BF16}, {4, 1, 128, 7, false, KvStore.F16}, {5, 1, 64, 16, true, KvStore.BF16}};
        for (Object[] sh : shapes) {
            int heads = (int) sh[0], kvHeads = (int) sh[1], warp = FlashPrefillAttention.warpTokens(heads, kvHeads);
            String what = heads + "/" + kvHeads + " heads × " + sh[2] + ", bs " + sh[3] + ", " + sh[5] + (((boolean) sh[4]) ? ", ALiBi" : "");
            try (PagedBatch b = new PagedBatch(heads, kvHeads, (int) sh[2], (int) sh[3], new int[] {140, 70}, new int[] {40, 33}, (boolean) sh[4],
                    (KvStore) sh[5], 28)) {
                int row = b.heads * b.headDim;
                float[] whole = FlashPrefillRun.run(CPU, b, FlashPrefillRun.whole(b));
                assertEquals(0, FlashPrefillRun.lastWarpTiles, what + ": 40- and 33-token chunks in tall tiles");
                for (int size : new int[] {warp, 1}) {
                    java.util.List<int[]> chunks = new java.util.ArrayList<>();
                    for (int t = 0; t < 40; t += size) chunks.add(new int[] {t, Math.min(40, t + size)});
                    for (int t = 40; t < 73; t += size) chunks.add(0, new int[] {t, Math.min(73, t + size)});   // another order
                    int[][] step = chunks.toArray(new int[0][]);
                    float[] got = FlashPrefillRun.run(CPU, b, step);
                    assertEquals(step.length, FlashPrefillRun.lastWarpTiles, what + ": chunks of " + size + " in short tiles");
                    assertBits(rows(whole, FlashPrefillRun.tokens(step), row), got, what + ": chunks of " + size + " (short tiles) against whole (tall)");
                }
            }
        }
    }

    /**
     * Short tiles take the one-warp kernel only where the step has {@link FlashPrefillAttention#WARP_WAVES} × SMs walks (tile,
     * kv head): 528 on the CPU executor's 132; a decode batch's tiles are all short or all tall, one per sequence either way.
     */
    @Test
    void theOneWarpKernelsScaleLiteralIsOneOverTheRootOfTheHeadSize() {
        for (int headDim : new int[] {64, 128})
            assertEquals(Float.floatToRawIntBits((float) (1.0 / Math.sqrt(headDim))), Float.floatToRawIntBits(FlashPrefillKernels.scaleOf(headDim)),
                    "headDim " + headDim);
    }

    @Test
    void shortTilesTakeTheOneWarpKernelFromFourWavesOfWalks() {
        try (FlashPrefillAttention attn = new FlashPrefillAttention(32, 32, 64, 16, 40, 40)) {
            int[] qs = new int[18], pos = new int[17];
            for (int s = 0; s < 17; s++) {
                qs[s + 1] = s + 1;
                pos[s] = 100 + s;
            }
            attn.setSplitDecode(false, 3);
            assertEquals(16, attn.planBelow(CPU, qs, pos, 16, 1024));
            assertEquals(0, attn.numWarpTiles(), "16 decodes × 32 kv heads = 512 walks: 64-row tiles (split form off)");
            attn.setSplitDecode(true, 3);
            assertEquals(16, attn.planBelow(CPU, qs, pos, 16, 1024));
            assertEquals(16, attn.numWarpTiles(), "512 walks, split form on: short tiles");
            assertTrue(attn.splitShort(), "below four waves of walks: the split form");
            assertEquals(17, attn.planBelow(CPU, qs, pos, 17, 1024));
            assertEquals(17, attn.numWarpTiles(), "17 × 32 = 544 walks: one-warp tiles");
            assertFalse(attn.splitShort(), "four waves of walks: the one-warp kernel");
            assertEquals(17, attn.planBelow(CPU, qs, pos, 17, 110));
            assertEquals(17, attn.numWarpTiles(), "the 7 decodes past the bound keep empty short tiles");
            attn.setMinWarpWalks(Integer.MAX_VALUE);
            assertEquals(17, attn.planBelow(CPU, qs, pos, 17, 1024));
            assertTrue(attn.splitShort(), "one-warp tiles never: the split form");
            attn.setSplitDecode(false, 3);
            assertEquals(17, attn.planBelow(CPU, qs, pos, 17, 1024));
            assertEquals(0, attn.numWarpTiles());
            attn.setMinWarpWalks(0);
            int[] chunk = {0, 17, 18};   // a 17-token chunk and a decode (short)
            attn.setChunkWarpTokens(0);
            assertEquals(2, attn.plan(CPU, chunk, 2, 1));
            assertEquals(1, attn.numWarpTiles(), "chunks in 64-row tiles: the chunk tall, the decode short");
            attn.setChunkWarpTokens(2 * FlashPrefillAttention.warpTokens(32, 32));   // CHUNK_WARP_TILES' default (on): chunks of up to 32 tokens
            assertEquals(3, attn.plan(CPU, chunk, 2, 1));
            assertEquals(3, attn.numWarpTiles(), "the 17-token chunk in short tiles of 16 + 1, and the decode");
        }
        try (FlashPrefillAttention gqa32 = new FlashPrefillAttention(64, 2, 64, 16, 400, 400)) {   // G = 32: no short tiles
            assertEquals(0, FlashPrefillAttention.warpTokens(64, 2));
            gqa32.setMinWarpWalks(0);
            assertEquals(1, gqa32.plan(CPU, new int[] {0, 1}, 1, 1));
            assertEquals(0, gqa32.numWarpTiles());
            gqa32.setMinWarpWalks(Integer.MAX_VALUE);
            assertEquals(1, gqa32.plan(CPU, new int[] {0, 1}, 1, 1));
            assertEquals(0, gqa32.numWarpTiles(), "G = 32: no short tiles for the split form either");
        }
    }

    @Test
    void shapesAndStoresOutsideTheKernelAreRefusedByName() {
        assertTrue(FlashPrefillAttention.supports(32, 32, 128));
        assertTrue(FlashPrefillAttention.supports(64, 8, 64));
        assertFalse(FlashPrefillAttention.supports(32, 32, 96));
        assertFalse(FlashPrefillAttention.supports(130, 2, 128));
        assertEquals(8, FlashPrefillAttention.tokensPerTile(64, 8));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new FlashPrefillAttention(8, 8, 80, 16, 10, 1)).getMessage().contains("headDim 80"));
        try (FlashPrefillAttention attn = new FlashPrefillAttention(2, 1, 64, 16, 8, 2);   // 3 tiles
             FloatArray q = new FloatArray(2 * 2 * 64); FloatArray out = new FloatArray(2 * 2 * 64);
             BFloat16Array k = new BFloat16Array(4 * 16 * 64); FloatArray kf = new FloatArray(4 * 16 * 64); FloatArray vf = new FloatArray(4 * 16 * 64);
             IntArray pos = new IntArray(2); IntArray seq = new IntArray(2); IntArray tables = new IntArray(4)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, k, k, out, pos, seq, tables, 4, null, 3))
                    .getMessage().contains("q holds"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.launch(CPU, q, kf, vf, out, pos, seq, tables, 4, null, 2))
                    .getMessage().contains("FloatArray"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.plan(CPU, new int[] {0, 40, 80}, 2, 1))
                    .getMessage().contains("query tiles"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> attn.plan(CPU, new int[] {0, 1, 2, 3}, 3, 1))
                    .getMessage().contains("numSeqs 3"));
        }
    }

    /**
     * The long-chunk form ({@link FlashPrefillKernels#longBf16}: Q apart, no bounds, the causal select only on diagonal tiles,
     * banded work order) gives a row the one-pass kernel's bits: whole chunks of odd sizes over cached prefixes (the first tile's
     * first position not a tile multiple, so tiles before it are unmasked and the diagonal two masked), bands of 1, 3 and more
     * tiles than the step has (a last, partial band), G = 1 / 4 / 5 with ALiBi, head sizes 64 / 128, block sizes 16 / 7, bf16
     * and fp16; the long-form rows also agree with the double-precision reference, and in chunks (planBelow included) as whole.
     */
    @Test
    void theLongChunkFormGivesTheOnePassBits() {
        Object[][] shapes = {{2, 1, 64, 16, false, KvStore.BF16}, {4, 1, 128, 7, false, KvStore.F16}, {5, 1, 64, 16, true, KvStore.BF16}};
        for (Object[] sh : shapes) {
            String what = sh[0] + "/" + sh[1] + " heads × " + sh[2] + ", bs " + sh[3] + ", " + sh[5] + (((boolean) sh[4]) ? ", ALiBi" : "");
            try (PagedBatch b = new PagedBatch((int) sh[0], (int) sh[1], (int) sh[2], (int) sh[3], new int[] {203, 37, 90}, new int[] {131, 5, 90},
                    (boolean) sh[4], (KvStore) sh[5], 29)) {
                int[][] whole = FlashPrefillRun.whole(b);
                float[] onePass = FlashPrefillRun.runLong(CPU, b, whole, -1, 0, 1);
                assertFalse(FlashPrefillRun.lastLong, what + ": long form off");
                assertClose(b.reference(), onePass, tolerance(b.store), what + " one pass");
                for (int band : new int[] {1, 3, 1000}) {
                    float[] got = FlashPrefillRun.runLong(CPU, b, whole, -1, 90, band);
                    assertTrue(FlashPrefillRun.lastLong, what + ": a 131-token chunk from 90 tokens takes the long form");
                    assertBits(onePass, got, what + ": long form, bands of " + band);
                }
                int row = b.heads * b.headDim;
                int[][] step = {{131, 136}, {0, 70}, {136, 226}};   // another order, sequence 0 in part (its other rows untouched)
                float[] part = FlashPrefillRun.runLong(CPU, b, step, 100000, 2, 2);
                assertTrue(FlashPrefillRun.lastLong, what + ": planBelow's step takes the long form");
                assertBits(rows(onePass, FlashPrefillRun.tokens(step), row), part, what + ": long form in a planBelow step");
                FlashPrefillRun.runLong(CPU, b, whole, -1, 132, 3);
                assertFalse(FlashPrefillRun.lastLong, what + ": no chunk of 132 tokens");
            }
        }
    }

    /** A step with a handoff keeps the one-pass kernel (the long form starts every tile from key 0); the setting is checked. */
    @Test
    void theLongChunkFormTakesOnlyStepsWithoutAHandoff() {
        try (FlashPrefillAttention attn = new FlashPrefillAttention(4, 4, 64, 16, 3000, 4);
             FloatArray state = new FloatArray(3000 * 4 * FlashPrefillKernels.stateStride(64))) {
            attn.useHandoffState(state);
            attn.setLongForm(1024, 32);
            attn.plan(CPU, new int[] {0, 1024, 1030}, 2, 1);
            assertTrue(attn.longForm(), "a 1,024-token chunk");
            int[] seqOfToken = new int[1030];
            java.util.Arrays.fill(seqOfToken, 1024, 1030, 1);
            attn.planHandoff(CPU, seqOfToken, new int[] {64, 64}, java.util.stream.IntStream.range(0, 1030).toArray(), new int[] {0, 1030}, 1, 1030);
            assertFalse(attn.longForm(), "a handoff step");
            attn.planHandoff(CPU, seqOfToken, new int[] {64, 64}, new int[0], new int[] {0}, 0, 1030);
            assertTrue(attn.longForm(), "the next step without groups");
            attn.plan(CPU, new int[] {0, 1023, 1030}, 2, 1);
            assertFalse(attn.longForm(), "chunks of 1,023 and 7 tokens");
            attn.setLongForm(0, 32);
            attn.plan(CPU, new int[] {0, 1024, 1030}, 2, 1);
            assertFalse(attn.longForm(), "off");
            assertThrows(IllegalArgumentException.class, () -> attn.setLongForm(1, 0));
        }
    }

    /**
     * The 64-row kernels' launch bounds (FlashPrefillAttention.tallMinBlocks): MIN_BLOCKS for the shared pass and the one-pass
     * kernel, with or without a handoff (session 12's closing run: the unbounded one-pass kernel slower at long prefill); a
     * bench's setting wins, and reaches the one-pass kernel's argument list.
     */
    @Test
    void launchBoundsTakeThreeWorkGroupsAnSmUnlessABenchSetsThem() {
        try (FlashPrefillAttention attn = new FlashPrefillAttention(4, 4, 64, 16, 8, 2);
             FloatArray state = new FloatArray(8 * 4 * FlashPrefillKernels.stateStride(64))) {
            attn.useHandoffState(state);
            int[] seqOfToken = {0, 0, 1, 1}, sharedKeys = {64, 64};
            assertEquals(FlashPrefillKernels.MIN_BLOCKS, attn.tallMinBlocks());
            assertEquals(1, attn.planHandoff(CPU, seqOfToken, sharedKeys, new int[] {0, 1, 2, 3}, new int[] {0, 4}, 1, 4));   // one row tile
            assertEquals(FlashPrefillKernels.MIN_BLOCKS, (int) (Integer) attn.args(null, null, null, null, null, null, null, 1, null, 1)[18]);
            attn.planHandoff(CPU, seqOfToken, sharedKeys, new int[0], new int[] {0}, 0, 4);   // a step without groups
            assertEquals(FlashPrefillKernels.MIN_BLOCKS, attn.tallMinBlocks());
            attn.setTallMinBlocks(0);
            assertEquals(0, attn.tallMinBlocks());
            assertEquals(0, (int) (Integer) attn.args(null, null, null, null, null, null, null, 1, null, 1)[18]);
            assertThrows(IllegalArgumentException.class, () -> attn.setTallMinBlocks(-2));
        }
    }
}
