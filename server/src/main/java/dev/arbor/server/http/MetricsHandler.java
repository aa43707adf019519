package dev.arbor.server.http;

import com.sun.net.httpserver.HttpExchange;
import dev.arbor.engine.AsyncEngine;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;

/** GET /metrics in Prometheus text format; reads the engine's last stats snapshot, never blocks on the engine. */
final class MetricsHandler implements Endpoint {
    private final AsyncEngine engine;
    private final MetricsRegistry metrics;

    MetricsHandler(AsyncEngine engine, MetricsRegistry metrics) {
        this.engine = engine;
        this.metrics = metrics;
    }

    @Override
    public void handle(HttpExchange exchange, Matcher path) throws Exception {
        byte[] body = metrics.render(engine.stats()).getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", MetricsRegistry.CONTENT_TYPE);
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }
}
