package dev.arbor.tests;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.LLM;
import dev.arbor.engine.LLMEngine;
import dev.arbor.engine.Logprob;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import dev.arbor.models.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The whole engine (tokenizer, scheduler, paged KV, prefix cache, sampler) against the reference
 * implementation's outputs for every fixture model: identical prompt ids, identical argmax at every
 * prompt position, the same 24 greedy tokens one request at a time and all in one batch, and
 * identical results with the prefix cache on and off.
 */
class FixtureGenerationTest {
    private static final SamplingParams GREEDY_24 = SamplingParams.builder().temperature(0).maxTokens(24).ignoreEos(true).build();

    private static LLM engine(Path dir, EngineConfig config) {
        return new LLM(LLMEngine.create(dir.toString(), config));
    }

    private static EngineConfig config() {
        return EngineConfig.builder().numBlocks(400).blockSize(8).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama2", "tiny-llama3", "tiny-qwen3", "tiny-baichuan2-13b"})
    void greedyTokensMatchOneAtATimeAndInOneBatch(String model) {
        Path dir = Fixtures.model(model);
        Reference ref = Reference.read(dir);
        try (LLM llm = engine(dir, config())) {
            for (Reference.Case c : ref.allCases()) {
                assertArrayEquals(c.inputIds(), llm.engine().tokenizer().encode(c.prompt()), model + "/" + c.name() + " input_ids");
                RequestOutput o = llm.generate(List.of(c.prompt()), GREEDY_24).getFirst();
                assertArrayEquals(c.greedyIds(), o.output().tokenIds(), model + "/" + c.name() + " alone");
            }
            List<RequestOutput> batch = llm.generate(ref.allCases().stream().map(Reference.Case::prompt).toList(), GREEDY_24);
            for (int i = 0; i < batch.size(); i++) {
                assertArrayEquals(ref.allCases().get(i).greedyIds(), batch.get(i).output().tokenIds(),
                        model + "/" + ref.allCases().get(i).name() + " in a batch");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama2", "tiny-llama3", "tiny-qwen3", "tiny-baichuan2-13b"})
    void argmaxAtEveryPromptPositionThroughPromptLogprobs(String model) {
        Path dir = Fixtures.model(model);
        Reference ref = Reference.read(dir);
        try (LLM llm = engine(dir, config().toBuilder().maxNumBatchedTokens(16).build())) {   // chunked prefill too
            SamplingParams p = SamplingParams.builder().temperature(0).maxTokens(1).promptLogprobs(1).build();
            for (Reference.Case c : ref.allCases()) {
                List<Logprob> lps = llm.generate(List.of(c.prompt()), p).getFirst().promptLogprobs();
                assertEquals(c.inputIds().length, lps.size());
                // position p's entry is the distribution computed at position p - 1
                for (int pos = 1; pos < lps.size(); pos++) {
                    assertEquals(c.argmax()[pos - 1], lps.get(pos).top().getFirst().tokenId(), model + "/" + c.name() + " argmax at " + (pos - 1));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama2", "tiny-llama3", "tiny-qwen3", "tiny-baichuan2-13b"})
    void prefixCacheNeverChangesResultsOnSharedPrefixesAndMultiTurnChains(String model) {
        Path dir = Fixtures.model(model);
        Reference ref = Reference.read(dir);
        List<int[]> prompts = new ArrayList<>();
        for (Reference.Case c : ref.sharedPrefixCases()) prompts.add(c.inputIds());
        List<int[]> off, on;
        long cached;
        try (LLM llm = engine(dir, config().toBuilder().enablePrefixCaching(false).build())) {
            off = run(llm, prompts);
        }
        try (LLM llm = engine(dir, config())) {
            on = run(llm, prompts);
            cached = llm.stats().cachedPromptTokens();
        }
        for (int i = 0; i < ref.sharedPrefixCases().size(); i++) {
            assertArrayEquals(ref.sharedPrefixCases().get(i).greedyIds(), on.get(i), model + " shared-prefix case " + i + " cache on");
        }
        for (int i = 0; i < off.size(); i++) assertArrayEquals(off.get(i), on.get(i), model + " prompt " + i + " cache on vs off");
        assertTrue(cached > 0, "the shared system prompt and the chains must hit the cache");
    }

    /** The shared-prefix prompts in one batch, then three-turn chains (prompt + answer + follow-up), greedy. */
    private static List<int[]> run(LLM llm, List<int[]> prompts) {
        List<int[]> outs = new ArrayList<>();
        for (RequestOutput o : llm.generateTokens(prompts, GREEDY_24)) outs.add(o.output().tokenIds());
        int[] chain = prompts.getFirst();
        for (int turn = 0; turn < 3; turn++) {
            int[] answer = llm.generateTokens(List.of(chain), GREEDY_24).getFirst().output().tokenIds();
            outs.add(answer);
            int[] next = Arrays.copyOf(chain, chain.length + answer.length + 5);
            System.arraycopy(answer, 0, next, chain.length, answer.length);
            System.arraycopy(prompts.get(1 + turn % (prompts.size() - 1)), 5, next, chain.length + answer.length, 5);
            chain = next;
        }
        return outs;
    }
}
