package dev.arbor.engine.core;

import dev.arbor.engine.Logprob;
import dev.arbor.engine.SamplingParams;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class SamplerTest {
    private final Sampler sampler = new Sampler(id -> "t" + id, new int[] {9});

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeLogits() {
        float[] x = {2f, -2f, 1f, 0.5f};
        int[] tokens = {0, 1, 0};                     // prompt [0, 1], output [0]
        SamplingParams p = SamplingParams.builder().repetitionPenalty(2.0).build();
        Sampler.applyPenalties(x, tokens, 3, 2, p);
        assertArrayEquals(new float[] {1f, -4f, 1f, 0.5f}, x);
    }

    @Test
    void frequencyAndPresencePenaltiesCountOnlyOutputTokens() {
        float[] x = {1f, 1f, 1f, 1f};
        int[] tokens = {3, 0, 2, 2, 2};               // prompt [3], output [0, 2, 2, 2]
        SamplingParams p = SamplingParams.builder().frequencyPenalty(0.5).presencePenalty(0.25).build();
        Sampler.applyPenalties(x, tokens, 5, 1, p);
        // token 0: 1 - (0.5*1 + 0.25) = 0.25; token 2: 1 - (0.5*3 + 0.25) = -0.75; token 3 (prompt only) untouched
        assertArrayEquals(new float[] {0.25f, 1f, -0.75f, 1f}, x, 1e-6f);
    }

    @Test
    void greedyTakesTheArgmaxAfterPenalties() {
        float[] logits = {3f, 2.9f, 0f};
        int[] tokens = {5, 0};                        // token 0 already generated
        SamplingParams p = SamplingParams.builder().temperature(0).presencePenalty(0.5).build();
        assertEquals(1, sampler.sample(logits, tokens, 2, 1, p, new SplittableRandom(1)));
    }

    @Test
    void seededSamplingIsReproducibleAndUnseededVaries() {
        float[] logits = new float[50];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) Math.sin(i);
        SamplingParams p = SamplingParams.builder().temperature(1.0).build();
        int[] a = new int[40], b = new int[40];
        SplittableRandom ra = new SplittableRandom(42), rb = new SplittableRandom(42);
        for (int i = 0; i < 40; i++) {
            a[i] = sampler.sample(logits, new int[] {1}, 1, 1, p, ra);
            b[i] = sampler.sample(logits, new int[] {1}, 1, 1, p, rb);
        }
        assertArrayEquals(a, b);
        Set<Integer> distinct = new HashSet<>();
        for (int v : a) distinct.add(v);
        assertTrue(distinct.size() > 5, "temperature 1 over 50 tokens should vary: " + distinct);
    }

    @Test
    void topKTopPAndMinPRestrictTheSupport() {
        float[] logits = {5f, 4f, 3f, 2f, 1f, 0f};
        SplittableRandom r = new SplittableRandom(7);
        Set<Integer> k2 = new HashSet<>(), p = new HashSet<>(), m = new HashSet<>();
        for (int i = 0; i < 2000; i++) {
            k2.add(sampler.sample(logits, new int[] {0}, 1, 1, SamplingParams.builder().topK(2).build(), r));
            // softmax of {5,4,3,...}: 0.636, 0.234, 0.086, ...; top_p 0.8 keeps the first two
            p.add(sampler.sample(logits, new int[] {0}, 1, 1, SamplingParams.builder().topP(0.8).build(), r));
            // min_p 0.1 keeps tokens with p >= 0.0636: the first three
            m.add(sampler.sample(logits, new int[] {0}, 1, 1, SamplingParams.builder().minP(0.1).build(), r));
        }
        assertEquals(Set.of(0, 1), k2);
        assertEquals(Set.of(0, 1), p);
        assertEquals(Set.of(0, 1, 2), m);
    }

    @Test
    void minTokensMasksEos() {
        float[] logits = new float[12];
        logits[9] = 10f;                              // EOS is by far the most likely
        SamplingParams p = SamplingParams.builder().temperature(0).minTokens(3).build();
        assertNotEquals(9, sampler.sample(logits, new int[] {1, 2}, 2, 1, p, new SplittableRandom(0)));
        assertEquals(9, sampler.sample(logits, new int[] {1, 2, 3, 4}, 4, 1, p, new SplittableRandom(0)));
    }

    @Test
    void logprobsComeFromRawLogitsWithRankAndTopK() {
        float[] logits = {0f, 2f, 1f};
        Logprob lp = sampler.logprob(logits, 2, 2);
        double lse = Math.log(Math.exp(0) + Math.exp(2) + Math.exp(1));
        assertEquals(1 - lse, lp.logprob(), 1e-5);
        assertEquals(2, lp.rank());
        assertEquals(1, lp.top().get(0).tokenId());
        assertEquals(2, lp.top().get(1).tokenId());
        assertEquals("t1", lp.top().get(0).token());
    }

    @Test
    void invalidValuesAreRejectedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().temperature(-1).build().validate(100))
                .getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().topP(0).build().validate(100))
                .getMessage().contains("top_p"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().n(0).build().validate(100))
                .getMessage().contains("'n'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().stopTokenIds(java.util.List.of(100)).build().validate(100))
                .getMessage().contains("stop_token_ids"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().logprobs(21).build().validate(100))
                .getMessage().contains("logprobs"));
    }

    @Test
    void descendingOrderMatchesASortByProbabilityWithTiesByLowerId() {
        java.util.Random r = new java.util.Random(3);
        for (int n : new int[] {1, 7, 13, 255, 1000}) {
            float[] p = new float[n];
            for (int i = 0; i < n; i++) p[i] = r.nextInt(10) / 10f;      // many ties, zeros included
            Integer[] expected = new Integer[n];
            for (int i = 0; i < n; i++) expected[i] = i;
            java.util.Arrays.sort(expected, (a, b) -> p[a] != p[b] ? Float.compare(p[b], p[a]) : Integer.compare(a, b));
            assertArrayEquals(java.util.Arrays.stream(expected).mapToInt(Integer::intValue).toArray(), Sampler.byDescendingProbability(p));
        }
    }
}
