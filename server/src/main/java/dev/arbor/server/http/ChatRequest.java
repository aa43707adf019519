package dev.arbor.server.http;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arbor.engine.SamplingParams;
import dev.arbor.tokenizer.ChatMessage;

import java.util.List;
import java.util.Map;

/**
 * A parsed POST /v1/chat/completions body, its messages already rendered and tokenised.
 *
 * @param topLogprobs alternatives per token when {@code logprobs} is true (0 = only the chosen token); null = no logprobs
 */
record ChatRequest(ChatPrompts.Rendered prompt, SamplingParams params, boolean stream, boolean includeUsage,
                   Integer topLogprobs, String salt) {

    static ChatRequest parse(JsonNode body, ServedModel model) {
        Fields f = new Fields(body);
        model.requireModel(f);
        f.unsupported("tools", "tool calling is not implemented");
        f.unsupported("functions", "function calling is not implemented");
        f.unsupported("logit_bias", "logit biases are not implemented");
        JsonNode format = f.node("response_format");
        if (format != null && !"text".equals(format.path("type").asText())) {
            throw ApiException.invalidField("response_format", "is not supported: only {\"type\": \"text\"}");
        }
        Integer topLogprobs = null;
        Integer requestedTop = f.integer("top_logprobs");
        if (Boolean.TRUE.equals(f.bool("logprobs"))) {
            topLogprobs = requestedTop == null ? 0 : requestedTop;
        } else if (requestedTop != null) {
            throw ApiException.invalidField("top_logprobs", "requires 'logprobs' to be true");
        }
        // Chat has no default budget in OpenAI's API: up to the context length.
        SamplingParams params = SamplingFields.parse(f, SamplingFields.maxTokens(f, null), topLogprobs, model);

        List<ChatMessage> messages = ChatPrompts.parseMessages(f.node("messages"));
        Boolean addGenerationPrompt = f.bool("add_generation_prompt");
        ChatPrompts.Rendered prompt = ChatPrompts.render(model, messages, addGenerationPrompt == null || addGenerationPrompt,
                templateVariables(f));
        model.checkPrompt(prompt.ids(), "messages");
        model.checkMaxTokens(prompt.ids().length, params.maxTokens(), SamplingFields.maxTokensParam(f));
        return new ChatRequest(prompt, params, Boolean.TRUE.equals(f.bool("stream")), StreamOptions.includeUsage(f),
                topLogprobs, f.string("cache_salt"));
    }

    /** vLLM's {@code chat_template_kwargs}, e.g. {"enable_thinking": false} for Qwen3. */
    private static Map<String, Object> templateVariables(Fields f) {
        JsonNode kwargs = f.node("chat_template_kwargs");
        if (kwargs == null) return Map.of();
        if (!kwargs.isObject()) throw ApiException.invalidField("chat_template_kwargs", "must be an object");
        return Json.MAPPER.convertValue(kwargs, new TypeReference<Map<String, Object>>() {});
    }
}
