package dev.arbor.accel.cuda;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A diagnostic: the host time of every CUDA driver call, by call name ({@code -Darbor.cuda.callTimes=true}, read once when the
 * driver binding loads; off, each call costs one static-final test). Aggregated as count, total, largest and calls over
 * {@link #SLOW_NANOS}, so a call that blocks the host until the device drains (a wait hidden in a copy or a launch) shows
 * up by name beside the expected waits ({@code cuEventSynchronize}); the calls that drain the device (context synchronisation,
 * synchronous copies back, stream synchronisation) are also counted by call site ({@link #SITE_FRAMES} caller frames), so
 * the code that asks for a drain in a step is named.
 *
 * <p>Why (issue 12): llama3.2-1b b128 nbi decode leaves the device idle 0.03-0.13 ms between steps with the host waiting
 * ~1.5 ms a step and every input copy page-locked (run 100-b128x), which suggested a call that blocks until the device is idle.
 * Run 102-diag24 found none in a decode step: every drain of that run is a prefill step's synchronous sampling, and the idle
 * time comes from outlier steps.
 */
public final class DriverCallTimes {
    private DriverCallTimes() {}

    public static final String PROPERTY = "arbor.cuda.callTimes";
    static final boolean ON = Boolean.getBoolean(PROPERTY);
    /** Calls at least this long are counted apart: 100 µs, over any copy or launch this engine queues. */
    static final long SLOW_NANOS = 100_000;

    private static final ThreadLocal<long[]> LAST = ThreadLocal.withInitial(() -> new long[1]);
    private static final Map<String, long[]> SUMS = new ConcurrentHashMap<>();   // name -> {count, total ns, max ns, slow}
    /** Calls that drain the device (a context synchronisation, a synchronous copy back), by call site: name + caller frames -> {count, total ns}. */
    private static final Map<String, long[]> DRAINS = new ConcurrentHashMap<>();
    /** Frames of a draining call's caller kept (outside accel.cuda), enough to name the engine code that asked for it. */
    static final int SITE_FRAMES = 6;

    static void took(long nanos) { LAST.get()[0] = nanos; }

    /** Books the last call's time (set by {@code CudaDriver.call}) to {@code name}. */
    static void record(String name) {
        long ns = LAST.get()[0];
        long[] s = SUMS.computeIfAbsent(name, k -> new long[4]);
        synchronized (s) {
            s[0]++;
            s[1] += ns;
            s[2] = Math.max(s[2], ns);
            if (ns >= SLOW_NANOS) s[3]++;
        }
        if (name.equals("cuCtxSynchronize") || name.equals("cuMemcpyDtoH") || name.equals("cuStreamSynchronize")) {
            String site = name + " <- " + StackWalker.getInstance().walk(f -> f
                    .filter(fr -> !fr.getClassName().startsWith("dev.arbor.accel.cuda."))
                    .limit(SITE_FRAMES)
                    .map(fr -> fr.getClassName().substring(fr.getClassName().lastIndexOf('.') + 1) + "." + fr.getMethodName() + ":" + fr.getLineNumber())
                    .collect(java.util.stream.Collectors.joining(" <- ")));
            long[] d = DRAINS.computeIfAbsent(site, k -> new long[2]);
            synchronized (d) {
                d[0]++;
                d[1] += ns;
            }
        }
    }

    /** Whether the diagnostic is on. */
    public static boolean enabled() { return ON; }

    /** Forgets every call so far. */
    public static void reset() {
        SUMS.clear();
        DRAINS.clear();
    }

    /**
     * One line per call name since the last {@link #reset}, slowest total first: count, total ms, mean and largest µs, calls
     * over 100 µs; empty when off.
     */
    public static String report() {
        if (!ON) return "";
        Map<String, long[]> copy = new TreeMap<>();
        SUMS.forEach((k, v) -> { synchronized (v) { copy.put(k, v.clone()); } });
        StringBuilder b = new StringBuilder();
        copy.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue()[1], x.getValue()[1])).forEach(e -> {
            long[] s = e.getValue();
            b.append(String.format(Locale.ROOT, "driver call %-28s %7d calls, %9.3f ms, mean %8.1f us, max %9.1f us, %5d over 100 us%n",
                    e.getKey(), s[0], s[1] / 1e6, s[1] / 1e3 / Math.max(1, s[0]), s[2] / 1e3, s[3]));
        });
        Map<String, long[]> drains = new TreeMap<>();
        DRAINS.forEach((k, v) -> { synchronized (v) { drains.put(k, v.clone()); } });
        drains.entrySet().stream().sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0])).forEach(e ->
                b.append(String.format(Locale.ROOT, "driver drain %5d calls, %9.3f ms: %s%n", e.getValue()[0], e.getValue()[1] / 1e6, e.getKey())));
        return b.toString();
    }
}
