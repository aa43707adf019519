package dev.arbor.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.sun.net.httpserver.HttpExchange;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** JSON in and out of an exchange: bodies are size-capped before parsing. */
final class Json {
    static final ObjectMapper MAPPER = JsonMapper.builder().build();

    /** Refused bodies up to this size are read to the end before answering 413. */
    private static final long DRAIN_LIMIT = 16L << 20;

    private Json() {}

    /**
     * Reads and parses the request body. A declared Content-Length over {@code maxBytes} is refused
     * before reading; a chunked body is read only up to one byte past the cap.
     */
    static JsonNode readBody(HttpExchange exchange, int maxBytes) throws IOException {
        String declared = exchange.getRequestHeaders().getFirst("Content-Length");
        if (declared != null) {
            long length;
            try {
                length = Long.parseLong(declared.trim());
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("invalid Content-Length header", null);
            }
            if (length > maxBytes) {
                discard(exchange.getRequestBody(), length);
                throw bodyTooLarge(maxBytes);
            }
        }
        byte[] body = readCapped(exchange.getRequestBody(), maxBytes);
        if (body.length == 0) throw ApiException.badRequest("the request body is empty; expected a JSON object", null);
        try {
            JsonNode node = MAPPER.readTree(body);
            if (node == null || !node.isObject()) throw ApiException.badRequest("the request body must be a JSON object", null);
            return node;
        } catch (JsonProcessingException e) {
            // The parser's own message names the line and column, which is what a client needs.
            throw ApiException.badRequest("malformed JSON: " + e.getOriginalMessage()
                    + (e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")"), null);
        }
    }

    private static byte[] readCapped(InputStream in, int maxBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
            if (out.size() > maxBytes) throw bodyTooLarge(maxBytes);
        }
        return out.toByteArray();
    }

    /**
     * Reads and drops a refused body of moderate size, so the client (still sending) gets to read
     * the 413 instead of a connection reset; a larger one is cut off by closing the connection.
     */
    private static void discard(InputStream in, long length) throws IOException {
        if (length > DRAIN_LIMIT) return;
        byte[] buf = new byte[8192];
        while (in.read(buf) > 0) {
            // dropping
        }
    }

    private static ApiException bodyTooLarge(int maxBytes) {
        return ApiException.tooLarge("the request body is larger than " + maxBytes + " bytes", null, "request_too_large");
    }

    static void send(HttpExchange exchange, int status, JsonNode body) throws IOException {
        byte[] bytes = MAPPER.writeValueAsBytes(body);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    static {
        // Guard against pathological documents inside the byte cap (deep nesting costs stack, not bytes).
        MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build());
    }
}
