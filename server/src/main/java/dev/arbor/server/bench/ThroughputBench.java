package dev.arbor.server.bench;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.LLM;
import dev.arbor.engine.LLMEngine;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import dev.arbor.models.CausalLM;
import dev.arbor.server.Progress;
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
@Command(mixinStandardHelpOptions = true, showDefaultValues = true, name = "throughput", description = "Prefill and decode tokens/s of a (synthetic) model on this machine.")
public final class ThroughputBench implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "synthetic:100m", description = "a Hugging Face model directory or synthetic:tiny|100m|llama-7b")
    String model;
    @Option(names = "--batch", defaultValue = "8", description = "sequences decoded together (>= 1)") int batch;
    @Option(names = "--prompt-len", defaultValue = "256", description = "tokens per random prompt (>= 1)") int promptLen;
    @Option(names = "--output-len", defaultValue = "64", description = "tokens generated per sequence in the decode pass (>= 2)") int outputLen;
    @Option(names = "--max-num-batched-tokens", defaultValue = "2048", description = "tokens per engine step at most (>= 1)") int maxBatchedTokens;
    @Option(names = "--top-p", defaultValue = "1.0", description = "in (0, 1]; below 1: decode samples at temperature 1 with this top-p (the sampler's share); 1 = greedy")
    double topP;
    @picocli.CommandLine.Mixin dev.arbor.server.DeviceOptions device = new dev.arbor.server.DeviceOptions();
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    /** Every option is checked before the model loads. */
    private void check() {
        String bad = batch < 1 ? "--batch must be >= 1" : promptLen < 1 ? "--prompt-len must be >= 1" : outputLen < 2 ? "--output-len must be >= 2"
                : maxBatchedTokens < 1 ? "--max-num-batched-tokens must be >= 1" : !(topP > 0 && topP <= 1) ? "--top-p must be in (0, 1]" : null;
        if (bad != null) throw new picocli.CommandLine.ParameterException(spec.commandLine(), bad);
        try {
            device.backend();
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Override
    public Integer call() {
        check();
        System.err.println("loading " + model + " ...");
        try (CausalLM lm = ModelLoader.load(model, device.backend())) {
            return run(lm);
        }
    }

    private double copyBandwidth;
    private long weightBytes;

    private int run(CausalLM lm) {
        lm.materialize();
        var c = lm.config();
        weightBytes = 2L * c.decodeWeightElements();   // bf16
        copyBandwidth = lm.measureCopyBandwidth().orElse(0);
        EngineConfig config = device.applyTo(EngineConfig.builder()).enablePrefixCaching(false).maxNumBatchedTokens(maxBatchedTokens).maxNumSeqs(Math.max(64, batch)).build();
        SplittableRandom rnd = new SplittableRandom(7);
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) prompts.add(Prompt.ofTokens(SharedPrefixBench.randomTokens(rnd, promptLen, Math.min(lm.config().vocabSize(), 32000))));
        Tokenizer tok = LLMEngine.tokenizerFor(lm.config());
        System.out.printf(Locale.ROOT, "throughput on %s (%s): batch %d, prompt %d, output %d%n", model, lm.device(), batch, promptLen, outputLen);
        System.err.println("warm-up (one short request) ...");
        try (LLM warm = new LLM(new LLMEngine(lm, tok, config))) {
            warm.generatePrompts(prompts.subList(0, 1), SamplingParams.greedy(4).toBuilder().ignoreEos(true).build(), null, null);
        }

        double prefillSecs;
        System.err.printf(Locale.ROOT, "prefill pass: %d prompts x %d tokens ...%n", batch, promptLen);
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
        SamplingParams params = topP < 1 ? SamplingParams.builder().temperature(1.0).topP(topP).seed(1L).maxTokens(outputLen).ignoreEos(true).build()
                : SamplingParams.builder().temperature(0).maxTokens(outputLen).ignoreEos(true).build();
        List<RequestOutput> outs;
        try (Progress progress = Progress.start("decode pass", "tokens", (long) batch * outputLen, true)) {
            outs = decode.generatePrompts(prompts, params, null, o -> {
                if (o.output().tokenIds().length == 1 && ++started[0] == batch) firstAll[0] = System.nanoTime();
                progress.stepBy(o.outputs().stream().mapToLong(c -> c.newTokenIds().length).sum());
            });
        }
        double decodeSecs = (System.nanoTime() - firstAll[0]) / 1e9;
        long decodeTokens = outs.stream().mapToLong(o -> o.output().tokenIds().length - 1).sum();
        System.out.printf(Locale.ROOT, "prefill: %d tokens in %.2f s = %.1f tokens/s%n", prefillTokens, prefillSecs, prefillTokens / prefillSecs);
        double msPerStep = 1000 * decodeSecs / Math.max(1, outputLen - 1);
        System.out.printf(Locale.ROOT, "decode:  %d tokens in %.2f s = %.1f tokens/s (batch %d, %.2f ms/step, %s)%n",
                decodeTokens, decodeSecs, decodeTokens / decodeSecs, batch, msPerStep, topP < 1 ? "top-p " + topP : "greedy");
        if (copyBandwidth > 0) {
            // floor of a decode step: every weight byte a step reads (layers and lm_head, bf16) over the device copy rate
            // (read + write) measured in this run, the convention of the performance issue (13.5 GB / 4.25 TB/s = 3.2 ms)
            double floorMs = 1000.0 * weightBytes / copyBandwidth;
            System.out.printf(Locale.ROOT, "floor:   weights %.2f GB / copy %.0f GB/s = %.2f ms/step -> %.0f tokens/s at batch %d; measured %.0f%% of it%n",
                    weightBytes / 1e9, copyBandwidth / 1e9, floorMs, batch * 1000 / floorMs, batch, 100 * floorMs / msPerStep);
        }
        System.out.printf(Locale.ROOT, "end to end: %.2f s%n", (System.nanoTime() - t1) / 1e9);
        return 0;
    }
}
