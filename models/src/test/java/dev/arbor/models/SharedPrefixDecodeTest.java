package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend's batch-invariant decode of requests sharing a prompt prefix: sixteen sequences forked from one
 * prefilled prompt (their block tables begin with the same physical blocks, as the prefix trie shares them), each with
 * its own tokens, decode one token together, where the CPU attention tiles them four at a time and reads the shared
 * blocks once for a tile (cpu {@code Attention.groupedDecode}, on by default); every sequence's logits have the bits of
 * the same decode step run with that sequence alone. synthetic:tiny (grouped-query heads, head dim 16) and
 * synthetic:100m (head dim 64, 32 shared blocks = 512 tokens), float32 and bf16 KV.
 */
class SharedPrefixDecodeTest {
    @Test
    void tinyLogitsSameBitsTogetherAndAlone() {
        sameBits("synthetic:tiny", "fp32", 5);
        sameBits("synthetic:tiny", "bf16", 3);
    }

    @Test
    void hundredMLogitsSameBitsTogetherAndAlone() {
        sameBits("synthetic:100m", "bf16", 32);
        sameBits("synthetic:100m", "fp32", 7);
    }

    private static void sameBits(String spec, String kv, int sharedBlocks) {
        int seqs = 16;
        try (CausalLM m = ModelLoader.load(spec, new BackendOptions("cpu", kv, "auto", true)); PagedRunner r = new PagedRunner(m, 1024, 16, seqs)) {
            int vocab = m.config().vocabSize();
            PagedRunner.Sequence parent = r.newSequence();
            int[] prompt = new int[sharedBlocks * 16 + 5];
            for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % vocab;
            r.step(List.of(parent), List.of(prompt), false);
            List<PagedRunner.Sequence> kids = new ArrayList<>();
            List<int[]> own = new ArrayList<>(), next = new ArrayList<>();
            for (int s = 0; s < seqs; s++) {
                kids.add(r.fork(parent, sharedBlocks));
                int[] t = new int[1 + (5 * s) % 23];   // own tokens: 1 to 23, some kids past a whole own block
                for (int i = 0; i < t.length; i++) t[i] = (s * 101 + i * 13 + 5) % vocab;
                own.add(t);
                next.add(new int[] {(s * 7 + 1) % vocab});
            }
            r.step(kids, own, false);
            float[][] alone = new float[seqs][];
            for (int s = 0; s < seqs; s++) {   // each alone, on a copy of its table and length (the decode token's K/V: the same values)
                PagedRunner.Sequence copy = r.newSequence();
                copy.blocks.addAll(kids.get(s).blocks);
                copy.length = kids.get(s).length;
                alone[s] = r.step(List.of(copy), List.of(next.get(s)), false)[0];
            }
            float[][] together = r.step(kids, next, false);
            for (int s = 0; s < seqs; s++) {
                for (int v = 0; v < vocab; v++) {
                    assertEquals(Float.floatToRawIntBits(alone[s][v]), Float.floatToRawIntBits(together[s][v]),
                            spec + " KV " + kv + ": sequence " + s + " logit " + v + " alone " + alone[s][v] + ", together " + together[s][v]);
                }
            }
        }
    }
}
