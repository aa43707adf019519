package dev.arbor.server.http;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arbor.tokenizer.ChatMessage;
import dev.arbor.tokenizer.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Chat messages to prompt token ids through the model's own chat template (Jinja, rendered by the
 * tokenizer module), then encoded without adding special tokens, because the template writes BOS
 * itself: the ids equal transformers' {@code apply_chat_template(..., add_generation_prompt=True)}.
 */
final class ChatPrompts {
    private ChatPrompts() {}

    /** The roles OpenAI's chat API accepts. */
    static final List<String> ROLES = List.of("system", "developer", "user", "assistant", "tool", "function");

    /** A rendered conversation: the template's text and the ids the model sees. */
    record Rendered(String text, int[] ids) {}

    static List<ChatMessage> parseMessages(JsonNode messages) {
        if (messages == null) throw ApiException.badRequest("'messages' is required", "messages");
        if (!messages.isArray() || messages.isEmpty()) throw ApiException.invalidField("messages", "must be a non-empty array");
        List<ChatMessage> out = new ArrayList<>(messages.size());
        for (int i = 0; i < messages.size(); i++) {
            JsonNode m = messages.get(i);
            String at = "messages[" + i + "]";
            if (!m.isObject()) throw ApiException.invalidField(at, "must be an object with 'role' and 'content'");
            JsonNode role = m.get("role");
            if (role == null || !role.isTextual() || role.textValue().isEmpty()) throw ApiException.invalidField(at + ".role", "must be a non-empty string");
            if (!ROLES.contains(role.textValue())) {
                // OpenAI refuses a role it does not know (a typo would otherwise reach the template as a turn of its own).
                throw ApiException.invalidField(at + ".role", "is '" + role.textValue() + "'; supported roles are "
                        + String.join(", ", ROLES));
            }
            out.add(new ChatMessage(role.textValue(), content(m.get("content"), at + ".content")));
        }
        return out;
    }

    /** A string, null (an assistant turn with tool calls) or an array of text parts, joined by newlines as vLLM does. */
    private static String content(JsonNode content, String param) {
        if (content == null || content.isNull()) return "";
        if (content.isTextual()) return content.textValue();
        if (!content.isArray()) throw ApiException.invalidField(param, "must be a string or an array of content parts");
        List<String> texts = new ArrayList<>();
        for (JsonNode part : content) {
            JsonNode type = part.get("type");
            JsonNode text = part.get("text");
            if (type == null || !"text".equals(type.asText()) || text == null || !text.isTextual()) {
                throw ApiException.invalidField(param, "may only hold parts of type 'text' (this server serves text models)");
            }
            texts.add(text.textValue());
        }
        return String.join("\n", texts);
    }

    static Rendered render(ServedModel model, List<ChatMessage> messages, boolean addGenerationPrompt, Map<String, Object> variables) {
        ChatTemplate template = model.tokenizer().chatTemplate().orElseThrow(() -> new ApiException(400, "invalid_request_error",
                "the model '" + model.name() + "' has no chat template (tokenizer_config.json has no chat_template); use /v1/completions",
                "messages", "chat_template_missing"));
        String text;
        try {
            text = template.render(messages, addGenerationPrompt, variables);
        } catch (ChatTemplate.ChatTemplateException e) {
            // The template's own raise_exception (e.g. "roles must alternate") is the client's error.
            throw ApiException.invalidField("messages", "were rejected by the model's chat template: " + e.getMessage());
        }
        return new Rendered(text, model.tokenizer().encode(text, false));
    }
}
