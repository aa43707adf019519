package dev.arbor.engine;

import dev.arbor.engine.cache.PrefixInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The online engine: one loop thread owns an {@link LLMEngine} and steps it while work remains;
 * other threads submit requests, abort them and query state through a command queue, so the
 * engine itself needs no locks. Every step's outputs go to the requests' listeners (on the loop
 * thread: listeners must be quick and must not block).
 *
 * <p>Failures: whatever a step throws is caught at the loop boundary and ends every request in
 * flight with an error that names it. An {@link Exception} leaves the engine serving. An
 * {@link Error} (out of memory, a stack overflow, a device driver failure surfacing as one) leaves
 * its state untrustworthy: the engine turns {@linkplain #failure() unhealthy}, refuses new requests
 * with {@link EngineUnavailableException} and keeps answering queries, so the server reports 503
 * instead of hanging.
 */
public final class AsyncEngine implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AsyncEngine.class);

    /** Raised to a submitter when the waiting queue is full (HTTP 429/503). */
    public static final class QueueFullException extends RuntimeException {
        public QueueFullException(String message) { super(message); }
    }

    /** Raised to a submitter when the engine cannot serve (it failed, or is shut down): HTTP 503. */
    public static final class EngineUnavailableException extends IllegalStateException {
        public EngineUnavailableException(String message) { super(message); }
    }

    private final LLMEngine engine;
    private final BlockingQueue<Runnable> commands = new LinkedBlockingQueue<>();
    private final Map<String, Consumer<RequestOutput>> listeners = new ConcurrentHashMap<>();
    private final Thread loop;
    private volatile EngineStats stats;
    private volatile boolean running = true;
    private volatile String failure;

    public AsyncEngine(LLMEngine engine) {
        this.engine = engine;
        this.stats = engine.stats();
        this.loop = Thread.ofPlatform().name("arbor-engine").daemon().start(this::run);
    }

    public int maxModelLen() { return engine.maxModelLen(); }

    /**
     * Queues a request; {@code listener} gets every update, the last with {@code finished()} true.
     * Validation errors complete the returned future exceptionally (IllegalArgumentException, or
     * {@link QueueFullException}); otherwise it completes with the request id once queued.
     */
    public CompletableFuture<String> submit(Prompt prompt, SamplingParams params, String salt,
                                            Consumer<RequestOutput> listener) {
        return call(e -> {
            refuseIfUnavailable();
            int max = e.config().maxWaiting();
            if (max > 0 && e.stats().waiting() >= max) throw new QueueFullException("the waiting queue is full (" + max + " requests)");
            String id = e.nextRequestId();
            listeners.put(id, listener);
            try {
                e.addRequest(id, prompt, params, salt, 0);
            } catch (RuntimeException ex) {
                listeners.remove(id);
                throw ex;
            }
            return id;
        });
    }

    /** Cancels a request; its blocks are freed on the loop thread. Unknown ids are ignored. */
    public void abort(String requestId) {
        commands.add(() -> {
            RequestOutput o = engine.abort(requestId);
            Consumer<RequestOutput> l = listeners.remove(requestId);
            if (o != null && l != null) deliver(l, o);
        });
    }

    /** Runs {@code f} on the loop thread with exclusive access to the engine. */
    public <T> CompletableFuture<T> call(Function<LLMEngine, T> f) {
        CompletableFuture<T> result = new CompletableFuture<>();
        if (!running || !loop.isAlive()) {
            result.completeExceptionally(new EngineUnavailableException(failure != null ? failure : "engine is shut down"));
            return result;
        }
        commands.add(() -> {
            try {
                result.complete(f.apply(engine));
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }

    /**
     * Computes and pins a prefix. It runs as an ordinary request in the batch (other streams keep
     * going) and is pinned as it finishes; the future completes then, or exceptionally with the
     * validation error or the failure that ended it.
     */
    public CompletableFuture<PrefixInfo> registerPrefix(Prompt prefix, String salt) {
        CompletableFuture<PrefixInfo> result = new CompletableFuture<>();
        call(e -> {
            refuseIfUnavailable();
            LLMEngine.PrefixRequest pr = e.startPrefix(prefix, salt, 0);
            listeners.put(pr.requestId(), o -> {
                if (!o.finished()) return;
                try {
                    result.complete(e.finishPrefix(pr, o));     // on the loop thread, like every engine call
                } catch (RuntimeException ex) {
                    result.completeExceptionally(ex);
                }
            });
            return pr;
        }).whenComplete((pr, t) -> { if (t != null) result.completeExceptionally(t); });
        return result;
    }

    /** Every namespace's prefixes (for an operator; a server lists one namespace with {@link #listPrefixes(String)}). */
    public CompletableFuture<List<PrefixInfo>> listPrefixes() { return call(LLMEngine::listPrefixes); }

    /** The prefixes of one namespace (cache salt; null = the default one). */
    public CompletableFuture<List<PrefixInfo>> listPrefixes(String salt) {
        return call(e -> e.listPrefixes().stream().filter(p -> Objects.equals(p.salt(), salt)).toList());
    }

    /** Deletes prefix {@code id} if it is registered in namespace {@code salt}; a prefix of another namespace is not found. */
    public CompletableFuture<Boolean> deletePrefix(long id, String salt) {
        return call(e -> e.listPrefixes().stream().anyMatch(p -> p.id() == id && p.pinned() && Objects.equals(p.salt(), salt))
                && e.deletePrefix(id));
    }

    /** Counters as of the last step (never blocks). */
    public EngineStats stats() { return stats; }

    public boolean idle() { return listeners.isEmpty(); }

    /** New work is refused once the engine failed or is shutting down (a command queued just before shutdown). */
    private void refuseIfUnavailable() {
        String broken = failure;
        if (broken != null) throw new EngineUnavailableException(broken);
        if (!running) throw new EngineUnavailableException("engine is shut down");
    }

    /** Why the engine stopped serving (an {@link Error} in a step, or its loop ended), or null while healthy. */
    public String failure() {
        String f = failure;
        if (f == null && running && !loop.isAlive()) return "the engine loop is not running";
        return f;
    }

    private void run() {
        try {
            loop();
        } catch (Throwable t) {
            // Only a failure inside the failure handling itself gets here; leave a clear state behind.
            failure = describe(t);
            log.error("engine loop died", t);
        } finally {
            if (running && failure == null) failure = "the engine loop stopped";
            // Anything still queued would wait forever: run it (submits now fail fast).
            for (Runnable c; (c = commands.poll()) != null; ) {
                try { c.run(); } catch (Throwable t) { log.warn("command after the loop stopped failed", t); }
            }
        }
    }

    private void loop() {
        while (running || engine.hasUnfinished()) {
            try {
                Runnable c = engine.hasUnfinished() ? commands.poll() : commands.poll(50, TimeUnit.MILLISECONDS);
                while (c != null) {
                    c.run();
                    c = commands.poll();
                }
                if (engine.hasUnfinished()) {
                    engine.step(o -> {     // each output as soon as it is made, while the device runs the next step
                        Consumer<RequestOutput> l = o.finished() ? listeners.remove(o.requestId()) : listeners.get(o.requestId());
                        if (l != null) deliver(l, o);
                    });
                }
                stats = engine.stats();
            } catch (InterruptedException e) {
                break;
            } catch (Exception e) {
                // A failing step must not take the server down: fail the running requests, keep serving.
                log.error("engine step failed; failing the requests in flight", e);
                failAll("engine error: " + describe(e));
            } catch (Error e) {
                failure = "engine failed: " + describe(e) + "; restart the server";
                log.error("engine step failed with an Error; failing the requests in flight, refusing new ones", e);
                failAll(failure);
                stats = safeStats();
            }
        }
    }

    private EngineStats safeStats() {
        try {
            return engine.stats();
        } catch (Throwable t) {
            return stats;
        }
    }

    private static String describe(Throwable t) {
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    /**
     * Ends every request in flight with an error. Each abort is isolated, so one broken request
     * cannot stop the others from being released (or kill the loop thread).
     */
    private void failAll(String message) {
        for (String id : List.copyOf(listeners.keySet())) {
            Consumer<RequestOutput> l = listeners.remove(id);
            try {
                engine.abort(id);
            } catch (Throwable ex) {
                log.error("could not abort {} cleanly", id, ex);
            }
            if (l != null) deliver(l, RequestOutput.failed(id, null, null, message));
        }
        try {
            engine.abortAll();      // anything without a listener (an internal prefix registration)
        } catch (Throwable ex) {
            log.error("could not abort the remaining requests cleanly", ex);
        }
    }

    private static void deliver(Consumer<RequestOutput> l, RequestOutput o) {
        try {
            l.accept(o);
        } catch (Exception e) {
            log.warn("request listener failed for {}", o.requestId(), e);
        }
    }

    /**
     * Stops taking requests, lets running ones finish for up to {@code graceMillis}, then aborts the rest.
     */
    public void shutdown(long graceMillis) {
        running = false;
        long deadline = System.currentTimeMillis() + graceMillis;
        while (!listeners.isEmpty() && System.currentTimeMillis() < deadline) {
            try { Thread.sleep(20); } catch (InterruptedException e) { break; }
        }
        for (String id : List.copyOf(listeners.keySet())) abort(id);
        try {
            loop.join(5000);
        } catch (InterruptedException ignored) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        shutdown(0);
        engine.close();
    }
}
