package dev.arbor.server.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.RequestOutput;

/**
 * OpenAI's {@code usage}, summed over the prompts of a request. A prompt counts once however many
 * choices it has; {@code cached_tokens} is what the prefix cache served at admission.
 */
record Usage(int promptTokens, int completionTokens, int cachedTokens) {

    static Usage of(RequestOutput[] finals) {
        int prompt = 0, completion = 0, cached = 0;
        for (RequestOutput o : finals) {
            if (o == null) continue;
            prompt += o.promptTokenIds().length;
            cached += o.cachedTokens();
            for (CompletionOutput c : o.outputs()) completion += c.tokenIds().length;
        }
        return new Usage(prompt, completion, cached);
    }

    ObjectNode toJson() {
        ObjectNode u = Json.MAPPER.createObjectNode();
        u.put("prompt_tokens", promptTokens);
        u.put("completion_tokens", completionTokens);
        u.put("total_tokens", promptTokens + completionTokens);
        u.putObject("prompt_tokens_details").put("cached_tokens", cachedTokens);
        return u;
    }
}
