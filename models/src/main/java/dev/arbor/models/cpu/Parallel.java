package dev.arbor.models.cpu;

import dev.arbor.accel.cpu.WorkTeam;

/**
 * The CPU forward pass's parallel loop over the shared {@link WorkTeam}. Work is cut into a few
 * contiguous ranges per thread so each range can allocate its scratch once.
 */
final class Parallel {
    private Parallel() {}

    private static final WorkTeam TEAM = WorkTeam.shared();

    /** A body over the index range {@code [from, to)}. */
    interface Range {
        void run(int from, int to);
    }

    static int threads() { return TEAM.threads(); }

    /** Runs {@code body} over {@code [0, n)} split into ranges of at least {@code grain} indices. */
    static void forRange(int n, int grain, Range body) {
        int chunks = Math.min((n + grain - 1) / Math.max(1, grain), TEAM.threads() * 4);
        if (chunks <= 1) {
            if (n > 0) body.run(0, n);
            return;
        }
        Split split = SPLITS.get();
        if (split.body != null) split = new Split();   // nested call on this thread: the thread's split is in use
        split.n = n;
        split.chunks = chunks;
        split.body = body;
        try {
            TEAM.run(chunks, split);
        } finally {
            split.body = null;
        }
    }

    /** {@code [0, n)} cut into {@code chunks} contiguous ranges; one per thread, reused, so a call allocates nothing. */
    private static final class Split implements java.util.function.IntConsumer {
        int n, chunks;
        Range body;

        @Override public void accept(int c) {
            body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks));
        }
    }

    private static final ThreadLocal<Split> SPLITS = ThreadLocal.withInitial(Split::new);
}
