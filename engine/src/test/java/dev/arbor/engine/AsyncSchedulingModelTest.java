package dev.arbor.engine;

import dev.arbor.models.CausalLM;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.testing.Fixtures;
import dev.arbor.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Asynchronous scheduling over a real forward pass (tiny-llama3 fixture): the same outputs, call by call, as the synchronous
 * engine, with greedy and seeded requests, stop ids taken from the model's own greedy output (so sequences end one step
 * before the step the device already runs for them), n = 2, a logprobs request, max_tokens, prompts sharing cached
 * prefixes; every block accounted for. On the CPU (forced on: the forward pass feeds the placeholders on the host) here, on
 * CUDA (the sampler's output fed on the device, ids copied back behind the next step) in {@link AsyncSchedulingGpuTest}.
 */
class AsyncSchedulingModelTest {

    static List<int[]> prompts(int vocab) {
        SplittableRandom r = new SplittableRandom(5);
        List<int[]> prompts = new ArrayList<>();
        for (int g = 0; g < 2; g++) {
            int[] prefix = r.ints(33, 3, vocab).toArray();
            for (int i = 0; i < 5; i++) {
                int[] p = Arrays.copyOf(prefix, 33 + 3 + 2 * i);
                for (int j = 33; j < p.length; j++) p[j] = 3 + r.nextInt(vocab - 3);
                prompts.add(p);
            }
        }
        return prompts;
    }

    private static LLMEngine engine(CausalLM model, boolean async) {
        String old = System.getProperty(LLMEngine.ASYNC_SCHEDULING);
        System.setProperty(LLMEngine.ASYNC_SCHEDULING, Boolean.toString(async));
        try {
            return new LLMEngine(model, new ByteTokenizer(model.config().vocabSize()),
                    EngineConfig.builder().numBlocks(128).maxNumSeqs(16).maxNumBatchedTokens(256).build());
        } finally {
            if (old == null) System.clearProperty(LLMEngine.ASYNC_SCHEDULING);
            else System.setProperty(LLMEngine.ASYNC_SCHEDULING, old);
        }
    }

    /** Per call, each output as a line. */
    private static List<List<String>> transcript(LLMEngine e, List<int[]> prompts, List<SamplingParams> params) {
        for (int i = 0; i < prompts.size(); i++) e.addRequest("r" + i, Prompt.ofTokens(prompts.get(i)), params.get(i), null, 0);
        List<List<String>> calls = new ArrayList<>();
        while (e.hasUnfinished()) {
            List<String> outs = new ArrayList<>();
            for (RequestOutput o : e.step()) {
                assertFalse(o.failed(), o.error());
                StringBuilder sb = new StringBuilder(o.requestId());
                for (CompletionOutput c : o.outputs()) {
                    sb.append(" [").append(Arrays.toString(c.tokenIds())).append(' ').append(c.finishReason()).append(' ').append(c.stopReason());
                    if (c.logprobs() != null) sb.append(' ').append(c.logprobs());
                    sb.append(']');
                }
                outs.add(sb.toString());
            }
            calls.add(outs);
        }
        return calls;
    }

    /** Runs the mix synchronously and asynchronously on {@code model} and asserts the same outputs and block accounting. */
    static void sameOutputs(CausalLM model) {
        int vocab = model.config().vocabSize();
        List<int[]> prompts = prompts(vocab);
        // stop ids: the 3rd and 5th greedy tokens of prompt 0, so requests end at different steps by a stop id
        int[] greedy;
        try (LLM llm = new LLM(engine(model, false))) {
            greedy = llm.generateTokens(List.of(prompts.getFirst()), SamplingParams.builder().temperature(0).maxTokens(6).build())
                    .getFirst().output().tokenIds();
        }
        List<SamplingParams> params = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            SamplingParams.Builder b = SamplingParams.builder().maxTokens(5 + 3 * i);
            params.add(switch (i % 5) {
                case 0 -> b.temperature(0).stopTokenIds(List.of(greedy[2], greedy[4])).build();
                case 1 -> b.temperature(0.8).seed(10L + i).build();
                case 2 -> b.temperature(0.9).seed(20L + i).n(2).build();
                case 3 -> b.temperature(0.8).seed(30L + i).logprobs(1).build();
                default -> b.temperature(0).build();
            });
        }
        try (LLMEngine sync = engine(model, false); LLMEngine async = engine(model, true)) {
            List<List<String>> a = transcript(sync, prompts, params), b = transcript(async, prompts, params);
            // the CPU's synchronous engine returns each step's outputs from its own call (nothing to overlap); the asynchronous
            // one makes them while the next step runs, one call later, as on CUDA
            if (!model.device().startsWith("cuda")) {
                assertTrue(b.getFirst().isEmpty(), "the first call returns nothing");
                b = b.subList(1, b.size());
            }
            assertEquals(a.size(), b.size(), "calls");
            for (int i = 0; i < a.size(); i++) assertEquals(a.get(i), b.get(i), "outputs of call " + i);
            assertTrue(async.deferredSteps() > 0, "steps deferred their ids");
            assertEquals(sync.stats().freeBlocks(), async.stats().freeBlocks());
            async.evictAllCached();
            assertEquals(async.stats().totalBlocks(), async.stats().freeBlocks(), "no block leaked");
        }
    }

    @Test
    void cpuForwardPassGivesTheSynchronousOutputs() {
        try (CausalLM cpu = ModelLoader.load(Fixtures.model("tiny-llama3").toString(), "cpu")) {
            sameOutputs(cpu);
        }
    }
}
