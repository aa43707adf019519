package dev.arbor.server.http;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Issue 13, fault 6: the exported prefix-cache figures have the right values, one lookup per request. */
class PrefixMetricsTest {
    @Test
    void prefixCacheMetricsCountOneLookupPerRequest() throws Exception {
        // A small pool (10 blocks of 32): the second long request waits for the first; before the fix
        // every waiting step counted a lookup.
        try (TestServer s = TestServer.start("synthetic:tiny", TestServer.tinyConfig().numBlocks(10).blockSize(32).build(), null)) {
            String repeated = "{\"prompt\":\"" + "x".repeat(40) + "\",\"max_tokens\":2}";     // BOS + 40 bytes = 41 tokens
            assertEquals(200, s.post("/v1/completions", repeated).statusCode());
            assertEquals(200, s.post("/v1/completions", repeated).statusCode());
            String text = s.send("GET", "/metrics").body();
            assertEquals(2 * 40, SyntheticCompletionsTest.sample(text, "arbor_prefix_cache_queries_total"), 0.0);
            assertEquals(32, SyntheticCompletionsTest.sample(text, "arbor_prefix_cache_hits_total"), 0.0, "one whole block of the second");
            assertEquals(0.4, SyntheticCompletionsTest.sample(text, "arbor_prefix_cache_hit_rate"), 1e-9);

            // Two 194-token prompts that cannot run together (7 blocks each of a 10-block pool), sent at once.
            String a = "{\"prompt\":\"" + "a".repeat(193) + "\",\"max_tokens\":40,\"ignore_eos\":true}";
            String b = "{\"prompt\":\"" + "b".repeat(193) + "\",\"max_tokens\":40,\"ignore_eos\":true}";
            var fa = java.util.concurrent.CompletableFuture.supplyAsync(() -> call(s, a));
            var fb = java.util.concurrent.CompletableFuture.supplyAsync(() -> call(s, b));
            assertEquals(200, fa.get());
            assertEquals(200, fb.get());
            text = s.send("GET", "/metrics").body();
            assertEquals(2 * 40 + 2 * 193, SyntheticCompletionsTest.sample(text, "arbor_prefix_cache_queries_total"), 0.0);
            assertEquals(32, SyntheticCompletionsTest.sample(text, "arbor_prefix_cache_hits_total"), 0.0);
        }
    }

    private static int call(TestServer s, String body) {
        try {
            return s.post("/v1/completions", body).statusCode();
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }
}
