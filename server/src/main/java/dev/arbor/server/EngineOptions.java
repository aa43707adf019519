package dev.arbor.server;

import dev.arbor.engine.EngineConfig;
import dev.arbor.engine.cache.EvictionPolicy;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Engine flags shared by every command that starts an engine (a picocli mixin). */
public final class EngineOptions {
    @Option(names = "--model", required = true, paramLabel = "DIR|synthetic:SHAPE",
            description = "Hugging Face model directory, or synthetic:tiny|100m|llama-7b|llama3.2-1b|baichuan2-13b|tiny-baichuan")
    public String model;

    @Mixin
    public DeviceOptions device = new DeviceOptions();

    @Option(names = "--block-size", defaultValue = "16", description = "tokens per KV block (>= 1)")
    int blockSize;

    @Option(names = "--kv-cache-bytes", defaultValue = "0",
            description = "KV budget in bytes (0 = the backend's default: on CUDA --gpu-memory-utilization of the device memory left after the weights; on the CPU 10%% of physical memory, at most 2 GiB; either at most 4x what --max-num-seqs sequences of --max-model-len need)")
    long kvCacheBytes;

    @Option(names = "--gpu-memory-utilization", defaultValue = "0.9",
            description = "fraction of the device memory free after loading the weights that the KV cache takes (CUDA)")
    double gpuMemoryUtilization;

    @Option(names = "--num-blocks", defaultValue = "0", description = "exact KV pool size in blocks (overrides the budget)")
    int numBlocks;

    @Option(names = "--max-num-seqs", defaultValue = "64", description = "sequences per step at most")
    int maxNumSeqs;

    @Option(names = "--max-num-batched-tokens", defaultValue = "0",
            description = "tokens per step at most; longer prompts are prefilled in chunks (0 = the backend's default: 8192 on CUDA, 1024 on the CPU;"
                    + " a smaller budget, e.g. 2048, keeps the inter-token latency of running requests lower while prompts arrive)")
    int maxNumBatchedTokens;

    @Option(names = "--max-model-len", defaultValue = "0", description = "context length (0 = the model's)")
    int maxModelLen;

    @Option(names = "--no-prefix-caching", description = "disable sharing of KV blocks between requests")
    boolean noPrefixCaching;

    @Option(names = "--eviction-policy", defaultValue = "lru", description = "which cached block goes first when the cache is full: lru | fifo | lfu | priority")
    String evictionPolicy;

    @Option(names = "--scheduling-policy", defaultValue = "lpm", description = "fcfs | lpm (longest cached prefix first)")
    String schedulingPolicy;

    @Option(names = "--max-cached-blocks", defaultValue = "0", description = "cap on cached blocks no request holds; colder ones are evicted (0 = no cap)")
    int maxCachedUnusedBlocks;

    @Option(names = "--max-waiting", defaultValue = "0", description = "refuse new requests when this many wait (0 = unbounded)")
    int maxWaiting;

    /**
     * Checks every option here before anything is loaded; a bad value is a usage error naming the option.
     * Validation is the engine's own ({@link EngineConfig}, the backend options), so the rules live in one place.
     */
    public void check(CommandSpec spec) {
        UsageErrors.check(spec, () -> {
            nonNegative("--num-blocks", numBlocks);
            nonNegative("--max-model-len", maxModelLen);
            nonNegative("--max-cached-blocks", maxCachedUnusedBlocks);
            nonNegative("--max-waiting", maxWaiting);
            try {
                EvictionPolicy.byName(evictionPolicy);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--eviction-policy must be lru, fifo, lfu or priority, not '" + evictionPolicy + "'");
            }
            toConfig();
        });
    }

    static void nonNegative(String option, long value) {
        if (value < 0) throw new IllegalArgumentException(option + " must be >= 0, got " + value);
    }

    static void positive(String option, long value) {
        if (value < 1) throw new IllegalArgumentException(option + " must be >= 1, got " + value);
    }

    public EngineConfig toConfig() {
        return EngineConfig.builder().blockSize(blockSize).kvCacheBytes(kvCacheBytes).gpuMemoryUtilization(gpuMemoryUtilization)
                .numBlocks(numBlocks).maxNumSeqs(maxNumSeqs).maxNumBatchedTokens(maxNumBatchedTokens)
                .maxModelLen(maxModelLen).enablePrefixCaching(!noPrefixCaching).evictionPolicy(evictionPolicy)
                .schedulingPolicy(schedulingPolicy).maxCachedUnusedBlocks(maxCachedUnusedBlocks).maxWaiting(maxWaiting)
                .backend(device.backend()).build();
    }
}
