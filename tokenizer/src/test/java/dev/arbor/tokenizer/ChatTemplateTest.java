package dev.arbor.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Compares rendering + encoding with transformers' {@code apply_chat_template}; the expected ids
 * come from {@code chat/make_chat_ids.py}, run once on the GPU machine (transformers 5.17.0).
 */
class ChatTemplateTest {

    @TestFactory
    Stream<DynamicTest> rendersAndEncodesLikeTransformers() {
        JsonNode expected = expectedCases();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : expected.path("cases")) {
            String name = c.path("tokenizer").asText() + "/" + c.path("conversation").asText()
                    + (c.path("add_generation_prompt").asBoolean() ? "+gen" : "");
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Tokenizer tok = FixtureData.tokenizer("tokenizers/" + c.path("tokenizer").asText());
                List<ChatMessage> messages = new ArrayList<>();
                c.path("messages").forEach(m -> messages.add(new ChatMessage(m.path("role").asText(), m.path("content").asText())));
                String text = tok.chatTemplate().orElseThrow().render(messages, c.path("add_generation_prompt").asBoolean());
                assertEquals(c.path("text").asText(), text, name + ": rendered text");
                assertArrayEquals(FixtureData.ints(c.path("ids")), tok.encode(text, false), name + ": ids");
            }));
        }
        assertTrue(tests.size() >= 16, "expected_chat_ids.json should cover both tokenizers");
        return tests.stream();
    }

    /**
     * Contents that look like template code ({@code {{ 7*7 }}}, {@code {% if %}}, comments, raw
     * blocks, stray braces) in every role and position reach the text verbatim, as Jinja2 renders
     * them; the expected texts come from {@code chat/make_verbatim_cases.py} (Jinja2 with
     * transformers' chat environment, which reproduces every case of expected_chat_ids.json).
     */
    @TestFactory
    Stream<DynamicTest> contentThatLooksLikeTemplateCodeStaysVerbatim() {
        JsonNode expected = resource("/chat/verbatim_content_cases.json");
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : expected.path("cases")) {
            String name = c.path("tokenizer").asText() + "/" + c.path("conversation").asText()
                    + (c.path("add_generation_prompt").asBoolean() ? "+gen" : "");
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Tokenizer tok = FixtureData.tokenizer("tokenizers/" + c.path("tokenizer").asText());
                List<ChatMessage> messages = new ArrayList<>();
                c.path("messages").forEach(m -> messages.add(new ChatMessage(m.path("role").asText(), m.path("content").asText())));
                String text = tok.chatTemplate().orElseThrow().render(messages, c.path("add_generation_prompt").asBoolean());
                assertEquals(c.path("text").asText(), text, name);
            }));
        }
        assertEquals(200, tests.size());
        return tests.stream();
    }

    @Test
    void issueExampleReachesTheModelVerbatim() {
        Tokenizer tok = FixtureData.tokenizer("models/tiny-llama3");
        String text = tok.chatTemplate().orElseThrow().render(List.of(ChatMessage.user("What is {{ 7*7 }}?")), true);
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is {{ 7*7 }}?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", text);
        assertEquals(19, tok.encode(text, false).length, "the literal text is 19 tokens; `What is 49?` would be 15");
    }

    @Test
    void extraVariablesAreDataToo() {
        ChatTemplate t = new ChatTemplate("{{ greeting }}|{{ messages[0].content }}", null, null);
        assertEquals("{{ 6*7 }}|{% if true %}x{% endif %}",
                t.render(List.of(ChatMessage.user("{% if true %}x{% endif %}")), false, Map.of("greeting", "{{ 6*7 }}")));
    }

    @Test
    void qwen3ExtraVariablesReachTheTemplate() {
        ChatTemplate t = FixtureData.tokenizer("tokenizers/qwen3").chatTemplate().orElseThrow();
        String text = t.render(List.of(ChatMessage.user("hi")), true, Map.of("enable_thinking", false));
        assertEquals("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", text);
    }

    @Test
    void strftimeNowIsDefinedAndFormatsLikePython() {
        // Llama 3.1's preamble, verbatim: with strftime_now defined it writes today's date, not the fallback.
        ChatTemplate t = new ChatTemplate("{%- if not date_string is defined %}{%- if strftime_now is defined %}"
                + "{%- set date_string = strftime_now(\"%d %b %Y\") %}{%- else %}{%- set date_string = \"26 Jul 2024\" %}"
                + "{%- endif %}{%- endif %}Today Date: {{ date_string }}", "<s>", "</s>");
        java.time.LocalDate before = java.time.LocalDate.now();
        String text = t.render(List.of(ChatMessage.user("x")), false);
        java.time.LocalDate after = java.time.LocalDate.now();
        var f = java.time.format.DateTimeFormatter.ofPattern("dd MMM yyyy", java.util.Locale.ENGLISH);
        assertTrue(text.equals("Today Date: " + before.format(f)) || text.equals("Today Date: " + after.format(f)), text);
        // A date the caller passes wins, as in transformers.
        assertEquals("Today Date: 01 Jan 2025", t.render(List.of(ChatMessage.user("x")), false, Map.of("date_string", "01 Jan 2025")));

        var time = java.time.ZonedDateTime.of(2026, 3, 5, 14, 7, 9, 0, java.time.ZoneOffset.ofHours(1));
        assertEquals("Thu Thursday Mar March 05  5 14 02 064 03 07 PM 09 26 2026 +0100 %",
                Strftime.format("%a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %z %%", time));
        var e = assertThrows(IllegalArgumentException.class, () -> Strftime.format("%Q", time));
        assertTrue(e.getMessage().contains("%Q"), e.getMessage());
    }

    @Test
    void raiseExceptionAbortsWithTheTemplatesMessage() {
        ChatTemplate t = new ChatTemplate(
                "{% if messages[0].role != 'user' %}{{ raise_exception('Conversations must start with a user turn') }}{% endif %}ok",
                "<s>", "</s>");
        assertEquals("ok", t.render(List.of(ChatMessage.user("x")), false));
        var e = assertThrows(ChatTemplate.ChatTemplateException.class, () -> t.render(List.of(ChatMessage.assistant("x")), false));
        assertTrue(e.getMessage().contains("Conversations must start with a user turn"), e.getMessage());
    }

    @Test
    void tojsonSpacesLikePython() {
        ChatTemplate t = new ChatTemplate("{{ messages[0] | tojson }}|{{ {'a': [1, 2], 'b': none} | tojson(indent=2) }}", null, null);
        assertEquals("{\"role\": \"user\", \"content\": \"héllo \\\"q\\\"\\n\"}|{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": null\n}",
                t.render(List.of(ChatMessage.user("héllo \"q\"\n")), false));
    }

    @Test
    void pythonStringMethodsKeepPythonSemantics() {
        ChatTemplate t = new ChatTemplate(
                "{{ m.split(',')|length }}|{{ m.split(',')[-1] }}|{{ m.strip('x,') }}|{{ m.rstrip(',') }}|{{ m.startswith(('y', 'x')) }}|{{ '  a  b '.split()|join('+') }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}"
                        .replace("m.", "messages[0].content."), null, null);
        // jinjava prints booleans as true/false where Jinja2 prints True/False; chat templates never print one.
        assertEquals("5|| a,b|x, a,b|true|a+b|ABab", t.render(List.of(ChatMessage.user("x, a,b,,")), false));
    }

    @Test
    void bosAndEosAreTemplateVariables() {
        ChatTemplate t = new ChatTemplate("{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}\n", "<s>", "</s>");
        assertEquals("<s>hi</s>", t.render(List.of(ChatMessage.user("hi")), false), "Jinja2 drops one trailing newline");
    }

    private static JsonNode expectedCases() {
        return resource("/chat/expected_chat_ids.json");
    }

    private static JsonNode resource(String name) {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(name)) {
            return FixtureData.JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
