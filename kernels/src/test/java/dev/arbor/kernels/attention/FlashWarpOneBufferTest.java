package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.function.Supplier;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The one-warp kernel with one K/V buffer ({@link FlashWarpOneBufferKernels}, {@link FlashPrefillAttention#setWarpOneBuffer}) on the
 * accel CPU executor: decodes and short chunks at odd sizes (block sizes 16, 7, 5; walks of 1 to 11 key tiles; GQA 1, 4 and 5 with
 * ALiBi; bf16 and fp16 stores; fp32 and bf16 outs; headDim 64 and 128; whole tiles and key halves) give the plain one-warp
 * kernel's bits and the 64-row kernel's, within {@link FlashPrefillTest}'s tolerance of the double-precision reference; a decode
 * step's handoff (shared pass, then this pass, overlapping launches and plain) and a handoff with a 17-token chunk give the one-pass bits.
 */
class FlashWarpOneBufferTest {
    static final Backend CPU = new CpuBackend();

    /**
     * The one-buffer kernel's forms the CPU checks run: {minBlocks, halves} (halves 2: the half ring, {@link FlashPrefillAttention#WARP_HALF_RING};
     * launch bounds are a no-op on the CPU executor).
     */
    static final int[][] CPU_FORMS = {{0, 0}, {0, 1}, {0, 2}};
    /** The forms the GPU checks run. */
    static final int[][] GPU_FORMS = {{0, 0}, {0, 1}, {12, 1}, {0, 2}};

    /** {@code run} with the one-buffer kernel on or off (launch bounds {@code minBlocks}, key halves or whole tiles). */
    static <T> T oneBuffer(boolean on, int minBlocks, boolean halves, Supplier<T> run) {
        return oneBuffer(on, minBlocks, halves ? 1 : 0, run);
    }

    /** As above with the kernel's {@code halves}: 0 whole tiles, 1 key halves, 2 the half ring. */
    static <T> T oneBuffer(boolean on, int minBlocks, int halves, Supplier<T> run) {
        boolean before = FlashPrefillRun.warpOneBuffer, halvesBefore = FlashPrefillRun.warpOneBufferHalves, ringBefore = FlashPrefillRun.warpHalfRing;
        int blocksBefore = FlashPrefillRun.warpOneBufferBlocks;
        FlashPrefillRun.warpOneBuffer = on;
        FlashPrefillRun.warpOneBufferBlocks = minBlocks;
        FlashPrefillRun.warpOneBufferHalves = halves != 0;
        FlashPrefillRun.warpHalfRing = halves == 2;
        try {
            return run.get();
        } finally {
            FlashPrefillRun.warpOneBuffer = before;
            FlashPrefillRun.warpOneBufferBlocks = blocksBefore;
            FlashPrefillRun.warpOneBufferHalves = halvesBefore;
            FlashPrefillRun.warpHalfRing = ringBefore;
        }
    }

    /** Sequences of {@code ctx[i]} keys, the last {@code news[i]} new: the one-buffer pass against the plain one-warp pass and 64-row tiles. */
    static void check(Backend be, int heads, int kvHeads, int headDim, int bs, int[] ctx, int[] news, boolean alibi, KvStore store, long seed) {
        check(be, heads, kvHeads, headDim, bs, ctx, news, alibi, store, seed, true);
    }

    /** As above; {@code withTall} false leaves out the 64-row run (the plain one-warp pass's bits against it are FlashSplitTest's). */
    static void check(Backend be, int heads, int kvHeads, int headDim, int bs, int[] ctx, int[] news, boolean alibi, KvStore store, long seed,
                      boolean withTall) {
        String what = heads + "/" + kvHeads + " heads × " + headDim + ", bs " + bs + ", " + ctx.length + " sequences, " + store + (alibi ? ", ALiBi" : "")
                + (PagedBatch.outBf16 ? ", bf16 out" : "");
        try (PagedBatch b = new PagedBatch(heads, kvHeads, headDim, bs, ctx, news, alibi, store, seed)) {
            int[][] w = FlashPrefillRun.whole(b);
            float[] plain = oneBuffer(false, 0, false, () -> FlashPrefillRun.run(be, b, w));
            assertTrue(FlashPrefillRun.lastWarpTiles == FlashPrefillRun.lastTiles && FlashPrefillRun.lastTiles > 0, what + ": one-warp tiles alone");
            if (withTall) {
                float[] tall = oneBuffer(false, 0, false, () -> FlashPrefillRun.runSplit(be, b, w, -1, -1));
                assertEquals(0, FlashPrefillRun.lastWarpTiles, what + ": 64-row tiles");
                assertBits(tall, plain, what + ": plain one-warp pass against 64-row tiles");
            }
            for (int[] form : be == CPU ? CPU_FORMS : GPU_FORMS) {
                float[] one = oneBuffer(true, form[0], form[1], () -> FlashPrefillRun.run(be, b, w));
                assertTrue(FlashPrefillRun.lastWarpTiles == FlashPrefillRun.lastTiles, what + ": one-warp tiles alone");
                assertBits(plain, one, what + ": one-buffer pass (launch bounds " + form[0] + ", halves " + form[1] + ") against the plain one-warp pass");
            }
            double err = FlashPrefillTest.maxError(b.reference(), plain);
            if (be != CPU) System.out.printf("%s: one-buffer (whole, halves, halves + bounds 12, half ring) == one-warp" + (withTall ? " == 64-row" : "") + " bit for bit, max error against the reference %.3g%n", what, err);
            assertClose(b.reference(), plain, FlashPrefillTest.tolerance(store), what + " (max error " + err + ")");
        }
    }

    static int[] ones(int n) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, 1);
        return a;
    }

    @Test
    void decodesAtOddContextsGiveTheOneWarpAndTallBits() {
        check(CPU, 2, 2, 64, 16, new int[] {1, 17, 64, 65, 130, 700}, ones(6), false, KvStore.BF16, 91);
        check(CPU, 2, 2, 64, 7, new int[] {5, 63, 129, 300}, ones(4), false, KvStore.F16, 92);
        check(CPU, 1, 1, 128, 16, new int[] {1, 64, 200}, ones(3), false, KvStore.BF16, 93);   // headDim 128 (the 16 KiB buffer, two sub-tiles a row)
    }

    @Test
    void shortChunksGqaAndAlibi() {
        check(CPU, 8, 2, 64, 5, new int[] {9, 70, 200}, new int[] {4, 3, 1}, false, KvStore.BF16, 94);   // G = 4: 4 tokens a tile
        check(CPU, 5, 1, 64, 16, new int[] {40, 97}, new int[] {3, 2}, true, KvStore.F16, 95);            // G = 5: 3 tokens, ALiBi
    }

    @Test
    void aBf16OutHasTheSameRounding() {
        boolean before = PagedBatch.outBf16;
        PagedBatch.outBf16 = true;
        try {
            check(CPU, 2, 2, 64, 16, new int[] {33, 150}, ones(2), false, KvStore.BF16, 96);
        } finally {
            PagedBatch.outBf16 = before;
        }
    }

    /** A decode step behind a shared prefix: the handoff into the one-buffer pass (overlapping launches and plain) gives the one-pass bits. */
    @Test
    void aDecodeStepsHandoffGivesTheOnePassBits() {
        for (int halves = 0; halves <= 2; halves++) {
            oneBuffer(true, 0, halves, () -> {
                FlashHandoffTest.checkDecodes(FlashHandoffTest.CPU, 4, 4, 64, 16, 5, 64, false, KvStore.BF16, 5, 1, 97);
                FlashHandoffTest.checkDecodes(FlashHandoffTest.CPU, 8, 2, 64, 7, 19, 128, true, KvStore.F16, 9, 1, 98);
                FlashHandoffTest.check(FlashHandoffTest.CPU, 2, 2, 64, 16, 4, 64, false, KvStore.BF16, 4, 1, 99);   // with a 17-token chunk (a tall tile) beside
                return null;
            });
        }
    }

    /**
     * {@link FlashPrefillAttention#DECODE_HALF_RING}: the half ring after a plan of one token a sequence (plan and planBelow), key
     * halves after a plan with a longer chunk, and the same bits as the forms above either way (the halves change copies only).
     */
    @Test
    void theDecodeHalfRingTakesTheRingForDecodePlansOnly() {
        try (FlashPrefillAttention attn = new FlashPrefillAttention(4, 4, 64, 16, 8, 4)) {
            attn.setDecodeHalfRing(true);
            attn.planBelow(CPU, new int[] {0, 1, 2, 3}, new int[] {40, 7, 300}, 3, Integer.MAX_VALUE);
            assertEquals(2, attn.warpHalves(), "a decode plan (planBelow) takes the half ring");
            attn.plan(CPU, new int[] {0, 1, 4, 5}, 3, 1);
            assertEquals(1, attn.warpHalves(), "a plan with a 3-token chunk keeps key halves");
            attn.plan(CPU, new int[] {0, 1, 1, 2}, 3, 1);
            assertEquals(2, attn.warpHalves(), "a decode plan (plan; a sequence without a token) takes the half ring");
            attn.setDecodeHalfRing(false);
            assertEquals(1, attn.warpHalves(), "off: key halves");
        }
        // the kernel the rule picks gives the bits of the other forms (decode and mixed steps, through the launcher's own plans)
        boolean before = FlashPrefillRun.decodeHalfRing;
        FlashPrefillRun.decodeHalfRing = true;
        try {
            check(CPU, 2, 2, 64, 16, new int[] {17, 130}, ones(2), false, KvStore.BF16, 101);
            check(CPU, 8, 2, 64, 5, new int[] {9, 70}, new int[] {4, 1}, false, KvStore.BF16, 102);
        } finally {
            FlashPrefillRun.decodeHalfRing = before;
        }
    }
}
