package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;

/** OpenAI's {@code stream_options}: only {@code include_usage} has a meaning here. */
final class StreamOptions {
    private StreamOptions() {}

    static boolean includeUsage(Fields f) {
        JsonNode options = f.node("stream_options");
        if (options == null) return false;
        if (!options.isObject()) throw ApiException.invalidField("stream_options", "must be an object");
        JsonNode v = options.get("include_usage");
        if (v == null || v.isNull()) return false;
        if (!v.isBoolean()) throw ApiException.invalidField("stream_options.include_usage", "must be a boolean");
        return v.booleanValue();
    }
}
