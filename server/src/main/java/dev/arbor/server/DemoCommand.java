package dev.arbor.server;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.EngineStats;
import dev.arbor.engine.LLM;
import dev.arbor.engine.LLMEngine;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import dev.arbor.engine.cache.CacheStats;
import dev.arbor.models.ModelConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code arbor demo}: the main job on an embedded default, needing no files. A synthetic model
 * serves a batch of chat-style requests that share a long system prompt; the prefix trie computes
 * that prompt once. Prints what ran, tokens/s and KV-cache use.
 */
@Command(mixinStandardHelpOptions = true, showDefaultValues = true, name = "demo", description = "Serve a batch of requests sharing a long system prompt on a synthetic model (no downloads).")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "synthetic:100m", description = "model: a Hugging Face model directory or synthetic:tiny|100m|llama-7b|llama3.2-1b|baichuan2-13b|tiny-baichuan")
    String model;

    @Option(names = "--requests", defaultValue = "16", description = "requests in the batch (>= 1)")
    int requests;

    @Option(names = "--system-repeat", defaultValue = "12", description = "length of the shared system prompt, in sentences (>= 1)")
    int systemRepeat;

    @Option(names = "--max-tokens", defaultValue = "32", description = "tokens generated per request (>= 1)")
    int maxTokens;

    @Option(names = "--no-progress", description = "no progress (a bar on a terminal, else a plain line every 10 s, on stderr)") boolean noProgress;

    @picocli.CommandLine.Mixin DeviceOptions device = new DeviceOptions();
    @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

    private static final String SENTENCE = "You are Arbor, a careful assistant. Answer briefly and cite the document. ";
    private static final String[] QUESTIONS = {
            "What is a paged KV cache?", "Why share prefixes?", "How does eviction work?", "What is ALiBi?",
            "Explain RoPE scaling.", "What does the scheduler do?", "Why chunked prefill?", "What is preemption?"};

    @Override
    public Integer call() {
        UsageErrors.check(spec, () -> {
            EngineOptions.positive("--requests", requests);
            EngineOptions.positive("--system-repeat", systemRepeat);
            EngineOptions.positive("--max-tokens", maxTokens);
            device.backend();
        });
        System.out.println("Arbor demo: " + requests + " requests sharing a system prompt, on " + model);
        long t0 = System.nanoTime();
        LLMEngine engine = LLMEngine.create(model, device.applyTo(EngineConfig.builder().maxNumBatchedTokens(2048)).build());
        ModelConfig mc = engine.modelConfig();
        long loadMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.printf(Locale.ROOT, "model: %s, %d layers, hidden %d, %d heads (%d kv), vocab %d, loaded in %d ms%n",
                mc.architecture(), mc.numLayers(), mc.hiddenSize(), mc.numHeads(), mc.numKvHeads(), mc.vocabSize(), loadMs);

        String system = SENTENCE.repeat(systemRepeat);
        List<Prompt> prompts = new ArrayList<>();
        for (int i = 0; i < requests; i++) prompts.add(Prompt.of(system + "\nUser " + i + ": " + QUESTIONS[i % QUESTIONS.length] + "\nAssistant:"));
        int systemTokens = engine.tokenizer().encode(system).length;
        SamplingParams params = SamplingParams.builder().temperature(0.8).topP(0.95).seed(42L).maxTokens(maxTokens).ignoreEos(true).build();

        int[] peakBlocks = {0};
        long start = System.nanoTime();
        List<RequestOutput> outs;
        try (LLM llm = new LLM(engine);
             Progress bar = Progress.start("generating", "tokens", (long) requests * maxTokens, !noProgress)) {
            outs = llm.generatePrompts(prompts, params, null, o -> {
                bar.stepBy(o.outputs().stream().mapToLong(c -> c.newTokenIds().length).sum());
                peakBlocks[0] = Math.max(peakBlocks[0], engine.stats().usedBlocks());
            });
            double secs = (System.nanoTime() - start) / 1e9;
            bar.close();
            report(engine, outs, systemTokens, secs, peakBlocks[0]);
        }
        return 0;
    }

    private void report(LLMEngine engine, List<RequestOutput> outs, int systemTokens, double secs, int peakBlocks) {
        EngineStats s = engine.stats();
        long failed = outs.stream().filter(RequestOutput::failed).count();
        System.out.printf(Locale.ROOT, "requests: %d done, %d failed; shared system prompt %d tokens%n", outs.size() - failed, failed, systemTokens);
        System.out.printf(Locale.ROOT, "prompt tokens: %d, computed by prefill: %d, served from the prefix cache: %d%n",
                s.promptTokens(), s.prefillTokens(), s.cachedPromptTokens());
        System.out.printf(Locale.ROOT, "generated tokens: %d in %.2f s: %.1f tokens/s generated, %.1f tokens/s computed (prefill + decode), %d steps%n",
                s.generatedTokens(), secs, s.generatedTokens() / secs, s.computedTokens() / secs, s.steps());
        long perBlock = engine.config().blockSize();
        System.out.printf(Locale.ROOT, "KV cache: %d blocks x %d tokens; peak in use %d (%.1f%%), now cached in the trie %d, free %d%n",
                s.totalBlocks(), perBlock, peakBlocks, 100.0 * peakBlocks / s.totalBlocks(),
                s.prefixCache() == null ? 0 : s.prefixCache().cachedBlocks(), s.freeBlocks());
        CacheStats c = s.prefixCache();
        if (c != null) {
            System.out.printf(Locale.ROOT, "prefix cache: %d query tokens, %d hit tokens, hit rate %.1f%%; blocks cached %d, pinned %d, evictable %d, free %d; evicted %d%n",
                    c.queryTokens(), c.hitTokens(), 100 * c.hitRate(), c.cachedBlocks(), c.pinnedBlocks(),
                    c.evictableBlocks(), c.freeBlocks(), c.evictedBlocks());
        }
        RequestOutput first = outs.getFirst();
        if (!first.failed()) {
            String text = first.output().text().replaceAll("[\\p{Cntrl}&&[^\n]]", "?");
            System.out.println("sample output (random weights, so the text is noise): " + text.substring(0, Math.min(80, text.length())).replace('\n', ' '));
        }
    }
}
