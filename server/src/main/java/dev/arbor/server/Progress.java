package dev.arbor.server;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of long work, on stderr (stdout keeps what the user asked for). On a terminal, a bar redrawn in
 * place; anywhere else (a file, a pipe, CI's log) a plain line now and then, since redrawn frames would pile
 * up as text: {@code generating: 120/512 tokens (23%), 5.1 s}.
 */
public final class Progress implements AutoCloseable {
    /** Seconds between plain lines when stderr is not a terminal. */
    static final long PLAIN_INTERVAL_NANOS = 10_000_000_000L;

    private final String task;
    private final String unit;
    private final long max;
    private final ProgressBar bar;
    private final PrintStream plain;
    private final long intervalNanos;
    private final long start = System.nanoTime();
    private long done;
    private long lastLine;
    private boolean closed;

    private Progress(String task, String unit, long max, ProgressBar bar, PrintStream plain, long intervalNanos) {
        this.task = task;
        this.unit = unit;
        this.max = max;
        this.bar = bar;
        this.plain = plain;
        this.intervalNanos = intervalNanos;
        this.lastLine = start;
    }

    /** A bar when stderr is a terminal, else plain lines every 10 s; {@code enabled = false} prints nothing. */
    public static Progress start(String task, String unit, long max, boolean enabled) {
        if (!enabled) return new Progress(task, unit, max, null, null, 0);
        if (isTerminal()) {
            return new Progress(task, unit, max, new ProgressBarBuilder().setTaskName(task).setInitialMax(max).setUnit(" " + unit, 1)
                    .setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(200).continuousUpdate().build(), null, 0);
        }
        return plain(task, unit, max, System.err, PLAIN_INTERVAL_NANOS);
    }

    /** Plain lines to {@code out}, at most one per {@code intervalNanos}, and one when closed. */
    static Progress plain(String task, String unit, long max, PrintStream out, long intervalNanos) {
        out.println(task + ": 0/" + max + " " + unit);
        return new Progress(task, unit, max, null, out, intervalNanos);
    }

    /** Whether stderr and stdout reach a terminal (Java 22+: {@code Console.isTerminal}). */
    static boolean isTerminal() {
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    public synchronized void stepBy(long n) {
        done += n;
        if (bar != null) bar.stepBy(n);
        if (plain != null) {
            long now = System.nanoTime();
            if (now - lastLine >= intervalNanos && done < max) {
                lastLine = now;
                plain.println(line(now));
            }
        }
    }

    private String line(long now) {
        return String.format(Locale.ROOT, "%s: %d/%d %s (%.0f%%), %.1f s", task, done, max, unit,
                max == 0 ? 100.0 : 100.0 * done / max, (now - start) / 1e9);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (bar != null) bar.close();
        if (plain != null) plain.println(line(System.nanoTime()) + ", done");
    }
}
