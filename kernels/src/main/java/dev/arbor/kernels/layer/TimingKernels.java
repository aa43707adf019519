package dev.arbor.kernels.layer;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.IntArray;

/**
 * A kernel that only keeps the device busy, for timing others: an op profiler enqueues it before a step so that the
 * step's launches queue up behind it while it runs, and the intervals between the step's events are then device time,
 * not the host's launch gaps (the usual trick when timing many short kernels with events).
 */
public final class TimingKernels {
    private TimingKernels() {}

    static final Kernel SPIN = Kernel.of(TimingKernels.class, "spin");

    /**
     * One work-item runs {@code iterations} rounds of a 32-bit linear congruential step (each round depends on the
     * last, so it cannot be shortened) and writes the final state to {@code out[0]}: about 4-8 cycles a round.
     *
     * @param out (1) the final state, so the loop is not dead code
     */
    public static void spin(KernelContext ctx, IntArray out, int seed, int iterations) {
        if (ctx.globalIdx != 0) return;
        int s = seed;
        for (int i = 0; i < iterations; i++) s = s * 1664525 + 1013904223;
        out.set(0, s);
    }

    /** What {@link #spin} leaves in {@code out[0]}: the plain reference. */
    public static int spinReference(int seed, int iterations) {
        int s = seed;
        for (int i = 0; i < iterations; i++) s = s * 1664525 + 1013904223;
        return s;
    }

    /** Launches {@link #spin} on {@code b} (one block of one warp); {@code out} holds at least one int. */
    public static void launchSpin(Backend b, IntArray out, int seed, int iterations) {
        if (iterations < 0) throw new IllegalArgumentException("iterations must be >= 0: " + iterations);
        if (out.length() < 1) throw new IllegalArgumentException("out must hold one int");
        b.launch(SPIN, new Launch(new int[]{1, 1, 1}, new int[]{32, 1, 1}, 0, null), out, seed, iterations);
    }
}
