package dev.arbor.engine;

import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Stop conditions, streaming and bad input, with a scripted model and the byte tokenizer (token = byte). */
class StopAndValidationTest {
    private static int[] bytes(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        int[] t = new int[b.length];
        for (int i = 0; i < b.length; i++) t[i] = b[i] & 0xff;
        return t;
    }

    private static LLM scripted(String text) {
        int[] script = new int[text.length() + 1];
        System.arraycopy(bytes(text), 0, script, 0, text.length());
        script[text.length()] = FakeLM.EOS;
        return new LLM(new LLMEngine(new FakeLM(300, 4096, script), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(64).build()));
    }

    private static final int[] ONE_TOKEN = {65};

    @Test
    void stopStringSplitAcrossTokensIsFoundAndExcluded() {
        LLM llm = scripted("hello world, and more");
        RequestOutput o = llm.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50).stop("lo w").build()).getFirst();
        assertEquals("hel", o.output().text());
        assertEquals(FinishReason.STOP, o.output().finishReason());
        assertEquals("lo w", o.output().stopReason());
    }

    private static LLM scriptedIds(int... script) {
        return new LLM(new LLMEngine(new FakeLM(300, 4096, script), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(64).build()));
    }

    @Test
    void skipSpecialTokensFalseKeepsSampledSpecialTokensInWholeAndStreamedText() {
        // Issue 13, fault 3: EOS sampled with ignore_eos is in the text when skip_special_tokens=false.
        LLM llm = scriptedIds('a', FakeLM.EOS, FakeLM.EOS, 'b', 'c');
        var keep = SamplingParams.builder().temperature(0).maxTokens(4).ignoreEos(true).skipSpecialTokens(false).build();
        RequestOutput o = llm.generateTokens(List.of(ONE_TOKEN), keep).getFirst();
        assertEquals("a</s></s>b", o.output().text());
        StringBuilder joined = new StringBuilder();
        Iterator<RequestOutput> it = llm.stream(Prompt.ofTokens(ONE_TOKEN), keep);
        while (it.hasNext()) joined.append(it.next().output().textDelta());
        assertEquals("a</s></s>b", joined.toString());
        // Default: skipped.
        assertEquals("ab", llm.generateTokens(List.of(ONE_TOKEN), keep.toBuilder().skipSpecialTokens(true).build())
                .getFirst().output().text());
        // The token that ends the sequence is never text, as in vLLM.
        assertEquals("a", llm.generateTokens(List.of(ONE_TOKEN), keep.toBuilder().ignoreEos(false).build())
                .getFirst().output().text());
    }

    @Test
    void aCharacterBegunInThePromptAndCompletedByTheOutputIsEmitted() {
        // Issue 13, fault 4: the prompt's last token is E2, the first byte of "€"; the output brings 82 AC.
        LLM llm = scriptedIds(0x82, 0xAC, '!', FakeLM.EOS);
        int[] prompt = {0xE2};
        assertEquals("€!", llm.generateTokens(List.of(prompt), SamplingParams.builder().temperature(0).maxTokens(10).build())
                .getFirst().output().text());
        StringBuilder joined = new StringBuilder();
        Iterator<RequestOutput> it = llm.stream(Prompt.ofTokens(prompt), SamplingParams.builder().temperature(0).maxTokens(10).build());
        while (it.hasNext()) joined.append(it.next().output().textDelta());
        assertEquals("€!", joined.toString());
    }

    @Test
    void minTokensHoldsBackStopStringsEosAndStopTokens() {
        // Issue 13, fault 2: the stop string "," appears at token 3; min_tokens 10 lets it end the
        // request only when it completes at token 10 or later (here token 11).
        LLM llm = scripted("ab, cd, ef, gh");
        var p = SamplingParams.builder().temperature(0).maxTokens(50).stop(",").minTokens(10);
        RequestOutput o = llm.generateTokens(List.of(ONE_TOKEN), p.build()).getFirst();
        assertEquals("ab, cd, ef", o.output().text());
        assertEquals(FinishReason.STOP, o.output().finishReason());
        assertEquals(",", o.output().stopReason());
        assertEquals(11, o.output().tokenIds().length);
        // Without min_tokens the first comma stops it.
        assertEquals("ab", llm.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50)
                .stop(",").build()).getFirst().output().text());
        // A stop string ending exactly at token min_tokens counts; one split across the boundary too.
        assertEquals("ab, cd", llm.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50)
                .stop(",").minTokens(7).build()).getFirst().output().text());
        // A stop string that starts before min_tokens but ends after it counts (vLLM searches the new text
        // plus the stop length − 1 characters before it).
        assertEquals("ab", llm.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50)
                .stop(", c").minTokens(4).build()).getFirst().output().text());
        // Streamed: the same text, in deltas.
        Iterator<RequestOutput> it = llm.stream(Prompt.ofTokens(ONE_TOKEN), p.build());
        StringBuilder joined = new StringBuilder();
        RequestOutput last = null;
        while (it.hasNext()) { last = it.next(); joined.append(last.output().textDelta()); }
        assertEquals("ab, cd, ef", joined.toString());
        assertEquals(",", last.output().stopReason());
        // EOS (after "abc") and stop tokens cannot end it before min_tokens either.
        LLM abc = scripted("abc");
        RequestOutput eos = abc.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50)
                .minTokens(6).build()).getFirst();
        assertTrue(eos.output().tokenIds().length >= 6, eos.output().toString());
        RequestOutput stopTok = abc.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50)
                .stopTokenIds(List.of((int) 'b')).minTokens(3).build()).getFirst();
        assertNotEquals((int) 'b', stopTok.output().tokenIds()[1]);
    }

    @Test
    void eosStopsAndMaxTokensCuts() {
        LLM llm = scripted("abc");
        RequestOutput eos = llm.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50).build()).getFirst();
        assertEquals("abc", eos.output().text());
        assertEquals(FinishReason.STOP, eos.output().finishReason());
        RequestOutput len = llm.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(2).build()).getFirst();
        assertEquals("ab", len.output().text());
        assertEquals(FinishReason.LENGTH, len.output().finishReason());
        RequestOutput stopTok = llm.generateTokens(List.of(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50)
                .stopTokenIds(List.of((int) 'c')).build()).getFirst();
        assertEquals("ab", stopTok.output().text());
        assertEquals((int) 'c', stopTok.output().stopReason());
    }

    @Test
    void streamingDeltasJoinToTheFinalTextAndHoldBackPossibleStops() {
        LLM llm = scripted("one two three four");
        Iterator<RequestOutput> it = llm.stream(Prompt.ofTokens(ONE_TOKEN), SamplingParams.builder().temperature(0).maxTokens(50).stop("three").build());
        StringBuilder joined = new StringBuilder();
        List<String> deltas = new ArrayList<>();
        RequestOutput last = null;
        while (it.hasNext()) {
            last = it.next();
            joined.append(last.output().textDelta());
            deltas.add(last.output().textDelta());
        }
        assertEquals("one two ", last.output().text());
        assertEquals("one two ", joined.toString());
        assertFalse(deltas.stream().anyMatch(d -> d.contains("thr")), "the start of a stop string is never streamed");
    }

    @Test
    void badRequestsFailAloneWithNamedErrors() {
        LLM llm = new LLM(new LLMEngine(new FakeLM(300, 64, null), new ByteTokenizer(300), EngineConfig.builder().numBlocks(64).build()));
        List<RequestOutput> outs = llm.generatePrompts(List.of(
                Prompt.ofTokens(1, 2, 3),
                Prompt.ofTokens(new int[100]),            // longer than the 64-token context
                Prompt.ofTokens(1, 999),                  // outside the vocabulary
                Prompt.ofTokens(4, 5)), SamplingParams.greedy(5), null, null);
        assertFalse(outs.get(0).failed());
        assertTrue(outs.get(1).error().contains("context length"), outs.get(1).error());
        assertTrue(outs.get(2).error().contains("999"), outs.get(2).error());
        assertEquals(5, outs.get(3).output().tokenIds().length);
        RequestOutput badParam = llm.generatePrompts(List.of(Prompt.ofTokens(1)),
                SamplingParams.builder().topK(-5).build(), null, null).getFirst();
        assertTrue(badParam.error().contains("top_k"), badParam.error());
        assertEquals(64, llm.stats().freeBlocks() + llm.stats().prefixCache().cachedBlocks());
    }

    @Test
    void nCompletionsWithSeedAreReproducible() {
        LLM llm = new LLM(new LLMEngine(new FakeLM(), new ByteTokenizer(300), EngineConfig.builder().numBlocks(128).build()));
        SamplingParams p = SamplingParams.builder().n(3).temperature(1.0).seed(5L).maxTokens(12).ignoreEos(true).build();
        RequestOutput a = llm.generateTokens(List.of(new int[] {1, 2, 3, 4, 5}), p).getFirst();
        RequestOutput b = llm.generateTokens(List.of(new int[] {1, 2, 3, 4, 5}), p).getFirst();
        assertEquals(3, a.outputs().size());
        for (int i = 0; i < 3; i++) assertArrayEquals(a.outputs().get(i).tokenIds(), b.outputs().get(i).tokenIds());
        assertFalse(java.util.Arrays.equals(a.outputs().get(0).tokenIds(), a.outputs().get(1).tokenIds()), "the n streams differ");
    }
}
