package dev.arbor.server.http;

import dev.arbor.engine.EngineStats;
import dev.arbor.engine.cache.CacheStats;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.function.ToDoubleFunction;

/**
 * The server's metrics, kept by the Prometheus Java client: request and token counters and latency
 * histograms observed here, engine gauges (queue lengths, KV use, prefix-cache hits) read from the
 * engine's latest stats at scrape time. Names follow Prometheus conventions ({@code _total}
 * counters, {@code _seconds} units) with an {@code arbor_} prefix.
 */
public final class MetricsRegistry {
    /** The text exposition format (0.0.4) that every Prometheus scraper reads. */
    static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

    // Latency buckets in seconds: sub-millisecond steps (GPU decode) up to a minute (long CPU prefill).
    private static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80};
    private static final double[] ITL_BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5};
    private static final double[] E2E_BUCKETS = {0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 300};

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private volatile EngineStats current;            // the snapshot the engine callbacks read during one scrape
    private boolean prefixFamilies;                   // registered once the engine reports a prefix cache

    private final Counter httpRequests = Counter.builder().name("arbor_http_requests_total")
            .help("HTTP requests by route, method and status code.").labelNames("route", "method", "code").register(registry);
    private final Counter finishedRequests = Counter.builder().name("arbor_request_success_total")
            .help("Finished generation requests by finish reason.").labelNames("finished_reason").register(registry);
    private final Counter promptTokens = counter("arbor_prompt_tokens_total", "Prompt tokens of finished requests.");
    private final Counter generationTokens = counter("arbor_generation_tokens_total", "Tokens generated for finished requests.");
    private final Counter cachedPromptTokens = counter("arbor_cached_prompt_tokens_total", "Prompt tokens of finished requests served from the prefix cache.");
    private final Counter clientDisconnects = counter("arbor_client_disconnects_total", "Streams whose client went away; their requests were aborted.");
    final Histogram timeToFirstToken = histogram("arbor_time_to_first_token_seconds", "Time from request arrival to its first generated token.", TTFT_BUCKETS);
    final Histogram interTokenLatency = histogram("arbor_inter_token_latency_seconds", "Time between consecutive token updates of one request.", ITL_BUCKETS);
    final Histogram requestLatency = histogram("arbor_e2e_request_latency_seconds", "Time from request arrival to its last token.", E2E_BUCKETS);

    public MetricsRegistry() {
        gauge("arbor_num_requests_running", "Sequences being computed.", EngineStats::running);
        gauge("arbor_num_requests_waiting", "Sequences waiting for admission.", EngineStats::waiting);
        gauge("arbor_kv_cache_usage_ratio", "Fraction of KV blocks in use (1 = full).", EngineStats::kvUsage);
        gauge("arbor_kv_cache_blocks_total", "KV blocks in the pool.", EngineStats::totalBlocks);
        gauge("arbor_kv_cache_blocks_free", "KV blocks on the free list.", EngineStats::freeBlocks);
        engineCounter("arbor_num_preemptions_total", "Sequences preempted for lack of KV blocks.", EngineStats::preemptions);
        engineCounter("arbor_engine_steps_total", "Engine steps run.", EngineStats::steps);
        engineCounter("arbor_engine_computed_tokens_total", "Tokens whose K/V the model computed (prefill and decode).", EngineStats::computedTokens);
    }

    /** Prefix-cache families, only when the engine has a prefix cache (zeros would look like misses). */
    private void registerPrefixFamilies() {
        engineCounter("arbor_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", s -> s.prefixCache().queryTokens());
        engineCounter("arbor_prefix_cache_hits_total", "Of those, tokens found cached.", s -> s.prefixCache().hitTokens());
        gauge("arbor_prefix_cache_hit_rate", "hits / queries since start (0 before the first query).", s -> s.prefixCache().hitRate());
        gauge("arbor_prefix_cache_cached_blocks", "Blocks in the prefix trie.", s -> s.prefixCache().cachedBlocks());
        gauge("arbor_prefix_cache_pinned_blocks", "Cached blocks pinned by registered prefixes.", s -> s.prefixCache().pinnedBlocks());
        engineCounter("arbor_prefix_cache_evicted_blocks_total", "Blocks evicted from the prefix cache.", s -> s.prefixCache().evictedBlocks());
        gauge("arbor_prefix_cache_prefixes", "Registered (pinned) prefixes.", s -> s.prefixCache().numPrefixes());
    }

    void httpRequest(String route, String method, int status) {
        httpRequests.labelValues(route, method, Integer.toString(status)).inc();
    }

    /** One engine request ended: its token counts and how it finished (stop, length, abort, error). */
    void requestFinished(String finishReason, int prompt, int generated, int cached) {
        finishedRequests.labelValues(finishReason).inc();
        promptTokens.inc(prompt);
        generationTokens.inc(generated);
        cachedPromptTokens.inc(cached);
    }

    void clientDisconnected() {
        clientDisconnects.inc();
    }

    /** The exposition for one scrape; {@code stats} is the engine's latest snapshot. */
    synchronized String render(EngineStats stats) {
        CacheStats c = stats.prefixCache();
        if (c != null && !prefixFamilies) {
            registerPrefixFamilies();
            prefixFamilies = true;
        }
        current = stats;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writer.write(out, registry.scrape());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private Counter counter(String name, String help) {
        return Counter.builder().name(name).help(help).register(registry);
    }

    private Histogram histogram(String name, String help, double[] bounds) {
        return Histogram.builder().name(name).help(help).classicOnly().classicUpperBounds(bounds).register(registry);
    }

    private void gauge(String name, String help, ToDoubleFunction<EngineStats> value) {
        GaugeWithCallback.builder().name(name).help(help).callback(cb -> {
            EngineStats s = current;
            if (s != null) cb.call(value.applyAsDouble(s));
        }).register(registry);
    }

    private void engineCounter(String name, String help, ToDoubleFunction<EngineStats> value) {
        CounterWithCallback.builder().name(name).help(help).callback(cb -> {
            EngineStats s = current;
            if (s != null) cb.call(value.applyAsDouble(s));
        }).register(registry);
    }
}
