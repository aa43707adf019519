package dev.arbor.engine;

/**
 * Engine settings. The KV pool is sized from {@code kvCacheBytes} when positive, otherwise by the
 * model's backend: on CUDA the device memory left after the weights times {@code gpuMemoryUtilization},
 * on the CPU a default share of physical memory (see {@code CpuModelBackend}); the engine logs the size.
 *
 * @param blockSize              tokens per KV block
 * @param kvCacheBytes           KV budget in bytes (0 = the backend's default)
 * @param gpuMemoryUtilization   fraction of the device memory free after loading the weights that the KV store takes (CUDA)
 * @param numBlocksOverride      exact number of blocks (tests), 0 = from the budget
 * @param maxNumSeqs             sequences in one step at most
 * @param maxNumBatchedTokens    tokens in one step at most (prefill chunks are cut to fit); 0 = the backend's default
 *                               (1,024 on the CPU, 8,192 on CUDA: {@code CausalLM.defaultMaxNumBatchedTokens}), resolved by the engine
 * @param maxModelLen            context length (0 = the model's max_position_embeddings)
 * @param enablePrefixCaching    share full KV blocks between requests through the prefix trie
 * @param evictionPolicy         lru | fifo | lfu | priority
 * @param schedulingPolicy       fcfs | lpm (longest cached prefix first)
 * @param lpmFcfsThreshold       with lpm, fall back to FCFS when more requests wait than this
 * @param maxCachedUnusedBlocks  cap on cached blocks no request holds (0 = no cap)
 * @param maxWaiting             waiting-queue length at which new requests are refused (0 = unbounded)
 * @param backend                where and how the model runs: device, CUDA KV dtype, matmul precision, batch invariance
 */
public record EngineConfig(int blockSize, long kvCacheBytes, double gpuMemoryUtilization, int numBlocksOverride,
                           int maxNumSeqs, int maxNumBatchedTokens, int maxModelLen, boolean enablePrefixCaching,
                           String evictionPolicy, String schedulingPolicy, int lpmFcfsThreshold,
                           int maxCachedUnusedBlocks, int maxWaiting, dev.arbor.models.BackendOptions backend) {

    public EngineConfig {
        if (blockSize < 1) throw new IllegalArgumentException("block_size must be >= 1, got " + blockSize);
        if (maxNumSeqs < 1) throw new IllegalArgumentException("max_num_seqs must be >= 1, got " + maxNumSeqs);
        if (maxNumBatchedTokens < 0) throw new IllegalArgumentException("max_num_batched_tokens must be >= 1 (or 0: the backend's default), got " + maxNumBatchedTokens);
        if (kvCacheBytes < 0) throw new IllegalArgumentException("kv_cache_bytes must be >= 0, got " + kvCacheBytes);
        if (!(gpuMemoryUtilization > 0 && gpuMemoryUtilization <= 1)) throw new IllegalArgumentException("gpu_memory_utilization must be in (0, 1], got " + gpuMemoryUtilization);
        java.util.Objects.requireNonNull(backend, "backend");
        if (!schedulingPolicy.equals("fcfs") && !schedulingPolicy.equals("lpm")) throw new IllegalArgumentException("scheduling_policy must be fcfs or lpm, got " + schedulingPolicy);
    }

    public static EngineConfig defaults() { return builder().build(); }

    public static Builder builder() { return new Builder(); }

    public Builder toBuilder() {
        return new Builder().blockSize(blockSize).kvCacheBytes(kvCacheBytes).gpuMemoryUtilization(gpuMemoryUtilization)
                .numBlocks(numBlocksOverride).maxNumSeqs(maxNumSeqs).maxNumBatchedTokens(maxNumBatchedTokens)
                .maxModelLen(maxModelLen).enablePrefixCaching(enablePrefixCaching).evictionPolicy(evictionPolicy)
                .schedulingPolicy(schedulingPolicy).lpmFcfsThreshold(lpmFcfsThreshold)
                .maxCachedUnusedBlocks(maxCachedUnusedBlocks).maxWaiting(maxWaiting).backend(backend);
    }

    public static final class Builder {
        private int blockSize = 16;
        private long kvCacheBytes;
        private double gpuMemoryUtilization = 0.9;
        private int numBlocks;
        private int maxNumSeqs = 64;
        private int maxNumBatchedTokens;   // the backend's default
        private int maxModelLen;
        private boolean enablePrefixCaching = true;
        private String evictionPolicy = "lru";
        private String schedulingPolicy = "lpm";
        private int lpmFcfsThreshold = 128;
        private int maxCachedUnusedBlocks;
        private int maxWaiting;
        private String device = "auto";
        private String kvCacheDtype = "auto";
        private String dtype = "auto";
        private boolean batchInvariant = true;
        private boolean cudaGraphs = true;

        public Builder blockSize(int v) { blockSize = v; return this; }
        public Builder kvCacheBytes(long v) { kvCacheBytes = v; return this; }
        public Builder gpuMemoryUtilization(double v) { gpuMemoryUtilization = v; return this; }
        public Builder numBlocks(int v) { numBlocks = v; return this; }
        public Builder maxNumSeqs(int v) { maxNumSeqs = v; return this; }
        public Builder maxNumBatchedTokens(int v) { maxNumBatchedTokens = v; return this; }
        public Builder maxModelLen(int v) { maxModelLen = v; return this; }
        public Builder enablePrefixCaching(boolean v) { enablePrefixCaching = v; return this; }
        public Builder evictionPolicy(String v) { evictionPolicy = v; return this; }
        public Builder schedulingPolicy(String v) { schedulingPolicy = v; return this; }
        public Builder lpmFcfsThreshold(int v) { lpmFcfsThreshold = v; return this; }
        public Builder maxCachedUnusedBlocks(int v) { maxCachedUnusedBlocks = v; return this; }
        public Builder maxWaiting(int v) { maxWaiting = v; return this; }
        /** cpu | cuda | cuda:N | auto (the default: CUDA device 0 when it answers, else the CPU; the choice is logged). */
        public Builder device(String v) { device = v; return this; }
        /** auto (= bf16) | bf16 | fp16 | fp32: the CUDA KV store's element type. */
        public Builder kvCacheDtype(String v) { kvCacheDtype = v; return this; }
        /** auto (= bfloat16) | bfloat16 | float32: CUDA matmul precision (see {@link dev.arbor.models.BackendOptions}). */
        public Builder dtype(String v) { dtype = v; return this; }
        /** false lets the CUDA GEMM split K for small batches: faster decode, last bits may vary with the batch. */
        public Builder batchInvariant(boolean v) { batchInvariant = v; return this; }
        /** false launches every kernel of a CUDA decode step instead of replaying its captured graph. */
        public Builder cudaGraphs(boolean v) { cudaGraphs = v; return this; }
        public Builder backend(dev.arbor.models.BackendOptions b) {
            device = b.device(); kvCacheDtype = b.kvCacheDtype(); dtype = b.dtype(); batchInvariant = b.batchInvariant(); cudaGraphs = b.cudaGraphs();
            return this;
        }

        public EngineConfig build() {
            return new EngineConfig(blockSize, kvCacheBytes, gpuMemoryUtilization, numBlocks, maxNumSeqs,
                    maxNumBatchedTokens, maxModelLen, enablePrefixCaching, evictionPolicy, schedulingPolicy,
                    lpmFcfsThreshold, maxCachedUnusedBlocks, maxWaiting,
                    new dev.arbor.models.BackendOptions(device, kvCacheDtype, dtype, batchInvariant, cudaGraphs));
        }
    }
}
