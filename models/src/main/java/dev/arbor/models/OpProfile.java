package dev.arbor.models;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where the forward pass's time goes, by operation: for each operation of a step, the time from the end of the
 * operation before it (the step's start for the first) to its own end, summed over steps and kept apart for decode
 * steps (one token per sequence) and the others (prefill, mixed). An operation is one call of the backend's ops
 * interface: a fused stage (q|k|v + RoPE + KV store, gate|up + SwiGLU, projection + residual + RMSNorm) counts as
 * one; a matmul is named by its weight's shape (rows × cols), so lm_head stands apart. Filled when the JVM runs with
 * {@code -Darbor.opProfile=true} (the benchmarks then print it); on CUDA the steps then launch eagerly (no graphs),
 * each queued behind a spin kernel so the intervals are device time rather than the host's launch gaps.
 * Thread-safe (one writer, the engine thread; readers any thread).
 */
public final class OpProfile {
    /** The system property that turns op profiling on. */
    public static final String PROPERTY = "arbor.opProfile";

    /** Whether {@code -Darbor.opProfile=true} is set. */
    public static boolean enabled() { return Boolean.getBoolean(PROPERTY); }

    /** One operation's share: milliseconds and calls per step, and its share of the summed step time (0..1). */
    public record Row(String op, double millisPerStep, double callsPerStep, double share) {}

    private static final class Totals {
        final Map<String, double[]> ops = new LinkedHashMap<>();   // op -> {milliseconds, calls}
        int steps;
        long intervals, lateIntervals;   // all intervals, and those the device may have waited for the host in
    }

    private final String clock;
    private final Totals decode = new Totals(), other = new Totals();

    /** @param clock how the intervals are measured, for the report (e.g. "CUDA events behind a 20 ms spin kernel") */
    public OpProfile(String clock) { this.clock = clock; }

    /**
     * Adds one step: its operations' names and interval lengths in milliseconds, in launch order, and how many of the
     * intervals may include host launch gaps ({@link dev.arbor.models.backend.OpClock#lastStepLateOps}).
     */
    public synchronized void addStep(boolean isDecode, List<String> ops, double[] millis, int lateIntervals) {
        if (millis.length != ops.size()) throw new IllegalArgumentException(ops.size() + " ops but " + millis.length + " intervals");
        Totals t = isDecode ? decode : other;
        for (int i = 0; i < millis.length; i++) {
            double[] acc = t.ops.computeIfAbsent(ops.get(i), k -> new double[2]);
            acc[0] += millis[i];
            acc[1]++;
        }
        t.steps++;
        t.intervals += millis.length;
        t.lateIntervals += lateIntervals;
    }

    /** Forgets every step so far (e.g. the benchmark's warm-up). */
    public synchronized void reset() {
        for (Totals t : List.of(decode, other)) {
            t.ops.clear();
            t.steps = 0;
            t.intervals = 0;
            t.lateIntervals = 0;
        }
    }

    /** Steps added of the kind. */
    public synchronized int steps(boolean isDecode) { return (isDecode ? decode : other).steps; }

    /** The operations of decode (or other) steps, largest time first. */
    public synchronized List<Row> rows(boolean isDecode) {
        Totals t = isDecode ? decode : other;
        double total = t.ops.values().stream().mapToDouble(a -> a[0]).sum();
        List<Row> rows = new ArrayList<>();
        if (t.steps == 0) return rows;
        t.ops.forEach((op, a) -> rows.add(new Row(op, a[0] / t.steps, a[1] / t.steps, total > 0 ? a[0] / total : 0)));
        rows.sort((x, y) -> Double.compare(y.millisPerStep(), x.millisPerStep()));
        return rows;
    }

    /** A table per step kind that has steps: op, ms/step, calls/step, share of the step. */
    public synchronized String report() {
        StringBuilder s = new StringBuilder();
        for (boolean isDecode : new boolean[]{true, false}) {
            Totals t = isDecode ? decode : other;
            if (t.steps == 0) continue;
            List<Row> rows = rows(isDecode);
            double sum = rows.stream().mapToDouble(Row::millisPerStep).sum();
            s.append(String.format(Locale.ROOT, "op profile, %s steps (%d steps, %.3f ms/step in ops; %s)%s%n",
                    isDecode ? "decode" : "prefill/mixed", t.steps, sum, clock,
                    t.lateIntervals > 0 ? String.format(Locale.ROOT, "; %d of %d intervals began after the device had caught up with the host's launches: they include host gaps",
                            t.lateIntervals, t.intervals) : ""));
            s.append(String.format(Locale.ROOT, "  %-28s %10s %8s %7s%n", "op", "ms/step", "calls", "share"));
            for (Row r : rows) {
                s.append(String.format(Locale.ROOT, "  %-28s %10.4f %8.1f %6.1f%%%n", r.op(), r.millisPerStep(), r.callsPerStep(), 100 * r.share()));
            }
        }
        return s.toString();
    }
}
