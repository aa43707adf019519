package dev.arbor.models.backend;

/**
 * Marks the ends of a step's operations and gives the intervals between them, for {@link ProfiledOps}. A backend whose
 * operations run asynchronously (CUDA) records device events; a synchronous one (the CPU) reads the host's clock.
 */
public interface OpClock extends AutoCloseable {
    /** The step's operations start now (before the first is launched). */
    void start();

    /** The operation just launched ends here. */
    void mark();

    /**
     * Waits for the step's marks and returns the milliseconds from each mark to the one before it (the first from
     * {@link #start}), one per {@link #mark} since the start.
     */
    double[] finish();

    /**
     * Intervals of the last finished step that may include host launch gaps: the device had finished everything before
     * the operation when the host began launching it (0 for a synchronous clock, whose intervals are host time anyway).
     */
    default int lastStepLateOps() { return 0; }

    /** How the intervals are measured, for reports. */
    String describe();

    @Override default void close() {}

    /** The host's monotonic clock: right for operations that complete before their call returns (the CPU backend). */
    static OpClock wall() {
        return new OpClock() {
            private long[] marks = new long[256];
            private int count;
            private long start;

            @Override public void start() {
                count = 0;
                start = System.nanoTime();
            }

            @Override public void mark() {
                if (count == marks.length) marks = java.util.Arrays.copyOf(marks, 2 * count);
                marks[count++] = System.nanoTime();
            }

            @Override public double[] finish() {
                double[] ms = new double[count];
                long prev = start;
                for (int i = 0; i < count; i++) {
                    ms[i] = (marks[i] - prev) / 1e6;
                    prev = marks[i];
                }
                count = 0;
                return ms;
            }

            @Override public String describe() { return "host clock, operations synchronous"; }
        };
    }
}
