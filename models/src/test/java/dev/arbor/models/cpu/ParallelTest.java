package dev.arbor.models.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The forward pass's parallel loop covers every index exactly once (the team itself: accel WorkTeamTest). */
class ParallelTest {
    private static void coversEachIndexOnce(int n, int grain) {
        AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(n, 1));
        Parallel.forRange(n, grain, (from, to) -> {
            for (int i = from; i < to; i++) seen.incrementAndGet(i);
        });
        for (int i = 0; i < n; i++) assertEquals(1, seen.get(i), "index " + i + " of " + n + ", grain " + grain);
    }

    @Test
    void everyIndexExactlyOnceOverManyShapes() {
        for (int n : new int[] {0, 1, 2, 3, 7, 8, 9, 100, 1001, 65_537}) {
            for (int grain : new int[] {1, 2, 5, 64, 1 << 20}) {
                for (int rep = 0; rep < 20; rep++) coversEachIndexOnce(n, grain);
            }
        }
    }
}
