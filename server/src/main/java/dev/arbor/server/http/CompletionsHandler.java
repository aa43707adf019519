package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.RequestOutput;

import java.io.IOException;
import java.util.regex.Matcher;

/** POST /v1/completions: text completion, streamed or whole, in OpenAI's {@code text_completion} shape. */
final class CompletionsHandler implements Endpoint {
    private final ServerContext ctx;

    CompletionsHandler(ServerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void handle(HttpExchange exchange, Matcher path) throws Exception {
        CompletionRequest req = CompletionRequest.parse(Json.readBody(exchange, ctx.config().maxBodyBytes()), ctx.model());
        String id = OpenAiObjects.newId("cmpl-");
        long created = System.currentTimeMillis() / 1000;
        try (GenerationJob job = GenerationJob.start(ctx.engine(), ctx.metrics(), req.promptIds(), req.params(),
                Tenancy.salt(exchange, req.salt()))) {
            ExchangeState.of(exchange).job = job;
            if (req.stream()) {
                stream(exchange, req, job, id, created);
            } else {
                Json.send(exchange, 200, response(req, job.awaitAll(), id, created));
            }
        }
    }

    private void stream(HttpExchange exchange, CompletionRequest req, GenerationJob job, String id, long created)
            throws IOException, InterruptedException {
        int n = req.params().n();
        StreamRelay.Chunks chunks = new StreamRelay.Chunks() {
            @Override
            public void preamble(SseWriter sse) throws IOException {
                if (!req.echo()) return;
                for (int p = 0; p < req.numPrompts(); p++) {
                    for (int i = 0; i < n; i++) sse.event(chunk(id, created, p * n + i, promptText(req, p), null));
                }
            }

            @Override
            public ObjectNode delta(ChoiceDeltas.Delta d) {
                ObjectNode c = chunk(id, created, d.choice(), d.text(), d);
                if (d.logprobs() != null) {
                    ((ObjectNode) c.get("choices").get(0)).set("logprobs",
                            LogprobsJson.completion(d.logprobs(), req.logprobs(), d.textOffset(), ctx.model()));
                }
                return c;
            }

            @Override
            public ObjectNode usage(Usage u) {
                ObjectNode c = OpenAiObjects.envelope(id, "text_completion", created, ctx.model());
                c.putArray("choices");
                c.set("usage", u.toJson());
                return c;
            }
        };
        StreamRelay.relay(new SseWriter(exchange), job, new ChoiceDeltas(req.numPrompts(), n), chunks, req.includeUsage(), ctx);
    }

    private ObjectNode chunk(String id, long created, int choice, String text, ChoiceDeltas.Delta d) {
        ObjectNode c = OpenAiObjects.envelope(id, "text_completion", created, ctx.model());
        ObjectNode ch = c.putArray("choices").addObject();
        ch.put("index", choice);
        ch.put("text", text);
        ch.putNull("logprobs");
        OpenAiObjects.putFinish(ch, d == null ? null : d.finish(), d == null ? null : d.stopReason());
        c.putNull("usage");
        return c;
    }

    private ObjectNode response(CompletionRequest req, RequestOutput[] finals, String id, long created) {
        ObjectNode body = OpenAiObjects.envelope(id, "text_completion", created, ctx.model());
        ArrayNode choices = body.putArray("choices");
        int n = req.params().n();
        for (int p = 0; p < finals.length; p++) {
            RequestOutput o = finals[p];
            if (o.failed()) throw new ApiException(500, "internal_error", o.error(), null, "engine_error");
            String prefix = req.echo() ? promptText(req, p) : "";
            for (CompletionOutput c : o.outputs()) {
                ObjectNode ch = choices.addObject();
                ch.put("index", p * n + c.index());
                ch.put("text", prefix + c.text());
                if (c.logprobs() != null) ch.set("logprobs", LogprobsJson.completion(c.logprobs(), req.logprobs(), 0, ctx.model()));
                else ch.putNull("logprobs");
                OpenAiObjects.putFinish(ch, c.finishReason(), c.stopReason());
            }
        }
        body.set("usage", Usage.of(finals).toJson());
        return body;
    }

    /** The prompt's text for echo: as sent, or decoded when it was sent as token ids. */
    private String promptText(CompletionRequest req, int p) {
        String text = req.promptTexts().get(p);
        return text != null ? text : ctx.model().tokenizer().decode(req.promptIds().get(p));
    }
}
