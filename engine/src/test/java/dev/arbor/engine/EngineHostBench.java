package dev.arbor.engine;

import dev.arbor.tokenizer.ByteTokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The engine's host phases per step with no model behind them (a benchmark, not a timed test; issue 12): the seed's
 * workload 2 shape (one group of 500 prompts sharing a 752-token prefix, 28 own tokens each, 30 greedy tokens, EOS
 * ignored, 2,048 tokens a step, up to 500 sequences) through {@link LLMEngine} on {@link FakeLM}, whose forward and
 * sampling land in the launch and wait phases, so schedule, inputs and update are what the GPU runs pay on the host
 * (run 50: schedule 0.16, inputs 0.30, update 1.32 ms a decode step of workload 2 on the H200's host). Repeats the
 * workload and prints the last pass's {@link StepTimings} (the earlier passes warm the JIT).
 *
 * <p>Run: {@code java -cp <engine test classpath> dev.arbor.engine.EngineHostBench [prompts] [passes]}.
 */
public final class EngineHostBench {
    public static void main(String[] args) {
        int prompts = args.length > 0 ? Integer.parseInt(args[0]) : 500;
        int passes = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        int prefixLen = 752, suffixLen = 28, outputLen = 30;
        FakeLM lm = new FakeLM(32000, 4096, null);
        EngineConfig config = EngineConfig.builder().maxNumBatchedTokens(2048).maxNumSeqs(Math.max(256, prompts))
                .numBlocks(prompts * 4 + 4096).build();
        SplittableRandom rnd = new SplittableRandom(7);
        try (LLMEngine engine = new LLMEngine(lm, new ByteTokenizer(32000), config)) {
            SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(outputLen).ignoreEos(true).build();
            for (int pass = 0; pass < passes; pass++) {
                int[] prefix = tokens(rnd, prefixLen);   // a new prefix each pass: every pass prefills it once, as the bench's run does
                engine.evictAllCached();                 // as the GPU bench's pool, large enough that nothing is evicted
                engine.stepTimings().reset();
                List<String> ids = new ArrayList<>();
                for (int i = 0; i < prompts; i++) {
                    int[] p = new int[prefixLen + suffixLen];
                    System.arraycopy(prefix, 0, p, 0, prefixLen);
                    System.arraycopy(tokens(rnd, suffixLen), 0, p, prefixLen, suffixLen);
                    ids.add(engine.addRequest(Prompt.ofTokens(p), params).requestId());
                }
                long t0 = System.nanoTime();
                int finished = 0;
                while (engine.hasUnfinished()) for (RequestOutput o : engine.step()) if (o.finished()) finished++;
                if (finished != prompts) throw new IllegalStateException(finished + " of " + prompts + " finished");
                StepTimings t = engine.stepTimings();
                System.out.printf("pass %d: %.1f ms%n  %s%n  %s%n", pass, (System.nanoTime() - t0) / 1e6,
                        t.decode().summary("decode steps"), t.other().summary("other steps (prefill, mixed)"));
            }
        }
    }

    private static int[] tokens(SplittableRandom rnd, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + rnd.nextInt(31000);
        return t;
    }
}
