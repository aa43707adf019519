package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.cache.PrefixInfo;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;

/**
 * Explicit prefixes: POST /v1/prefixes computes and pins a prefix's KV (a system prompt, few-shot
 * examples) so later requests that start with it reuse it; GET lists them; DELETE /v1/prefixes/{id}
 * unpins one (it is freed when its last user finishes). A prefix is given as {@code prompt} (text
 * encoded as /v1/completions encodes it, or token ids) or as chat {@code messages} (rendered
 * without the generation prompt, so it is a prefix of the templated conversations that extend it).
 */
final class PrefixesHandler {
    private static final String ID_PREFIX = "prefix-";
    private final ServerContext ctx;

    PrefixesHandler(ServerContext ctx) {
        this.ctx = ctx;
    }

    void register(HttpExchange exchange, Matcher path) throws Exception {
        requirePrefixCaching();
        Fields f = new Fields(Json.readBody(exchange, ctx.config().maxBodyBytes()));
        ctx.model().requireModel(f);
        int[] ids = prefixIds(f);
        String param = f.has("messages") ? "messages" : "prompt";
        ctx.model().checkPrompt(ids, param);
        if (ids.length < ctx.model().blockSize()) {
            throw ApiException.invalidField(param, "has " + ids.length + " tokens, shorter than one KV block (" + ctx.model().blockSize() + "); nothing would be cached");
        }
        String clientSalt = f.string("cache_salt");
        String salt = Tenancy.salt(exchange, clientSalt);
        PrefixInfo info = await(() -> ctx.engine().registerPrefix(Prompt.ofTokens(ids), salt).get(), param);
        Json.send(exchange, 200, json(info, clientSalt));
    }

    /** Lists the caller's namespace only: its tenant (API key) and {@code ?cache_salt=}. */
    void list(HttpExchange exchange, Matcher path) throws Exception {
        String clientSalt = Tenancy.queryParameter(exchange, "cache_salt");
        String salt = Tenancy.salt(exchange, clientSalt);
        List<PrefixInfo> prefixes = await(() -> ctx.engine().listPrefixes(salt).get(), null);
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("object", "list");
        ArrayNode data = body.putArray("data");
        for (PrefixInfo p : prefixes) data.add(json(p, clientSalt));
        Json.send(exchange, 200, body);
    }

    /** Deletes a prefix of the caller's namespace ({@code ?cache_salt=}); one of another namespace is a 404. */
    void delete(HttpExchange exchange, Matcher path) throws Exception {
        requirePrefixCaching();
        String id = path.group(1);
        long numeric = parseId(id);
        String salt = Tenancy.salt(exchange, Tenancy.queryParameter(exchange, "cache_salt"));
        boolean deleted = await(() -> ctx.engine().deletePrefix(numeric, salt).get(), null);
        if (!deleted) throw ApiException.notFound("no prefix with id '" + id + "'", "id", "prefix_not_found");
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("id", ID_PREFIX + numeric);
        body.put("object", "prefix");
        body.put("deleted", true);
        Json.send(exchange, 200, body);
    }

    private void requirePrefixCaching() {
        if (ctx.engine().stats().prefixCache() == null) {
            throw new ApiException(400, "invalid_request_error", "prefix caching is disabled on this server (--no-prefix-caching)",
                    null, "prefix_caching_disabled");
        }
    }

    private int[] prefixIds(Fields f) {
        if (f.has("messages")) {
            Boolean addGenerationPrompt = f.bool("add_generation_prompt");
            return ChatPrompts.render(ctx.model(), ChatPrompts.parseMessages(f.node("messages")),
                    Boolean.TRUE.equals(addGenerationPrompt), Map.of()).ids();
        }
        JsonNode prompt = f.node("prompt");
        if (prompt == null) throw ApiException.badRequest("'prompt' or 'messages' is required", "prompt");
        if (prompt.isTextual()) return ctx.model().tokenizer().encode(prompt.textValue());
        if (!prompt.isArray()) throw ApiException.invalidField("prompt", "must be a string or an array of token ids");
        int[] ids = new int[prompt.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode t = prompt.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt()) throw ApiException.invalidField("prompt", "must be a string or an array of token ids");
            ids[i] = t.intValue();
        }
        return ids;
    }

    private static long parseId(String id) {
        String digits = id.startsWith(ID_PREFIX) ? id.substring(ID_PREFIX.length()) : id;
        try {
            return Long.parseLong(digits);
        } catch (NumberFormatException e) {
            throw ApiException.notFound("no prefix with id '" + id + "'", "id", "prefix_not_found");
        }
    }

    /** {@code clientSalt}: the namespace as the client named it (never the tenant part). */
    private static ObjectNode json(PrefixInfo p, String clientSalt) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", ID_PREFIX + p.id());
        o.put("object", "prefix");
        o.put("num_tokens", p.numTokens());
        o.put("num_blocks", p.numBlocks());
        o.put("users", p.users());
        o.put("hits", p.hits());
        o.put("pinned", p.pinned());
        o.put("priority", p.priority());
        o.put("cache_salt", clientSalt);
        return o;
    }

    /** An engine call from an HTTP thread; its refusals become client errors naming {@code param}. */
    private interface EngineCall<T> {
        T run() throws InterruptedException, ExecutionException;
    }

    private static <T> T await(EngineCall<T> call, String param) throws InterruptedException {
        try {
            return call.run();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IllegalArgumentException) throw ApiException.badRequest(cause.getMessage(), param);
            throw EngineErrors.toApi(cause);
        }
    }
}
