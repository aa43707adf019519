package dev.arbor.server.http;

import dev.arbor.engine.AsyncEngine;

import java.util.concurrent.CompletionException;

/** Maps what the engine throws at submission to the HTTP status a client should see. */
final class EngineErrors {
    private EngineErrors() {}

    static ApiException toApi(Throwable t) {
        while (t instanceof CompletionException && t.getCause() != null) t = t.getCause();
        if (t instanceof ApiException api) return api;
        if (t instanceof AsyncEngine.QueueFullException) {
            return new ApiException(429, "rate_limit_error", "the server is busy: " + t.getMessage() + "; retry later", null, "queue_full");
        }
        if (t instanceof IllegalArgumentException) {
            // The engine names the field in its message; the prompt checks already ran, so it is a parameter.
            String field = SamplingFields.fieldNamedIn(t.getMessage());
            return ApiException.badRequest(t.getMessage(), field != null ? field : "prompt");
        }
        if (t instanceof IllegalStateException) {
            return new ApiException(503, "service_unavailable", "the engine is not accepting requests: " + t.getMessage(), null, "engine_unavailable");
        }
        return new ApiException(500, "internal_error", "the engine failed: " + t, null, "internal_error");
    }
}
