package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;

import java.util.regex.Matcher;

/** GET /v1/models and GET /v1/models/{id}: the one served model, with vLLM's max_model_len extra. */
final class ModelsHandler {
    private final ServedModel model;

    ModelsHandler(ServedModel model) {
        this.model = model;
    }

    void list(HttpExchange exchange, Matcher path) throws Exception {
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("object", "list");
        body.putArray("data").add(card());
        Json.send(exchange, 200, body);
    }

    void get(HttpExchange exchange, Matcher path) throws Exception {
        String requested = path.group(1);
        if (!requested.equals(model.name()) && !requested.equals(model.spec())) {
            throw ApiException.notFound("The model '" + requested + "' does not exist", "model", "model_not_found");
        }
        Json.send(exchange, 200, card());
    }

    private ObjectNode card() {
        ObjectNode m = Json.MAPPER.createObjectNode();
        m.put("id", model.name());
        m.put("object", "model");
        m.put("created", model.created());
        m.put("owned_by", "arbor");
        m.put("root", model.spec());
        m.put("max_model_len", model.maxModelLen());
        return m;
    }
}
