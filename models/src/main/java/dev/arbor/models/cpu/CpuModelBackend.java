package dev.arbor.models.cpu;

import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.StepShape;
import dev.arbor.models.backend.DecoderForward;
import dev.arbor.models.backend.ModelBackend;
import dev.arbor.models.weights.ModelWeights;

/**
 * The CPU backend. Its KV store is off-heap float32 (bfloat16 with {@code --kv-cache-dtype bf16}); the default budget is
 * {@value #DEFAULT_KV_PERCENT}% of the machine's physical memory, and at most
 * {@value #DEFAULT_KV_CAP_GIB} GiB (the engine logs the figure; {@code --kv-cache-bytes} overrides it). NOTE: modest on purpose: the store is allocated
 * when an engine starts, beside the JVM heap and the mapped weights (on Linux on 2 MiB pages, committed as first written,
 * {@link HugePages}; else zeroed at once, resident from the start).
 */
public final class CpuModelBackend implements ModelBackend {
    public static final int DEFAULT_KV_PERCENT = 10;
    public static final int DEFAULT_KV_CAP_GIB = 2;

    private final boolean bf16Kv;

    /** With the float32 KV cache (the reference). */
    public CpuModelBackend() { this(false); }

    /** @param bf16Kv the KV cache in bfloat16 ({@code --kv-cache-dtype bf16}: {@link PagedKvCache#bf16For}) */
    public CpuModelBackend(boolean bf16Kv) { this.bf16Kv = bf16Kv; }

    @Override public String device() { return "cpu (" + Parallel.threads() + " threads" + (bf16Kv ? ", KV bf16" : "") + ")"; }

    @Override
    public long kvBytesPerBlock(ModelConfig config, int blockSize) {
        return CpuOps.kvBytesPerBlock(config, blockSize, bf16Kv);
    }

    @Override
    public long defaultKvBudgetBytes(ModelConfig config, double memoryUtilization) {
        return Math.min(physicalMemory() * DEFAULT_KV_PERCENT / 100, (long) DEFAULT_KV_CAP_GIB << 30);
    }

    /** Physical memory from the OS (the KV store is off-heap, outside -Xmx), or 4 GiB when the JVM cannot tell. */
    static long physicalMemory() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getTotalMemorySize();
        }
        return 4L << 30;
    }

    @Override
    public ModelExecutor open(ModelConfig config, ModelWeights weights, StepShape shape) {
        CpuOps ops = new CpuOps(config, shape, bf16Kv);
        if (!dev.arbor.models.OpProfile.enabled()) return new DecoderForward<>(config, weights, ops, shape);
        return new DecoderForward<>(config, weights, new dev.arbor.models.backend.ProfiledOps<>(ops, dev.arbor.models.backend.OpClock.wall()), shape);
    }

    @Override public String toString() { return device(); }
}
