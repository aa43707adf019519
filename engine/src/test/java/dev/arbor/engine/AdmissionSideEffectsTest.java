package dev.arbor.engine;

import dev.arbor.engine.cache.CacheStats;
import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Issue 13, fault 6: a request that does not fit yet is refused with no side effect (no eviction, no
 * prefix statistics, no trie change); statistics count one lookup per request.
 */
class AdmissionSideEffectsTest {
    private static int[] seq(int from, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = (from + i * 7) % 250;
        return t;
    }

    private static LLMEngine engine(int numBlocks, int blockSize) {
        return new LLMEngine(new FakeLM(), new ByteTokenizer(300),
                EngineConfig.builder().numBlocks(numBlocks).blockSize(blockSize).maxNumBatchedTokens(512).build());
    }

    private static void drain(LLMEngine e) {
        while (e.hasUnfinished()) for (RequestOutput o : e.step()) {
            assertFalse(o.failed(), o.error());
        }
    }

    @Test
    void twoRequestsThatTakeTurnsAreLookedUpOnceEach() {
        // The measurement: two prompts of 194 tokens, a 10-block pool (blocks of 32): the second
        // waits for the first. Before the fix every waiting step was a lookup (3,027 query tokens, hit rate 0.81).
        LLMEngine e = engine(10, 32);
        SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(40).ignoreEos(true).build();
        e.addRequest("a", Prompt.ofTokens(seq(1, 194)), p, null, 0);
        e.addRequest("b", Prompt.ofTokens(seq(2, 194)), p, null, 0);
        drain(e);
        CacheStats s = e.stats().prefixCache();
        assertEquals(2 * 193, s.queryTokens(), "one lookup of promptLen - 1 tokens per request");
        assertEquals(0, s.hitTokens());
        assertEquals(0.0, s.hitRate());
        assertEquals(0, e.stats().cachedPromptTokens());
    }

    @Test
    void aRepeatedPromptCountsItsHitOnce() {
        LLMEngine e = engine(10, 32);
        SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(4).ignoreEos(true).build();
        int[] prompt = seq(3, 100);
        e.addRequest("a", Prompt.ofTokens(prompt), p, null, 0);
        drain(e);
        e.addRequest("b", Prompt.ofTokens(prompt), p, null, 0);
        drain(e);
        CacheStats s = e.stats().prefixCache();
        assertEquals(2 * 99, s.queryTokens());
        assertEquals(96, s.hitTokens(), "three whole blocks of the second prompt were cached");
        assertEquals(96, e.stats().cachedPromptTokens());
    }

    @Test
    void aRefusedRequestEvictsNothing() {
        LLMEngine e = engine(10, 32);
        // 1. 97 tokens + 1 generated: three full blocks stay cached, evictable.
        e.addRequest("cached", Prompt.ofTokens(seq(5, 97)), SamplingParams.builder().temperature(0).maxTokens(1).build(), null, 0);
        drain(e);
        assertEquals(3, e.stats().prefixCache().cachedBlocks());
        // 2. A long runner takes 6 blocks (170 tokens): one block is free.
        e.addRequest("runner", Prompt.ofTokens(seq(6, 170)), SamplingParams.builder().temperature(0).maxTokens(20).ignoreEos(true).build(), null, 0);
        e.step();
        assertEquals(1, e.stats().freeBlocks());
        // 3. A request of 200 tokens needs 7 blocks: 1 free + 3 evictable is not enough. It waits, and
        //    the cached blocks stay.
        e.addRequest("waiter", Prompt.ofTokens(seq(7, 200)), SamplingParams.builder().temperature(0).maxTokens(2).ignoreEos(true).build(), null, 0);
        for (int i = 0; i < 5; i++) e.step();
        CacheStats s = e.stats().prefixCache();
        assertEquals(1, e.stats().waiting());
        assertEquals(0, s.evictedBlocks(), "a refused request must not evict");
        assertEquals(96 + 169, s.queryTokens(), "the waiting request was not looked up yet");
        // 4. Once the runner finishes, the waiter is admitted and evicts what it needs.
        List<RequestOutput> last = List.of();
        while (e.hasUnfinished()) last = e.step();
        assertEquals(96 + 169 + 199, e.stats().prefixCache().queryTokens());
        assertTrue(e.stats().prefixCache().evictedBlocks() > 0);
        assertFalse(last.getFirst().failed());
    }
}
