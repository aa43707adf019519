package dev.arbor.server.http;

import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.FinishReason;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The engine requests behind one HTTP request (one per prompt) and the hand-off of their outputs
 * from the engine thread to the HTTP thread. The engine's listener only enqueues (it runs on the
 * engine loop and must not block); the HTTP thread takes updates in order, records latencies and
 * writes. {@link #close()} aborts whatever has not finished, so a handler that stops early for any
 * reason (a client gone, an exception) always frees its KV blocks.
 */
final class GenerationJob implements AutoCloseable {
    /** One engine update of prompt {@code prompt}, stamped when the engine produced it. */
    record Update(int prompt, RequestOutput output, long nanos) {}

    private final AsyncEngine engine;
    private final MetricsRegistry metrics;
    private final BlockingQueue<Update> updates = new LinkedBlockingQueue<>();
    private final String[] requestIds;
    private final RequestOutput[] finals;
    private final long arrivalNanos = System.nanoTime();
    private final long[] lastTokenNanos;
    private int unfinished;
    private long promptTokens, generatedTokens, cachedTokens;

    private GenerationJob(AsyncEngine engine, MetricsRegistry metrics, int prompts) {
        this.engine = engine;
        this.metrics = metrics;
        this.requestIds = new String[prompts];
        this.finals = new RequestOutput[prompts];
        this.lastTokenNanos = new long[prompts];
        this.unfinished = prompts;
    }

    /** Queues every prompt; if one is refused, the ones already queued are aborted and the refusal is thrown. */
    static GenerationJob start(AsyncEngine engine, MetricsRegistry metrics, List<int[]> prompts, SamplingParams params,
                               String salt) throws InterruptedException {
        GenerationJob job = new GenerationJob(engine, metrics, prompts.size());
        for (int i = 0; i < prompts.size(); i++) {
            int index = i;
            var submitted = engine.submit(Prompt.ofTokens(prompts.get(i)), params, salt,
                    o -> job.updates.add(new Update(index, o, System.nanoTime())));
            try {
                job.requestIds[i] = submitted.get();
            } catch (ExecutionException e) {
                job.close();
                throw EngineErrors.toApi(e.getCause());
            } catch (InterruptedException e) {
                submitted.thenAccept(engine::abort);   // it may still be queued after we stop waiting
                job.close();
                throw e;
            }
        }
        return job;
    }

    /** The next update, or null once every prompt has finished. Blocks the (virtual) HTTP thread. */
    Update next() throws InterruptedException {
        if (unfinished == 0) return null;
        return taken(updates.take());
    }

    /** True once every prompt has finished and its last update was taken. */
    boolean done() {
        return unfinished == 0;
    }

    /** The next update, or null when none came within {@code wait} (or every prompt has finished). */
    Update poll(Duration wait) throws InterruptedException {
        if (unfinished == 0) return null;
        Update u = updates.poll(wait.toNanos(), TimeUnit.NANOSECONDS);
        return u == null ? null : taken(u);
    }

    private Update taken(Update u) {
        recordLatency(u);
        if (u.output().finished() && finals[u.prompt()] == null) {
            finals[u.prompt()] = u.output();
            unfinished--;
            recordFinish(u.output());
        }
        return u;
    }

    /** Waits for every prompt to finish; returns their final outputs in prompt order. */
    RequestOutput[] awaitAll() throws InterruptedException {
        while (next() != null) {
            // only the final outputs matter to a non-streaming response
        }
        return finals();
    }

    /** Final outputs so far, in prompt order (null where a prompt has not finished). */
    RequestOutput[] finals() {
        return finals.clone();
    }

    private void recordLatency(Update u) {
        boolean newTokens = false;
        for (CompletionOutput c : u.output().outputs()) newTokens |= c.newTokenIds().length > 0;
        if (!newTokens) return;
        int p = u.prompt();
        if (lastTokenNanos[p] == 0) {
            metrics.timeToFirstToken.observe((u.nanos() - arrivalNanos) / 1e9);
        } else {
            metrics.interTokenLatency.observe((u.nanos() - lastTokenNanos[p]) / 1e9);
        }
        lastTokenNanos[p] = u.nanos();
    }

    private void recordFinish(RequestOutput o) {
        metrics.requestLatency.observe((System.nanoTime() - arrivalNanos) / 1e9);
        int generated = 0;
        FinishReason reason = FinishReason.STOP;
        for (CompletionOutput c : o.outputs()) {
            generated += c.tokenIds().length;
            if (c.finishReason() != null && c.finishReason() != FinishReason.STOP) reason = c.finishReason();
        }
        if (o.failed()) reason = FinishReason.ERROR;
        metrics.requestFinished(reason.wireName(), o.promptTokenIds().length, generated, o.cachedTokens());
        promptTokens += o.promptTokenIds().length;
        generatedTokens += generated;
        cachedTokens += o.cachedTokens();
    }

    /** Prompt tokens of the prompts finished so far (for the access log). */
    long promptTokens() { return promptTokens; }

    /** Tokens generated by the prompts finished so far. */
    long generatedTokens() { return generatedTokens; }

    /** Prompt tokens that came from the prefix cache, of the prompts finished so far. */
    long cachedTokens() { return cachedTokens; }

    /** Aborts every request of this job that has not finished; the engine frees their blocks. */
    @Override
    public void close() {
        for (int i = 0; i < requestIds.length; i++) {
            if (requestIds[i] != null && finals[i] == null) engine.abort(requestIds[i]);
        }
    }
}
