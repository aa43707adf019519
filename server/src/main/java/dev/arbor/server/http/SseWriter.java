package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Server-Sent Events over a chunked response: one {@code data: JSON} event per chunk, flushed at
 * once so a client sees each token as it is generated, and {@code data: [DONE]} at the end, as
 * OpenAI streams. A write that fails means the client went away: the caller aborts its request.
 */
final class SseWriter {
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    /** An SSE comment line: clients ignore it (the SSE format's own keep-alive). */
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);
    private final OutputStream out;

    SseWriter(HttpExchange exchange) throws IOException {
        var h = exchange.getResponseHeaders();
        h.set("Content-Type", "text/event-stream; charset=utf-8");
        h.set("Cache-Control", "no-cache");
        h.set("X-Accel-Buffering", "no");   // tells reverse proxies not to buffer the stream
        exchange.sendResponseHeaders(200, 0);   // length 0 = chunked
        this.out = exchange.getResponseBody();
    }

    void event(JsonNode data) throws IOException {
        byte[] json = Json.MAPPER.writeValueAsBytes(data);
        byte[] event = new byte[json.length + 8];
        System.arraycopy("data: ".getBytes(StandardCharsets.US_ASCII), 0, event, 0, 6);
        System.arraycopy(json, 0, event, 6, json.length);
        event[event.length - 2] = '\n';
        event[event.length - 1] = '\n';
        out.write(event);
        out.flush();
    }

    void keepAlive() throws IOException {
        out.write(KEEP_ALIVE);
        out.flush();
    }

    void done() throws IOException {
        out.write(DONE);
        out.flush();
    }
}
