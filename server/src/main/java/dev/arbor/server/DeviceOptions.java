package dev.arbor.server;

import dev.arbor.engine.EngineConfig;
import dev.arbor.models.BackendOptions;
import picocli.CommandLine.Option;

/** Where the model runs: {@code --device} and {@code --kv-cache-dtype}, shared by every command that loads a model (a picocli mixin). */
public final class DeviceOptions {
    @Option(names = "--device", defaultValue = "auto", paramLabel = "cpu|cuda|cuda:N|auto",
            description = "where the model runs; auto = CUDA device 0 when a driver and device answer, else the CPU (logged)")
    public String device = "auto";

    @Option(names = "--kv-cache-dtype", defaultValue = "auto", paramLabel = "auto|bf16|fp16|fp32",
            description = "element type of the KV cache; CUDA: auto = bf16, fp32 for float32 accuracy; CPU: auto = fp32 (the reference), bf16 halves the bytes decode reads")
    public String kvCacheDtype = "auto";

    @Option(names = "--dtype", defaultValue = "auto", paramLabel = "auto|bfloat16|float32",
            description = "CUDA matmul precision: auto = bfloat16 (tensor cores, activations rounded to bf16 on load); float32 = float32 "
                    + "activations on CUDA cores (the accuracy mode, with --kv-cache-dtype fp32)")
    public String dtype = "auto";

    @Option(names = "--no-batch-invariance",
            description = "let the CUDA GEMM split K for small batches: faster decode, but a sequence's last bits may depend on its batch")
    public boolean noBatchInvariance;

    @Option(names = "--no-cuda-graphs",
            description = "launch every kernel of a CUDA decode step instead of replaying the step's CUDA graph (captured once per batch-size bucket)")
    public boolean noCudaGraphs;

    /** These options as the models module takes them. */
    public BackendOptions backend() {
        return new BackendOptions(device, kvCacheDtype, dtype, !noBatchInvariance, !noCudaGraphs);
    }

    /** {@code b} with this device choice. */
    public EngineConfig.Builder applyTo(EngineConfig.Builder b) {
        return b.backend(backend());
    }
}
