package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;

/**
 * The streaming loop both generation endpoints share: take the job's updates, write one SSE event
 * per new choice delta, then the usage chunk (when asked) and {@code [DONE]}. While no update comes
 * (the request is queued or prefilling) an SSE comment goes out every keep-alive interval. A failed
 * write means the client disconnected; the loop stops and the caller's {@link GenerationJob#close()}
 * aborts the request, which releases its KV blocks.
 */
final class StreamRelay {
    private static final Logger log = LoggerFactory.getLogger(StreamRelay.class);

    /** The endpoint-specific shapes of a stream's chunks. */
    interface Chunks {
        /** Events sent before any token (chat: the assistant role; completions with echo: the prompt). */
        void preamble(SseWriter sse) throws IOException;

        ObjectNode delta(ChoiceDeltas.Delta d);

        ObjectNode usage(Usage u);
    }

    private StreamRelay() {}

    /** Returns true when the stream ended with [DONE], false when the client went away first. */
    static boolean relay(SseWriter sse, GenerationJob job, ChoiceDeltas deltas, Chunks chunks, boolean includeUsage,
                         ServerContext ctx) throws InterruptedException {
        MetricsRegistry metrics = ctx.metrics();
        try {
            chunks.preamble(sse);
            while (!job.done()) {
                GenerationJob.Update u = job.poll(ctx.config().keepAlive());
                if (u == null) {
                    sse.keepAlive();
                    continue;
                }
                if (u.output().failed()) {
                    // Headers are sent: the error travels as an event, which OpenAI's SDKs raise as an exception.
                    sse.event(ErrorBody.of(new ApiException(500, "internal_error", u.output().error(), null, "engine_error")));
                    sse.done();
                    return true;
                }
                for (ChoiceDeltas.Delta d : deltas.of(u)) sse.event(chunks.delta(d));
            }
            if (includeUsage) sse.event(chunks.usage(Usage.of(job.finals())));
            sse.done();
            return true;
        } catch (IOException e) {
            metrics.clientDisconnected();
            log.debug("client disconnected mid-stream ({}); aborting its request", e.toString());
            return false;
        }
    }
}
