package dev.arbor.server.http;

import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.EngineStats;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * What the server tells its operator, as vLLM does: one access line per request (logger
 * {@code arbor.access}) and, while there is work, a periodic line with throughput, running and waiting
 * requests, KV use and the prefix-cache hit rate (logger {@code arbor.stats}). Probes ({@code /health},
 * {@code /metrics}) are logged at debug, so a load balancer's polling does not bury the requests.
 */
public final class ServerLog implements AutoCloseable {
    static final Logger ACCESS = LoggerFactory.getLogger("arbor.access");
    static final Logger STATS = LoggerFactory.getLogger("arbor.stats");

    private final AsyncEngine engine;
    private final ScheduledExecutorService timer;
    private EngineStats last;
    private long lastNanos;

    private ServerLog(AsyncEngine engine, Duration interval) {
        this.engine = engine;
        this.last = engine.stats();
        this.lastNanos = System.nanoTime();
        this.timer = interval.isZero() ? null : Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "arbor-stats");
            t.setDaemon(true);
            return t;
        });
        if (timer != null) timer.scheduleAtFixedRate(this::tick, interval.toMillis(), interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Logs a stats line every {@code interval} while the engine has work or did some since the last line; zero = never. */
    public static ServerLog start(AsyncEngine engine, Duration interval) {
        return new ServerLog(engine, interval);
    }

    private synchronized void tick() {
        try {
            EngineStats now = engine.stats();
            long t = System.nanoTime();
            String line = statsLine(last, now, (t - lastNanos) / 1e9);
            if (line != null) STATS.info(line);
            last = now;
            lastNanos = t;
        } catch (RuntimeException e) {
            STATS.debug("stats line failed: {}", e.toString());
        }
    }

    /**
     * The periodic line for the interval from {@code before} to {@code now}, or null when the engine was idle
     * throughout (nothing running or waiting, no token computed).
     */
    static String statsLine(EngineStats before, EngineStats now, double seconds) {
        long prompt = now.promptTokens() - before.promptTokens();
        long generated = now.generatedTokens() - before.generatedTokens();
        if (prompt == 0 && generated == 0 && now.running() == 0 && now.waiting() == 0) return null;
        double hit = now.prefixCache() == null ? 0 : 100 * now.prefixCache().hitRate();
        return String.format(Locale.ROOT, "prompt throughput %.1f tokens/s, generation throughput %.1f tokens/s; running %d, waiting %d; "
                        + "KV cache %.1f%% used; prefix cache hit rate %.1f%%",
                prompt / Math.max(seconds, 1e-9), generated / Math.max(seconds, 1e-9), now.running(), now.waiting(),
                100 * now.kvUsage(), hit);
    }

    /** {@code 127.0.0.1 "POST /v1/completions" 200 prompt=5 completion=16 cached=0 12 ms}; the token fields only for generating routes. */
    static String accessLine(String client, String method, String path, int status, GenerationJob job, long millis) {
        StringBuilder b = new StringBuilder().append(client).append(" \"").append(method).append(' ').append(path).append("\" ").append(status);
        if (job != null) {
            b.append(" prompt=").append(job.promptTokens()).append(" completion=").append(job.generatedTokens())
                    .append(" cached=").append(job.cachedTokens());
        }
        return b.append(' ').append(millis).append(" ms").toString();
    }

    /** Logs an exchange's access line; probes at debug. */
    static void access(String client, String method, String path, int status, GenerationJob job, long millis, boolean probe) {
        if (probe ? ACCESS.isDebugEnabled() : ACCESS.isInfoEnabled()) {
            String line = accessLine(client, method, path, status, job, millis);
            if (probe) ACCESS.debug(line); else ACCESS.info(line);
        }
    }

    @Override
    public void close() {
        if (timer != null) timer.shutdownNow();
    }
}
