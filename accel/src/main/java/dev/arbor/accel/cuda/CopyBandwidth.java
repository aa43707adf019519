package dev.arbor.accel.cuda;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The device's copy bandwidth, measured: the median over {@code trials} of ten device-to-device copies of
 * {@code bytes} bytes timed with CUDA events, counting the bytes read and written (2 × bytes per copy), the
 * figure a bandwidth-bound kernel's floor is computed from.
 */
public final class CopyBandwidth {
    private CopyBandwidth() {}

    /** Bytes per second, read + write. */
    public static double measure(CudaDevice device, long bytes, int trials) {
        try (DeviceBuffer a = DeviceBuffer.allocate(device, bytes); DeviceBuffer b = DeviceBuffer.allocate(device, bytes);
             CudaEvent start = new CudaEvent(device); CudaEvent end = new CudaEvent(device)) {
            for (int i = 0; i < 3; i++) a.copyTo(b, bytes, MemorySegment.NULL);
            double[] t = new double[trials];
            for (int i = 0; i < trials; i++) {
                start.record(null);
                for (int r = 0; r < 10; r++) a.copyTo(b, bytes, MemorySegment.NULL);
                end.record(null);
                t[i] = end.millisSince(start) / 10;
            }
            Arrays.sort(t);
            return 2.0 * bytes / (t[trials / 2] / 1e3);
        }
    }
}
