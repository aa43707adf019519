package dev.arbor.engine;

import dev.arbor.models.CausalLM;
import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.*;

/** Issue 13, fault 5: whatever the model throws, requests finish, submits are answered and health says so. */
class AsyncEngineFailureTest {

    /** FakeLM behind a proxy whose executors' forward throws what {@code failure} supplies (when set). */
    static CausalLM throwing(CausalLM model, AtomicReference<Supplier<Throwable>> failure) {
        return dev.arbor.models.testing.FailingModels.throwingOnForward(model, () -> {
            Supplier<Throwable> f = failure.get();
            return f == null ? null : f.get();
        });
    }

    private static CompletableFuture<RequestOutput> generate(AsyncEngine engine, int maxTokens) throws Exception {
        CompletableFuture<RequestOutput> done = new CompletableFuture<>();
        engine.submit(Prompt.ofTokens(new int[] {1, 2, 3}), SamplingParams.builder().temperature(0).maxTokens(maxTokens).ignoreEos(true).build(),
                null, o -> { if (o.finished()) done.complete(o); }).get(10, TimeUnit.SECONDS);
        return done;
    }

    @Test
    void anExceptionFailsTheRequestsInFlightAndTheEngineKeepsServing() throws Exception {
        AtomicReference<Supplier<Throwable>> failure = new AtomicReference<>();
        try (AsyncEngine engine = new AsyncEngine(new LLMEngine(throwing(new FakeLM(), failure), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(64).build()))) {
            failure.set(() -> new IllegalStateException("kernel launch failed"));
            RequestOutput failed = generate(engine, 5).get(10, TimeUnit.SECONDS);
            assertTrue(failed.failed());
            assertEquals("engine error: IllegalStateException: kernel launch failed", failed.error());
            assertNull(engine.failure());
            failure.set(null);
            RequestOutput ok = generate(engine, 5).get(10, TimeUnit.SECONDS);
            assertFalse(ok.failed(), ok.error());
            assertEquals(5, ok.output().tokenIds().length);
        }
    }

    @Test
    void anErrorFailsTheRequestsInFlightAndLaterSubmitsAreRefusedNotHung() throws Exception {
        AtomicReference<Supplier<Throwable>> failure = new AtomicReference<>();
        try (AsyncEngine engine = new AsyncEngine(new LLMEngine(throwing(new FakeLM(), failure), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(64).build()))) {
            assertFalse(generate(engine, 3).get(10, TimeUnit.SECONDS).failed());
            failure.set(() -> new OutOfMemoryError("Java heap space"));
            RequestOutput failed = generate(engine, 5).get(10, TimeUnit.SECONDS);
            assertTrue(failed.failed());
            assertEquals("engine failed: OutOfMemoryError: Java heap space; restart the server", failed.error());
            assertEquals(failed.error(), engine.failure());
            // A later submit is refused at once, with the reason.
            var e = assertThrows(ExecutionException.class, () -> generate(engine, 5));
            assertInstanceOf(AsyncEngine.EngineUnavailableException.class, e.getCause());
            assertEquals(failed.error(), e.getCause().getMessage());
            // Queries still work (the loop thread is alive) and no request is left behind.
            EngineStats s = engine.call(LLMEngine::stats).get(10, TimeUnit.SECONDS);
            assertEquals(0, s.running());
            assertEquals(0, s.waiting());
            assertTrue(engine.idle());
        }
    }

    @Test
    void anyThrowableIsCaughtAtTheLoopBoundary() throws Exception {
        AtomicReference<Supplier<Throwable>> failure = new AtomicReference<>();
        try (AsyncEngine engine = new AsyncEngine(new LLMEngine(throwing(new FakeLM(), failure), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(64).build()))) {
            failure.set(() -> new StackOverflowError());
            RequestOutput failed = generate(engine, 5).get(10, TimeUnit.SECONDS);
            assertEquals("engine failed: StackOverflowError; restart the server", failed.error());
            assertNotNull(engine.failure());
        }
    }
}
