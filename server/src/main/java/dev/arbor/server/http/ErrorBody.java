package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;

/** OpenAI's error shape: {@code {"error":{"message","type","param","code"}}}, never a stack trace. */
final class ErrorBody {
    private ErrorBody() {}

    static ObjectNode of(ApiException e) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ObjectNode error = root.putObject("error");
        error.put("message", e.getMessage());
        error.put("type", e.type());
        error.put("param", e.param());
        error.put("code", e.code());
        return root;
    }

    static void send(HttpExchange exchange, ApiException e) throws IOException {
        if (e.status() == 429 || e.status() == 503) exchange.getResponseHeaders().set("Retry-After", "1");
        if (e.status() == 401) exchange.getResponseHeaders().set("WWW-Authenticate", "Bearer");
        Json.send(exchange, e.status(), of(e));
    }
}
