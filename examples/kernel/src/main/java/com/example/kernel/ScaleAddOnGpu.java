package com.example.kernel;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cuda.CopyBandwidth;
import dev.arbor.accel.cuda.CudaBackend;

import java.util.Arrays;
import java.util.Locale;

/**
 * Runs {@link ScaleAdd} on CUDA device 0, checks it against the reference and prints its time beside the
 * floor: the bytes it moves over the device's copy bandwidth measured in the same run.
 * Run: java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... com.example.kernel.ScaleAddOnGpu [N]
 */
public final class ScaleAddOnGpu {
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 1 << 26;
        float[] x = new float[n], y = new float[n];
        for (int i = 0; i < n; i++) { x[i] = (i % 17) * 0.25f; y[i] = (i % 5) - 2; }
        Kernel kernel = Kernel.of(ScaleAdd.class, "kernel");
        try (CudaBackend cuda = CudaBackend.open(0); FloatArray dx = FloatArray.of(x); FloatArray dy = FloatArray.of(y)) {
            cuda.toDevice(dx, dy);
            Launch launch = Launch.cover(n, 256);
            cuda.launch(kernel, launch, dx, dy, 2f, n);   // compile and first run
            cuda.toHost(dy);
            float[] expected = ScaleAdd.reference(x, y, 2f);
            for (int i = 0; i < n; i++) {
                if (dy.get(i) != expected[i]) throw new AssertionError("element " + i + ": " + dy.get(i) + " != " + expected[i]);
            }
            double[] ms = new double[20];
            for (int t = 0; t < ms.length; t++) {
                long t0 = System.nanoTime();
                cuda.launch(kernel, launch, dx, dy, 2f, n);
                cuda.synchronize();
                ms[t] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            double bandwidth = CopyBandwidth.measure(cuda.device(), 256L << 20, 5);
            double floorMs = 1e3 * ScaleAdd.bytesMoved(n) / bandwidth;
            System.out.printf(Locale.ROOT, "scale-add of %d floats: %.3f ms (median of %d); floor %.3f ms (%.1f MB at %.0f GB/s copy); %.0f%% of the floor%n",
                    n, ms[ms.length / 2], ms.length, floorMs, ScaleAdd.bytesMoved(n) / 1e6, bandwidth / 1e9, 100 * floorMs / ms[ms.length / 2]);
        }
    }
}
