package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arbor.engine.FinishReason;

import java.util.UUID;

/** The fields every OpenAI response object carries, and small conversions shared by the endpoints. */
final class OpenAiObjects {
    private OpenAiObjects() {}

    static String newId(String prefix) {
        return prefix + UUID.randomUUID().toString().replace("-", "");
    }

    static ObjectNode envelope(String id, String object, long created, ServedModel model) {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", id);
        o.put("object", object);
        o.put("created", created);
        o.put("model", model.name());
        o.put("system_fingerprint", model.fingerprint());
        return o;
    }

    static void putFinish(ObjectNode choice, FinishReason finish, Object stopReason) {
        choice.put("finish_reason", finish == null ? null : finish.wireName());
        // vLLM's extra: the stop string or token id that ended the choice (null for EOS or length).
        if (stopReason instanceof Integer token) choice.put("stop_reason", token);
        else if (stopReason != null) choice.put("stop_reason", stopReason.toString());
        else choice.putNull("stop_reason");
    }
}
