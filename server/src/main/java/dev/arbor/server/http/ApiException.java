package dev.arbor.server.http;

/**
 * A request the server refuses, with everything the OpenAI error body needs. Thrown anywhere in
 * a handler; the {@link Router} turns it into {@code {"error":{message,type,param,code}}} with
 * {@link #status()}, so no handler writes error responses by hand.
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String type;
    private final String param;
    private final String code;

    public ApiException(int status, String type, String message, String param, String code) {
        super(message);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    public int status() { return status; }

    public String type() { return type; }

    public String param() { return param; }

    public String code() { return code; }

    /** 400: malformed JSON or an invalid field; {@code param} names the field (null when none applies). */
    public static ApiException badRequest(String message, String param) {
        return new ApiException(400, "invalid_request_error", message, param, null);
    }

    public static ApiException invalidField(String param, String rule) {
        return new ApiException(400, "invalid_request_error", "'" + param + "' " + rule, param, "invalid_value");
    }

    public static ApiException notFound(String message, String param, String code) {
        return new ApiException(404, "invalid_request_error", message, param, code);
    }

    /** 413: a body or prompt that is larger than the server or the model accepts. */
    public static ApiException tooLarge(String message, String param, String code) {
        return new ApiException(413, "invalid_request_error", message, param, code);
    }
}
