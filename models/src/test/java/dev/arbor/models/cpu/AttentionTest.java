package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arbor.models.ForwardBatch;
import dev.arbor.models.StepShape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The key-blocked, online-softmax attention against the plain two-pass reference (double precision), over odd
 * head dims, block sizes and context lengths, grouped-query heads and ALiBi; and a query's result is the same bits
 * whether its token is attended in a prefill chunk with others or alone.
 */
class AttentionTest {
    /** Two sequences: prompt lengths len0 and len1, all tokens in one step; block tables interleaved and shuffled. */
    private record Case(int headDim, int blockSize, int heads, int kvHeads, int len0, int len1, boolean alibi) {}

    @Test
    void agreesWithReferenceOverOddShapes() { agreesWithReference(false); }

    /** The bfloat16 cache: the reference reads the same stored (rounded) K/V, so the tolerance is the float32 one. */
    @Test
    void bf16CacheAgreesWithReferenceOverOddShapes() { agreesWithReference(true); }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(0x3f80, PagedKvCache.toBf16(1f) & 0xffff);
        assertEquals(0x3f80, PagedKvCache.toBf16(Float.intBitsToFloat(0x3f808000)) & 0xffff);   // tie, even below
        assertEquals(0x3f82, PagedKvCache.toBf16(Float.intBitsToFloat(0x3f818000)) & 0xffff);   // tie, even above
        assertEquals(0x3f81, PagedKvCache.toBf16(Float.intBitsToFloat(0x3f808001)) & 0xffff);   // above the tie
        assertEquals(0xbf80, PagedKvCache.toBf16(-1f) & 0xffff);
        assertEquals(0x7f80, PagedKvCache.toBf16(Float.POSITIVE_INFINITY) & 0xffff);
        SplittableRandom rnd = new SplittableRandom(3);
        for (int i = 0; i < 10_000; i++) {
            float f = (float) rnd.nextDouble(-100, 100);
            float r = Float.intBitsToFloat(PagedKvCache.toBf16(f) << 16);
            assertEquals(f, r, Math.abs(f) / 256, "bf16 of " + f);   // within half a bf16 ulp (2^-8 relative)
        }
    }

    private static void agreesWithReference(boolean bf16) {
        Case[] cases = {
            new Case(64, 16, 12, 12, 1, 100, false), new Case(64, 16, 4, 2, 33, 17, true), new Case(12, 16, 4, 2, 7, 40, false),
            new Case(16, 5, 3, 1, 13, 1, false), new Case(72, 8, 2, 2, 61, 9, true), new Case(8, 32, 5, 5, 70, 3, true),
        };
        SplittableRandom rnd = new SplittableRandom(17);
        for (Case c : cases) {
            Setup s = new Setup(c, rnd, bf16);
            float[] got = new float[s.out()], want = new float[s.out()];
            Attention.run(s.q, s.batch, s.cache, 0, c.heads, s.slopes, got);
            Attention.reference(s.q, s.batch, s.cache, 0, c.heads, s.slopes, want);
            for (int i = 0; i < got.length; i++) assertEquals(want[i], got[i], 2e-5f + 1e-4f * Math.abs(want[i]), c + (bf16 ? " bf16" : "") + " element " + i);
        }
    }

    /**
     * The head-major layout (the default) and the block-major one: each (block, kv head) range where its layout puts it, and
     * every output of a two-sequence prefill chunk and of a decode step (each sequence's last token alone in the batch) the
     * same bits from either, float32 and bfloat16, GQA, ALiBi, odd head dims and blocks.
     */
    @Test
    void bothKvLayoutsGiveTheSameBits() {
        Case[] cases = {
            new Case(64, 16, 12, 12, 1, 100, false), new Case(64, 16, 4, 2, 37, 50, true), new Case(128, 32, 2, 1, 40, 19, false),
            new Case(12, 5, 3, 1, 13, 9, false),
        };
        for (boolean bf16 : new boolean[] {false, true}) {
            for (Case c : cases) {
                Setup head = new Setup(c, new SplittableRandom(29), bf16, true), block = new Setup(c, new SplittableRandom(29), bf16, false);
                long part = (long) c.blockSize * c.headDim * (bf16 ? 2 : 4);
                assertEquals(part, head.cache.offset(1, 0, 0) - head.cache.offset(0, 0, 0), c + ": head-major, a head's next block adjacent");
                assertEquals(part * c.kvHeads, block.cache.offset(1, 0, 0) - block.cache.offset(0, 0, 0), c + ": block-major");
                float[] a = new float[head.out()], b = new float[block.out()];
                Attention.run(head.q, head.batch, head.cache, 0, c.heads, head.slopes, a);
                Attention.run(block.q, block.batch, block.cache, 0, c.heads, block.slopes, b);
                assertBitsEqual(a, b, c + (bf16 ? " bf16" : "") + " prefill chunk");
                float[] da = new float[2 * c.heads * c.headDim], db = new float[da.length];
                Attention.run(head.q, lastTokens(head, c), head.cache, 0, c.heads, head.slopes, da);
                Attention.run(block.q, lastTokens(block, c), block.cache, 0, c.heads, block.slopes, db);
                assertBitsEqual(da, db, c + (bf16 ? " bf16" : "") + " decode step");
            }
        }
    }

    /**
     * {@link Attention#softmaxPasses} on gives the bits of off: a two-sequence prefill chunk (its four-query tiles' pairs in
     * passes, of one sequence at different positions) and a decode batch of five queries (single queries: the one-pass loop
     * either way); float32 and bfloat16, GQA, ALiBi, head dims 64, 128 and 12 (block 5: the scalar paths).
     */
    @Test
    void softmaxPassesGiveTheSameBits() {
        Case[] cases = {
            new Case(64, 16, 12, 12, 1, 100, false), new Case(64, 16, 4, 2, 37, 50, true), new Case(128, 32, 2, 1, 40, 19, false),
            new Case(12, 5, 3, 1, 13, 9, false), new Case(64, 16, 4, 4, 70, 33, true),
        };
        boolean savedPasses = Attention.softmaxPasses;
        try {
            for (boolean bf16 : new boolean[] {false, true}) {
                for (Case c : cases) {
                    Setup s = new Setup(c, new SplittableRandom(37), bf16);
                    StepShape sh = s.batch.shape();
                    ForwardBatch d = new ForwardBatch(new StepShape(sh.numBlocks(), sh.blockSize(), sh.maxTokens(), 5, sh.maxBlocksPerSeq(), 5));
                    int[][] at = {{0, c.len0 - 1}, {1, c.len1 - 1}, {0, c.len0 / 2}, {0, c.len0 / 2}, {1, 0}};
                    for (int[] a : at) {
                        d.beginSequence(s.tables[a[0]], s.tables[a[0]].length);
                        d.addToken(0, a[1]);
                    }
                    for (ForwardBatch b : new ForwardBatch[] {s.batch, d}) {
                        String what = c + (bf16 ? " bf16" : " fp32") + (b == d ? " decode batch" : " prefill chunk");
                        Attention.softmaxPasses = false;
                        float[] want = new float[b.numTokens() * c.heads * c.headDim];
                        Attention.run(s.q, b, s.cache, 0, c.heads, s.slopes, want);
                        Attention.softmaxPasses = true;
                        float[] got = new float[want.length];
                        Attention.run(s.q, b, s.cache, 0, c.heads, s.slopes, got);
                        assertBitsEqual(want, got, what + " passes");
                    }
                }
            }
        } finally {
            Attention.softmaxPasses = savedPasses;
        }
    }

    /** A decode-shaped batch: each sequence's last prompt token, one token a sequence (queries read from the chunk's rows 0 and 1). */
    private static ForwardBatch lastTokens(Setup s, Case c) {
        ForwardBatch d = new ForwardBatch(s.batch.shape());
        d.beginSequence(s.tables[0], s.tables[0].length);
        d.addToken(0, c.len0 - 1);
        d.beginSequence(s.tables[1], s.tables[1].length);
        d.addToken(0, c.len1 - 1);
        return d;
    }

    private static void assertBitsEqual(float[] want, float[] got, String what) {
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToRawIntBits(want[i]) != Float.floatToRawIntBits(got[i])) {
                throw new AssertionError(what + ": element " + i + " differs: " + want[i] + " vs " + got[i]);
            }
        }
    }

    @Test
    void aQueryHasTheSameBitsInAChunkAndAlone() {
        sameBitsInAChunkAndAlone(false);
        sameBitsInAChunkAndAlone(true);
    }

    /**
     * Every token of a two-sequence chunk against the same query alone: the chunk's queries go through the
     * {@link Attention#QUERIES}-query tiles (shared K/V loads; tiles stop at a sequence's end and at the parallel
     * ranges' edges), alone through the one-query path. Shapes: synthetic:100m's head dim with GQA, ALiBi, a head dim
     * of two 4-vector groups (128), and odd ones (12 and block 5: the scalar paths).
     */
    private static void sameBitsInAChunkAndAlone(boolean bf16) {
        Case[] cases = {
            new Case(64, 16, 4, 2, 37, 50, false), new Case(64, 16, 4, 2, 37, 50, true), new Case(128, 32, 2, 1, 40, 19, false),
            new Case(12, 5, 3, 1, 13, 9, false),
        };
        for (Case c : cases) {
            Setup s = new Setup(c, new SplittableRandom(23), bf16);
            float[] all = new float[s.out()];
            Attention.run(s.q, s.batch, s.cache, 0, c.heads, s.slopes, all);
            int qDim = c.heads * c.headDim;
            for (int t = 0; t < s.batch.numTokens(); t++) {
                ForwardBatch one = new ForwardBatch(s.batch.shape());
                int seq = s.batch.seqOfToken(t);
                one.beginSequence(s.tables[seq], s.tables[seq].length);
                one.addToken(0, s.batch.position(t));
                float[] q1 = java.util.Arrays.copyOfRange(s.q, t * qDim, (t + 1) * qDim), o1 = new float[qDim];
                Attention.run(q1, one, s.cache, 0, c.heads, s.slopes, o1);
                for (int i = 0; i < qDim; i++) {
                    assertEquals(Float.floatToRawIntBits(all[t * qDim + i]), Float.floatToRawIntBits(o1[i]),
                            c + (bf16 ? " bf16" : "") + " token " + t + " element " + i);
                }
            }
        }
    }

    /** The same call gives the same bits interpreted and after C2 has compiled it (see TierIndependenceTest). */
    @Test
    void repeatsBitForBitAcrossCompilationTiers() {
        Case c = new Case(16, 16, 2, 1, 21, 3, true);
        Setup s = new Setup(c, new SplittableRandom(29), false);
        float[] first = new float[s.out()], again = new float[s.out()];
        Attention.run(s.q, s.batch, s.cache, 0, c.heads, s.slopes, first);
        for (int round = 0; round < 20_000; round++) {
            Attention.run(s.q, s.batch, s.cache, 0, c.heads, s.slopes, again);
            for (int i = 0; i < again.length; i++) {
                if (Float.floatToRawIntBits(first[i]) != Float.floatToRawIntBits(again[i])) assertEquals(first[i], again[i], "round " + round + " element " + i);
            }
        }
    }

    /** A cache holding both sequences' K/V (written through {@link PagedKvCache#write}) and their queries. */
    private static final class Setup {
        final PagedKvCache cache;
        final ForwardBatch batch;
        final float[] q, slopes;
        final int[][] tables;

        Setup(Case c, SplittableRandom rnd, boolean bf16) { this(c, rnd, bf16, PagedKvCache.HEAD_MAJOR); }

        Setup(Case c, SplittableRandom rnd, boolean bf16, boolean headMajor) {
            int b0 = (c.len0 + c.blockSize - 1) / c.blockSize, b1 = (c.len1 + c.blockSize - 1) / c.blockSize;
            int blocks = b0 + b1 + 3, tokens = c.len0 + c.len1;
            cache = new PagedKvCache(1, blocks, c.blockSize, c.kvHeads, c.headDim, bf16, headMajor);
            // physical blocks in a scrambled order, so block tables matter
            int[] perm = new int[blocks];
            for (int i = 0; i < blocks; i++) perm[i] = (i * 7 + 3) % blocks;
            if (gcd(7, blocks) != 1) for (int i = 0; i < blocks; i++) perm[i] = blocks - 1 - i;
            tables = new int[][] {java.util.Arrays.copyOfRange(perm, 0, b0), java.util.Arrays.copyOfRange(perm, b0, b0 + b1)};
            int maxBlocks = Math.max(b0, b1);
            batch = new ForwardBatch(new StepShape(blocks, c.blockSize, tokens, 2, maxBlocks, 2));
            batch.beginSequence(tables[0], b0);
            for (int i = 0; i < c.len0; i++) batch.addToken(0, i);
            batch.beginSequence(tables[1], b1);
            for (int i = 0; i < c.len1; i++) batch.addToken(0, i);
            int kvDim = c.kvHeads * c.headDim;
            float[] k = random(rnd, tokens * kvDim), v = random(rnd, tokens * kvDim);
            for (int t = 0; t < tokens; t++) {
                int slot = batch.slot(t);
                cache.write(0, k, v, t, slot / c.blockSize, slot % c.blockSize);
            }
            q = random(rnd, tokens * c.heads * c.headDim);
            for (int i = 0; i < q.length; i++) q[i] *= 3;   // peaked softmaxes too
            slopes = c.alibi ? Alibi.slopes(c.heads) : null;
        }

        int out() { return q.length; }

        private static float[] random(SplittableRandom rnd, int n) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
            return a;
        }

        private static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }
    }
}
