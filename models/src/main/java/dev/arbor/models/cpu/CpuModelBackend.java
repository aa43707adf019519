package dev.arbor.models.cpu;

import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.StepShape;
import dev.arbor.models.backend.DecoderForward;
import dev.arbor.models.backend.ModelBackend;
import dev.arbor.models.weights.ModelWeights;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

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

    /**
     * The tensors this backend computes from: with {@link HugePages#weights} ({@code -Darbor.cpu.weightHugePages}) each
     * tensor of 2 MiB or more copied into a buffer on 2 MiB pages owned by {@code arena} (the same bytes, dtype and shape;
     * the smaller ones as they are), else {@code tensors} itself. For a checkpoint's mapped files, whose page-cache pages
     * are 4 KiB.
     */
    public Map<String, Tensor> resident(Map<String, Tensor> tensors, Arena arena) {
        if (!HugePages.weights) return tensors;
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            out.put(e.getKey(), t.data().byteSize() < (2L << 20) ? t
                    : new Tensor(t.name(), t.source(), t.dtype(), t.shape(), HugePages.copy(arena, t.data())));
        }
        return out;
    }

    /** Where synthetic weights are generated: on 2 MiB pages with {@link HugePages#weights}, else {@code arena.allocate}. */
    public MemorySegment allocateWeights(Arena arena, long bytes) {
        return HugePages.weights ? HugePages.allocate(arena, bytes) : arena.allocate(bytes, 64);
    }

    @Override public String toString() { return device(); }
}
