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

    @Option(names = "--model", defaultValue = "synthetic:100m", description = "a Hugging Face model directory or synthetic:tiny|100m|llama-7b|llama3.2-1b|baichuan2-13b|tiny-baichuan")
    String model;
    @Option(names = "--groups", defaultValue = "4", description = "groups of requests, each with its own prefix (>= 1)") int groups;
    @Option(names = "--prompts-per-group", defaultValue = "8", description = "requests per group (>= 1)") int promptsPerGroup;
    @Option(names = "--prefix-len", defaultValue = "530", description = "tokens of the prefix a group shares (>= 1)") int prefixLen;
    @Option(names = "--suffix-len", defaultValue = "20", description = "tokens after the prefix, different in every request (>= 0)") int suffixLen;
    @Option(names = "--output-len", defaultValue = "30", description = "tokens generated per request, EOS ignored (>= 1)") int outputLen;
    @Option(names = "--max-num-batched-tokens", defaultValue = "0", split = ",", paramLabel = "N[,N...]",
            description = "tokens per engine step at most (>= 1; 0 = 8192 on CUDA, 2048 on the CPU); several budgets run one after another "
                    + "on the loaded model, every mode at each")
    List<Integer> maxBatchedTokens;
    @Option(names = "--num-blocks", defaultValue = "0", description = "KV pool size in blocks (0 = from memory)") int numBlocks;
    @Option(names = "--modes", split = ",", defaultValue = "no-cache,auto,explicit,prefix-group", paramLabel = "MODE[,MODE...]",
            description = "modes to run, comma-separated, in this order: no-cache (prefix caching off), auto (automatic prefix caching), "
                    + "explicit (each group's prefix registered first), prefix-group (the engine's PrefixGroup scheduling)")
    List<String> modes;
    @Option(names = "--seed", defaultValue = "1", description = "seed of the random prompts") long seed;
    @Option(names = "--json", description = "one JSON object per mode per line") boolean json;
    @Option(names = "--no-warmup", description = "time each mode's first run (kernel compilation and CUDA graph capture included) instead of a second run "
            + "after an untimed one over other random prompts of the same shape (its cached blocks evicted before the timed run)") boolean noWarmup;
    @Option(names = "--ab", paramLabel = "PROPERTY", description = "A/B a boolean system property read when an engine is made (a -Darbor.* switch, "
            + "e.g. arbor.cuda.cascadeGraphs): every mode at every budget runs with it false, then true, on the loaded model, each after its own "
            + "warm-up; the two runs' tokens are compared") String ab;
    @Option(names = "--out", defaultValue = "bench/out", description = "folder for the JSON report and its PNG plot") java.nio.file.Path out;
    @Option(names = "--peer", paramLabel = "FILE.json", description = "the peer's figures from the same machine (bench/peers/engine_torch.py --json): "
            + "its total for this workload shape is printed and plotted beside each mode's") java.nio.file.Path peer;
    @picocli.CommandLine.Mixin dev.arbor.server.DeviceOptions device = new dev.arbor.server.DeviceOptions();
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    /** Every option is checked before the model loads. */
    private void check() {
        String bad = groups < 1 ? "--groups must be >= 1" : promptsPerGroup < 1 ? "--prompts-per-group must be >= 1"
                : prefixLen < 1 ? "--prefix-len must be >= 1" : suffixLen < 0 ? "--suffix-len must be >= 0"
                : outputLen < 1 ? "--output-len must be >= 1" : maxBatchedTokens.stream().anyMatch(t -> t < 0) ? "--max-num-batched-tokens must be >= 1 (or 0: the default)"
                : numBlocks < 0 ? "--num-blocks must be >= 0" : null;
        if (bad != null) throw new picocli.CommandLine.ParameterException(spec.commandLine(), bad);
        for (String m : modes) {
            if (!MODES.contains(m)) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--modes: unknown mode '" + m + "' (" + String.join(", ", MODES) + ")");
            }
        }
        dev.arbor.server.UsageErrors.check(spec, device::backend);
    }

    /** What one mode measured. */
    public record Result(String mode, int maxNumBatchedTokens, int requests, double totalSeconds, long promptTokens, long prefillComputed,
                         long cachedPromptTokens, double hitRate, double ttftMeanMs, double ttftP50Ms, double ttftP99Ms,
                         long generatedTokens, double outputTokensPerSecond, int peakBlocksUsed, long unsharedBlocksNeeded,
                         String decodeSteps, String otherSteps, @com.fasterxml.jackson.annotation.JsonIgnore dev.arbor.engine.StepTimings timings,
                         @com.fasterxml.jackson.annotation.JsonIgnore int[][] outputTokens) {}

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
        int[] prefixPos = new int[groups * promptsPerGroup];
        List<int[]> prompts = prompts(seed, lm.config().vocabSize(), prefixPos);
        List<int[]> warmup = prompts(seed + 1_000_003L, lm.config().vocabSize(), new int[prefixPos.length]);
        SamplingParams params = SamplingParams.builder().temperature(0).maxTokens(outputLen).ignoreEos(true).build();
        ObjectMapper mapper = new ObjectMapper();
        long weightBytes = 2L * lm.config().decodeWeightElements();   // bf16
        double copy = lm.measureCopyBandwidth().orElse(0);
        BenchReport report = BenchReport.start("shared-prefix", "arbor " + String.join(" ", spec.commandLine().getParseResult().originalArgs()),
                lm.device()).quiet(json);
        if (!json) {
            report.printHeader();
            System.out.printf(Locale.ROOT, "shared-prefix on %s: %d groups x %d prompts, prefix %d + suffix %d tokens, %d output tokens%s%n",
                    model, groups, promptsPerGroup, prefixLen, suffixLen, outputLen, noWarmup ? " (no warm-up)" : " (timed after a warm-up run)");
        }
        List<Result> results = new ArrayList<>();
        boolean budgets = maxBatchedTokens.size() > 1;
        // 0: the backend's default, at least 2,048 (this bench's CPU default: the CPU backend's own is 1,024)
        List<Integer> budgetList = maxBatchedTokens.stream().map(t -> t > 0 ? t : Math.max(2048, lm.defaultMaxNumBatchedTokens())).toList();
        List<String> labels = new ArrayList<>();
        List<String> abValues = ab == null ? java.util.Collections.singletonList(null) : List.of("false", "true");
        String abBefore = ab == null ? null : System.getProperty(ab);   // set back after the A/B: nothing later runs with the last value by accident
        for (int budget : budgetList) for (String mode : modes) for (String v : abValues) {
            Result r;
            if (v == null) r = run(mode, budget, lm, tok, prompts, warmup, prefixPos, params);
            else {
                System.setProperty(ab, v);
                try {
                    r = run(mode, budget, lm, tok, prompts, warmup, prefixPos, params);
                } finally {
                    if (abBefore == null) System.clearProperty(ab);
                    else System.setProperty(ab, abBefore);
                }
            }
            results.add(r);
            String label = (budgets ? mode + "@" + budget : mode) + (v == null ? "" : "[" + ab.substring(ab.lastIndexOf('.') + 1) + "=" + v + "]");
            labels.add(label);
            if (json) {
                System.out.println(mapper.writeValueAsString(r));
                continue;
            }
            System.out.printf(Locale.ROOT, "%-13s %9s %12s %12s %8s %10s %10s %10s %10s%n",
                    budgets ? "mode@budget" : "mode", "total s", "prefill tok", "cached tok", "hit %", "TTFT mean", "TTFT p50", "TTFT p99", "out tok/s");
            System.out.printf(Locale.ROOT, "%-13s %9.2f %12d %12d %8.1f %8.0fms %8.0fms %8.0fms %10.1f%n",
                    label, r.totalSeconds(), r.prefillComputed(), r.cachedPromptTokens(), 100 * r.hitRate(),
                    r.ttftMeanMs(), r.ttftP50Ms(), r.ttftP99Ms(), r.outputTokensPerSecond());
            System.out.println("  " + r.decodeSteps());
            System.out.println("  " + r.otherSteps());
            System.out.printf(Locale.ROOT, "  memory: peak %d KV blocks used (requests and cache) vs %d the requests need unshared (%.1f%%)%n",
                    r.peakBlocksUsed(), r.unsharedBlocksNeeded(), 100.0 * r.peakBlocksUsed() / r.unsharedBlocksNeeded());
        }
        if (budgets) {
            // greedy: a request's tokens must not depend on the step budget (how its prompt was chunked and batched)
            for (String mode : modes) {
                List<Result> rs = results.stream().filter(r -> r.mode().equals(mode)).toList();
                for (Result r : rs.subList(1, rs.size())) {
                    int differ = 0;
                    for (int i = 0; i < r.outputTokens().length; i++) if (!Arrays.equals(r.outputTokens()[i], rs.get(0).outputTokens()[i])) differ++;
                    System.out.printf(Locale.ROOT, "%s: --max-num-batched-tokens %d vs %d: %s%n", mode, r.maxNumBatchedTokens(), rs.get(0).maxNumBatchedTokens(),
                            differ == 0 ? "the same tokens in all " + r.outputTokens().length + " requests"
                                    : "DIFFERENT tokens in " + differ + " of " + r.outputTokens().length + " requests");
                }
            }
        }
        if (ab != null) {
            // the switch must not change a token; then what it changed in time, decode steps first
            for (int i = 0; i + 1 < results.size(); i += 2) {
                Result off = results.get(i), on = results.get(i + 1);
                int differ = 0;
                for (int j = 0; j < on.outputTokens().length; j++) if (!Arrays.equals(on.outputTokens()[j], off.outputTokens()[j])) differ++;
                var d0 = off.timings().decode();
                var d1 = on.timings().decode();
                System.out.printf(Locale.ROOT, "A/B %s=true vs false, %s: %s; total %.4f -> %.4f s; decode wall %.3f -> %.3f ms/step, device %.3f -> %.3f, "
                                + "idle before a step %.3f -> %.3f, host overhead %.3f -> %.3f%n", ab, labels.get(i).substring(0, labels.get(i).indexOf('[')),
                        differ == 0 ? "the same tokens in all " + on.outputTokens().length + " requests"
                                : "DIFFERENT tokens in " + differ + " of " + on.outputTokens().length + " requests",
                        off.totalSeconds(), on.totalSeconds(), d0.wallMillis(), d1.wallMillis(), d0.deviceMillis(), d1.deviceMillis(),
                        d0.idleMillis(), d1.idleMillis(), d0.hostOverheadMillis(), d1.hostOverheadMillis());
            }
        }
        // floor: the output steps each read every weight once (the memory floor of decode; prefill's FLOPs come on top)
        double floorS = copy > 0 ? outputLen * weightBytes / copy : Double.NaN;
        String basis = String.format(Locale.ROOT, "%d steps x weights %.2f GB / copy %.0f GB/s measured in this run", outputLen, weightBytes / 1e9, copy / 1e9);
        List<String> cats = new ArrayList<>();
        double[] total = new double[results.size()], ttft = new double[results.size()], floor = new double[results.size()];
        for (int i = 0; i < results.size(); i++) {
            Result r = results.get(i);
            String label = labels.get(i);
            cats.add(label);
            total[i] = r.totalSeconds();
            ttft[i] = r.ttftMeanMs() / 1000;
            floor[i] = floorS;
            if (!json) System.out.println(label + ":");
            report.figure(label + " total s", r.totalSeconds(), "s", floorS, basis);
            report.figure(label + " TTFT mean s", r.ttftMeanMs() / 1000, "s");
            report.figure(label + " prefix hit rate", 100 * r.hitRate(), "%");
            report.figure(label + " peak KV blocks used", r.peakBlocksUsed(), "blocks", Double.NaN, null);
            report.figure(label + " KV blocks needed unshared", r.unsharedBlocksNeeded(), "blocks");
            // where the time went: decode steps (graph replays) and the others (prefill chunks, mixed), totals and per step
            for (var kind : List.of(java.util.Map.entry("decode", r.timings().decode()), java.util.Map.entry("prefill/mixed", r.timings().other()))) {
                var t = kind.getValue();
                String k = label + " " + kind.getKey();
                report.figure(k + " steps", t.steps(), "steps");
                report.figure(k + " steps total s", t.steps() * t.wallMillis() / 1000, "s");
                report.figure(k + " tokens per step", t.steps() == 0 ? 0 : (double) t.tokens() / t.steps(), "tokens");
                report.figure(k + " wall ms/step", t.wallMillis(), "ms/step");
                report.figure(k + " device ms/step", t.deviceMillis(), "ms/step");
                report.figure(k + " host overhead ms/step", t.hostOverheadMillis(), "ms/step");
                report.figure(k + " device idle before the step ms/step", t.idleMillis(), "ms/step");
                report.figure(k + " device input copies before the step ms/step", t.copiesMillis(), "ms/step");
                report.figure(k + " schedule ms/step", t.scheduleMillis(), "ms/step");
                report.figure(k + " inputs+upload+launch ms/step", t.inputsMillis() + t.uploadMillis() + t.launchMillis(), "ms/step");
                report.figure(k + " outputs (overlapped) ms/step", t.outputsMillis(), "ms/step");
                report.figure(k + " update ms/step", t.updateMillis(), "ms/step");
            }
        }
        report = report.plot(String.format(Locale.ROOT, "%d x %d requests, prefix %d + %d, %d new (%s)", groups, promptsPerGroup, prefixLen, suffixLen,
                outputLen, model), "seconds", cats);
        report.bars("total", total).bars("TTFT mean", ttft).bars("floor (decode weight reads)", floor);
        double peerS = BenchReport.peerFigure(peer, String.format(Locale.ROOT, "(%d x %d+%d, %d new", groups * promptsPerGroup, prefixLen, suffixLen, outputLen));
        if (!Double.isNaN(peerS)) {
            report.figure("peer total s (" + peer.getFileName() + ")", peerS, "s", floorS, basis);
            double[] p = new double[cats.size()];
            Arrays.fill(p, peerS);
            report.bars("peer total (HF transformers, same GPU)", p);
        }
        report.write(out);
        return 0;
    }

    /** The workload's prompts from {@code seed}: each group's prefix then a suffix of its own per request. */
    private List<int[]> prompts(long seed, int vocabSize, int[] prefixPos) {
        List<int[]> prompts = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(seed);
        int vocab = Math.min(vocabSize, 32000);
        for (int g = 0; g < groups; g++) {
            int[] prefix = randomTokens(rnd, prefixLen, vocab);
            for (int p = 0; p < promptsPerGroup; p++) {
                int[] prompt = Arrays.copyOf(prefix, prefixLen + suffixLen);
                System.arraycopy(randomTokens(rnd, suffixLen, vocab), 0, prompt, prefixLen, suffixLen);
                prefixPos[prompts.size()] = prefixLen;
                prompts.add(prompt);
            }
        }
        return prompts;
    }

    /** n random ids in [3, vocab), past the usual special ids. */
    static int[] randomTokens(SplittableRandom rnd, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = 3 + rnd.nextInt(vocab - 3);
        return t;
    }

    Result run(String mode, int budget, CausalLM lm, Tokenizer tok, List<int[]> prompts, List<int[]> warmup, int[] prefixPos, SamplingParams params) {
        EngineConfig config = device.applyTo(EngineConfig.builder()).maxNumBatchedTokens(budget).numBlocks(numBlocks)
                .maxNumSeqs(Math.max(256, prompts.size())).enablePrefixCaching(!mode.equals("no-cache")).build();
        LLMEngine engine = new LLMEngine(lm, tok, config);
        try (LLM llm = new LLM(engine)) {   // frees this mode's KV store; the model is shared between modes
            if (!noWarmup) {
                // the same shape over other prompts: kernels compiled, decode graphs captured; then nothing of it stays cached
                llm.generatePrompts(warmup.stream().map(Prompt::ofTokens).toList(), params, null, null);
                engine.evictAllCached();
            }
            engine.stepTimings().reset();
            if (engine.opProfile() != null) engine.opProfile().reset();
            engine.resetPeakBlocksUsed();
            EngineStats before = llm.stats();
            return run(mode, budget, llm, engine, prompts, prefixPos, params, before);
        }
    }

    private Result run(String mode, int budget, LLM llm, LLMEngine engine, List<int[]> prompts, int[] prefixPos, SamplingParams params, EngineStats before) {
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
        if (engine.opProfile() != null) System.out.print(mode + ": " + engine.opProfile().report());   // -Darbor.opProfile=true
        for (RequestOutput o : outs) if (o.failed()) throw new IllegalStateException("request failed: " + o.error());
        EngineStats s = llm.stats();
        double[] ttft = firstToken.values().stream().mapToDouble(v -> v / 1e6).sorted().toArray();
        long prompt = prompts.stream().mapToLong(p -> p.length).sum();
        long prefill = s.prefillTokens() - before.prefillTokens(), cached = s.cachedPromptTokens() - before.cachedPromptTokens();
        long generated = s.generatedTokens() - before.generatedTokens();
        long unshared = 0;
        for (int[] p : prompts) unshared += (p.length + params.maxTokens() + s.blockSize() - 1) / s.blockSize();
        return new Result(mode, budget, prompts.size(), secs, prompt, prefill, cached, prefill + cached == 0 ? 0 : (double) cached / (prefill + cached),
                Arrays.stream(ttft).average().orElse(0), percentile(ttft, 0.5), percentile(ttft, 0.99), generated, generated / secs,
                engine.peakBlocksUsed(), unshared, engine.stepTimings().decode().summary("decode steps"),
                engine.stepTimings().other().summary("other steps (prefill, mixed)"), engine.stepTimings(),
                outs.stream().map(o -> o.output().tokenIds()).toArray(int[][]::new));
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
