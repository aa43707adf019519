package dev.arbor.engine.cache;

import dev.arbor.engine.cache.PrefixScheduling.PlanRequest;
import dev.arbor.engine.cache.PrefixScheduling.PrefixGroup;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class PrefixSchedulingTest {

    @Test
    void longestPrefixFirstIsStable() {
        Map<String, Integer> cached = Map.of("a", 0, "b", 32, "c", 16, "d", 32, "e", 0);
        List<String> order = PrefixScheduling.longestPrefixFirst(List.of("a", "b", "c", "d", "e"), cached::get, 10);
        assertEquals(List.of("b", "d", "c", "a", "e"), order);
    }

    @Test
    void longQueueFallsBackToFcfs() {
        Map<String, Integer> cached = Map.of("a", 0, "b", 32, "c", 16);
        List<String> waiting = List.of("a", "b", "c");
        assertEquals(waiting, PrefixScheduling.longestPrefixFirst(waiting, cached::get, 2));
        assertEquals(List.of("b", "c", "a"), PrefixScheduling.longestPrefixFirst(waiting, cached::get, 3));
    }

    private static int[] prompt(int prefixToken, int prefixLen, int total) {
        int[] t = new int[total];
        for (int i = 0; i < total; i++) t[i] = i < prefixLen ? prefixToken : 1000 + i;
        return t;
    }

    @Test
    void groupsByPrefixLargestFirstInWaves() {
        int bs = 4;
        // prefix A (8 tokens = 2 blocks) x3, prefix B (8 tokens) x1, no prefix x1, prefix C x2
        List<PlanRequest> reqs = List.of(
                new PlanRequest(prompt(7, 8, 12), 8, 4),    // 0: A, 16 tokens -> 4 blocks, 2 own
                new PlanRequest(prompt(8, 8, 12), 8, 4),    // 1: B
                new PlanRequest(prompt(7, 8, 12), 8, 4),    // 2: A
                new PlanRequest(prompt(9, 0, 6), 0, 2),     // 3: none, 8 tokens -> 2 blocks
                new PlanRequest(prompt(7, 8, 12), 8, 4),    // 4: A
                new PlanRequest(prompt(5, 8, 12), 8, 4),    // 5: C
                new PlanRequest(prompt(5, 8, 12), 8, 4));   // 6: C
        List<List<PrefixGroup>> waves = PrefixScheduling.planPrefixGroups(reqs, bs, 12);
        // sizes: A=3 (2 + 3*2 = 8 blocks), C=2 (2 + 2*2 = 6), B=1 (4), none=1 (2)
        // wave 1 (12 free): A (8), C does not fit (6 > 4), B (4) fits exactly, none does not
        assertEquals(2, waves.size());
        List<PrefixGroup> w1 = waves.get(0);
        assertEquals(2, w1.size());
        assertArrayEquals(new int[] {0, 2, 4}, w1.get(0).requests());
        assertEquals(8, w1.get(0).blocks());
        assertEquals(2, w1.get(0).prefixBlocks());
        assertArrayEquals(prompt(7, 8, 8), w1.get(0).prefixTokens());
        assertArrayEquals(new int[] {1}, w1.get(1).requests());
        List<PrefixGroup> w2 = waves.get(1);
        assertArrayEquals(new int[] {5, 6}, w2.get(0).requests());
        assertEquals(6, w2.get(0).blocks());
        assertArrayEquals(new int[] {3}, w2.get(1).requests());
        assertEquals(0, w2.get(1).prefixTokens().length);
    }

    @Test
    void oversizedGroupGetsAWaveOfItsOwn() {
        List<PlanRequest> reqs = List.of(
                new PlanRequest(prompt(7, 4, 40), 4, 0),
                new PlanRequest(prompt(7, 4, 40), 4, 0),
                new PlanRequest(prompt(8, 4, 8), 4, 0));
        List<List<PrefixGroup>> waves = PrefixScheduling.planPrefixGroups(reqs, 4, 5);
        assertEquals(2, waves.size());
        assertArrayEquals(new int[] {0, 1}, waves.get(0).getFirst().requests());
        assertEquals(1, waves.get(0).size());
        assertArrayEquals(new int[] {2}, waves.get(1).getFirst().requests());
    }
}
