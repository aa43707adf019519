package dev.arbor.engine;

import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 12's asynchronous scheduling ({@code -Darbor.engine.asyncScheduling}): a step's ids stay "on the device" (FakeLM
 * hides them from the host until awaited and feeds the next step's placeholders from its own copy) while the next step is
 * scheduled and launched, and are applied one step late. Every output must equal the synchronous engine's, call by call:
 * EOS / stop tokens / stop strings learnt a step late drop the extra token; max_tokens, min_tokens, n completions, logprobs
 * and penalties (steps that cannot defer) mixed in; aborts at any call; preemption in a small pool; the prefix cache's
 * blocks all accounted for at the end.
 */
class AsyncSchedulingTest {

    private static LLMEngine engine(boolean async, int numBlocks, int maxSeqs) {
        String old = System.getProperty(LLMEngine.ASYNC_SCHEDULING);
        System.setProperty(LLMEngine.ASYNC_SCHEDULING, Boolean.toString(async));
        try {
            FakeLM lm = new FakeLM(300, 4096, null);
            return new LLMEngine(lm, new ByteTokenizer(300), EngineConfig.builder().numBlocks(numBlocks).maxNumSeqs(maxSeqs)
                    .maxNumBatchedTokens(64).build());
        } finally {
            if (old == null) System.clearProperty(LLMEngine.ASYNC_SCHEDULING);
            else System.setProperty(LLMEngine.ASYNC_SCHEDULING, old);
        }
    }

    /** Prompts sharing a 40-token prefix (full blocks the trie shares) in groups, then their own tokens. */
    private static List<int[]> prompts(int n) {
        List<int[]> p = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] t = new int[41 + 5 * (i % 7)];
            for (int j = 0; j < t.length; j++) t[j] = j < 40 ? (j * 13 + (i % 3) * 7) % 250 : (j * 31 + i * 17) % 250;
            p.add(t);
        }
        return p;
    }

    /** Every request's params: a mix of endings (stop ids, stop strings, max_tokens, min_tokens), n = 2, logprobs and penalties. */
    private static SamplingParams params(int i) {
        SamplingParams.Builder b = SamplingParams.builder().maxTokens(6 + (i * 5) % 23);
        b = switch (i % 8) {
            case 0 -> b.temperature(0);
            case 1 -> b.temperature(0.9).seed(100L + i).stopTokenIds(List.of(3, 17, 40, 77, 101, 150, 199, 230));
            case 2 -> b.temperature(0).stop("e", "zz");
            case 3 -> b.temperature(0.7).seed(7L * i).n(2).stopTokenIds(List.of(5, 9, 61, 88, 120, 201));
            case 4 -> b.temperature(0.8).seed(3L + i).minTokens(4).stopTokenIds(List.of(11, 12, 13, 14, 15, 16, 18, 19, 20));
            case 5 -> b.temperature(0.8).seed(5L + i).logprobs(2);
            case 6 -> b.temperature(0.8).seed(9L + i).repetitionPenalty(1.3);
            default -> b.temperature(1.0).seed(1L + i).stop("a", "b", "c").maxTokens(40);
        };
        return b.build();
    }

    /** Per call, the outputs as (request, text delta, new ids, finish reason); aborts as the hook decides. */
    private static List<List<String>> run(LLMEngine e, int requests, BiConsumer<LLMEngine, Integer> afterCall) {
        List<int[]> prompts = prompts(requests);
        for (int i = 0; i < requests; i++) e.addRequest("r" + i, Prompt.ofTokens(prompts.get(i)), params(i), null, 0);
        List<List<String>> calls = new ArrayList<>();
        int call = 0;
        while (e.hasUnfinished()) {
            List<String> outs = new ArrayList<>();
            for (RequestOutput o : e.step()) outs.add(line(o));
            calls.add(outs);
            afterCall.accept(e, call++);
            assertTrue(call < 10_000, "no progress");
        }
        return calls;
    }

    private static String line(RequestOutput o) {
        if (o.failed()) return o.requestId() + " failed " + o.error();
        StringBuilder sb = new StringBuilder(o.requestId());
        for (CompletionOutput c : o.outputs()) {
            sb.append(" [").append(c.index()).append(' ').append(c.textDelta()).append('|').append(Arrays.toString(c.newTokenIds()))
                    .append('|').append(c.finishReason()).append('|').append(c.stopReason()).append('|').append(Arrays.toString(c.tokenIds()));
            if (c.logprobs() != null) sb.append('|').append(c.logprobs());
            sb.append(']');
        }
        return sb.toString();
    }

    private static void sameRuns(int numBlocks, int maxSeqs, int requests, BiConsumer<LLMEngine, Integer> afterCall, List<String> abortLog) {
        try (LLMEngine sync = engine(false, numBlocks, maxSeqs); LLMEngine async = engine(true, numBlocks, maxSeqs)) {
            assertFalse(sync.asyncScheduling());
            assertTrue(async.asyncScheduling());
            List<List<String>> a = run(sync, requests, afterCall);
            int abortsSync = abortLog.size();
            List<List<String>> b = run(async, requests, afterCall);
            assertEquals(abortLog.subList(0, abortsSync), abortLog.subList(abortsSync, abortLog.size()), "aborted outputs");
            assertEquals(a.size(), b.size(), "calls");
            for (int i = 0; i < a.size(); i++) assertEquals(a.get(i), b.get(i), "outputs of call " + i);
            assertEquals(0, sync.deferredSteps());
            assertTrue(async.deferredSteps() > 0, "some steps deferred their ids");
            EngineStats s = sync.stats(), x = async.stats();
            assertEquals(s.preemptions(), x.preemptions(), "preemptions");
            assertEquals(s.freeBlocks(), x.freeBlocks(), "blocks free at the end (the prefix cache keeps the same)");
            assertEquals(s.prefixCache().cachedBlocks(), x.prefixCache().cachedBlocks(), "cached blocks");
            async.evictAllCached();
            assertEquals(x.totalBlocks(), async.stats().freeBlocks(), "no block leaked: all free once the cache lets go");
            assertEquals(0, async.stats().running());
            assertFalse(async.hasUnfinished());
        }
    }

    @Test
    void outputsEqualTheSynchronousEnginesCallByCall() {
        sameRuns(512, 16, 40, (e, c) -> {}, new ArrayList<>());
    }

    @Test
    void preemptionInASmallPoolGivesTheSameOutputs() {
        sameRuns(40, 16, 24, (e, c) -> {}, new ArrayList<>());
    }

    @Test
    void abortsAtAnyCallReturnTheSameFinalOutputs() {
        List<String> log = new ArrayList<>();
        sameRuns(512, 16, 30, (e, c) -> {
            if (c % 3 == 1) {
                String id = "r" + ((c * 7) % 30);
                RequestOutput o = e.abort(id);
                log.add(c + ":" + (o == null ? id + " gone" : line(o)));
            }
        }, log);
        assertTrue(log.stream().anyMatch(l -> l.contains("ABORT")), "some aborts hit running requests: " + log);
    }

    @Test
    void aSequenceEndingByStopTokenDropsTheTokenSampledBehindIt() {
        // greedy, hash-driven: take the 3rd token the model produces for this prompt as a stop id
        int[] prompt = {1, 2, 3, 4, 5};
        int[] free = new int[1];
        int[] seen;
        try (LLMEngine e = engine(false, 64, 4)) {
            free[0] = e.stats().freeBlocks();
            seen = new LLM(e).generateTokens(List.of(prompt), SamplingParams.builder().temperature(0).maxTokens(8).build())
                    .getFirst().output().tokenIds();
        }
        SamplingParams stop = SamplingParams.builder().temperature(0).maxTokens(8).stopTokenIds(List.of(seen[2])).build();
        try (LLMEngine e = engine(true, 64, 4)) {
            e.addRequest("x", Prompt.ofTokens(prompt), stop, null, 0);
            RequestOutput last = null;
            while (e.hasUnfinished()) for (RequestOutput o : e.step()) last = o;
            assertNotNull(last);
            int stopAt = 0;
            while (seen[stopAt] != seen[2]) stopAt++;
            assertArrayEquals(Arrays.copyOf(seen, stopAt + 1), last.output().tokenIds(), "ends at the stop id, nothing after it");
            assertEquals(FinishReason.STOP, last.output().finishReason());
            assertTrue(e.deferredSteps() > 0);
            assertEquals(e.stats().totalBlocks(), e.stats().freeBlocks() + e.stats().prefixCache().cachedBlocks(), "blocks: free or cached");
        }
    }
}
