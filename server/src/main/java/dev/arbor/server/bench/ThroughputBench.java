package dev.arbor.server.bench;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.LLM;
import dev.arbor.engine.LLMEngine;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import dev.arbor.engine.StepTimings;
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
    @Option(names = "--model", defaultValue = "synthetic:100m", description = "a Hugging Face model directory or synthetic:tiny|100m|llama-7b|llama3.2-1b|baichuan2-13b|tiny-baichuan")
    String model;
    @Option(names = "--batch", defaultValue = "8", split = ",", paramLabel = "N[,N...]",
            description = "sequences decoded together (>= 1); several sizes run one after another on the loaded model") List<Integer> batches;
    int batch;
    @Option(names = "--prompt-len", defaultValue = "256", description = "tokens per random prompt (>= 1)") int promptLen;
    @Option(names = "--output-len", defaultValue = "64", description = "tokens generated per sequence in the decode pass (>= 2)") int outputLen;
    @Option(names = "--max-num-batched-tokens", defaultValue = "2048", split = ",", paramLabel = "N[,N...]",
            description = "tokens per engine step at most (>= 1); several budgets run one after another (each at every --batch)") List<Integer> maxBatchedTokensList;
    int maxBatchedTokens;
    @Option(names = "--top-p", defaultValue = "1.0", description = "in (0, 1]; below 1: decode samples at temperature 1 with this top-p (the sampler's share); 1 = greedy")
    double topP;
    @picocli.CommandLine.Mixin dev.arbor.server.DeviceOptions device = new dev.arbor.server.DeviceOptions();
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    /** Every option is checked before the model loads. */
    private void check() {
        String bad = batches.stream().anyMatch(b -> b < 1) ? "--batch must be >= 1" : promptLen < 1 ? "--prompt-len must be >= 1" : outputLen < 2 ? "--output-len must be >= 2"
                : maxBatchedTokensList.stream().anyMatch(t -> t < 1) ? "--max-num-batched-tokens must be >= 1" : !(topP > 0 && topP <= 1) ? "--top-p must be in (0, 1]"
                : abRounds < 1 ? "--ab-rounds must be >= 1" : abProfile && ab == null ? "--ab-profile needs --ab" : abProfileLen < 2 ? "--ab-profile-len must be >= 2" : null;
        if (bad != null) throw new picocli.CommandLine.ParameterException(spec.commandLine(), bad);
        dev.arbor.server.UsageErrors.check(spec, device::backend);
    }

    @Override
    public Integer call() {
        check();
        System.err.println("loading " + model + " ...");
        try (CausalLM lm = ModelLoader.load(model, device.backend())) {
            for (int t : maxBatchedTokensList) for (int b : batches) {
                batch = b;
                maxBatchedTokens = t;
                if (ab == null) {
                    if (run(lm) != 0) return 1;
                } else if (runAb(lm) != 0) return 1;
            }
            return 0;
        }
    }

    @Option(names = "--ab", paramLabel = "PROPERTY", description = "A/B a boolean system property read when an engine is made (a -Darbor.* switch, "
            + "e.g. arbor.cuda.prologueNorm): every batch at every budget runs --ab-rounds times with it false then true (the order "
            + "reversed every other round: false, true, true, false, ...), each run its own engine and warm-up on the loaded model; "
            + "the runs' decode tokens are compared and the device ms a step summed up per value") String ab;
    @Option(names = "--ab-rounds", defaultValue = "2", description = "rounds of the A/B (>= 1), each one run with the property false and one true") int abRounds;
    @Option(names = "--ab-profile", description = "after the A/B rounds, one more false / true pair with -Darbor.opProfile=true "
            + "(each operation timed by events, launched eagerly: a per-operation table of each value), of at most --ab-profile-len tokens") boolean abProfile;
    @Option(names = "--ab-profile-len", defaultValue = "32", description = "output tokens of the profiled pair (>= 2; each profiled step spins ~25 ms first)") int abProfileLen;

    /** Decode tokens of the last run (per sequence), for the A/B's comparison. */
    private int[][] lastTokens;
    private double lastDeviceMs, lastWallMs;

    /** --ab: the batch run with the property false and true, alternating, on the loaded model; then its summary. */
    private int runAb(CausalLM lm) {
        String before = System.getProperty(ab), profileBefore = System.getProperty(dev.arbor.models.OpProfile.PROPERTY);
        List<Double> off = new ArrayList<>(), on = new ArrayList<>(), offWall = new ArrayList<>(), onWall = new ArrayList<>();
        int[][] reference = null;
        int differ = 0;
        String name = ab.substring(ab.lastIndexOf('.') + 1);
        int outputLenBefore = outputLen;
        try {
            for (int round = 0; round < abRounds + (abProfile ? 1 : 0); round++) {
                boolean profiling = round == abRounds;
                if (profiling) {   // the summary first (a time limit may cut the profile), then the profiled pair, shorter
                    summary(name, off, on, offWall, onWall, differ);
                    System.setProperty(dev.arbor.models.OpProfile.PROPERTY, "true");
                    outputLen = Math.min(outputLen, abProfileLen);
                }
                for (int i = 0; i < 2; i++) {
                    boolean v = (round % 2 == 0) != (i == 0);   // false, true; then true, false; ...
                    System.setProperty(ab, Boolean.toString(v));
                    System.out.printf(Locale.ROOT, "ab %s=%s: batch %d, round %d%s%n", name, v, batch, round + 1, profiling ? " (opProfile)" : "");
                    if (run(lm) != 0) return 1;
                    if (!profiling) {
                        (v ? on : off).add(lastDeviceMs);
                        (v ? onWall : offWall).add(lastWallMs);
                    }
                    if (reference == null) reference = lastTokens;
                    else {
                        int d = 0;
                        for (int s = 0; s < reference.length; s++) {   // the profiled pair's shorter runs: their tokens a prefix of the first run's
                            int n = profiling ? Math.min(lastTokens[s].length, reference[s].length) : Math.max(lastTokens[s].length, reference[s].length);
                            if (n > reference[s].length || n > lastTokens[s].length
                                    || !java.util.Arrays.equals(reference[s], 0, n, lastTokens[s], 0, n)) d++;
                        }
                        differ += d;
                        System.out.printf(Locale.ROOT, "ab %s=%s: batch %d, round %d: %s%n", name, v, batch, round + 1,
                                d == 0 ? "the same tokens as the first run" : d + " of " + reference.length + " sequences' tokens differ from the first run");
                    }
                }
            }
        } finally {
            outputLen = outputLenBefore;
            if (before == null) System.clearProperty(ab);
            else System.setProperty(ab, before);
            if (profileBefore == null) System.clearProperty(dev.arbor.models.OpProfile.PROPERTY);
            else System.setProperty(dev.arbor.models.OpProfile.PROPERTY, profileBefore);
        }
        if (!abProfile) summary(name, off, on, offWall, onWall, differ);
        return 0;
    }

    private void summary(String name, List<Double> off, List<Double> on, List<Double> offWall, List<Double> onWall, int differ) {
        System.out.printf(Locale.ROOT, "ab %s batch %d: device ms/step false %s (median %.3f), true %s (median %.3f) -> %+.2f%%; "
                        + "wall ms/step false %s, true %s -> %+.2f%%; %s%n", name, batch,
                list(off), median(off), list(on), median(on), 100 * (median(on) / median(off) - 1),
                list(offWall), list(onWall), 100 * (median(onWall) / median(offWall) - 1),
                differ == 0 ? "same tokens in every run" : differ + " sequence runs with other tokens than the first run");
    }

    private static String list(List<Double> v) {
        StringBuilder b = new StringBuilder("[");
        for (double d : v) b.append(b.length() > 1 ? " " : "").append(String.format(Locale.ROOT, "%.3f", d));
        return b.append(']').toString();
    }

    private static double median(List<Double> v) {
        if (v.isEmpty()) return Double.NaN;
        double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    @Option(names = "--out", defaultValue = "bench/out", description = "folder for the JSON report and its PNG plot") java.nio.file.Path out;
    @Option(names = "--peer", paramLabel = "FILE.json", description = "the peer's figures from the same machine (bench/peers/engine_torch.py --json): "
            + "its single-stream decode is printed and plotted beside batch 1") java.nio.file.Path peer;

    private double copyBandwidth;
    private long weightBytes;
    private BenchReport report;

    private int run(CausalLM lm) {
        lm.materialize();
        var c = lm.config();
        weightBytes = 2L * c.decodeWeightElements();   // bf16
        if (copyBandwidth == 0) copyBandwidth = lm.measureCopyBandwidth().orElse(0);
        EngineConfig config = device.applyTo(EngineConfig.builder()).enablePrefixCaching(false).maxNumBatchedTokens(maxBatchedTokens).maxNumSeqs(Math.max(64, batch)).build();
        SplittableRandom rnd = new SplittableRandom(7);
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < batch; i++) prompts.add(Prompt.ofTokens(SharedPrefixBench.randomTokens(rnd, promptLen, Math.min(lm.config().vocabSize(), 32000))));
        Tokenizer tok = LLMEngine.tokenizerFor(lm.config());
        report = BenchReport.start("throughput-b" + batch + (maxBatchedTokensList.size() > 1 ? "-t" + maxBatchedTokens : ""), "arbor " + String.join(" ", spec.commandLine().getParseResult().originalArgs()), lm.device());
        report.printHeader();
        System.out.printf(Locale.ROOT, "throughput on %s (%s): batch %d, prompt %d, output %d, max %d batched tokens%n", model, lm.device(), batch, promptLen,
                outputLen, maxBatchedTokens);
        // one engine for all passes (caching off, so nothing carries over): the warm-up compiles the kernels and captures the
        // decode steps' CUDA graphs, as a server does before serving. It runs the timed pass's schedule (the same prompts and output
        // length): with chunked prefill the sequences start decoding a few at a time and finish a few at a time, so the decode batch
        // passes through every batch bucket (128, 64, 32, … at the tail); a bucket's first step launches eagerly and captures its
        // graph: at llama3.2-1b b128 × 512 a 4-token warm-up left buckets 128, 64, 32 and 4 to the timed pass, ~10.7 ms a step
        // against 2.6 replayed (bench/RESULTS.md "Run 53-gqa11": 34,787 → 40,922 tok/s as the mean of the 63 steps)
        LLMEngine engine = new LLMEngine(lm, tok, config);
        try (LLM llm = new LLM(engine)) {
            System.err.printf(Locale.ROOT, "warm-up (the batch, %d tokens each) ...%n", outputLen);
            // with the timed pass's sampling (top-p rows take other code than greedy ones: the first runs interpreted)
            SamplingParams warm = topP < 1 ? SamplingParams.builder().temperature(1.0).topP(topP).seed(1L).maxTokens(outputLen).ignoreEos(true).build()
                    : SamplingParams.greedy(outputLen).toBuilder().ignoreEos(true).build();
            llm.generatePrompts(prompts, warm, null, null);
            if (engine.opProfile() != null) engine.opProfile().reset();

            System.err.printf(Locale.ROOT, "prefill pass: %d prompts x %d tokens ...%n", batch, promptLen);
            long t0 = System.nanoTime();
            llm.generatePrompts(prompts, SamplingParams.builder().temperature(0).maxTokens(1).ignoreEos(true).build(), null, null);
            double prefillSecs = (System.nanoTime() - t0) / 1e9;
            long prefillTokens = (long) batch * promptLen;
            engine.stepTimings().reset();
            return decode(lm, llm, engine, prompts, prefillTokens, prefillSecs);
        }
    }

    private int decode(CausalLM lm, LLM decode, LLMEngine engine, List<Prompt> prompts, long prefillTokens, double prefillSecs) {
        long[] firstAll = {0};
        int[] started = {0};
        long t1 = System.nanoTime();
        long replays0 = engine.graphReplays();
        dev.arbor.accel.cuda.DriverCallTimes.reset();   // -Darbor.cuda.callTimes: the decode pass's driver calls (its prefill steps too)
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
        lastTokens = outs.stream().map(o -> o.output().tokenIds()).toArray(int[][]::new);
        long decodeTokens = outs.stream().mapToLong(o -> o.output().tokenIds().length - 1).sum();
        System.out.printf(Locale.ROOT, "prefill: %d tokens in %.2f s = %.1f tokens/s%n", prefillTokens, prefillSecs, prefillTokens / prefillSecs);
        double msPerStep = 1000 * decodeSecs / Math.max(1, outputLen - 1);
        System.out.printf(Locale.ROOT, "decode:  %d tokens in %.2f s = %.1f tokens/s (batch %d, %.2f ms/step, %s)%n",
                decodeTokens, decodeSecs, decodeTokens / decodeSecs, batch, msPerStep, topP < 1 ? "top-p " + topP : "greedy");
        StepTimings.Sums d = engine.stepTimings().decode();
        lastDeviceMs = d.deviceMillis();
        lastWallMs = d.wallMillis();
        System.out.println(d.summary("decode steps"));
        System.out.println(engine.stepTimings().other().summary("other steps (prefill, mixed)"));
        System.out.print(dev.arbor.accel.cuda.DriverCallTimes.report());
        long replays = engine.graphReplays() - replays0;
        System.out.printf(Locale.ROOT, "CUDA graphs: %d of %d decode steps replayed%n", replays, d.steps());
        StepTimings.Sums r = engine.stepTimings().replayed();
        // the bucket's first steps launch eagerly and capture: a short run's mean above spreads them over the replays
        if (r.steps() > 0 && r.steps() < d.steps()) System.out.println(r.summary("replayed decode steps only"));
        if (engine.opProfile() != null) {
            System.out.print(engine.opProfile().report());
            System.out.println("(-Darbor.opProfile=true: the step times above include the profiler's spin and eager launches; its table is the time per operation, device time on CUDA)");
        }
        // floor of a decode step: every weight byte a step reads (layers and lm_head, bf16) over the device copy rate
        // (read + write) measured in this run, the convention of the performance issue (13.5 GB / 4.25 TB/s = 3.2 ms)
        double floorMs = copyBandwidth > 0 ? 1000.0 * weightBytes / copyBandwidth : Double.NaN;
        String basis = String.format(Locale.ROOT, "weights %.2f GB / copy %.0f GB/s measured in this run", weightBytes / 1e9, copyBandwidth / 1e9);
        if (copyBandwidth > 0) {
            System.out.printf(Locale.ROOT, "floor:   %s = %.2f ms/step -> %.0f tokens/s at batch %d; measured %.0f%% of it%n",
                    basis, floorMs, batch * 1000 / floorMs, batch, 100 * floorMs / msPerStep);
        }
        // prefill floor: its FLOPs (2 per weight per token for the layers, plus causal attention's 2 x prompt x hidden per token and
        // layer) over the bf16 matmul rate the peer measured in the same run (torch, 8192^3), when it ran
        var c = lm.config();
        double layerWeights = c.decodeWeightElements() - (double) c.vocabSize() * c.hiddenSize();
        double prefillFlops = prefillTokens * (2 * layerWeights + 2.0 * c.numLayers() * promptLen * c.hiddenSize());
        double tflops = BenchReport.peerValue(peer, "matmul_TFLOPs");
        double prefillFloor = Double.isNaN(tflops) ? Double.NaN : prefillTokens / (prefillFlops / (tflops * 1e12));
        report.figure("prefill tokens/s", prefillTokens / prefillSecs, "tokens/s", prefillFloor,
                String.format(Locale.ROOT, "%.1f TFLOP / %.0f TFLOP/s bf16 matmul measured by the peer in this run", prefillFlops / 1e12, tflops));
        report.figure("decode ms/step", msPerStep, "ms/step", floorMs, basis);
        report.figure("decode tokens/s", decodeTokens / decodeSecs, "tokens/s", batch * 1000 / floorMs, basis);
        report.figure("decode device ms/step", d.deviceMillis(), "ms/step", floorMs, basis);
        report.figure("decode host overhead ms/step", d.hostOverheadMillis(), "ms/step");
        report.figure("decode host overhead share", 100 * d.hostOverheadMillis() / d.wallMillis(), "% of the step");
        report.figure("decode steps replayed from CUDA graphs", replays, "steps");
        if (r.steps() > 0) {
            report.figure("decode host overhead, replayed steps ms/step", r.hostOverheadMillis(), "ms/step");
            report.figure("decode launch/replay, replayed steps ms/step", r.launchMillis(), "ms/step");
        }
        report.figure("decode schedule ms/step", d.scheduleMillis(), "ms/step");
        report.figure("decode inputs ms/step", d.inputsMillis(), "ms/step");
        report.figure("decode upload ms/step", d.uploadMillis(), "ms/step");
        report.figure("decode launch/replay ms/step", d.launchMillis(), "ms/step");
        report.figure("decode outputs (overlapped) ms/step", d.outputsMillis(), "ms/step");
        report.figure("decode wait+ids back ms/step", d.waitMillis(), "ms/step");
        report.figure("decode update ms/step", d.updateMillis(), "ms/step");
        double peerMs = batch == 1 ? BenchReport.peerFigure(peer, "single-stream decode ms/token") : Double.NaN;
        if (!Double.isNaN(peerMs)) report.figure("peer decode ms/step (" + peer.getFileName() + ")", peerMs, "ms/step", floorMs, basis);
        System.out.printf(Locale.ROOT, "end to end: %.2f s%n", (System.nanoTime() - t1) / 1e9);
        report = report.plot(String.format(Locale.ROOT, "decode, batch %d, prompt %d, %d new (%s)", batch, promptLen, outputLen, model), "ms per step",
                List.of("step (wall)", "device", "host overhead", "floor"));
        report.bars("Arbor ms/step", msPerStep, d.deviceMillis(), d.hostOverheadMillis(), floorMs);
        if (!Double.isNaN(peerMs)) report.bars("peer (HF transformers, same GPU)", peerMs, Double.NaN, Double.NaN, Double.NaN);
        report.write(out);
        return 0;
    }
}
