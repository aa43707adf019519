package dev.arbor.accel;

import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.accel.cuda.CudaBackend;

/**
 * Picks the backend: system property {@code arbor.accel.backend} = {@code cpu} | {@code cuda} |
 * {@code cuda:N} (device ordinal N; plain {@code cuda} is device 0) | {@code auto} (default). Auto takes
 * CUDA device 0 when libcuda loads and the device answers, otherwise the CPU; the choice and its reason
 * are logged.
 */
public final class Backends {
    public static final String PROPERTY = "arbor.accel.backend";
    private static final System.Logger LOG = System.getLogger(Backends.class.getName());

    private Backends() {}

    public static Backend select() {
        String wanted = System.getProperty(PROPERTY, "auto").trim().toLowerCase();
        if (wanted.startsWith("cuda:")) {
            Backend b = CudaBackend.open(cudaOrdinal(wanted));
            LOG.log(System.Logger.Level.INFO, "accel backend: {0} ({1}={2})", b, PROPERTY, wanted);
            return b;
        }
        switch (wanted) {
            case "cpu" -> {
                LOG.log(System.Logger.Level.INFO, "accel backend: cpu ({0}=cpu)", PROPERTY);
                return new CpuBackend();
            }
            case "cuda" -> {
                Backend b = CudaBackend.open(0);
                LOG.log(System.Logger.Level.INFO, "accel backend: {0} ({1}=cuda)", b, PROPERTY);
                return b;
            }
            case "auto" -> {
                try {
                    Backend b = CudaBackend.open(0);
                    LOG.log(System.Logger.Level.INFO, "accel backend: {0} (a CUDA device answered)", b);
                    return b;
                } catch (RuntimeException | LinkageError e) {
                    LOG.log(System.Logger.Level.INFO, "accel backend: cpu, because CUDA is unusable: {0}", String.valueOf(e.getCause() != null ? e.getCause() : e));
                    return new CpuBackend();
                }
            }
            default -> throw new IllegalArgumentException(PROPERTY + " must be cpu, cuda, cuda:N or auto, not '" + wanted + "'");
        }
    }

    /** N of {@code cuda:N}, a device ordinal. */
    static int cudaOrdinal(String value) {
        String n = value.substring("cuda:".length());
        try {
            int ordinal = Integer.parseInt(n);
            if (ordinal >= 0) return ordinal;
        } catch (NumberFormatException e) {
            // fall through to the error naming the value
        }
        throw new IllegalArgumentException(PROPERTY + "=" + value + ": the device ordinal must be a non-negative integer, not '" + n + "'");
    }
}
