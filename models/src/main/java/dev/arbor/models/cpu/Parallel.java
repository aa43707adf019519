package dev.arbor.models.cpu;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The CPU forward pass's thread pool: one daemon worker per core. Work is cut into a few
 * contiguous ranges per worker so each range can allocate its scratch once.
 */
final class Parallel {
    private Parallel() {}

    private static final int THREADS = Math.max(1, Integer.getInteger("arbor.cpu.threads", Runtime.getRuntime().availableProcessors()));
    private static final AtomicInteger COUNTER = new AtomicInteger();
    private static final ForkJoinPool POOL = new ForkJoinPool(THREADS, pool -> {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        t.setName("arbor-cpu-" + COUNTER.getAndIncrement());
        t.setDaemon(true);
        return t;
    }, null, false);

    /** A body over the index range {@code [from, to)}. */
    interface Range {
        void run(int from, int to);
    }

    static int threads() { return THREADS; }

    /** Runs {@code body} over {@code [0, n)} split into ranges of at least {@code grain} indices. */
    static void forRange(int n, int grain, Range body) {
        int chunks = Math.min((n + grain - 1) / Math.max(1, grain), THREADS * 4);
        if (chunks <= 1 || THREADS == 1) {
            if (n > 0) body.run(0, n);
            return;
        }
        List<ForkJoinTask<?>> tasks = new ArrayList<>(chunks);
        for (int c = 0; c < chunks; c++) {
            int from = (int) ((long) n * c / chunks), to = (int) ((long) n * (c + 1) / chunks);
            tasks.add(ForkJoinTask.adapt(() -> body.run(from, to)));
        }
        if (ForkJoinTask.inForkJoinPool() && ForkJoinTask.getPool() == POOL) {
            ForkJoinTask.invokeAll(tasks);
        } else {
            POOL.invoke(ForkJoinTask.adapt(() -> ForkJoinTask.invokeAll(tasks)));
        }
    }
}
