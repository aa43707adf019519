package dev.arbor.server.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server's single HTTP handler: matches method and path to an {@link Endpoint}, checks the API
 * key and the draining state, and is the one place that turns failures into responses. Every
 * refusal is an OpenAI-style JSON error; an unexpected exception is logged here with its stack
 * trace and answered with a plain 500 message, so a client never sees a trace or an HTML page,
 * and one bad request cannot affect another (each exchange runs on its own virtual thread).
 */
final class Router implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(Router.class);

    /**
     * @param label      the route's name in metrics (a pattern, so ids do not multiply label values)
     * @param protectedByKey needs the API key when one is configured (the /v1 routes; health and metrics stay open for probes)
     * @param startsWork refused with 503 while the server drains for shutdown
     */
    private record Route(String method, Pattern pattern, String label, boolean protectedByKey, boolean startsWork, Endpoint endpoint) {}

    private final List<Route> routes = new ArrayList<>();
    private final ApiKeys apiKeys;
    private final MetricsRegistry metrics;
    private final BooleanSupplier draining;

    Router(ApiKeys apiKeys, MetricsRegistry metrics, BooleanSupplier draining) {
        this.apiKeys = apiKeys;
        this.metrics = metrics;
        this.draining = draining;
    }

    /** Adds a route; {@code path} is a regular expression over the whole path, its groups passed to the endpoint. */
    Router route(String method, String path, String label, boolean protectedByKey, boolean startsWork, Endpoint endpoint) {
        routes.add(new Route(method, Pattern.compile(path), label, protectedByKey, startsWork, endpoint));
        return this;
    }

    @Override
    public void handle(HttpExchange exchange) {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getPath();
        if (path.length() > 1 && path.endsWith("/")) path = path.substring(0, path.length() - 1);
        String label = "unmatched";
        long start = System.nanoTime();
        ExchangeState state = ExchangeState.begin(exchange);
        try {
            Route route = null;
            Matcher matcher = null;
            boolean pathKnown = false;
            for (Route r : routes) {
                Matcher m = r.pattern().matcher(path);
                if (!m.matches()) continue;
                pathKnown = true;
                if (r.method().equals(method)) {
                    route = r;
                    matcher = m;
                    break;
                }
            }
            if (route == null) {
                if (pathKnown) throw new ApiException(405, "invalid_request_error", "method " + method + " is not allowed on " + path, null, "method_not_allowed");
                throw ApiException.notFound("Invalid URL (" + method + " " + path + ")", null, "unknown_url");
            }
            label = route.label();
            if (route.protectedByKey()) state.tenant = authenticate(exchange);
            if (route.startsWork() && draining.getAsBoolean()) {
                throw new ApiException(503, "service_unavailable", "the server is shutting down", null, "shutting_down");
            }
            route.endpoint().handle(exchange, matcher);
        } catch (ApiException e) {
            respond(exchange, e);
        } catch (IOException e) {
            // Reading the request or writing a whole response failed: the client is gone; nothing to answer.
            log.debug("{} {}: connection failed: {}", method, path, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            respond(exchange, new ApiException(503, "service_unavailable", "the server is shutting down", null, "shutting_down"));
        } catch (Exception | Error e) {
            log.error("{} {} failed", method, path, e);
            respond(exchange, new ApiException(500, "internal_error", "internal server error: " + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()), null, "internal_error"));
        } finally {
            metrics.httpRequest(label, method, exchange.getResponseCode());
            exchange.close();
            ExchangeState.end(exchange);
            var remote = exchange.getRemoteAddress();
            ServerLog.access(remote == null ? "-" : remote.getAddress().getHostAddress(), method, path, exchange.getResponseCode(),
                    state.job, (System.nanoTime() - start) / 1_000_000, label.equals("/health") || label.equals("/metrics"));
        }
    }

    /** Checks the key; returns its tenant ({@link Tenancy} reads it from the exchange's state), null without keys. */
    private String authenticate(HttpExchange exchange) {
        if (!apiKeys.required()) return null;
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        String given = header != null && header.regionMatches(true, 0, "Bearer ", 0, 7) ? header.substring(7).trim() : "";
        String tenant = apiKeys.tenantOf(given);   // constant-time comparisons
        if (tenant == null) {
            throw new ApiException(401, "invalid_request_error",
                    header == null ? "missing API key: send 'Authorization: Bearer KEY'" : "incorrect API key provided",
                    null, "invalid_api_key");
        }
        return tenant;
    }

    private static void respond(HttpExchange exchange, ApiException e) {
        if (exchange.getResponseCode() != -1) {
            // Headers already went out (a stream had started); the body cannot become an error any more.
            log.debug("cannot send error {} after the response started: {}", e.status(), e.getMessage());
            return;
        }
        try {
            ErrorBody.send(exchange, e);
        } catch (IOException io) {
            log.debug("could not send error {}: {}", e.status(), io.toString());
        }
    }
}
