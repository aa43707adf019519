package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.EngineStats;
import dev.arbor.engine.LLMEngine;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** An engine plus server on a free loopback port, with the clients tests talk to it through. */
final class TestServer implements AutoCloseable {
    final AsyncEngine engine;
    final OpenAiServer server;
    final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    private TestServer(AsyncEngine engine, OpenAiServer server) {
        this.engine = engine;
        this.server = server;
    }

    static TestServer start(String spec, EngineConfig engineConfig, String apiKey) throws Exception {
        return startWith(spec, engineConfig, ServerConfig.local(ServedModel.nameFor(spec)).withApiKey(apiKey));
    }

    static TestServer startWith(String spec, EngineConfig engineConfig, ServerConfig config) throws Exception {
        AsyncEngine engine = new AsyncEngine(LLMEngine.create(spec, engineConfig));
        return new TestServer(engine, OpenAiServer.start(engine, config, spec));
    }

    /** Serves an engine built by the test (e.g. around a model that fails on purpose). */
    static TestServer around(AsyncEngine engine, String spec) throws Exception {
        return new TestServer(engine, OpenAiServer.start(engine, ServerConfig.local(ServedModel.nameFor(spec)), spec));
    }

    /** Small pool and context so limits are reachable in tests; prefix caching on, as by default. */
    static EngineConfig.Builder tinyConfig() {
        return EngineConfig.builder().numBlocks(512).maxNumSeqs(64).maxNumBatchedTokens(512);
    }

    String model() { return server.model().name(); }

    OpenAIClient client(String apiKey) {
        return OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(apiKey == null ? "unused" : apiKey)
                .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    HttpResponse<String> post(String path, String json, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(json));
        if (headers.length > 0) b.headers(headers);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> send(String method, String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).timeout(Duration.ofSeconds(60))
                .method(method, HttpRequest.BodyPublishers.noBody());
        if (headers.length > 0) b.headers(headers);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static JsonNode json(HttpResponse<String> r) throws Exception {
        return Json.MAPPER.readTree(r.body());
    }

    /** The engine's counters now (not the last step's snapshot). */
    EngineStats freshStats() throws Exception {
        return engine.call(LLMEngine::stats).get();
    }

    /** Waits until no request is queued or running; the engine frees blocks as requests end. */
    EngineStats awaitIdle(Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        EngineStats s = freshStats();
        while ((s.running() > 0 || s.waiting() > 0 || !engine.idle()) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            s = freshStats();
        }
        return s;
    }

    /** Blocks the prefix cache still holds (they are not on the free list). */
    static int cachedBlocks(EngineStats s) {
        return s.prefixCache() == null ? 0 : s.prefixCache().cachedBlocks();
    }

    @Override
    public void close() {
        server.close();
        engine.close();
    }
}
