package dev.arbor.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.LLM;
import dev.arbor.engine.LLMEngine;
import dev.arbor.engine.Prompt;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code arbor generate}: all prompts of one call go to the engine together, as one batch.
 * With --json, one object per prompt per line, in input order (fields are a stable interface).
 */
@Command(mixinStandardHelpOptions = true, showDefaultValues = true, name = "generate", description = "Generate completions for one or more prompts (one batch).")
final class GenerateCommand implements Callable<Integer> {
    @Mixin EngineOptions engine;

    @Option(names = "--prompt", required = true, description = "a prompt (repeat for a batch)")
    List<String> prompts;

    @Option(names = "--max-tokens", defaultValue = "64", description = "new tokens at most (>= 1)")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "sampling temperature, >= 0; 0 = greedy")
    double temperature;

    @Option(names = "--top-p", defaultValue = "1.0", description = "nucleus sampling: keep the most likely tokens up to this probability mass, in (0, 1]; 1 = off")
    double topP;
    @Option(names = "--top-k", defaultValue = "-1", description = "keep the k most likely tokens; -1 or 0 = off")
    int topK;
    @Option(names = "--min-p", defaultValue = "0", description = "drop tokens below this fraction of the top token's probability, in [0, 1]; 0 = off")
    double minP;
    @Option(names = "--seed", description = "seed for reproducible sampling (default: none, so runs differ)") Long seed;
    @Option(names = "--stop", description = "stop string (repeatable; default: none)") List<String> stop;
    @Spec CommandSpec spec;
    @Option(names = "--ignore-eos", description = "keep generating past EOS") boolean ignoreEos;
    @Option(names = "--json", description = "one JSON object per prompt per line") boolean json;

    @Override
    public Integer call() throws Exception {
        SamplingParams params = SamplingParams.builder().maxTokens(maxTokens).temperature(temperature).topP(topP)
                .topK(topK).minP(minP).seed(seed).stop(stop).ignoreEos(ignoreEos).build();
        // Every option is checked before the model loads (seconds to minutes): a typo fails at once.
        UsageErrors.check(spec, () -> params.validate(Integer.MAX_VALUE));
        engine.check(spec);
        try (LLM llm = new LLM(LLMEngine.create(engine.model, engine.toConfig()))) {
            List<RequestOutput> outs = llm.generatePrompts(prompts.stream().map(Prompt::of).toList(), params, null, null);
            ObjectMapper mapper = new ObjectMapper();
            int failures = 0;
            for (RequestOutput o : outs) {
                CompletionOutput c = o.output();
                if (o.failed()) failures++;
                if (json) {
                    ObjectNode n = mapper.createObjectNode();
                    n.put("prompt", o.prompt());
                    n.set("prompt_token_ids", mapper.valueToTree(o.promptTokenIds()));
                    n.set("token_ids", mapper.valueToTree(c.tokenIds()));
                    n.put("text", c.text());
                    n.put("finish_reason", c.finishReason() == null ? null : c.finishReason().wireName());
                    n.put("cached_tokens", o.cachedTokens());
                    if (o.failed()) n.put("error", o.error());
                    System.out.println(mapper.writeValueAsString(n));
                } else if (o.failed()) {
                    System.out.println("error: " + o.error());
                } else {
                    System.out.println(o.prompt() + c.text());
                    System.out.println("  [" + c.tokenIds().length + " tokens, finish_reason=" + c.finishReason().wireName() + "]");
                }
            }
            return failures == 0 ? 0 : 1;
        }
    }
}
