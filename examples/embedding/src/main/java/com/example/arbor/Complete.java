package com.example.arbor;

import dev.arbor.engine.CompletionOutput;
import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.LLM;
import dev.arbor.engine.RequestOutput;
import dev.arbor.engine.SamplingParams;

import java.util.List;

/**
 * Arbor as a library: load a model, generate for a batch of prompts, read the outputs.
 * Run: java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... com.example.arbor.Complete [MODEL]
 * MODEL is a Hugging Face model directory, or synthetic:tiny (random weights, no files) by default.
 */
public final class Complete {
    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "synthetic:tiny";
        for (String line : complete(model, List.of("The capital of France is", "Once upon a time"))) System.out.println(line);
    }

    /** One line per prompt: the prompt, its completion and why it stopped. */
    static List<String> complete(String model, List<String> prompts) {
        EngineConfig config = EngineConfig.builder()
                .device("cpu")                    // or "cuda", "cuda:1", "auto"
                .kvCacheBytes(64L << 20)          // 64 MiB of KV cache is plenty here (the CPU default is 10% of memory, at most 2 GiB)
                .build();
        SamplingParams params = SamplingParams.builder().temperature(0.7).topP(0.9).seed(1L).maxTokens(16).build();
        try (LLM llm = new LLM(model, config)) {
            List<RequestOutput> outputs = llm.generate(prompts, params);   // one batch; outputs in prompt order
            return outputs.stream().map(o -> {
                if (o.failed()) return o.prompt() + " -> error: " + o.error();
                CompletionOutput c = o.output();   // the first (with n = 1 the only) completion
                return o.prompt() + " -> " + c.tokenIds().length + " tokens, finish_reason=" + c.finishReason().wireName()
                        + ", " + o.cachedTokens() + " prompt tokens from the prefix cache: " + c.text().strip();
            }).toList();
        }
    }
}
