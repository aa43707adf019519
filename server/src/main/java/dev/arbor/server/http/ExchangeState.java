package dev.arbor.server.http;

import com.sun.net.httpserver.HttpExchange;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What the router learns about one exchange and its handler reads later: the API key's tenant, and the
 * generation job for the access line. NOTE: not {@link HttpExchange#setAttribute}: the JDK's server keeps
 * exchange attributes in the shared {@code HttpContext}, so concurrent exchanges would see each other's
 * values (a request could run in another tenant's namespace). The router registers each exchange here for
 * exactly the time it handles it.
 */
final class ExchangeState {
    private static final Map<HttpExchange, ExchangeState> LIVE = new ConcurrentHashMap<>();   // identity: HttpExchange keeps Object's equals

    volatile String tenant;
    volatile GenerationJob job;

    private ExchangeState() {}

    /** Registers {@code exchange}; {@link #end} must follow. */
    static ExchangeState begin(HttpExchange exchange) {
        ExchangeState s = new ExchangeState();
        LIVE.put(exchange, s);
        return s;
    }

    static void end(HttpExchange exchange) {
        LIVE.remove(exchange);
    }

    /** The state of an exchange being handled; an exchange the router does not know (a test's) gets an empty one. */
    static ExchangeState of(HttpExchange exchange) {
        ExchangeState s = LIVE.get(exchange);
        return s != null ? s : new ExchangeState();
    }
}
