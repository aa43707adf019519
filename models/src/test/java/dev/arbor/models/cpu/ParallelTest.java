package dev.arbor.models.cpu;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The forward pass's parallel loop: every index exactly once, errors reach the caller, any caller may use it. */
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

    @Test
    void aFailingRangeReachesTheCallerAndTheLoopStillWorks() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Parallel.forRange(64, 1, (from, to) -> {
            if (from == 0) throw new IllegalArgumentException("range 0 failed");
        }));
        assertEquals("range 0 failed", e.getMessage());
        coversEachIndexOnce(1000, 1);
    }

    @Test
    void nestedAndConcurrentCallersGetCorrectResults() throws Exception {
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                fs.add(pool.submit(() -> {
                    for (int rep = 0; rep < 200; rep++) {
                        AtomicIntegerArray seen = new AtomicIntegerArray(50 * 20);
                        Parallel.forRange(50, 1, (from, to) -> {
                            for (int i = from; i < to; i++) {
                                int row = i;
                                Parallel.forRange(20, 1, (a, b) -> { for (int j = a; j < b; j++) seen.incrementAndGet(row * 20 + j); });
                            }
                        });
                        for (int i = 0; i < seen.length(); i++) assertEquals(1, seen.get(i), "cell " + i);
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
        }
    }
}
