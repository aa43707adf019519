package dev.arbor.server.http;

import dev.arbor.engine.EngineStats;
import dev.arbor.engine.cache.CacheStats;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * The server's metrics: request and token counters and latency histograms kept here, engine
 * gauges (queue lengths, KV use, prefix-cache hits) read from the engine's latest stats at scrape
 * time. Names follow Prometheus conventions ({@code _total} counters, {@code _seconds} units) with
 * an {@code arbor_} prefix.
 */
public final class MetricsRegistry {
    // Latency buckets in seconds: sub-millisecond steps (GPU decode) up to a minute (long CPU prefill).
    private static final double[] TTFT_BUCKETS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80};
    private static final double[] ITL_BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5};
    private static final double[] E2E_BUCKETS = {0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 300};

    private final Map<String, LongAdder> httpRequests = new ConcurrentHashMap<>();   // "route\0method\0code"
    private final Map<String, LongAdder> finishedRequests = new ConcurrentHashMap<>(); // by finish reason
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder generationTokens = new LongAdder();
    private final LongAdder cachedPromptTokens = new LongAdder();
    private final LongAdder clientDisconnects = new LongAdder();
    final Histogram timeToFirstToken = new Histogram("arbor_time_to_first_token_seconds",
            "Time from request arrival to its first generated token.", TTFT_BUCKETS);
    final Histogram interTokenLatency = new Histogram("arbor_inter_token_latency_seconds",
            "Time between consecutive token updates of one request.", ITL_BUCKETS);
    final Histogram requestLatency = new Histogram("arbor_e2e_request_latency_seconds",
            "Time from request arrival to its last token.", E2E_BUCKETS);

    void httpRequest(String route, String method, int status) {
        httpRequests.computeIfAbsent(route + '\0' + method + '\0' + status, k -> new LongAdder()).increment();
    }

    /** One engine request ended: its token counts and how it finished (stop, length, abort, error). */
    void requestFinished(String finishReason, int prompt, int generated, int cached) {
        finishedRequests.computeIfAbsent(finishReason, k -> new LongAdder()).increment();
        promptTokens.add(prompt);
        generationTokens.add(generated);
        cachedPromptTokens.add(cached);
    }

    void clientDisconnected() {
        clientDisconnects.increment();
    }

    /** The exposition for one scrape; {@code stats} is the engine's latest snapshot. */
    String render(EngineStats stats) {
        PrometheusText out = new PrometheusText();
        out.header("arbor_http_requests_total", "HTTP requests by route, method and status code.", "counter");
        for (Map.Entry<String, LongAdder> e : new TreeMap<>(httpRequests).entrySet()) {
            String[] parts = e.getKey().split("\0", -1);
            out.sample("arbor_http_requests_total", new String[] {"route", "method", "code"}, parts, e.getValue().sum());
        }
        out.header("arbor_request_success_total", "Finished generation requests by finish reason.", "counter");
        for (Map.Entry<String, LongAdder> e : new TreeMap<>(finishedRequests).entrySet()) {
            out.sample("arbor_request_success_total", "finished_reason", e.getKey(), e.getValue().sum());
        }
        out.single("arbor_prompt_tokens_total", "Prompt tokens of finished requests.", "counter", promptTokens.sum());
        out.single("arbor_generation_tokens_total", "Tokens generated for finished requests.", "counter", generationTokens.sum());
        out.single("arbor_cached_prompt_tokens_total", "Prompt tokens of finished requests served from the prefix cache.", "counter", cachedPromptTokens.sum());
        out.single("arbor_client_disconnects_total", "Streams whose client went away; their requests were aborted.", "counter", clientDisconnects.sum());
        timeToFirstToken.writeTo(out);
        interTokenLatency.writeTo(out);
        requestLatency.writeTo(out);
        writeEngine(out, stats);
        return out.toString();
    }

    private static void writeEngine(PrometheusText out, EngineStats s) {
        out.single("arbor_num_requests_running", "Sequences being computed.", "gauge", s.running());
        out.single("arbor_num_requests_waiting", "Sequences waiting for admission.", "gauge", s.waiting());
        out.single("arbor_kv_cache_usage_ratio", "Fraction of KV blocks in use (1 = full).", "gauge", s.kvUsage());
        out.single("arbor_kv_cache_blocks_total", "KV blocks in the pool.", "gauge", s.totalBlocks());
        out.single("arbor_kv_cache_blocks_free", "KV blocks on the free list.", "gauge", s.freeBlocks());
        out.single("arbor_num_preemptions_total", "Sequences preempted for lack of KV blocks.", "counter", s.preemptions());
        out.single("arbor_engine_steps_total", "Engine steps run.", "counter", s.steps());
        out.single("arbor_engine_computed_tokens_total", "Tokens whose K/V the model computed (prefill and decode).", "counter", s.computedTokens());
        CacheStats c = s.prefixCache();
        if (c == null) return;   // prefix caching disabled: no prefix-cache families at all, rather than zeros that look like misses
        out.single("arbor_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.", "counter", c.queryTokens());
        out.single("arbor_prefix_cache_hits_total", "Of those, tokens found cached.", "counter", c.hitTokens());
        out.single("arbor_prefix_cache_hit_rate", "hits / queries since start (0 before the first query).", "gauge", c.hitRate());
        out.single("arbor_prefix_cache_cached_blocks", "Blocks in the prefix trie.", "gauge", c.cachedBlocks());
        out.single("arbor_prefix_cache_pinned_blocks", "Cached blocks pinned by registered prefixes.", "gauge", c.pinnedBlocks());
        out.single("arbor_prefix_cache_evicted_blocks_total", "Blocks evicted from the prefix cache.", "counter", c.evictedBlocks());
        out.single("arbor_prefix_cache_prefixes", "Registered (pinned) prefixes.", "gauge", c.numPrefixes());
    }
}
