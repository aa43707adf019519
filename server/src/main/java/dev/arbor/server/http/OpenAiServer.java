package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.EngineStats;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The OpenAI-compatible HTTP server over an {@link AsyncEngine}. Built on the JDK's HttpServer
 * with a virtual thread per exchange: a handler blocks cheaply while it waits for tokens, and
 * concurrent requests meet in the engine, which batches them (continuous batching), so nothing
 * here serialises requests. The caller owns the engine and closes it after {@link #shutdown}.
 */
public final class OpenAiServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(OpenAiServer.class);
    /** Pending connections the kernel queues; bursts of clients must not be refused at connect. */
    private static final int BACKLOG = 1024;

    private final HttpServer http;
    private final ExecutorService executor;
    private final ServerContext ctx;
    private volatile boolean draining;
    private volatile boolean stopped;

    private OpenAiServer(HttpServer http, ExecutorService executor, ServerContext ctx) {
        this.http = http;
        this.executor = executor;
        this.ctx = ctx;
    }

    /** Binds and starts serving; port 0 picks a free port (see {@link #port()}). */
    public static OpenAiServer start(AsyncEngine engine, ServerConfig config) throws IOException, InterruptedException {
        ServedModel model;
        try {
            model = ServedModel.read(engine, config.modelName(), config.modelName());
        } catch (ExecutionException e) {
            throw new IllegalStateException("could not read the engine's model: " + e.getCause(), e.getCause());
        }
        return start(engine, config, model);
    }

    /** As {@link #start(AsyncEngine, ServerConfig)}, with the model's spec (a path) kept apart from its public name. */
    public static OpenAiServer start(AsyncEngine engine, ServerConfig config, String spec) throws IOException, InterruptedException {
        try {
            return start(engine, config, ServedModel.read(engine, spec, config.modelName()));
        } catch (ExecutionException e) {
            throw new IllegalStateException("could not read the engine's model: " + e.getCause(), e.getCause());
        }
    }

    private static OpenAiServer start(AsyncEngine engine, ServerConfig config, ServedModel model) throws IOException {
        ServerContext ctx = new ServerContext(engine, model, new MetricsRegistry(), config);
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), BACKLOG);
        } catch (java.net.BindException e) {
            throw new java.net.BindException("cannot listen on " + config.host() + ":" + config.port() + ": " + e.getMessage());
        }
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        OpenAiServer server = new OpenAiServer(http, executor, ctx);
        http.setExecutor(executor);
        http.createContext("/", server.routes());
        http.start();
        return server;
    }

    private Router routes() {
        ModelsHandler models = new ModelsHandler(ctx.model());
        PrefixesHandler prefixes = new PrefixesHandler(ctx);
        return new Router(ctx.config().apiKeys(), ctx.metrics(), () -> draining)
                .route("POST", "/v1/completions", "/v1/completions", true, true, new CompletionsHandler(ctx))
                .route("POST", "/v1/chat/completions", "/v1/chat/completions", true, true, new ChatHandler(ctx))
                .route("GET", "/v1/models", "/v1/models", true, false, models::list)
                .route("GET", "/v1/models/(.+)", "/v1/models/{id}", true, false, models::get)
                .route("POST", "/v1/prefixes", "/v1/prefixes", true, true, prefixes::register)
                .route("GET", "/v1/prefixes", "/v1/prefixes", true, false, prefixes::list)
                .route("DELETE", "/v1/prefixes/([^/]+)", "/v1/prefixes/{id}", true, false, prefixes::delete)
                .route("GET", "/health", "/health", false, false, (exchange, path) -> health(exchange))
                .route("GET", "/metrics", "/metrics", false, false, new MetricsHandler(ctx.engine(), ctx.metrics()));
    }

    /**
     * 200 while serving; 503 while draining, so a load balancer stops sending traffic first, and 503
     * with the reason once the engine cannot serve (a step failed with an Error, its loop stopped).
     */
    private void health(com.sun.net.httpserver.HttpExchange exchange) throws IOException {
        EngineStats s = ctx.engine().stats();
        String failure = ctx.engine().failure();
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("status", failure != null ? "unhealthy" : draining ? "draining" : "ok");
        if (failure != null) body.put("error", failure);
        body.put("model", ctx.model().name());
        body.put("running", s.running());
        body.put("waiting", s.waiting());
        body.put("kv_cache_usage", s.kvUsage());
        Json.send(exchange, draining || failure != null ? 503 : 200, body);
    }

    /** The namespace (cache salt) of the warm-up request: its blocks are never shared with a client's. */
    static final String WARM_UP_SALT = "arbor-warm-up";

    /**
     * Runs one short request (a prompt of two blocks and a few generated tokens) through {@code engine} and
     * waits for it, so the first client does not pay for JIT compilation and first-touch allocation (seconds on
     * a real model). Called before the server binds, so {@code /health} answers 200 only once it is done. The
     * request runs in a namespace of its own; its cached blocks are evictable like any other.
     *
     * @return how long it took, in milliseconds
     */
    public static long warmUp(AsyncEngine engine) throws InterruptedException, ExecutionException {
        long t0 = System.nanoTime();
        int[] dims = engine.call(e -> new int[] {e.modelConfig().vocabSize(), e.config().blockSize(), e.maxModelLen()}).get();
        int vocab = dims[0], len = Math.max(1, Math.min(2 * dims[1] + 1, dims[2] - 5));
        int[] ids = new int[len];
        for (int i = 0; i < len; i++) ids[i] = Math.min(vocab - 1, 3 + i % Math.max(1, vocab - 3));
        // greedy, then sampled (temperature, top-k, top-p): clients mostly sample, and the sampler's code is
        // interpreted (slow, allocating) until the JIT has compiled it
        int generated = 0;
        for (SamplingParams params : new SamplingParams[] {
                SamplingParams.builder().temperature(0).maxTokens(4).ignoreEos(true).build(),
                SamplingParams.builder().temperature(0.8).topK(40).topP(0.95).seed(0L).maxTokens(16).ignoreEos(true).build()}) {
            java.util.concurrent.CompletableFuture<RequestOutput> done = new java.util.concurrent.CompletableFuture<>();
            engine.submit(Prompt.ofTokens(ids), params, WARM_UP_SALT, o -> { if (o.finished()) done.complete(o); }).get();
            RequestOutput out = done.get();
            if (out.failed()) throw new IllegalStateException("the warm-up request failed: " + out.error());
            generated += out.output().tokenIds().length;
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        log.info("warm-up: {} prompt + {} generated tokens in {} ms", ids.length, generated, ms);
        return ms;
    }

    public int port() { return http.getAddress().getPort(); }

    /** {@code http://host:port}; OpenAI clients take this plus {@code /v1}. */
    public String baseUrl() {
        String host = ctx.config().host();
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port();
    }

    public ServedModel model() { return ctx.model(); }

    public MetricsRegistry metrics() { return ctx.metrics(); }

    /**
     * Stops accepting (new connections are refused, new work on open connections gets 503), waits up
     * to {@code grace} for running exchanges to finish, then closes every connection. Requests still
     * in the engine afterwards are the caller's to abort, through {@link AsyncEngine#shutdown}.
     */
    public void shutdown(Duration grace) {
        if (stopped) return;
        stopped = true;
        draining = true;
        int seconds = (int) Math.min(Integer.MAX_VALUE, (grace.toMillis() + 999) / 1000);
        log.info("HTTP server draining (up to {} s for running requests)", seconds);
        http.stop(seconds);
        executor.shutdown();
    }

    @Override
    public void close() {
        shutdown(Duration.ZERO);
    }
}
