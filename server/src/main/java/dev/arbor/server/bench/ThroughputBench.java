package dev.arbor.server.bench;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.LLM;
import dev.arbor.engine.LLMEngine;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ModelLoader;
import dev.arbor.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Prefill and decode throughput, measured separately: a prefill-only pass (one output token) over
 * a batch of prompts, then a decode pass whose per-step time is taken after every sequence has its
 * first token. Random prompts with caching off, so nothing is skipped.
 */
@Command(mixinStandardHelpOptions = true, name = "throughput", description = "Prefill and decode tokens/s of a (synthetic) model on this machine.")
public final class ThroughputBench implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "synthetic:100m") String model;
    @Option(names = "--batch", defaultValue = "8") int batch;
    @Option(names = "--prompt-len", defaultValue = "256") int promptLen;
    @Option(names = "--output-len", defaultValue = "64") int outputLen;
    @Option(names = "--max-num-batched-tokens", defaultValue = "2048") int maxBatchedTokens;
    @picocli.CommandLine.Mixin dev.arbor.server.DeviceOptions device = new dev.arbor.server.DeviceOptions();

    @Override
    public Integer call() {
        try (CausalLM lm = ModelLoader.load(model, device.backend())) {
            return run(lm);
        }
    }

    private int run(CausalLM lm) {
        lm.materialize();
        EngineConfig config = device.applyTo(EngineConfig.builder()).enablePrefixCaching(false).maxNumBatchedTokens(maxBatchedTokens).maxNumSeqs(Math.max(64, batch)).build();
        SplittableRandom rnd = new SplittableRandom(7);
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) prompts.add(Prompt.ofTokens(SharedPrefixBench.randomTokens(rnd, promptLen, Math.min(lm.config().vocabSize(), 32000))));
        Tokenizer tok = LLMEngine.tokenizerFor(lm.config());
        System.out.printf(Locale.ROOT, "throughput on %s (%s): batch %d, prompt %d, output %d%n", model, lm.device(), batch, promptLen, outputLen);
        try (LLM warm = new LLM(new LLMEngine(lm, tok, config))) {
            warm.generatePrompts(prompts.subList(0, 1), SamplingParams.greedy(4).toBuilder().ignoreEos(true).build(), null, null);
        }

        double prefillSecs;
        try (LLM prefill = new LLM(new LLMEngine(lm, tok, config))) {
            long t0 = System.nanoTime();
            prefill.generatePrompts(prompts, SamplingParams.builder().temperature(0).maxTokens(1).ignoreEos(true).build(), null, null);
            prefillSecs = (System.nanoTime() - t0) / 1e9;
        }
        long prefillTokens = (long) batch * promptLen;

        try (LLM decode = new LLM(new LLMEngine(lm, tok, config))) {
            return decode(decode, prompts, prefillTokens, prefillSecs);
        }
    }

    private int decode(LLM decode, List<Prompt> prompts, long prefillTokens, double prefillSecs) {
        long[] firstAll = {0};
        int[] started = {0};
        long t1 = System.nanoTime();
        List<RequestOutput> outs = decode.generatePrompts(prompts, SamplingParams.builder().temperature(0).maxTokens(outputLen).ignoreEos(true).build(), null, o -> {
            if (o.output().tokenIds().length == 1 && ++started[0] == batch) firstAll[0] = System.nanoTime();
        });
        double decodeSecs = (System.nanoTime() - firstAll[0]) / 1e9;
        long decodeTokens = outs.stream().mapToLong(o -> o.output().tokenIds().length - 1).sum();
        System.out.printf(Locale.ROOT, "prefill: %d tokens in %.2f s = %.1f tokens/s%n", prefillTokens, prefillSecs, prefillTokens / prefillSecs);
        System.out.printf(Locale.ROOT, "decode:  %d tokens in %.2f s = %.1f tokens/s (batch %d, %.1f ms/step)%n",
                decodeTokens, decodeSecs, decodeTokens / decodeSecs, batch, 1000 * decodeSecs / Math.max(1, outputLen - 1));
        System.out.printf(Locale.ROOT, "end to end: %.2f s%n", (System.nanoTime() - t1) / 1e9);
        return 0;
    }
}
