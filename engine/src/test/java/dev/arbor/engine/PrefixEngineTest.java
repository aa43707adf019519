package dev.arbor.engine;

import dev.arbor.engine.cache.PrefixInfo;
import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Explicit prefixes, namespaces and prefix-aware admission through the engine API. */
class PrefixEngineTest {
    private static final SamplingParams GREEDY_8 = SamplingParams.builder().temperature(0).maxTokens(8).ignoreEos(true).build();

    private static LLMEngine engine(EngineConfig.Builder b) {
        return new LLMEngine(new FakeLM(), new ByteTokenizer(300), b.build());
    }

    private static int[] seq(int from, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (from + i * 7) % 250;
        return t;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void registeredPrefixIsPinnedReusedListedAndDeleted() {
        LLMEngine e = engine(EngineConfig.builder().numBlocks(128).blockSize(16));
        LLM llm = new LLM(e);
        int[] prefix = seq(3, 53);                           // 3 full blocks + 5 tokens
        PrefixInfo info = llm.registerPrefix(prefix);
        assertEquals(48, info.numTokens());
        assertEquals(3, info.numBlocks());
        assertTrue(info.pinned());
        e.evictAllCached();                                   // evict everything evictable...
        assertEquals(1, llm.listPrefixes().size(), "...but the pinned prefix stays");
        assertTrue(llm.stats().prefixCache().pinnedBlocks() >= 3);

        long before = e.stats().cachedPromptTokens();
        List<RequestOutput> outs = llm.generateTokens(List.of(concat(prefix, seq(100, 9)), concat(prefix, seq(200, 4))), GREEDY_8);
        assertEquals(2 * 48, e.stats().cachedPromptTokens() - before, "both requests reuse the 48 pinned tokens");
        assertEquals(48, outs.get(0).cachedTokens());

        assertTrue(llm.deletePrefix(prefix));
        assertFalse(llm.deletePrefix(prefix), "deleting twice says it no longer exists");
        assertTrue(llm.listPrefixes().isEmpty());
        e.evictAllCached();
        assertEquals(e.stats().totalBlocks(), e.stats().freeBlocks(), "no block leaked");
    }

    @Test
    void deletingAPrefixInUseWaitsForItsLastUser() {
        LLMEngine e = engine(EngineConfig.builder().numBlocks(128).blockSize(16));
        int[] prefix = seq(5, 32);
        PrefixInfo info = e.registerPrefix(Prompt.ofTokens(prefix), null);
        e.addRequest("user", Prompt.ofTokens(concat(prefix, seq(50, 3))), SamplingParams.builder().temperature(0).maxTokens(20).ignoreEos(true).build(), null, 0);
        e.step();
        assertEquals(1, e.listPrefixes().getFirst().users());
        assertTrue(e.deletePrefix(info.id()));
        assertTrue(e.listPrefixes().stream().noneMatch(PrefixInfo::pinned), "no longer pinned once deleted");
        RequestOutput last = null;
        while (e.hasUnfinished()) for (RequestOutput o : e.step()) last = o;
        assertEquals(20, last.output().tokenIds().length, "the running user finished normally");
        assertEquals(0, e.stats().prefixCache().cachedBlocks(), "the deleted prefix is not cached again by its last user");
        assertEquals(e.stats().totalBlocks(), e.stats().freeBlocks(), "its blocks are free once the user finished");
    }

    @Test
    void promptLogprobsRequestsReadNoCacheButFillItForOthers() {
        // Issue 13: a prompt_logprobs request needs every prompt position's logits, so it reads no cached
        // block (as in vLLM); the blocks it computes are still cached for the requests after it.
        LLMEngine e = engine(EngineConfig.builder().numBlocks(128).blockSize(16));
        LLM llm = new LLM(e);
        int[] prompt = seq(11, 40);
        SamplingParams withPromptLogprobs = GREEDY_8.toBuilder().promptLogprobs(1).build();
        RequestOutput first = llm.generateTokens(List.of(prompt), withPromptLogprobs).getFirst();
        assertEquals(0, first.cachedTokens());
        assertEquals(40, first.promptLogprobs().size());
        assertEquals(32, llm.generateTokens(List.of(prompt), GREEDY_8).getFirst().cachedTokens(), "cached by the first");
        RequestOutput again = llm.generateTokens(List.of(prompt), withPromptLogprobs).getFirst();
        assertEquals(0, again.cachedTokens(), "a prompt_logprobs request computes every position");
        assertEquals(first.promptLogprobs(), again.promptLogprobs());
    }

    @Test
    void cacheSaltsKeepTenantsApart() {
        LLMEngine e = engine(EngineConfig.builder().numBlocks(128).blockSize(16));
        int[] prompt = seq(9, 40);
        run(e, "a", prompt, "tenant-1");
        assertEquals(0, run(e, "b", prompt, "tenant-2").cachedTokens(), "another salt shares nothing");
        assertEquals(32, run(e, "c", prompt, "tenant-1").cachedTokens(), "the same salt hits");
    }

    private static RequestOutput run(LLMEngine e, String id, int[] prompt, String salt) {
        e.addRequest(id, Prompt.ofTokens(prompt), GREEDY_8, salt, 0);
        RequestOutput last = null;
        while (e.hasUnfinished()) for (RequestOutput o : e.step()) if (o.finished()) last = o;
        return last;
    }

    @Test
    void longestCachedPrefixIsAdmittedFirst() {
        for (String policy : List.of("lpm", "fcfs")) {
            LLMEngine e = engine(EngineConfig.builder().numBlocks(128).blockSize(16).maxNumSeqs(1).schedulingPolicy(policy));
            int[] cached = seq(11, 64);
            e.registerPrefix(Prompt.ofTokens(cached), null);
            e.addRequest("cold", Prompt.ofTokens(seq(90, 70)), GREEDY_8, null, 0);
            e.addRequest("warm", Prompt.ofTokens(concat(cached, seq(1, 6))), GREEDY_8, null, 0);
            List<String> finished = new ArrayList<>();
            while (e.hasUnfinished()) for (RequestOutput o : e.step()) if (o.finished()) finished.add(o.requestId());
            assertEquals(policy.equals("lpm") ? List.of("warm", "cold") : List.of("cold", "warm"), finished, policy);
        }
    }

    @Test
    void prefixGroupsRunInWavesComputeEachPrefixOnceAndDeleteIt() {
        List<int[]> prompts = new ArrayList<>();
        int[] pos = new int[9];
        int[][] prefixes = {seq(1, 48), seq(2, 48), seq(3, 48)};
        for (int i = 0; i < 9; i++) {
            prompts.add(concat(prefixes[i % 3], seq(100 + i, 5)));
            pos[i] = 48;
        }
        LLMEngine plain = engine(EngineConfig.builder().numBlocks(256).blockSize(16).enablePrefixCaching(false));
        List<RequestOutput> expected = new LLM(plain).generateTokens(prompts, GREEDY_8);
        // room for about one group (3 requests of 4 blocks sharing 3) at a time
        LLMEngine grouped = engine(EngineConfig.builder().numBlocks(14).blockSize(16));
        List<RequestOutput> got = new LLM(grouped).generateGrouped(prompts, GREEDY_8, pos, null);
        for (int i = 0; i < 9; i++) assertArrayEquals(expected.get(i).output().tokenIds(), got.get(i).output().tokenIds());
        EngineStats s = grouped.stats();
        assertEquals(9L * 53 - 6L * 48, s.prefillTokens(), "each group's 48-token prefix computed once: " + s);
        assertTrue(grouped.listPrefixes().isEmpty(), "each group's prefix deleted when the group is done");
        grouped.evictAllCached();
        assertEquals(s.totalBlocks(), grouped.stats().freeBlocks());
    }

    @Test
    void registeringAPrefixWhileOthersRunLosesNoneOfTheirOutputs() {
        LLMEngine e = engine(EngineConfig.builder().numBlocks(128).blockSize(16));
        e.addRequest("busy", Prompt.ofTokens(seq(7, 20)), SamplingParams.builder().temperature(0).maxTokens(3).ignoreEos(true).build(), null, 0);
        e.step();
        e.registerPrefix(Prompt.ofTokens(seq(40, 64)), null);      // steps "busy" to completion meanwhile
        List<RequestOutput> seen = new ArrayList<>();
        while (e.hasUnfinished()) seen.addAll(e.step());
        assertTrue(seen.stream().anyMatch(o -> o.requestId().equals("busy") && o.finished()), "the finished output is delivered later");
    }

    @Test
    void aRequestThatCannotFitBesidePinnedPrefixesFailsAloneAndTheOthersRun() {
        // 12 blocks of 4 tokens; two pinned prefixes of 16 tokens hold 8 of them.
        LLMEngine e = engine(EngineConfig.builder().numBlocks(12).blockSize(4));
        e.registerPrefix(Prompt.ofTokens(seq(1, 16)), null);
        e.registerPrefix(Prompt.ofTokens(seq(2, 16)), null);
        assertEquals(8, e.stats().prefixCache().pinnedBlocks());
        e.addRequest("big", Prompt.ofTokens(seq(50, 30)), GREEDY_8, null, 0);     // needs 10 blocks: fits the pool, not beside the pins
        e.addRequest("small", Prompt.ofTokens(seq(60, 5)), GREEDY_8, null, 0);    // needs 4 at most: fits
        List<RequestOutput> finals = new ArrayList<>();
        while (e.hasUnfinished()) for (RequestOutput o : e.step()) if (o.finished()) finals.add(o);
        RequestOutput big = finals.stream().filter(o -> o.requestId().equals("big")).findFirst().orElseThrow();
        RequestOutput small = finals.stream().filter(o -> o.requestId().equals("small")).findFirst().orElseThrow();
        assertTrue(big.failed());
        assertTrue(big.error().contains("pinned by explicit prefixes") && big.error().contains("8"), big.error());
        assertFalse(small.failed(), small.error());
        assertEquals(8, small.output().tokenIds().length);

        // Registering a prefix that cannot be computed beside the pins is refused the same way.
        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> e.registerPrefix(Prompt.ofTokens(seq(3, 30)), null));
        assertTrue(refused.getMessage().contains("pinned by explicit prefixes"), refused.getMessage());

        for (PrefixInfo p : e.listPrefixes()) assertTrue(e.deletePrefix(p.id()));
        e.evictAllCached();
        assertEquals(e.stats().totalBlocks(), e.stats().freeBlocks(), "no block leaked");
        // With the pins gone the big request fits.
        e.addRequest("big-again", Prompt.ofTokens(seq(50, 30)), GREEDY_8, null, 0);
        RequestOutput again = null;
        while (e.hasUnfinished()) for (RequestOutput o : e.step()) if (o.finished()) again = o;
        assertFalse(again.failed(), again.error());
    }
}
