package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Typed, optional access to the fields of a JSON request object. A field that is absent or
 * {@code null} reads as Java null (OpenAI's SDKs send explicit nulls for unset options); a field
 * of the wrong type is a 400 naming it, so a client learns which of its fields was wrong.
 */
final class Fields {
    private final JsonNode root;

    Fields(JsonNode root) {
        this.root = root;
    }

    JsonNode node(String name) {
        JsonNode v = root.get(name);
        return v == null || v.isNull() ? null : v;
    }

    boolean has(String name) {
        return node(name) != null;
    }

    String string(String name) {
        JsonNode v = node(name);
        if (v == null) return null;
        if (!v.isTextual()) throw ApiException.invalidField(name, "must be a string");
        return v.textValue();
    }

    Double number(String name) {
        JsonNode v = node(name);
        if (v == null) return null;
        if (!v.isNumber()) throw ApiException.invalidField(name, "must be a number");
        return v.doubleValue();
    }

    /** An integer; 3.0 is accepted as 3 (JavaScript clients cannot tell them apart), 3.5 is not. */
    Integer integer(String name) {
        Long v = longInteger(name);
        if (v == null) return null;
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw ApiException.invalidField(name, "is out of range");
        return v.intValue();
    }

    Long longInteger(String name) {
        JsonNode v = node(name);
        if (v == null) return null;
        if (v.isIntegralNumber() && v.canConvertToLong()) return v.longValue();
        if (v.isNumber() && v.doubleValue() == Math.rint(v.doubleValue()) && Math.abs(v.doubleValue()) < 0x1p53) return (long) v.doubleValue();
        throw ApiException.invalidField(name, "must be an integer");
    }

    Boolean bool(String name) {
        JsonNode v = node(name);
        if (v == null) return null;
        if (!v.isBoolean()) throw ApiException.invalidField(name, "must be a boolean");
        return v.booleanValue();
    }

    /** OpenAI's {@code stop}: a string or an array of strings. */
    List<String> stringOrStrings(String name) {
        JsonNode v = node(name);
        if (v == null) return List.of();
        if (v.isTextual()) return List.of(v.textValue());
        if (!v.isArray()) throw ApiException.invalidField(name, "must be a string or an array of strings");
        List<String> out = new ArrayList<>(v.size());
        for (JsonNode e : v) {
            if (!e.isTextual()) throw ApiException.invalidField(name, "must be a string or an array of strings");
            out.add(e.textValue());
        }
        return out;
    }

    List<Integer> integers(String name) {
        JsonNode v = node(name);
        if (v == null) return List.of();
        if (!v.isArray()) throw ApiException.invalidField(name, "must be an array of integers");
        List<Integer> out = new ArrayList<>(v.size());
        for (JsonNode e : v) {
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw ApiException.invalidField(name, "must be an array of integers");
            out.add(e.intValue());
        }
        return out;
    }

    /** Rejects an option this server does not implement, rather than silently ignoring it. */
    void unsupported(String name, String why) {
        JsonNode v = node(name);
        boolean empty = v == null || (v.isContainerNode() && v.isEmpty());
        if (!empty) throw ApiException.invalidField(name, "is not supported: " + why);
    }
}
