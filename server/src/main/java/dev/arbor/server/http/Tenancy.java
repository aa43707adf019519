package dev.arbor.server.http;

import com.sun.net.httpserver.HttpExchange;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * The cache namespace a request runs in. Without tenants (no API keys) it is the client's
 * {@code cache_salt}, as in vLLM. With API keys, the key's tenant comes first and the client's salt
 * only subdivides it: {@code "\0" + tenant + "\0" + cache_salt}. No client salt can begin with the
 * NUL that starts a tenant's namespace, so none can name another tenant's.
 */
final class Tenancy {
    private Tenancy() {}

    /** The engine's salt for this exchange and the client's {@code cache_salt} (may be null). */
    static String salt(HttpExchange exchange, String clientSalt) {
        if (clientSalt != null && clientSalt.indexOf('\0') >= 0) {
            throw ApiException.invalidField("cache_salt", "must not contain NUL characters");
        }
        String tenant = ExchangeState.of(exchange).tenant;
        if (tenant == null) return clientSalt;
        return "\0" + tenant + "\0" + (clientSalt == null ? "" : clientSalt);
    }

    /** A query parameter of the request URI, URL-decoded (the first occurrence), or null. */
    static String queryParameter(HttpExchange exchange, String name) {
        String query = exchange.getRequestURI().getRawQuery();
        if (query == null) return null;
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            if (key.equals(name)) return eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
        }
        return null;
    }
}
