package dev.arbor.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class JinjaSourceTest {

    @Test
    void notAppliesToTheWholeTestAsInJinja2() {
        assertEquals("{% if not (date_string is defined) %}", JinjaSource.translate("{% if not date_string is defined %}"));
        assertEquals("{%- if not (message['content'] is not none) and not (tools is divisibleby(3)) %}",
                JinjaSource.translate("{%- if not message['content'] is not none and not tools is divisibleby(3) %}"));
        assertEquals("{% if not (a == b) %}", JinjaSource.translate("{% if not (a == b) %}"));
        ChatTemplate t = new ChatTemplate("{% if not x is defined %}unset{% else %}{{ x }}{% endif %}", null, null);
        assertEquals("unset", t.render(java.util.List.of(), false));
        assertEquals("7", t.render(java.util.List.of(), false, java.util.Map.of("x", 7)));
    }

    @Test
    void reversedSliceBecomesReverseFilter() {
        assertEquals("{% for m in messages|reverse %}", JinjaSource.translate("{% for m in messages[::-1] %}"));
    }

    @Test
    void namespaceKeywordValuesAreParenthesised() {
        assertEquals("{% set ns = namespace(a=(true), last=(messages|length - 1)) %}",
                JinjaSource.translate("{% set ns = namespace(a=true, last=messages|length - 1) %}"));
    }

    @Test
    void commasAndParensInsideStringsAndCallsAreNotSplit() {
        assertEquals("namespace(s=('a, (b)'), n=(f(1, 2)))", JinjaSource.translate("namespace(s='a, (b)', n=f(1, 2))"));
    }

    @Test
    void oneTrailingNewlineIsDropped() {
        assertEquals("x\n", JinjaSource.translate("x\n\n"));
    }
}
