package dev.arbor.server.http;

import java.time.Duration;

/**
 * The HTTP server's settings.
 *
 * @param host         address to bind (127.0.0.1 keeps it local)
 * @param port         0 = any free port (tests)
 * @param apiKeys      when any, /v1 routes need {@code Authorization: Bearer KEY}, and each key's tenant
 *                     gets its own cache namespace ({@link ApiKeys}); {@link ApiKeys#NONE} = open
 * @param modelName    the public model name (see {@link ServedModel#nameFor})
 * @param maxBodyBytes larger request bodies get 413
 * @param keepAlive    how long a stream may wait for its next token (queued, prefilling) before an SSE
 *                     comment line is written: it keeps proxies from timing out, and a write that fails
 *                     finds a client that left, whose request is then aborted
 */
public record ServerConfig(String host, int port, ApiKeys apiKeys, String modelName, int maxBodyBytes, Duration keepAlive) {
    public static final int DEFAULT_MAX_BODY_BYTES = 1 << 20;
    public static final Duration DEFAULT_KEEP_ALIVE = Duration.ofSeconds(1);

    public ServerConfig {
        if (port < 0 || port > 65535) throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        if (maxBodyBytes < 1) throw new IllegalArgumentException("maxBodyBytes must be positive, got " + maxBodyBytes);
        if (keepAlive == null || keepAlive.isNegative() || keepAlive.isZero()) {
            throw new IllegalArgumentException("keepAlive must be positive, got " + keepAlive);
        }
        if (apiKeys == null) apiKeys = ApiKeys.NONE;
    }

    public static ServerConfig local(String modelName) {
        return new ServerConfig("127.0.0.1", 0, ApiKeys.NONE, modelName, DEFAULT_MAX_BODY_BYTES, DEFAULT_KEEP_ALIVE);
    }

    public ServerConfig withApiKey(String key) { return withApiKeys(ApiKeys.single(key)); }

    public ServerConfig withApiKeys(ApiKeys keys) { return new ServerConfig(host, port, keys, modelName, maxBodyBytes, keepAlive); }

    public ServerConfig withMaxBodyBytes(int bytes) { return new ServerConfig(host, port, apiKeys, modelName, bytes, keepAlive); }

    public ServerConfig withKeepAlive(Duration d) { return new ServerConfig(host, port, apiKeys, modelName, maxBodyBytes, d); }
}
