package dev.arbor.accel.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
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
     * one Job ({@link #shared}), re-armed per call, so a call allocates nothing. Reuse needs care: a worker of the
     * previous call may still be between its last chunk and its next claim when the caller re-arms. So a chunk is
     * claimed by compare-and-set on {@link #state}, which holds the call's generation beside the next chunk index:
     * re-arming first closes the state (claims of the old call fail from there), then writes chunks and task, then
     * opens the new generation at chunk 0. A claim that succeeds was made while the state still held the values the
     * claimant read, so its chunk count and task are that call's. Inline calls (nested, or while another thread's
     * call runs) need no Job.
     */
    private static final class Job {
        /** Low half of {@link #state} while re-arming: no chunk can be claimed. */
        private static final long CLOSED = 0xffffffffL;
        volatile int chunks;
        volatile IntConsumer task;
        /** (generation << 32) | next chunk index, or | CLOSED while re-arming. */
        final AtomicLong state = new AtomicLong(CLOSED);
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable error;
        volatile long generation;

        void arm(long generation, int chunks, IntConsumer task) {
            state.set((generation << 32) | CLOSED);
            this.chunks = chunks;
            this.task = task;
            error = null;
            done.set(0);
            this.generation = generation;
            state.set(generation << 32);
        }

        void work() {
            while (true) {
                long t = state.get();
                if ((t & CLOSED) == CLOSED) return;
                int c = (int) (t & CLOSED), n = chunks;
                IntConsumer k = task;
                if (c >= n) return;
                if (!state.compareAndSet(t, t + 1)) continue;   // taken by another thread, or the call changed
                try {
                    if (error == null) k.accept(c);
                } catch (Throwable e) {
                    error = e;
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
            j.arm(++generations, chunks, task);
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
