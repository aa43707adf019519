package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * OpenAI's {@code stream_options}: only {@code include_usage} has a meaning here. Given without
 * {@code stream: true} it is a 400, as in vLLM.
 */
final class StreamOptions {
    private StreamOptions() {}

    static boolean includeUsage(Fields f) {
        JsonNode options = f.node("stream_options");
        if (options == null || options.isNull()) return false;
        if (!Boolean.TRUE.equals(f.bool("stream"))) {
            throw ApiException.invalidField("stream_options", "is only allowed when stream is true");
        }
        if (!options.isObject()) throw ApiException.invalidField("stream_options", "must be an object");
        JsonNode v = options.get("include_usage");
        if (v == null || v.isNull()) return false;
        if (!v.isBoolean()) throw ApiException.invalidField("stream_options.include_usage", "must be a boolean");
        return v.booleanValue();
    }
}
