package dev.arbor.models.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The CPU forward pass's parallel loop: a team of one daemon worker per extra core, which the caller
 * joins. A decode step makes ~100 short parallel calls (one per matmul and attention), so the
 * hand-off must cost microseconds, not the tens a fork-join pool spends waking parked threads:
 * the caller publishes a job and takes chunks itself; workers spin for a while after each job
 * before they park, and the caller unparks them. Work is cut into a few contiguous ranges per
 * thread so each range can allocate its scratch once.
 */
final class Parallel {
    private Parallel() {}

    private static final int THREADS = Math.max(1, Integer.getInteger("arbor.cpu.threads", Runtime.getRuntime().availableProcessors()));
    /** How long an idle worker spins for the next job before it parks (a step's calls come this close). */
    private static final long SPIN_NANOS = 200_000;

    /** A body over the index range {@code [from, to)}. */
    interface Range {
        void run(int from, int to);
    }

    static int threads() { return THREADS; }

    /** One parallel call: {@code chunks} contiguous ranges of {@code [0, n)}, taken by whoever comes first. */
    private static final class Job {
        final int n, chunks;
        final Range body;
        final AtomicInteger next = new AtomicInteger(), done = new AtomicInteger();
        volatile Throwable error;

        Job(int n, int chunks, Range body) {
            this.n = n;
            this.chunks = chunks;
            this.body = body;
        }

        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
                } catch (Throwable t) {
                    error = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    private static final ReentrantLock CALLER = new ReentrantLock();   // one job at a time
    private static volatile Job current;
    private static final Thread[] WORKERS = new Thread[THREADS - 1];

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            Thread t = new Thread(Parallel::workerLoop, "arbor-cpu-" + i);
            t.setDaemon(true);
            WORKERS[i] = t;
            t.start();
        }
    }

    private static void workerLoop() {
        Job last = null;
        long idleSince = System.nanoTime();
        while (true) {
            Job j = current;
            if (j != null && j != last) {
                j.work();
                last = j;
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park();   // the next job's caller unparks (a permit left by an earlier unpark just returns)
            }
        }
    }

    private static boolean isWorker() {
        for (Thread t : WORKERS) if (t == Thread.currentThread()) return true;
        return false;
    }

    /** Runs {@code body} over {@code [0, n)} split into ranges of at least {@code grain} indices. */
    static void forRange(int n, int grain, Range body) {
        int chunks = Math.min((n + grain - 1) / Math.max(1, grain), THREADS * 4);
        // Alone, nested in a worker, or while another thread holds the team: one range on this thread.
        if (chunks <= 1 || WORKERS.length == 0 || isWorker() || !CALLER.tryLock()) {
            if (n > 0) body.run(0, n);
            return;
        }
        try {
            Job j = new Job(n, chunks, body);
            current = j;
            for (Thread w : WORKERS) LockSupport.unpark(w);
            j.work();
            for (int spins = 0; j.done.get() < chunks; spins++) {
                if (spins < 10_000) Thread.onSpinWait();
                else Thread.yield();   // a worker was descheduled mid-chunk: let it run
            }
            current = null;
            if (j.error instanceof RuntimeException e) throw e;
            if (j.error instanceof Error e) throw e;
            if (j.error != null) throw new IllegalStateException(j.error);
        } finally {
            CALLER.unlock();
        }
    }
}
