package dev.arbor.accel.cpu;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shared CPU team: every chunk exactly once, failures reach the caller, nested and concurrent callers work. */
class WorkTeamTest {
    private static final WorkTeam TEAM = WorkTeam.shared();

    private static void eachChunkOnce(int chunks) {
        AtomicIntegerArray seen = new AtomicIntegerArray(Math.max(chunks, 1));
        TEAM.run(chunks, seen::incrementAndGet);
        for (int c = 0; c < chunks; c++) assertEquals(1, seen.get(c), "chunk " + c + " of " + chunks);
    }

    /**
     * Back-to-back calls that re-arm the team's one reused Job while a worker may still be between its last chunk and
     * its next claim: with a plain counter such a late claim ran a chunk of the next call with the old call's
     * bookkeeping, so a call could return before all its chunks had run (seen as a chunked prefill differing from
     * one chunk under load). Every call must see each of its chunks run once, and all of them before it returns.
     */
    @Test
    void reusedJobNeverLetsALateWorkerIntoTheNextCall() {
        int[] sizes = {2, 16, 3, 8, 64, 5, 9, 4};
        for (int rep = 0; rep < 20_000; rep++) {
            int chunks = sizes[rep % sizes.length];
            AtomicIntegerArray seen = new AtomicIntegerArray(chunks);
            TEAM.run(chunks, c -> {
                if ((c & 3) == 0) Thread.onSpinWait();
                seen.incrementAndGet(c);
            });
            for (int c = 0; c < chunks; c++) assertEquals(1, seen.get(c), "call " + rep + ": chunk " + c + " of " + chunks);
        }
    }

    @Test
    void everyChunkRunsExactlyOnce() {
        for (int chunks : new int[] {0, 1, 2, 3, 8, 9, 64, 1000}) {
            for (int rep = 0; rep < 200; rep++) eachChunkOnce(chunks);
        }
    }

    @Test
    void aFailingChunkReachesTheCallerAndTheTeamStillWorks() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TEAM.run(64, c -> {
            if (c == 5) throw new IllegalArgumentException("chunk 5 failed");
        }));
        assertEquals("chunk 5 failed", e.getMessage());
        AssertionError err = assertThrows(AssertionError.class, () -> TEAM.run(8, c -> { throw new AssertionError("boom " + c); }));
        assertTrue(err.getMessage().startsWith("boom"));
        eachChunkOnce(1000);
    }

    @Test
    void nestedAndConcurrentCallersGetCorrectResults() throws Exception {
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                fs.add(pool.submit(() -> {
                    for (int rep = 0; rep < 200; rep++) {
                        AtomicIntegerArray seen = new AtomicIntegerArray(50 * 20);
                        TEAM.run(50, row -> TEAM.run(20, col -> seen.incrementAndGet(row * 20 + col)));
                        for (int i = 0; i < seen.length(); i++) assertEquals(1, seen.get(i), "cell " + i);
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
        }
    }
}
