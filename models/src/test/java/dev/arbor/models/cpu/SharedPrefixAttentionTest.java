package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arbor.models.ForwardBatch;
import dev.arbor.models.StepShape;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Decode of sequences whose block tables begin with the same physical blocks (a shared prompt prefix, as the prefix
 * trie hands out): every query's output in the batch, where {@link Attention#groupedDecode} tiles it with its neighbours
 * and reads the shared blocks once for them (on any shared block: {@link Attention#groupedDecodeMinShare} 0), has the bits of the same query decoded alone (the one-query path), with
 * the switch on and off; and it agrees with the double-precision reference. Sizes: groups of 1, 3 and 16 sequences; a
 * shared prefix of 15, 16, 17 and 512 tokens (the whole blocks shared, a partial block's keys copied into each
 * sequence's own block, as the trie leaves them); own suffixes of different lengths; grouped-query heads, ALiBi; the
 * head dim and block of synthetic:100m (64, 16), a head dim of two 4-vector groups (128), odd ones (12, block 5).
 */
class SharedPrefixAttentionTest {
    private record Case(int headDim, int blockSize, int heads, int kvHeads, int seqs, int prefix, boolean alibi) {}

    private static final Case[] CASES = {
        new Case(64, 16, 4, 2, 16, 512, false), new Case(64, 16, 4, 2, 3, 17, false), new Case(64, 16, 4, 2, 16, 16, true),
        new Case(64, 16, 12, 12, 16, 15, false), new Case(64, 16, 2, 1, 1, 512, false), new Case(128, 32, 4, 1, 5, 100, false),
        new Case(12, 5, 3, 1, 7, 17, true), new Case(64, 16, 4, 4, 9, 48, false),
    };

    @Test
    void float32CacheSameBitsGroupedAndAlone() { sameBits(false); }

    @Test
    void bf16CacheSameBitsGroupedAndAlone() { sameBits(true); }

    private static void sameBits(boolean bf16) {
        boolean saved = Attention.groupedDecode;
        int savedShare = Attention.groupedDecodeMinShare;
        Attention.groupedDecodeMinShare = 0;   // the tile on any shared block, however short the prefix
        try {
            for (Case c : CASES) {
                Setup s = new Setup(c, new SplittableRandom(31 + c.seqs * 7 + c.prefix), bf16);
                int qDim = c.heads * c.headDim;
                float[] want = new float[s.q.length];
                Attention.reference(s.q, s.decode, s.cache, 0, c.heads, s.slopes, want);
                for (boolean grouped : new boolean[] {true, false}) {
                    Attention.groupedDecode = grouped;
                    float[] all = new float[s.q.length];
                    Attention.run(s.q, s.decode, s.cache, 0, c.heads, s.slopes, all);
                    String what = c + (bf16 ? " bf16" : " fp32") + (grouped ? " grouped" : " ungrouped");
                    for (int i = 0; i < all.length; i++) assertEquals(want[i], all[i], 2e-5f + 1e-4f * Math.abs(want[i]), what + " element " + i);
                    for (int t = 0; t < c.seqs; t++) {
                        ForwardBatch one = new ForwardBatch(s.decode.shape());
                        one.beginSequence(s.tables[t], s.tables[t].length);
                        one.addToken(0, s.decode.position(t));
                        float[] q1 = Arrays.copyOfRange(s.q, t * qDim, (t + 1) * qDim), o1 = new float[qDim];
                        Attention.run(q1, one, s.cache, 0, c.heads, s.slopes, o1);
                        for (int i = 0; i < qDim; i++) {
                            assertEquals(Float.floatToRawIntBits(o1[i]), Float.floatToRawIntBits(all[t * qDim + i]), what + " sequence " + t + " element " + i);
                        }
                    }
                }
            }
        } finally {
            Attention.groupedDecode = saved;
            Attention.groupedDecodeMinShare = savedShare;
        }
    }

    /**
     * {@link Attention#softmaxPasses} on gives the bits of off for every query of each case's decode batch, grouped (the
     * shared tiles' pairs of two sequences in passes; a group's last n mod 4 alone) and ungrouped, float32 and bfloat16 K/V.
     */
    @Test
    void softmaxPassesGiveTheSameBits() {
        boolean saved = Attention.groupedDecode, savedPasses = Attention.softmaxPasses;
        int savedShare = Attention.groupedDecodeMinShare;
        Attention.groupedDecodeMinShare = 0;
        try {
            for (boolean bf16 : new boolean[] {false, true}) {
                for (Case c : CASES) {
                    Setup s = new Setup(c, new SplittableRandom(41 + c.seqs * 5 + c.prefix), bf16);
                    for (boolean grouped : new boolean[] {true, false}) {
                        Attention.groupedDecode = grouped;
                        Attention.softmaxPasses = false;
                        float[] want = new float[s.q.length];
                        Attention.run(s.q, s.decode, s.cache, 0, c.heads, s.slopes, want);
                        Attention.softmaxPasses = true;
                        float[] got = new float[s.q.length];
                        Attention.run(s.q, s.decode, s.cache, 0, c.heads, s.slopes, got);
                        String what = c + (bf16 ? " bf16" : " fp32") + (grouped ? " grouped" : " ungrouped") + " passes";
                        for (int i = 0; i < got.length; i++) {
                            assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), what + " element " + i);
                        }
                    }
                }
            }
        } finally {
            Attention.groupedDecode = saved;
            Attention.groupedDecodeMinShare = savedShare;
            Attention.softmaxPasses = savedPasses;
        }
    }

    /**
     * {@code seqs} sequences of {@code prefix} shared tokens then {@code 2·blockSize + 1 + 3s mod 11} own tokens (sequence s): the prefix's
     * whole blocks are the same physical blocks in every table, the rest (a partial prefix block's copy and the own
     * tokens) in each sequence's own blocks, all in a scrambled order; the decode batch holds each sequence's last token.
     */
    private static final class Setup {
        final PagedKvCache cache;
        final ForwardBatch decode;
        final float[] q, slopes;
        final int[][] tables;

        Setup(Case c, SplittableRandom rnd, boolean bf16) {
            int bs = c.blockSize, sharedBlocks = c.prefix / bs, kvDim = c.kvHeads * c.headDim;
            int[] len = new int[c.seqs];
            int maxBlocks = 0, blocks = sharedBlocks;
            for (int s = 0; s < c.seqs; s++) {
                len[s] = c.prefix + 2 * bs + 1 + (3 * s) % 11;   // own blocks both of a pair read in full, then a partial one
                int nb = (len[s] + bs - 1) / bs;
                maxBlocks = Math.max(maxBlocks, nb);
                blocks += nb - sharedBlocks;
            }
            blocks += 3;
            cache = new PagedKvCache(1, blocks, bs, c.kvHeads, c.headDim, bf16);
            int[] perm = new int[blocks];
            for (int i = 0; i < blocks; i++) perm[i] = (int) ((i * 7L + 3) % blocks);
            if (gcd(7, blocks) != 1) for (int i = 0; i < blocks; i++) perm[i] = blocks - 1 - i;
            tables = new int[c.seqs][];
            int next = sharedBlocks;
            float[] prefixK = random(rnd, c.prefix * kvDim), prefixV = random(rnd, c.prefix * kvDim);
            for (int s = 0; s < c.seqs; s++) {
                int nb = (len[s] + bs - 1) / bs;
                tables[s] = new int[nb];
                for (int b = 0; b < nb; b++) tables[s][b] = b < sharedBlocks ? perm[b] : perm[next++];
                // the prefix's keys (written again into the shared blocks: the same values), then the sequence's own
                float[] k = Arrays.copyOf(prefixK, len[s] * kvDim), v = Arrays.copyOf(prefixV, len[s] * kvDim);
                for (int i = c.prefix * kvDim; i < k.length; i++) {
                    k[i] = (float) rnd.nextDouble(-1, 1);
                    v[i] = (float) rnd.nextDouble(-1, 1);
                }
                for (int t = 0; t < len[s]; t++) cache.write(0, k, v, t, tables[s][t / bs], t % bs);
            }
            decode = new ForwardBatch(new StepShape(blocks, bs, c.seqs, c.seqs, maxBlocks, c.seqs));
            for (int s = 0; s < c.seqs; s++) {
                decode.beginSequence(tables[s], tables[s].length);
                decode.addToken(0, len[s] - 1);
            }
            q = random(rnd, c.seqs * c.heads * c.headDim);
            for (int i = 0; i < q.length; i++) q[i] *= 3;   // peaked softmaxes too
            slopes = c.alibi ? Alibi.slopes(c.heads) : null;
        }

        private static float[] random(SplittableRandom rnd, int n) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
            return a;
        }

        private static int gcd(int a, int b) { return b == 0 ? a : gcd(b, a % b); }
    }
}
