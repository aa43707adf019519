package dev.arbor.models;

import dev.arbor.models.backend.ModelBackend;
import dev.arbor.models.cpu.CpuModelBackend;
import dev.arbor.models.cpu.PagedKvCache;
import dev.arbor.models.cuda.CudaModelBackend;
import dev.arbor.models.cuda.ComputeDtype;
import dev.arbor.models.cuda.KvCacheDtype;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code --device} choice: {@code cpu}, {@code cuda} (device 0), {@code cuda:N} (device ordinal N)
 * or {@code auto} (CUDA device 0 when the driver loads and the device answers, else the CPU; the choice
 * and its reason are logged).
 */
public final class Devices {
    private static final Logger LOG = LoggerFactory.getLogger(Devices.class);

    private Devices() {}

    /** Checks {@code device} without opening anything. */
    public static void validate(String device) {
        String d = device == null ? "" : device.trim().toLowerCase();
        if (d.equals("cpu") || d.equals("cuda") || d.equals("auto")) return;
        if (d.startsWith("cuda:")) {
            ordinal(d);
            return;
        }
        throw new IllegalArgumentException("device must be cpu, cuda, cuda:N or auto, not '" + device + "'");
    }

    public static ModelBackend open(String device) {
        return open(BackendOptions.of(device));
    }

    /** Opens the backend {@code options.device()} names, with the CUDA KV dtype, matmul precision and batch invariance it gives. */
    public static ModelBackend open(BackendOptions options) {
        String device = options.device();
        KvCacheDtype kv = KvCacheDtype.parse(options.kvCacheDtype());
        ComputeDtype dtype = ComputeDtype.parse(options.dtype());
        boolean invariant = options.batchInvariant(), graphs = options.cudaGraphs();
        String d = device.trim().toLowerCase();
        return switch (d) {
            case "cpu" -> cpu(options);
            case "cuda" -> cuda(device, 0, kv, dtype, invariant, graphs);
            case "auto" -> {
                try {
                    ModelBackend b = CudaModelBackend.open(0, kv, dtype, invariant, graphs);
                    LOG.info("device auto: {} (a CUDA device answered)", b.device());
                    yield b;
                } catch (RuntimeException | LinkageError e) {
                    Throwable root = e;
                    while (root.getCause() != null) root = root.getCause();
                    LOG.info("device auto: cpu (CUDA unusable: {})", root.getMessage() != null ? root.getMessage() : root.toString());
                    yield cpu(options);
                }
            }
            default -> cuda(device, ordinal(d), kv, dtype, invariant, graphs);
        };
    }

    /** The CPU backend with the KV cache dtype of {@code --kv-cache-dtype} (auto = fp32 there; fp16 is refused, naming the choices). */
    private static ModelBackend cpu(BackendOptions options) {
        return new CpuModelBackend(PagedKvCache.bf16For(options.kvCacheDtype()));
    }

    /**
     * CUDA device {@code ordinal}; a machine without the driver gets one sentence naming the device option
     * instead of a linkage error from the driver binding.
     */
    private static ModelBackend cuda(String device, int ordinal, KvCacheDtype kv, ComputeDtype dtype, boolean invariant, boolean graphs) {
        try {
            return CudaModelBackend.open(ordinal, kv, dtype, invariant, graphs);
        } catch (LinkageError e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new IllegalArgumentException("--device " + device + ": the CUDA driver is not usable here (" + cause.getMessage()
                    + "); use --device cpu, or auto to fall back to the CPU", e);
        }
    }

    private static int ordinal(String d) {
        String n = d.substring("cuda:".length());
        try {
            int ordinal = Integer.parseInt(n);
            if (ordinal >= 0) return ordinal;
        } catch (NumberFormatException e) {
            // fall through to the error naming the value
        }
        throw new IllegalArgumentException("device " + d + ": the ordinal must be a non-negative integer, not '" + n + "'");
    }
}
