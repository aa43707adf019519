package dev.arbor.server.http;

import com.sun.net.httpserver.HttpExchange;

import java.util.regex.Matcher;

/** One route's handler; {@code path} holds the route pattern's groups (e.g. a prefix id). Throw {@link ApiException} to refuse. */
@FunctionalInterface
interface Endpoint {
    void handle(HttpExchange exchange, Matcher path) throws Exception;
}
