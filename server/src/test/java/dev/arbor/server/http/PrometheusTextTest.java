package dev.arbor.server.http;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrometheusTextTest {

    @Test
    void histogramBucketsAreCumulativeWithInfSumAndCount() {
        Histogram h = new Histogram("t_seconds", "test", 0.125, 1.0);
        h.observe(0.0625);
        h.observe(0.125);   // on a bound: counts in that bucket (le = less or equal)
        h.observe(0.5);
        h.observe(7.0);
        PrometheusText out = new PrometheusText();
        h.writeTo(out);
        String expected = """
                # HELP t_seconds test
                # TYPE t_seconds histogram
                t_seconds_bucket{le="0.125"} 2
                t_seconds_bucket{le="1"} 3
                t_seconds_bucket{le="+Inf"} 4
                t_seconds_sum 7.6875
                t_seconds_count 4
                """;
        assertEquals(expected, out.toString());
        assertEquals(4, h.count());
    }

    @Test
    void boundsMustIncrease() {
        assertThrows(IllegalArgumentException.class, () -> new Histogram("x", "x", 1.0, 1.0));
    }

    @Test
    void labelValuesAreEscaped() {
        PrometheusText out = new PrometheusText();
        out.sample("m", "route", "a\"b\\c\nd", 1);
        assertEquals("m{route=\"a\\\"b\\\\c\\nd\"} 1\n", out.toString());
    }

    @Test
    void registryCountsHttpRequestsByRouteAndCode() {
        MetricsRegistry m = new MetricsRegistry();
        m.httpRequest("/v1/completions", "POST", 200);
        m.httpRequest("/v1/completions", "POST", 200);
        m.httpRequest("/v1/completions", "POST", 400);
        m.requestFinished("length", 10, 5, 4);
        String text = m.render(new dev.arbor.engine.EngineStats(1, 2, 100, 75, 16, 0, 0, 0, 0, 0, 0, 0, null));
        assertTrue(text.contains("arbor_http_requests_total{route=\"/v1/completions\",method=\"POST\",code=\"200\"} 2\n"), text);
        assertTrue(text.contains("arbor_http_requests_total{route=\"/v1/completions\",method=\"POST\",code=\"400\"} 1\n"), text);
        assertTrue(text.contains("arbor_request_success_total{finished_reason=\"length\"} 1\n"), text);
        assertTrue(text.contains("arbor_kv_cache_usage_ratio 0.25\n"), text);
        assertTrue(text.contains("arbor_num_requests_waiting 2\n"), text);
        assertTrue(!text.contains("arbor_prefix_cache_hit_rate"), "no prefix-cache families when caching is off");
    }
}
