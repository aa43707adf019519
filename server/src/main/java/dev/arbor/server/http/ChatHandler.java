package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.RequestOutput;

import java.io.IOException;
import java.util.List;
import java.util.regex.Matcher;

/**
 * POST /v1/chat/completions: the messages are rendered through the model's chat template, the
 * reply comes back as {@code chat.completion} (or {@code chat.completion.chunk} events: first the
 * assistant role per choice, then content deltas, the last one carrying finish_reason).
 */
final class ChatHandler implements Endpoint {
    private final ServerContext ctx;

    ChatHandler(ServerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void handle(HttpExchange exchange, Matcher path) throws Exception {
        ChatRequest req = ChatRequest.parse(Json.readBody(exchange, ctx.config().maxBodyBytes()), ctx.model());
        String id = OpenAiObjects.newId("chatcmpl-");
        long created = System.currentTimeMillis() / 1000;
        try (GenerationJob job = GenerationJob.start(ctx.engine(), ctx.metrics(), List.of(req.prompt().ids()), req.params(),
                Tenancy.salt(exchange, req.salt()))) {
            ExchangeState.of(exchange).job = job;
            if (req.stream()) {
                stream(exchange, req, job, id, created);
            } else {
                Json.send(exchange, 200, response(req, job.awaitAll()[0], id, created));
            }
        }
    }

    private void stream(HttpExchange exchange, ChatRequest req, GenerationJob job, String id, long created)
            throws IOException, InterruptedException {
        int n = req.params().n();
        StreamRelay.Chunks chunks = new StreamRelay.Chunks() {
            @Override
            public void preamble(SseWriter sse) throws IOException {
                for (int i = 0; i < n; i++) {
                    ObjectNode c = chunk(id, created, i);
                    ObjectNode delta = ((ObjectNode) c.get("choices").get(0)).putObject("delta");
                    delta.put("role", "assistant");
                    delta.put("content", "");
                    sse.event(c);
                }
            }

            @Override
            public ObjectNode delta(ChoiceDeltas.Delta d) {
                ObjectNode c = chunk(id, created, d.choice());
                ObjectNode ch = (ObjectNode) c.get("choices").get(0);
                ObjectNode delta = ch.putObject("delta");
                if (!d.text().isEmpty() || d.finish() == null) delta.put("content", d.text());
                if (d.logprobs() != null) ch.set("logprobs", LogprobsJson.chat(d.logprobs(), req.topLogprobs(), ctx.model()));
                OpenAiObjects.putFinish(ch, d.finish(), d.stopReason());
                return c;
            }

            @Override
            public ObjectNode usage(Usage u) {
                ObjectNode c = OpenAiObjects.envelope(id, "chat.completion.chunk", created, ctx.model());
                c.putArray("choices");
                c.set("usage", u.toJson());
                return c;
            }
        };
        StreamRelay.relay(new SseWriter(exchange), job, new ChoiceDeltas(1, n), chunks, req.includeUsage(), ctx);
    }

    private ObjectNode chunk(String id, long created, int choice) {
        ObjectNode c = OpenAiObjects.envelope(id, "chat.completion.chunk", created, ctx.model());
        ObjectNode ch = c.putArray("choices").addObject();
        ch.put("index", choice);
        ch.putNull("logprobs");
        ch.putNull("finish_reason");
        c.putNull("usage");
        return c;
    }

    private ObjectNode response(ChatRequest req, RequestOutput o, String id, long created) {
        if (o.failed()) throw new ApiException(500, "internal_error", o.error(), null, "engine_error");
        ObjectNode body = OpenAiObjects.envelope(id, "chat.completion", created, ctx.model());
        ArrayNode choices = body.putArray("choices");
        for (CompletionOutput c : o.outputs()) {
            ObjectNode ch = choices.addObject();
            ch.put("index", c.index());
            ObjectNode message = ch.putObject("message");
            message.put("role", "assistant");
            message.put("content", c.text());
            message.putNull("refusal");
            if (c.logprobs() != null) ch.set("logprobs", LogprobsJson.chat(c.logprobs(), req.topLogprobs(), ctx.model()));
            else ch.putNull("logprobs");
            OpenAiObjects.putFinish(ch, c.finishReason(), c.stopReason());
        }
        body.set("usage", Usage.of(new RequestOutput[] {o}).toJson());
        return body;
    }
}
