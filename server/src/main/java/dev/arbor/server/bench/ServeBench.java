package dev.arbor.server.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.engine.AsyncEngine;
import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.EngineStats;
import dev.arbor.engine.LLMEngine;
import dev.arbor.server.http.OpenAiServer;
import dev.arbor.server.http.ServedModel;
import dev.arbor.server.http.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Online serving through the HTTP server, shaped like vLLM's {@code benchmarks/benchmark_serving.py}: requests arrive as a
 * Poisson process at each of a few rates, each a streamed {@code /v1/completions} call whose prompt is one of a few shared
 * system prompts plus its own suffix (token ids, greedy, EOS ignored). Per rate: time to first token and inter-token latency
 * percentiles (client side, from the SSE chunks' arrival), request and output-token throughput, and the prefix cache's hit
 * rate over that rate's requests. The server runs in this process on a loopback port; one warm-up request runs first.
 */
@Command(mixinStandardHelpOptions = true, showDefaultValues = true, name = "serve",
        description = "Online: Poisson arrivals of streamed completions sharing system prompts, through the HTTP server; TTFT/ITL percentiles per rate.")
public final class ServeBench implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "synthetic:100m", description = "a Hugging Face model directory or synthetic:SHAPE") String model;
    @Option(names = "--rates", split = ",", defaultValue = "2,8,32", paramLabel = "R[,R...]", description = "request rates (requests/s), one run each") List<Double> rates;
    @Option(names = "--requests", defaultValue = "64", description = "requests per rate (>= 1)") int requests;
    @Option(names = "--system-prompts", defaultValue = "4", description = "distinct shared system prompts (>= 1)") int systemPrompts;
    @Option(names = "--system-len", defaultValue = "512", description = "tokens of each system prompt (>= 1)") int systemLen;
    @Option(names = "--suffix-len", defaultValue = "32", description = "tokens of each request's own part (>= 1)") int suffixLen;
    @Option(names = "--output-len", defaultValue = "64", description = "tokens generated per request (>= 2)") int outputLen;
    @Option(names = "--max-num-seqs", defaultValue = "256", description = "sequences in one engine step at most") int maxNumSeqs;
    @Option(names = "--max-num-batched-tokens", defaultValue = "2048", description = "tokens per engine step at most") int maxBatchedTokens;
    @Option(names = "--seed", defaultValue = "1", description = "seed of the prompts and arrival times") long seed;
    @Option(names = "--out", defaultValue = "bench/out", description = "folder for the JSON report and its PNG plot") Path out;
    @picocli.CommandLine.Mixin dev.arbor.server.DeviceOptions device = new dev.arbor.server.DeviceOptions();
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    /** What one rate measured; latencies in milliseconds. */
    public record RateResult(double rate, int requests, int failed, double seconds, double requestsPerSecond, double outputTokensPerSecond,
                             double ttftP50, double ttftP90, double ttftP99, double itlP50, double itlP90, double itlP99, double e2eP50,
                             double prefixHitRate) {}

    /** One streamed request as the client saw it: its send time and each delta chunk's arrival, System.nanoTime. */
    record Trace(long sentNs, long[] chunkNs, boolean ok) {}

    private static final ObjectMapper JSON = new ObjectMapper();

    private void check() {
        String bad = requests < 1 ? "--requests must be >= 1" : systemPrompts < 1 ? "--system-prompts must be >= 1"
                : systemLen < 1 ? "--system-len must be >= 1" : suffixLen < 1 ? "--suffix-len must be >= 1"
                : outputLen < 2 ? "--output-len must be >= 2" : rates.stream().anyMatch(r -> !(r > 0)) ? "--rates must be > 0" : null;
        if (bad != null) throw new picocli.CommandLine.ParameterException(spec.commandLine(), bad);
        dev.arbor.server.UsageErrors.check(spec, device::backend);
    }

    @Override
    public Integer call() throws Exception {
        check();
        System.err.println("loading " + model + " ...");
        EngineConfig config = device.applyTo(EngineConfig.builder()).maxNumSeqs(maxNumSeqs).maxNumBatchedTokens(maxBatchedTokens).build();
        try (AsyncEngine engine = new AsyncEngine(LLMEngine.create(model, config));
             OpenAiServer server = OpenAiServer.start(engine, ServerConfig.local(ServedModel.nameFor(model)), model)) {
            String device = engine.call(LLMEngine::device).get();
            int vocab = engine.call(e -> e.modelConfig().vocabSize()).get();
            BenchReport report = BenchReport.start("serve", "arbor " + String.join(" ", spec.commandLine().getParseResult().originalArgs()), device);
            report.printHeader();
            System.out.printf(Locale.ROOT, "serve on %s: %d system prompts x %d tokens, suffix %d, %d new, %d requests per rate%n",
                    model, systemPrompts, systemLen, suffixLen, outputLen, requests);
            OpenAiServer.warmUp(engine);
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
            SplittableRandom rnd = new SplittableRandom(seed);
            int[][] system = new int[systemPrompts][];
            for (int s = 0; s < systemPrompts; s++) system[s] = SharedPrefixBench.randomTokens(rnd, systemLen, Math.min(vocab, 32000));
            // untimed: requests of the same shape at once (kernels compiled, decode graphs of small buckets captured), then the cache emptied
            runRate(engine, server, http, new SplittableRandom(seed + 1), new int[][] {SharedPrefixBench.randomTokens(new SplittableRandom(seed + 2),
                    systemLen, Math.min(vocab, 32000))}, Math.min(vocab, 32000), 1e6, Math.min(requests, 16));
            engine.call(LLMEngine::evictAllCached).get();
            List<RateResult> results = new ArrayList<>();
            for (double rate : rates) {
                RateResult r = runRate(engine, server, http, rnd, system, Math.min(vocab, 32000), rate, requests);
                results.add(r);
                System.out.printf(Locale.ROOT, "rate %6.1f req/s: %d requests (%d failed) in %.2f s = %.2f req/s, %.0f output tokens/s; "
                                + "TTFT p50/p90/p99 %.0f/%.0f/%.0f ms; ITL p50/p90/p99 %.1f/%.1f/%.1f ms; e2e p50 %.0f ms; prefix hit rate %.1f%%%n",
                        r.rate(), r.requests(), r.failed(), r.seconds(), r.requestsPerSecond(), r.outputTokensPerSecond(), r.ttftP50(), r.ttftP90(),
                        r.ttftP99(), r.itlP50(), r.itlP90(), r.itlP99(), r.e2eP50(), 100 * r.prefixHitRate());
            }
            List<String> cats = new ArrayList<>();
            double[][] bars = new double[4][results.size()];
            for (int i = 0; i < results.size(); i++) {
                RateResult r = results.get(i);
                String k = String.format(Locale.ROOT, "%.1f req/s", r.rate());
                cats.add(k);
                bars[0][i] = r.ttftP50();
                bars[1][i] = r.ttftP99();
                bars[2][i] = r.itlP50();
                bars[3][i] = r.itlP99();
                report.quiet(true).figure(k + " TTFT p50 ms", r.ttftP50(), "ms").figure(k + " TTFT p99 ms", r.ttftP99(), "ms")
                        .figure(k + " ITL p50 ms", r.itlP50(), "ms").figure(k + " ITL p99 ms", r.itlP99(), "ms")
                        .figure(k + " output tokens/s", r.outputTokensPerSecond(), "tokens/s").figure(k + " prefix hit rate", 100 * r.prefixHitRate(), "%")
                        .figure(k + " failed requests", r.failed(), "requests");
            }
            report = report.plot(String.format(Locale.ROOT, "latency against request rate (%s, %d x %d-token system prompts, %d new)", model,
                    systemPrompts, systemLen, outputLen), "milliseconds", cats);
            report.bars("TTFT p50", bars[0]).bars("TTFT p99", bars[1]).bars("ITL p50", bars[2]).bars("ITL p99", bars[3]);
            report.write(out);
            return results.stream().anyMatch(r -> r.failed() > 0) ? 1 : 0;
        }
    }

    private RateResult runRate(AsyncEngine engine, OpenAiServer server, HttpClient http, SplittableRandom rnd, int[][] system, int vocab,
                               double rate, int requests) throws Exception {
        EngineStats before = engine.call(e -> e.stats()).get();
        URI uri = URI.create(server.baseUrl() + "/v1/completions");
        List<CompletableFuture<Trace>> traces = new ArrayList<>();
        long start = System.nanoTime();
        double at = 0;
        for (int i = 0; i < requests; i++) {
            at += -Math.log(1 - rnd.nextDouble()) / rate;              // exponential gaps: a Poisson process of this rate
            long due = start + (long) (at * 1e9);
            int[] prompt = Arrays.copyOf(system[rnd.nextInt(system.length)], systemLen + suffixLen);
            System.arraycopy(SharedPrefixBench.randomTokens(rnd, suffixLen, vocab), 0, prompt, systemLen, suffixLen);
            String body = JSON.writeValueAsString(java.util.Map.of("model", server.model().name(), "prompt", prompt, "max_tokens", outputLen,
                    "temperature", 0, "ignore_eos", true, "stream", true));
            long wait = due - System.nanoTime();
            if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
            traces.add(send(http, uri, body));
        }
        List<Trace> done = new ArrayList<>();
        for (CompletableFuture<Trace> f : traces) done.add(f.get(10, TimeUnit.MINUTES));
        double seconds = (System.nanoTime() - start) / 1e9;
        EngineStats after = engine.call(e -> e.stats()).get();
        List<Double> ttft = new ArrayList<>(), itl = new ArrayList<>(), e2e = new ArrayList<>();
        int failed = 0;
        long chunks = 0;
        for (Trace t : done) {
            if (!t.ok() || t.chunkNs().length == 0) {
                failed++;
                continue;
            }
            long[] c = t.chunkNs();
            ttft.add((c[0] - t.sentNs()) / 1e6);
            for (int j = 1; j < c.length; j++) itl.add((c[j] - c[j - 1]) / 1e6);
            e2e.add((c[c.length - 1] - t.sentNs()) / 1e6);
            chunks += c.length;
        }
        long computed = after.prefillTokens() - before.prefillTokens(), cached = after.cachedPromptTokens() - before.cachedPromptTokens();
        long generated = after.generatedTokens() - before.generatedTokens();
        return new RateResult(rate, requests, failed, seconds, (requests - failed) / seconds, generated / seconds,
                pct(ttft, 0.5), pct(ttft, 0.9), pct(ttft, 0.99), pct(itl, 0.5), pct(itl, 0.9), pct(itl, 0.99), pct(e2e, 0.5),
                computed + cached == 0 ? 0 : (double) cached / (computed + cached));
    }

    /** Sends one streamed completion; the trace holds when each delta chunk (one per engine step that produced tokens) arrived. */
    private static CompletableFuture<Trace> send(HttpClient http, URI uri, String body) {
        HttpRequest req = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long sent = System.nanoTime();
        return http.sendAsync(req, HttpResponse.BodyHandlers.ofLines()).thenApply(resp -> {
            List<Long> at = new ArrayList<>();
            boolean[] ok = {resp.statusCode() == 200};
            resp.body().forEach(line -> {
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) return;
                long now = System.nanoTime();
                try {
                    JsonNode n = JSON.readTree(line.substring(6));
                    if (n.has("error")) ok[0] = false;
                    if (n.path("choices").size() > 0) at.add(now);     // a delta (the usage chunk has no choices)
                } catch (Exception e) {
                    ok[0] = false;
                }
            });
            return new Trace(sent, at.stream().mapToLong(Long::longValue).toArray(), ok[0]);
        });
    }

    static double pct(List<Double> xs, double q) {
        if (xs.isEmpty()) return Double.NaN;
        double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return SharedPrefixBench.percentile(s, q);
    }
}
