package dev.arbor.accel.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Arbor's CPU threads: one daemon worker per extra core, which the caller joins. An engine step makes
 * hundreds of short parallel calls (kernel launches on the CPU executor, matmuls, attention), so the
 * hand-off must cost about a microsecond, not the tens a fork-join pool spends waking parked threads:
 * the caller publishes a job and takes chunks itself; workers spin for a while after each job before
 * they park, and the caller unparks them. {@code -Darbor.cpu.threads=N} sets the team size (default:
 * the available processors).
 */
public final class WorkTeam {
    /** How long an idle worker spins for the next job before it parks (a step's calls come this close). */
    private static final long SPIN_NANOS = 200_000;
    private static final WorkTeam SHARED = new WorkTeam(Math.max(1, Integer.getInteger("arbor.cpu.threads",
            Runtime.getRuntime().availableProcessors())));

    private final Thread[] workers;
    private final ReentrantLock caller = new ReentrantLock();   // one job at a time
    private volatile Job current;
    private long generations;   // calls made with the shared Job (guarded by caller)

    /**
     * One call: tasks {@code [0, chunks)}, each taken by whichever thread comes first. The team's parallel calls reuse
     * one Job ({@link #shared}), re-armed per call, so a call allocates nothing; workers tell calls apart by
     * {@link #generation}. Inline calls (nested, or while another thread's call runs) need no Job.
     */
    private static final class Job {
        int chunks;
        IntConsumer task;
        final AtomicInteger next = new AtomicInteger(Integer.MAX_VALUE), done = new AtomicInteger();
        volatile Throwable error;
        volatile long generation;

        Job arm(int chunks, IntConsumer task) {
            this.chunks = chunks;
            this.task = task;
            error = null;
            done.set(0);
            next.set(0);          // last: a late worker of the previous call may take chunks only once all is set
            return this;
        }

        void work() {
            int c;
            while ((c = next.getAndIncrement()) < chunks) {
                try {
                    if (error == null) task.accept(c);
                } catch (Throwable t) {
                    error = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    private final Job shared = new Job();

    private WorkTeam(int threads) {
        workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "arbor-cpu-" + i);
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    /** The JVM's team. */
    public static WorkTeam shared() { return SHARED; }

    /** Threads that run a job: the workers and the caller. */
    public int threads() { return workers.length + 1; }

    /**
     * Runs {@code task.accept(c)} for every c in {@code [0, chunks)} on the team and the calling
     * thread; returns when all are done and rethrows the first failure (the chunks not yet started
     * are skipped once one fails). Called from a worker (nested) or while another thread's job runs,
     * it runs the chunks on the calling thread alone.
     */
    public void run(int chunks, IntConsumer task) {
        if (chunks <= 0) return;
        if (chunks == 1 || workers.length == 0 || isWorker() || caller.isHeldByCurrentThread() || !caller.tryLock()) {
            for (int c = 0; c < chunks; c++) task.accept(c);   // inline: the first failure propagates, later chunks skipped
            return;
        }
        Job j = shared;
        Throwable error;
        try {
            j.arm(chunks, task);
            j.generation = ++generations;
            current = j;
            for (Thread w : workers) LockSupport.unpark(w);
            j.work();
            for (int spins = 0; j.done.get() < chunks; spins++) {
                if (spins < 10_000) Thread.onSpinWait();
                else Thread.yield();   // a worker was descheduled mid-chunk: let it run
            }
            current = null;
            j.task = null;             // no reference to the caller's data between calls
            error = j.error;           // read before another caller may re-arm the shared Job
        } finally {
            caller.unlock();
        }
        if (error instanceof RuntimeException e) throw e;
        if (error instanceof Error e) throw e;
        if (error != null) throw new IllegalStateException(error);
    }

    private void workerLoop() {
        long last = 0;
        long idleSince = System.nanoTime();
        while (true) {
            Job j = current;
            if (j != null && j.generation != last) {
                last = j.generation;
                j.work();
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                LockSupport.park(this);   // the next job's caller unparks (an earlier unpark's permit just returns)
            }
        }
    }

    private boolean isWorker() {
        for (Thread t : workers) if (t == Thread.currentThread()) return true;
        return false;
    }
}
