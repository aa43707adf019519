package dev.arbor.engine;

import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12's host overlap: a step's outputs are made while the next step runs (one {@link LLMEngine#step} late), and a
 * request without stop strings is detokenized lazily, by its next output. Checked against a request that takes its text
 * token by token (one with a stop string that never occurs): same ids, text, finish reasons; streamed deltas add up to
 * the whole; finishing frees blocks on time (no leak); abort in between returns what the last step added exactly once.
 */
class HostOverlapTest {
    private static final String NEVER = "\u0000\u0001never\u0002";   // a stop string the hash-driven model does not produce here

    private static LLMEngine engine() { return engine(true); }

    /** {@code overlap}: the model's forward pass returns early (as CUDA's), so outputs are made while the next step runs. */
    private static LLMEngine engine(boolean overlap) {
        // byte tokens 0..255 from a hash of the context: invalid UTF-8 runs too, so the detokenizer's hold and flush matter
        FakeLM lm = new FakeLM(300, 4096, null);
        lm.returnsEarly = overlap;
        return new LLMEngine(lm, new ByteTokenizer(300), EngineConfig.builder().numBlocks(256).maxNumSeqs(8).maxNumBatchedTokens(64).build());
    }

    /** Every output of every request, in order, as (text delta, new ids, finish reason). */
    private static Map<String, List<String>> transcript(LLMEngine e, List<int[]> prompts, SamplingParams p, List<Integer> perStep) {
        Map<String, List<String>> t = new LinkedHashMap<>();
        for (int i = 0; i < prompts.size(); i++) e.addRequest("r" + i, Prompt.ofTokens(prompts.get(i)), p.toBuilder().maxTokens(4 + 5 * i).build(), null, 0);
        while (e.hasUnfinished()) {
            List<RequestOutput> outs = e.step();
            perStep.add(outs.size());
            for (RequestOutput o : outs) {
                t.computeIfAbsent(o.requestId(), k -> new ArrayList<>()).add(o.output().textDelta() + "|"
                        + java.util.Arrays.toString(o.output().newTokenIds()) + "|" + o.output().finishReason());
            }
        }
        return t;
    }

    @Test
    void overlappedOutputsEqualTheSequentialOnesOneStepLater() {
        List<int[]> prompts = prompts(5);
        for (SamplingParams p : List.of(SamplingParams.builder().temperature(0).build(),
                SamplingParams.builder().temperature(0.8).seed(11L).build(), SamplingParams.builder().temperature(0).stop("zz").build())) {
            List<Integer> seqSteps = new ArrayList<>(), ovlSteps = new ArrayList<>();
            try (LLMEngine s = engine(false); LLMEngine o = engine(true)) {
                assertEquals(transcript(s, prompts, p, seqSteps), transcript(o, prompts, p, ovlSteps));
                assertEquals(seqSteps.size() + 1, ovlSteps.size(), "one more call returns the last outputs");
                assertEquals(0, (int) ovlSteps.getFirst());
                assertEquals(seqSteps, ovlSteps.subList(1, ovlSteps.size()), "the same outputs per step, one call later");
                assertEquals(s.stats().freeBlocks(), o.stats().freeBlocks());
            }
        }
    }

    private record Run(Map<String, RequestOutput> last, Map<String, StringBuilder> deltas, Map<String, List<Integer>> newIds, int steps) {}

    /** Runs prompts with the given params to the end, collecting every output per request. */
    private static Run run(LLMEngine e, List<int[]> prompts, List<SamplingParams> params) {
        Map<String, RequestOutput> last = new LinkedHashMap<>();
        Map<String, StringBuilder> deltas = new HashMap<>();
        Map<String, List<Integer>> ids = new HashMap<>();
        for (int i = 0; i < prompts.size(); i++) e.addRequest("r" + i, Prompt.ofTokens(prompts.get(i)), params.get(i), null, 0);
        int steps = 0;
        while (e.hasUnfinished()) {
            steps++;
            for (RequestOutput o : e.step()) {
                assertFalse(last.containsKey(o.requestId()) && last.get(o.requestId()).finished(), "an output after the final one: " + o.requestId());
                last.put(o.requestId(), o);
                deltas.computeIfAbsent(o.requestId(), k -> new StringBuilder()).append(o.output().textDelta());
                List<Integer> l = ids.computeIfAbsent(o.requestId(), k -> new ArrayList<>());
                for (int t : o.output().newTokenIds()) l.add(t);
            }
        }
        return new Run(last, deltas, ids, steps);
    }

    private static List<int[]> prompts(int n) {
        List<int[]> p = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] t = new int[3 + 7 * i];
            for (int j = 0; j < t.length; j++) t[j] = (j * 31 + i * 17) % 250;
            p.add(t);
        }
        return p;
    }

    @Test
    void lazyTextEqualsTokenByTokenTextAndDeltasAddUp() {
        List<int[]> prompts = prompts(6);
        List<SamplingParams> lazy = new ArrayList<>(), eager = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(5 + 9 * i).build();
            lazy.add(p);
            eager.add(p.toBuilder().stop(NEVER).build());
        }
        try (LLMEngine a = engine(); LLMEngine b = engine()) {
            int free = a.stats().freeBlocks();
            Run x = run(a, prompts, lazy), y = run(b, prompts, eager);
            assertEquals(prompts.size(), x.last().size());
            for (String id : x.last().keySet()) {
                CompletionOutput lo = x.last().get(id).output(), eo = y.last().get(id).output();
                assertTrue(x.last().get(id).finished());
                assertArrayEquals(eo.tokenIds(), lo.tokenIds(), id);
                assertEquals(eo.text(), lo.text(), id);
                assertEquals(eo.finishReason(), lo.finishReason(), id);
                assertEquals(lo.text(), x.deltas().get(id).toString(), "streamed deltas add up to the text: " + id);
                assertEquals(eo.text(), y.deltas().get(id).toString(), id);
                assertEquals(lo.tokenIds().length, x.newIds().get(id).size(), id);
            }
            assertEquals(x.steps(), y.steps());
            a.evictAllCached();
            assertEquals(free, a.stats().freeBlocks(), "every block is back once the cache lets go");
        }
    }

    @Test
    void aLazySequenceEndingInsideAUtf8CharacterFlushesItsTailAsTheEagerOneDoes() {
        int[] script = {'h', 'i', 0xE2, 0x82, 'x'};   // cut after 4 tokens: "hi" and the first two bytes of a 3-byte character
        String[] text = new String[2];
        for (int eager = 0; eager < 2; eager++) {
            try (LLM llm = new LLM(new LLMEngine(new FakeLM(300, 4096, script), new ByteTokenizer(300), EngineConfig.builder().numBlocks(64).build()))) {
                SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(4).build();
                text[eager] = llm.generateTokens(List.of(new int[] {65}), eager == 1 ? p.toBuilder().stop(NEVER).build() : p).getFirst().output().text();
            }
        }
        assertEquals(text[1], text[0]);
        assertTrue(text[0].startsWith("hi") && text[0].length() > 2, "the flushed tail is in the text: " + text[0]);
    }

    @Test
    void outputsComeOneStepLateAndTheLastCallFlushesThem() {
        try (LLMEngine e = engine()) {
            e.addRequest("a", Prompt.ofTokens(new int[] {1, 2, 3}), SamplingParams.builder().temperature(0).maxTokens(1).build(), null, 0);
            assertTrue(e.step().isEmpty(), "the first step's output is made while the next one runs");
            assertEquals(0, e.stats().running(), "finished by the step that sampled its last token");
            assertEquals(0, e.stats().usedBlocks(), "its blocks freed then (a 3-token prompt fills no block to cache)");
            assertTrue(e.hasUnfinished(), "its output is still to come");
            List<RequestOutput> outs = e.step();
            assertEquals(1, outs.size());
            assertTrue(outs.getFirst().finished());
            assertEquals(1, outs.getFirst().output().tokenIds().length);
            assertFalse(e.hasUnfinished());
        }
    }

    @Test
    void aSinkGetsTheOutputsBeforeTheStepWaitsAndOneThatThrowsDoesNotBreakTheStep() {
        try (LLMEngine e = engine()) {
            SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(3).build();
            e.addRequest("a", Prompt.ofTokens(new int[] {5, 6, 7}), p, null, 0);
            e.addRequest("b", Prompt.ofTokens(new int[] {8, 9}), p, null, 0);
            e.step();
            long[] stepsSeen = {-1};
            List<String> got = new ArrayList<>();
            RuntimeException boom = assertThrows(IllegalStateException.class, () -> e.step(o -> {
                stepsSeen[0] = e.stats().steps();
                got.add(o.requestId());
                if (o.requestId().equals("a")) throw new IllegalStateException("caller's bug");
            }));
            assertEquals("caller's bug", boom.getMessage());
            assertEquals(1, stepsSeen[0], "step 1's outputs came while step 2 ran, before it was processed");
            assertEquals(List.of("a", "b"), got, "the sink got every output despite the exception");
            assertEquals(2, e.stats().steps(), "the step completed");
            int outputs = 0;
            while (e.hasUnfinished()) outputs += e.step().size();
            assertEquals(2 * 2, outputs, "tokens 2 and 3 of both requests, one output each");
        }
    }

    @Test
    void abortAfterAStepReturnsItsTokensOnceAndStepDoesNotRepeatThem() {
        try (LLMEngine e = engine()) {
            SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(10).build();
            e.addRequest("a", Prompt.ofTokens(new int[] {5, 6, 7}), p, null, 0);
            e.addRequest("b", Prompt.ofTokens(new int[] {8, 9}), p, null, 0);
            e.step();
            e.step();                                        // returns step 1's outputs; step 2's are pending
            RequestOutput aborted = e.abort("a");
            assertEquals(FinishReason.ABORT, aborted.output().finishReason());
            assertEquals(2, aborted.output().tokenIds().length, "both sampled tokens");
            assertEquals(1, aborted.output().newTokenIds().length, "step 2's token, not yet returned by step()");
            while (e.hasUnfinished()) for (RequestOutput o : e.step()) assertNotEquals("a", o.requestId(), "nothing more for the aborted request");
        }
    }
}
