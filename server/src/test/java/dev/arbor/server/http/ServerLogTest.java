package dev.arbor.server.http;

import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.EngineStats;
import dev.arbor.engine.LLMEngine;
import dev.arbor.engine.cache.CacheStats;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/** The operator's view: an access line per request, a periodic stats line while there is work, the warm-up. */
class ServerLogTest {
    private static EngineStats stats(int running, int waiting, long prompt, long generated, int used, long query, long hit) {
        return new EngineStats(running, waiting, 100, 100 - used, 16, prompt, prompt + generated, prompt, generated, 0, 0, 0,
                new CacheStats(query, hit, 0, 0, 0, 0, 0, 0, 0));
    }

    @Test
    void statsLineReportsThroughputQueueKvAndHitRateAndNothingWhenIdle() {
        EngineStats before = stats(0, 0, 1000, 200, 0, 1000, 0);
        EngineStats after = stats(3, 2, 1500, 400, 25, 2000, 500);
        assertEquals("prompt throughput 50.0 tokens/s, generation throughput 20.0 tokens/s; running 3, waiting 2; "
                + "KV cache 25.0% used; prefix cache hit rate 25.0%", ServerLog.statsLine(before, after, 10));
        EngineStats idle = stats(0, 0, 1500, 400, 0, 2000, 500);
        assertNull(ServerLog.statsLine(idle, idle, 10), "an idle interval logs nothing");
    }

    @Test
    void everyRequestGetsAnAccessLineWithStatusTokensAndTime() throws Exception {
        PrintStream old = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (TestServer server = TestServer.start("synthetic:tiny", TestServer.tinyConfig().build(), null)) {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            HttpResponse<String> ok = server.post("/v1/completions", "{\"prompt\":\"hi\",\"max_tokens\":3,\"ignore_eos\":true}");
            assertEquals(200, ok.statusCode(), ok.body());
            assertEquals(404, server.send("GET", "/v1/nothing").statusCode());
            assertEquals(200, server.send("GET", "/health").statusCode());
        } finally {
            System.setErr(old);
        }
        String log = err.toString(StandardCharsets.UTF_8);
        assertTrue(log.matches("(?s).*INFO access - 127\\.0\\.0\\.1 \"POST /v1/completions\" 200 prompt=3 completion=3 cached=0 \\d+ ms.*"), log);
        assertTrue(log.matches("(?s).*INFO access - 127\\.0\\.0\\.1 \"GET /v1/nothing\" 404 \\d+ ms.*"), log);
        assertFalse(log.contains("\"GET /health\""), "probes are logged at debug only: " + log);
    }

    @Test
    void warmUpRunsAGreedyAndASampledRequestInANamespaceOfItsOwn() throws Exception {
        try (AsyncEngine engine = new AsyncEngine(LLMEngine.create("synthetic:tiny", TestServer.tinyConfig().build()))) {
            OpenAiServer.warmUp(engine);
            EngineStats s = engine.call(LLMEngine::stats).get();
            assertEquals(4 + 16, s.generatedTokens(), "4 greedy tokens, then 16 sampled");
            assertEquals(0, s.running() + s.waiting());
            assertTrue(s.steps() >= 4, "prefill and decode both ran: " + s.steps());
        }
    }
}
