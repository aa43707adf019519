package dev.arbor.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class JinjaSourceTest {

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
