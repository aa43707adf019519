package dev.arbor.kernels.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.GraphTiming;
import dev.arbor.kernels.MatvecKernels;
import dev.arbor.kernels.MatvecVariants;

import java.util.Random;

/**
 * GPU benchmark of {@link MatvecKernels#matvecBf16} at decode shapes (for bench/RESULTS.md), beside the
 * copy floor measured in the same run (cuMemcpyDtoD of 1 GiB, read + write bytes). W is rotated over
 * copies filling more than 256 MiB so the 50 MB L2 cannot serve it; launches are captured in a CUDA
 * graph and replayed (per-kernel time = replay time / launches), median of 7 replays.
 * Run: java --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.kernels.bench.MatvecBench
 */
public final class MatvecBench {
    private static final int TRIALS = 7;

    public static void main(String[] args) {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            System.out.println("device: " + cuda.device());
            double copy = copyBandwidth(cuda, 1L << 30);
            System.out.printf("%-40s %8.1f GB/s%n", "cuMemcpyDtoD 1 GiB (read+write)", copy / 1e9);
            if (args.length > 0 && args[0].equals("variants")) {
                for (int rows : new int[] {4096, 11008}) {
                    for (Kernel k : new Kernel[] {Kernel.of(MatvecKernels.class, "matvecBf16"), Kernel.of(MatvecVariants.class, "lean"),
                            Kernel.of(MatvecVariants.class, "leanShifts")}) {
                        double bps = matvec(cuda, k, rows, 4096, 1);
                        System.out.printf("%-12s %5dx4096 (graph) %8.1f GB/s  %5.1f%% of copy%n", k.name(), rows, bps / 1e9, 100 * bps / copy);
                    }
                }
                return;
            }
            for (int[] shape : new int[][] {{4096, 4096, 1}, {11008, 4096, 1}, {4096, 11008, 1}, {32000, 4096, 1}, {4096, 4096, 2}, {4096, 4096, 4}, {4096, 4096, 8}, {11008, 4096, 4}}) {
                double bps = matvec(cuda, Kernel.of(MatvecKernels.class, "matvecBf16"), shape[0], shape[1], shape[2]);
                System.out.printf("matvecBf16 %5dx%-5d tokens %d (graph) %8.1f GB/s  %5.1f%% of copy%n",
                        shape[0], shape[1], shape[2], bps / 1e9, 100 * bps / copy);
            }
        }
    }

    private static double copyBandwidth(CudaBackend cuda, long bytes) {
        return dev.arbor.accel.cuda.CopyBandwidth.measure(cuda.device(), bytes, TRIALS);
    }

    /** A few outputs of the last launch against a double-precision dot product. */
    private static void check(CudaBackend cuda, BFloat16Array w, FloatArray x, FloatArray out, int rows, int cols, int tokens) {
        cuda.toHost(out);
        for (int t = 0; t < tokens; t++) {
            for (int row = 0; row < rows; row += rows / 3) {
                double s = 0, scale = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) w.get(row * cols + c) * x.get(t * cols + c);
                    s += p;
                    scale += Math.abs(p);
                }
                float got = out.get(t * rows + row);
                if (!(Math.abs(got - s) <= 1e-5 * scale + 1e-5)) throw new AssertionError("row " + row + " token " + t + ": " + got + " vs " + s);
            }
        }
    }

    /** Bytes of W, x and out moved per second. */
    private static double matvec(CudaBackend cuda, Kernel k, int rows, int cols, int tokens) {
        long wBytes = 2L * rows * cols;
        int copies = (int) Math.max(2, ((256L << 20) + wBytes - 1) / wBytes);
        Random r = new Random(1);
        BFloat16Array[] w = new BFloat16Array[copies];
        try (FloatArray x = new FloatArray(tokens * cols); FloatArray out = new FloatArray(tokens * rows)) {
            for (int c = 0; c < copies; c++) {
                w[c] = new BFloat16Array(rows * cols);
                for (int i = 0; i < rows * cols; i++) w[c].set(i, r.nextFloat() - 0.5f);
            }
            for (int i = 0; i < x.length(); i++) x.set(i, r.nextFloat());
            cuda.toDevice(w);
            cuda.toDevice(x, out);
            Launch l = Launch.cover(32 * rows * tokens, MatvecKernels.BLOCK);
            int perGraph = copies * Math.max(1, 80 / copies);
            try (AccelStream stream = cuda.newStream();
                 Recording g = cuda.record(stream, () -> { for (int i = 0; i < perGraph; i++) cuda.launch(k, l, w[i % copies], x, out, rows, cols, tokens); })) {
                double ms = GraphTiming.medianReplayMillis(cuda, stream, g, 3, TRIALS) / perGraph;
                check(cuda, w[copies - 1], x, out, rows, cols, tokens);   // the graph's last launch used the last copy
                return (wBytes + 4.0 * tokens * (cols + rows)) / (ms / 1e3);
            }
        } finally {
            for (BFloat16Array a : w) if (a != null) a.close();
        }
    }
}
