package dev.arbor.server.http;

import dev.arbor.engine.AsyncEngine;

/** What every handler needs: the engine, the served model, the metrics and the server's limits. */
record ServerContext(AsyncEngine engine, ServedModel model, MetricsRegistry metrics, ServerConfig config) {}
