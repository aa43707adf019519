package dev.arbor.engine;

import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Paged KV and scheduler behaviour over a model whose output depends on every cached token. */
class EngineSchedulingTest {

    private static List<int[]> prompts(int count, int sharedLen, int ownLen, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] shared = new int[sharedLen];
        for (int i = 0; i < sharedLen; i++) shared[i] = r.nextInt(256);
        List<int[]> out = new ArrayList<>();
        for (int p = 0; p < count; p++) {
            int[] t = java.util.Arrays.copyOf(shared, sharedLen + ownLen + p);
            for (int i = sharedLen; i < t.length; i++) t[i] = r.nextInt(256);
            out.add(t);
        }
        return out;
    }

    private static LLM llm(FakeLM lm, EngineConfig c) {
        return new LLM(new LLMEngine(lm, new ByteTokenizer(300), c));
    }

    private static List<int[]> tokens(List<RequestOutput> outs) {
        return outs.stream().map(o -> {
            assertFalse(o.failed(), o.error());
            return o.output().tokenIds();
        }).toList();
    }

    private static final SamplingParams GREEDY_40 = SamplingParams.builder().temperature(0).maxTokens(40).ignoreEos(true).build();

    @Test
    void anUnsetStepBudgetIsTheBackendsDefaultAndChunkingLeavesTheTokensAlone() {
        assertEquals(0, EngineConfig.defaults().maxNumBatchedTokens(), "unset: the backend's default");
        assertThrows(IllegalArgumentException.class, () -> EngineConfig.builder().maxNumBatchedTokens(-1).build());
        FakeLM cpuLike = new FakeLM();
        assertEquals(1024, new LLMEngine(cpuLike, new ByteTokenizer(300), EngineConfig.defaults()).config().maxNumBatchedTokens());
        FakeLM small = new FakeLM();
        small.defaultBudget = 37;   // a backend offering 37 tokens a step: prompts of 40-60 tokens prefill in chunks
        LLMEngine engine = new LLMEngine(small, new ByteTokenizer(300), EngineConfig.defaults());
        assertEquals(37, engine.config().maxNumBatchedTokens());
        List<int[]> ps = prompts(6, 32, 9, 11);
        List<int[]> chunked = tokens(new LLM(engine).generateTokens(ps, GREEDY_40));
        FakeLM big = new FakeLM();
        List<int[]> whole = tokens(llm(big, EngineConfig.builder().maxNumBatchedTokens(4096).build()).generateTokens(ps, GREEDY_40));
        assertTrue(small.forwardCalls > big.forwardCalls, "37 a step: more steps than one budget that holds every prompt");
        for (int i = 0; i < ps.size(); i++) assertArrayEquals(whole.get(i), chunked.get(i), "request " + i);
        assertEquals(4096, EngineConfig.builder().maxNumBatchedTokens(4096).build().maxNumBatchedTokens(), "set: kept");
    }

    @Test
    void preemptionUnderTinyPoolGivesSameTokensAndReturnsEveryBlock() {
        List<int[]> ps = prompts(6, 20, 5, 1);
        EngineConfig ample = EngineConfig.builder().numBlocks(512).blockSize(4).enablePrefixCaching(false).build();
        List<int[]> expected = tokens(llm(new FakeLM(), ample).generateTokens(ps, GREEDY_40));

        // 6 sequences of up to ~70 tokens need ~110 blocks of 4; give them 24 so they must preempt.
        LLM tiny = llm(new FakeLM(), ample.toBuilder().numBlocks(24).build());
        List<int[]> got = tokens(tiny.generateTokens(ps, GREEDY_40));
        for (int i = 0; i < ps.size(); i++) assertArrayEquals(expected.get(i), got.get(i), "prompt " + i);
        EngineStats s = tiny.stats();
        assertTrue(s.preemptions() > 0, "the tiny pool must have forced preemption");
        assertEquals(s.totalBlocks(), s.freeBlocks(), "every block back in the pool");
    }

    @Test
    void preemptionWithPrefixCachingStillAgreesAndLeaksNothing() {
        List<int[]> ps = prompts(6, 24, 5, 2);
        EngineConfig ample = EngineConfig.builder().numBlocks(512).blockSize(4).build();
        List<int[]> expected = tokens(llm(new FakeLM(), ample.toBuilder().enablePrefixCaching(false).build()).generateTokens(ps, GREEDY_40));
        LLM tiny = llm(new FakeLM(), ample.toBuilder().numBlocks(26).build());
        List<int[]> got = tokens(tiny.generateTokens(ps, GREEDY_40));
        for (int i = 0; i < ps.size(); i++) assertArrayEquals(expected.get(i), got.get(i), "prompt " + i);
        EngineStats s = tiny.stats();
        assertTrue(s.preemptions() > 0);
        // Whatever is not free is held by the trie alone and can all be evicted.
        assertEquals(s.totalBlocks() - s.freeBlocks(), s.prefixCache().cachedBlocks());
        tiny.engine().evictAllCached();
        assertEquals(s.totalBlocks(), tiny.stats().freeBlocks());
    }

    @Test
    void chunkedPrefillGivesTheSameOutputs() {
        List<int[]> ps = prompts(4, 30, 7, 3);
        EngineConfig whole = EngineConfig.builder().numBlocks(512).enablePrefixCaching(false).build();
        List<int[]> expected = tokens(llm(new FakeLM(), whole).generateTokens(ps, GREEDY_40));
        FakeLM lm = new FakeLM();
        List<int[]> chunked = tokens(llm(lm, whole.toBuilder().maxNumBatchedTokens(7).build()).generateTokens(ps, GREEDY_40));
        for (int i = 0; i < ps.size(); i++) assertArrayEquals(expected.get(i), chunked.get(i));
        // 4 prompts of ~40 tokens through a 7-token budget take many more steps than 40 decodes
        assertTrue(lm.forwardCalls > 55, "prefill was chunked: " + lm.forwardCalls + " steps");
    }

    @Test
    void prefixCacheOnAndOffAgreeAndSharedPrefixIsComputedOnceInOneBatch() {
        List<int[]> ps = prompts(8, 64, 6, 4);
        EngineConfig c = EngineConfig.builder().numBlocks(512).blockSize(16).build();
        List<int[]> off = tokens(llm(new FakeLM(), c.toBuilder().enablePrefixCaching(false).build()).generateTokens(ps, GREEDY_40));
        LLM on = llm(new FakeLM(), c);
        List<int[]> got = tokens(on.generateTokens(ps, GREEDY_40));
        for (int i = 0; i < ps.size(); i++) assertArrayEquals(off.get(i), got.get(i));
        EngineStats s = on.stats();
        long promptTokens = ps.stream().mapToLong(p -> p.length).sum();
        // The 64 shared tokens (4 blocks) are computed by the first request only.
        assertEquals(promptTokens - 7L * 64, s.prefillTokens(), "shared prefix computed once");
        assertEquals(7L * 64, s.cachedPromptTokens());
    }

    @Test
    void abortFreesBlocksAndOthersContinue() {
        FakeLM lm = new FakeLM();
        LLMEngine e = new LLMEngine(lm, new ByteTokenizer(300), EngineConfig.builder().numBlocks(64).enablePrefixCaching(false).build());
        e.addRequest("a", Prompt.ofTokens(1, 2, 3), GREEDY_40, null, 0);
        e.addRequest("b", Prompt.ofTokens(4, 5, 6), GREEDY_40, null, 0);
        e.step();
        e.step();
        RequestOutput aborted = e.abort("a");
        assertEquals(FinishReason.ABORT, aborted.output().finishReason());
        RequestOutput last = null;
        while (e.hasUnfinished()) for (RequestOutput o : e.step()) last = o;
        assertEquals("b", last.requestId());
        assertEquals(40, last.output().tokenIds().length);
        assertEquals(64, e.stats().freeBlocks());
    }
}
