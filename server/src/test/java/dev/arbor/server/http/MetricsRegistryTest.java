package dev.arbor.server.http;

import dev.arbor.engine.EngineStats;
import dev.arbor.engine.cache.CacheStats;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exposition the Prometheus client writes for Arbor's families, values included. */
class MetricsRegistryTest {
    private static final EngineStats NO_CACHE = new EngineStats(1, 2, 100, 75, 16, 0, 0, 0, 0, 0, 0, 0, null);

    private static double sample(String text, String series) {
        for (String line : text.split("\n")) {
            if (line.startsWith(series + " ")) return Double.parseDouble(line.substring(series.length() + 1));
        }
        throw new AssertionError("no sample " + series + " in\n" + text);
    }

    @Test
    void histogramBucketsAreCumulativeWithInfSumAndCount() {
        MetricsRegistry m = new MetricsRegistry();
        m.timeToFirstToken.observe(0.0005);
        m.timeToFirstToken.observe(0.001);   // on a bound: counts in that bucket (le = less or equal)
        m.timeToFirstToken.observe(0.5);
        m.timeToFirstToken.observe(100.0);
        String text = m.render(NO_CACHE);
        assertTrue(text.contains("# TYPE arbor_time_to_first_token_seconds histogram"), text);
        assertEquals(2, sample(text, "arbor_time_to_first_token_seconds_bucket{le=\"0.001\"}"));
        assertEquals(3, sample(text, "arbor_time_to_first_token_seconds_bucket{le=\"0.5\"}"));
        assertEquals(3, sample(text, "arbor_time_to_first_token_seconds_bucket{le=\"80.0\"}"));
        assertEquals(4, sample(text, "arbor_time_to_first_token_seconds_bucket{le=\"+Inf\"}"));
        assertEquals(100.5015, sample(text, "arbor_time_to_first_token_seconds_sum"), 1e-9);
        assertEquals(4, sample(text, "arbor_time_to_first_token_seconds_count"));
    }

    @Test
    void labelValuesAreEscaped() {
        MetricsRegistry m = new MetricsRegistry();
        m.httpRequest("a\"b\\c\nd", "GET", 404);
        String text = m.render(NO_CACHE);
        assertEquals(1, sample(text, "arbor_http_requests_total{code=\"404\",method=\"GET\",route=\"a\\\"b\\\\c\\nd\"}"));
    }

    @Test
    void registryCountsHttpRequestsByRouteAndCodeAndReadsTheEngine() {
        MetricsRegistry m = new MetricsRegistry();
        m.httpRequest("/v1/completions", "POST", 200);
        m.httpRequest("/v1/completions", "POST", 200);
        m.httpRequest("/v1/completions", "POST", 400);
        m.requestFinished("length", 10, 5, 4);
        String text = m.render(NO_CACHE);
        assertEquals(2, sample(text, "arbor_http_requests_total{code=\"200\",method=\"POST\",route=\"/v1/completions\"}"));
        assertEquals(1, sample(text, "arbor_http_requests_total{code=\"400\",method=\"POST\",route=\"/v1/completions\"}"));
        assertEquals(1, sample(text, "arbor_request_success_total{finished_reason=\"length\"}"));
        assertEquals(10, sample(text, "arbor_prompt_tokens_total"));
        assertEquals(4, sample(text, "arbor_cached_prompt_tokens_total"));
        assertEquals(0.25, sample(text, "arbor_kv_cache_usage_ratio"));
        assertEquals(2, sample(text, "arbor_num_requests_waiting"));
        assertTrue(!text.contains("arbor_prefix_cache_hit_rate"), "no prefix-cache families when caching is off");

        CacheStats c = new CacheStats(80, 32, 5, 2, 3, 1, 10, 16, 1);
        String cached = m.render(new EngineStats(1, 2, 100, 75, 16, 0, 0, 0, 0, 0, 0, 0, c));
        assertEquals(80, sample(cached, "arbor_prefix_cache_queries_total"));
        assertEquals(32, sample(cached, "arbor_prefix_cache_hits_total"));
        assertEquals(0.4, sample(cached, "arbor_prefix_cache_hit_rate"), 1e-12);
        assertEquals(1, sample(cached, "arbor_prefix_cache_evicted_blocks_total"));
        assertTrue(cached.contains("# TYPE arbor_prefix_cache_queries_total counter") || cached.contains("# TYPE arbor_prefix_cache_queries counter"), cached);
    }
}
