package dev.arbor.server.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.EngineStats;
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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/**
 * The seed paper's experiment, shaped like SGLang's generated-shared-prefix benchmark: G groups of
 * P requests; each request is a group prefix plus its own suffix, generating a fixed number of
 * tokens (EOS ignored). Runs four modes over the same model and prompts: no cache, automatic
 * prefix caching, explicit (registered) prefixes, and PrefixGroup scheduling.
 */
@Command(mixinStandardHelpOptions = true, showDefaultValues = true, name = "shared-prefix", description = "Groups of requests sharing a long prefix: no cache vs automatic vs explicit vs PrefixGroup.")
public final class SharedPrefixBench implements Callable<Integer> {
    /** The modes, in the order they run by default. */
    static final List<String> MODES = List.of("no-cache", "auto", "explicit", "prefix-group");

    @Option(names = "--model", defaultValue = "synthetic:100m", description = "a Hugging Face model directory or synthetic:tiny|100m|llama-7b")
    String model;
    @Option(names = "--groups", defaultValue = "4", description = "groups of requests, each with its own prefix (>= 1)") int groups;
    @Option(names = "--prompts-per-group", defaultValue = "8", description = "requests per group (>= 1)") int promptsPerGroup;
    @Option(names = "--prefix-len", defaultValue = "530", description = "tokens of the prefix a group shares (>= 1)") int prefixLen;
    @Option(names = "--suffix-len", defaultValue = "20", description = "tokens after the prefix, different in every request (>= 0)") int suffixLen;
    @Option(names = "--output-len", defaultValue = "30", description = "tokens generated per request, EOS ignored (>= 1)") int outputLen;
    @Option(names = "--max-num-batched-tokens", defaultValue = "2048", description = "tokens per engine step at most (>= 1)") int maxBatchedTokens;
    @Option(names = "--num-blocks", defaultValue = "0", description = "KV pool size in blocks (0 = from memory)") int numBlocks;
    @Option(names = "--modes", split = ",", defaultValue = "no-cache,auto,explicit,prefix-group", paramLabel = "MODE[,MODE...]",
            description = "modes to run, comma-separated, in this order: no-cache (prefix caching off), auto (automatic prefix caching), "
                    + "explicit (each group's prefix registered first), prefix-group (the engine's PrefixGroup scheduling)")
    List<String> modes;
    @Option(names = "--seed", defaultValue = "1", description = "seed of the random prompts") long seed;
    @Option(names = "--json", description = "one JSON object per mode per line") boolean json;
    @picocli.CommandLine.Mixin dev.arbor.server.DeviceOptions device = new dev.arbor.server.DeviceOptions();
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    /** Every option is checked before the model loads. */
    private void check() {
        String bad = groups < 1 ? "--groups must be >= 1" : promptsPerGroup < 1 ? "--prompts-per-group must be >= 1"
                : prefixLen < 1 ? "--prefix-len must be >= 1" : suffixLen < 0 ? "--suffix-len must be >= 0"
                : outputLen < 1 ? "--output-len must be >= 1" : maxBatchedTokens < 1 ? "--max-num-batched-tokens must be >= 1"
                : numBlocks < 0 ? "--num-blocks must be >= 0" : null;
        if (bad != null) throw new picocli.CommandLine.ParameterException(spec.commandLine(), bad);
        for (String m : modes) {
            if (!MODES.contains(m)) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--modes: unknown mode '" + m + "' (" + String.join(", ", MODES) + ")");
            }
        }
        try {
            device.backend();
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    /** What one mode measured. */
    public record Result(String mode, int requests, double totalSeconds, long promptTokens, long prefillComputed,
                         long cachedPromptTokens, double hitRate, double ttftMeanMs, double ttftP50Ms, double ttftP99Ms,
                         long generatedTokens, double outputTokensPerSecond) {}

    @Override
    public Integer call() throws Exception {
        check();
        System.err.println("loading " + model + " ...");
        try (CausalLM lm = ModelLoader.load(model, device.backend())) {
            return run(lm);
        }
    }

    private int run(CausalLM lm) throws Exception {
        lm.materialize();
        Tokenizer tok = LLMEngine.tokenizerFor(lm.config());
        List<int[]> prompts = new ArrayList<>();
        int[] prefixPos = new int[groups * promptsPerGroup];
        SplittableRandom rnd = new SplittableRandom(seed);
        int vocab = Math.min(lm.config().vocabSize(), 32000);
        for (int g = 0; g < groups; g++) {
            int[] prefix = randomTokens(rnd, prefixLen, vocab);
            for (int p = 0; p < promptsPerGroup; p++) {
                int[] prompt = Arrays.copyOf(prefix, prefixLen + suffixLen);
                System.arraycopy(randomTokens(rnd, suffixLen, vocab), 0, prompt, prefixLen, suffixLen);
                prefixPos[prompts.size()] = prefixLen;
                prompts.add(prompt);
            }
        }
        SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(outputLen).ignoreEos(true).build();
        ObjectMapper mapper = new ObjectMapper();
        if (!json) {
            System.out.printf(Locale.ROOT, "shared-prefix on %s: %d groups x %d prompts, prefix %d + suffix %d tokens, %d output tokens%n",
                    model, groups, promptsPerGroup, prefixLen, suffixLen, outputLen);
            System.out.printf(Locale.ROOT, "%-13s %9s %12s %12s %8s %10s %10s %10s %10s%n",
                    "mode", "total s", "prefill tok", "cached tok", "hit %", "TTFT mean", "TTFT p50", "TTFT p99", "out tok/s");
        }
        for (String mode : modes) {
            Result r = run(mode, lm, tok, prompts, prefixPos, params);
            if (json) {
                System.out.println(mapper.writeValueAsString(r));
            } else {
                System.out.printf(Locale.ROOT, "%-13s %9.2f %12d %12d %8.1f %8.0fms %8.0fms %8.0fms %10.1f%n",
                        r.mode(), r.totalSeconds(), r.prefillComputed(), r.cachedPromptTokens(), 100 * r.hitRate(),
                        r.ttftMeanMs(), r.ttftP50Ms(), r.ttftP99Ms(), r.outputTokensPerSecond());
            }
        }
        return 0;
    }

    /** n random ids in [3, vocab), past the usual special ids. */
    static int[] randomTokens(SplittableRandom rnd, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + rnd.nextInt(vocab - 3);
        return t;
    }

    Result run(String mode, CausalLM lm, Tokenizer tok, List<int[]> prompts, int[] prefixPos, SamplingParams params) {
        EngineConfig config = device.applyTo(EngineConfig.builder()).maxNumBatchedTokens(maxBatchedTokens).numBlocks(numBlocks)
                .maxNumSeqs(256).enablePrefixCaching(!mode.equals("no-cache")).build();
        try (LLM llm = new LLM(new LLMEngine(lm, tok, config))) {   // frees this mode's KV store; the model is shared between modes
            return run(mode, llm, prompts, prefixPos, params);
        }
    }

    private Result run(String mode, LLM llm, List<int[]> prompts, int[] prefixPos, SamplingParams params) {
        long start = System.nanoTime();
        Map<String, Long> firstToken = new LinkedHashMap<>();
        Progress progress = Progress.start(mode, "tokens", (long) prompts.size() * params.maxTokens(), true);
        Consumer<RequestOutput> onStep = o -> {
            if (o.output().tokenIds().length > 0) firstToken.putIfAbsent(o.requestId(), System.nanoTime() - start);
            progress.stepBy(o.outputs().stream().mapToLong(c -> c.newTokenIds().length).sum());
        };
        List<RequestOutput> outs;
        try (progress) {
            outs = runMode(mode, llm, prompts, prefixPos, params, onStep);
        }
        double secs = (System.nanoTime() - start) / 1e9;
        for (RequestOutput o : outs) if (o.failed()) throw new IllegalStateException("request failed: " + o.error());
        EngineStats s = llm.stats();
        double[] ttft = firstToken.values().stream().mapToDouble(v -> v / 1e6).sorted().toArray();
        long prompt = prompts.stream().mapToLong(p -> p.length).sum();
        return new Result(mode, prompts.size(), secs, prompt, s.prefillTokens(), s.cachedPromptTokens(),
                s.prefixCache() == null ? 0 : s.prefixCache().hitRate(), Arrays.stream(ttft).average().orElse(0),
                percentile(ttft, 0.5), percentile(ttft, 0.99), s.generatedTokens(), s.generatedTokens() / secs);
    }

    private List<RequestOutput> runMode(String mode, LLM llm, List<int[]> prompts, int[] prefixPos, SamplingParams params,
                                        Consumer<RequestOutput> onStep) {
        return switch (mode) {
            case "no-cache", "auto" -> llm.generatePrompts(prompts.stream().map(Prompt::ofTokens).toList(), params, null, onStep);
            case "explicit" -> {
                for (int i = 0; i < prompts.size(); i += promptsPerGroup) llm.registerPrefix(Arrays.copyOf(prompts.get(i), prefixPos[i]));
                yield llm.generatePrompts(prompts.stream().map(Prompt::ofTokens).toList(), params, null, onStep);
            }
            case "prefix-group" -> llm.generateGrouped(prompts, params, prefixPos, onStep);
            default -> throw new IllegalArgumentException("unknown mode '" + mode + "' (no-cache, auto, explicit, prefix-group)");
        };
    }

    static double percentile(double[] sorted, double q) {
        if (sorted.length == 0) return 0;
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }
}
