package dev.arbor.server.http;

/**
 * The HTTP server's settings.
 *
 * @param host         address to bind (127.0.0.1 keeps it local)
 * @param port         0 = any free port (tests)
 * @param apiKey       when set, /v1 routes need {@code Authorization: Bearer KEY}; null = open
 * @param modelName    the public model name (see {@link ServedModel#nameFor})
 * @param maxBodyBytes larger request bodies get 413
 */
public record ServerConfig(String host, int port, String apiKey, String modelName, int maxBodyBytes) {
    public static final int DEFAULT_MAX_BODY_BYTES = 1 << 20;

    public ServerConfig {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        if (maxBodyBytes < 1) throw new IllegalArgumentException("maxBodyBytes must be positive, got " + maxBodyBytes);
        if (apiKey != null && apiKey.isBlank()) apiKey = null;
    }

    public static ServerConfig local(String modelName) {
        return new ServerConfig("127.0.0.1", 0, null, modelName, DEFAULT_MAX_BODY_BYTES);
    }

    public ServerConfig withApiKey(String key) { return new ServerConfig(host, port, key, modelName, maxBodyBytes); }

    public ServerConfig withMaxBodyBytes(int bytes) { return new ServerConfig(host, port, apiKey, modelName, bytes); }
}
