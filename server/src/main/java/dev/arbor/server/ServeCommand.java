package dev.arbor.server;

import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.LLMEngine;
import dev.arbor.server.http.ApiKeys;
import dev.arbor.server.http.OpenAiServer;
import dev.arbor.server.http.ServedModel;
import dev.arbor.server.http.ServerLog;
import dev.arbor.server.http.ServerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code arbor serve}: the OpenAI-compatible HTTP API. Runs until SIGINT or SIGTERM; then it stops
 * accepting, gives running requests up to --shutdown-grace-seconds to finish, aborts the rest and
 * exits (the JVM's shutdown hook is where both signals arrive).
 */
@Command(mixinStandardHelpOptions = true, showDefaultValues = true, name = "serve", description = "Serve an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, ...).")
public final class ServeCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

    @Mixin EngineOptions engine;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "address to bind (0.0.0.0 for all interfaces)")
    String host;

    @Option(names = "--port", defaultValue = "8000", description = "port, 0-65535 (0 = any free port)")
    int port;

    @Option(names = "--api-key", defaultValue = "${env:ARBOR_API_KEY}",
            description = "require 'Authorization: Bearer KEY' on /v1 routes; repeat for several keys, each its own tenant "
                    + "with its own cache namespace (default: $ARBOR_API_KEY, else none)")
    List<String> apiKeys;

    @Option(names = "--api-keys-file", description = "accept the keys of this file: one 'TENANT KEY' per line (# comments); "
            + "a tenant's requests and prefixes are kept apart from every other tenant's")
    Path apiKeysFile;

    @Option(names = "--served-model-name", description = "the model's name in the API (default: the directory name or the synthetic spec)")
    String servedModelName;

    @Option(names = "--shutdown-grace-seconds", defaultValue = "30", description = "on SIGINT/SIGTERM, how long running requests may finish (>= 0)")
    int shutdownGraceSeconds;

    @Option(names = "--max-body-bytes", defaultValue = "1048576", description = "larger request bodies get 413 (>= 1)")
    int maxBodyBytes;

    @Option(names = "--stream-keep-alive-ms", defaultValue = "1000",
            description = "a stream waiting this long for its next token (queued, prefilling) gets an SSE comment line, "
                    + "which also finds clients that left (>= 1)")
    long keepAliveMillis;

    @Spec CommandSpec spec;

    /** Every option, the port included, is checked before the model loads: a typo or a taken port fails at once. */
    private void check() {
        engine.check(spec);
        UsageErrors.check(spec, () -> {
            if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in 0-65535, got " + port);
            EngineOptions.nonNegative("--shutdown-grace-seconds", shutdownGraceSeconds);
            EngineOptions.nonNegative("--log-stats-interval-seconds", statsIntervalSeconds);
            EngineOptions.positive("--max-body-bytes", maxBodyBytes);
            EngineOptions.positive("--stream-keep-alive-ms", keepAliveMillis);
            if (apiKeysFile != null && !Files.isReadable(apiKeysFile)) throw new IllegalArgumentException("--api-keys-file " + apiKeysFile + " is not a readable file");
            if (port != 0) {
                try (ServerSocket probe = new ServerSocket()) {
                    probe.bind(new InetSocketAddress(host, port));
                } catch (IOException e) {
                    throw new IllegalArgumentException("cannot listen on " + host + ":" + port + ": " + e.getMessage()
                            + " (--host, --port; --port 0 picks a free port)");
                }
            }
        });
    }

    @Option(names = "--log-stats-interval-seconds", defaultValue = "10",
            description = "while requests run or wait, log throughput, running/waiting requests, KV use and the prefix-cache hit rate "
                    + "this often (0 = never; one access line per request is logged regardless, at logger arbor.access)")
    int statsIntervalSeconds;

    @Option(names = "--no-warm-up", description = "skip the short request run before the port opens (by default /health answers 200 only after it)")
    boolean noWarmUp;

    @Override
    public Integer call() throws Exception {
        check();
        String name = servedModelName != null ? servedModelName : ServedModel.nameFor(engine.model);
        ApiKeys keys = ApiKeys.of(apiKeys);
        if (apiKeysFile != null) keys = keys.withFile(apiKeysFile);
        ServerConfig config = new ServerConfig(host, port, keys, name, maxBodyBytes, Duration.ofMillis(keepAliveMillis));
        AsyncEngine async = new AsyncEngine(LLMEngine.create(engine.model, engine.toConfig()));
        OpenAiServer server;
        ServerLog stats;
        try {
            if (!noWarmUp) OpenAiServer.warmUp(async);
            server = OpenAiServer.start(async, config, engine.model);
            stats = ServerLog.start(async, Duration.ofSeconds(statsIntervalSeconds));
        } catch (Exception e) {
            async.close();
            throw e;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().name("arbor-shutdown").unstarted(() -> {
            log.info("shutting down: no new requests; running ones get up to {} s", shutdownGraceSeconds);
            long deadline = System.nanoTime() + Duration.ofSeconds(shutdownGraceSeconds).toNanos();
            stats.close();
            server.shutdown(Duration.ofSeconds(shutdownGraceSeconds));
            // Whatever is still running once the grace is spent is aborted; its clients see finish_reason "abort".
            async.shutdown(Math.max(0, (deadline - System.nanoTime()) / 1_000_000));
            async.close();
            log.info("stopped");
            stopped.countDown();
        }));
        log.info("serving '{}' at {}/v1 (OpenAI-compatible; {}metrics at {}/metrics)", name, server.baseUrl(),
                config.apiKeys().required() ? "API key required; " : "", server.baseUrl());
        stopped.await();
        return 0;
    }
}
