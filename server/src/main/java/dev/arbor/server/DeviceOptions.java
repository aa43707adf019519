package dev.arbor.server;

import dev.arbor.engine.EngineConfig;
import picocli.CommandLine.Option;

/** Where the model runs: {@code --device} and {@code --kv-cache-dtype}, shared by every command that loads a model (a picocli mixin). */
public final class DeviceOptions {
    @Option(names = "--device", defaultValue = "auto", paramLabel = "cpu|cuda|cuda:N|auto",
            description = "where the model runs; auto = CUDA device 0 when a driver and device answer, else the CPU (logged; default ${DEFAULT-VALUE})")
    public String device = "auto";

    @Option(names = "--kv-cache-dtype", defaultValue = "auto", paramLabel = "auto|bf16|fp32",
            description = "element type of the CUDA KV cache; auto = bf16, fp32 for float32 accuracy (the CPU keeps float32; default ${DEFAULT-VALUE})")
    public String kvCacheDtype = "auto";

    /** {@code b} with this device choice. */
    public EngineConfig.Builder applyTo(EngineConfig.Builder b) {
        return b.device(device).kvCacheDtype(kvCacheDtype);
    }
}
