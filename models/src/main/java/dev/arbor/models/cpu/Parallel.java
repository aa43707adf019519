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
        TEAM.run(chunks, c -> body.run((int) ((long) n * c / chunks), (int) ((long) n * (c + 1) / chunks)));
    }
}
