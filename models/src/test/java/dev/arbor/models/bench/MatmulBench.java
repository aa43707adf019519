package dev.arbor.models.bench;

import dev.arbor.models.cpu.Matmul;
import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.Matrix;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The CPU matmul alone (not a timed test): {@code out (tokens, rows) = x · Wᵀ} for bf16 weights of the
 * synthetic:100m shapes, warm, over the token counts of decode (1, 8) and prefill (64, 512). Prints the
 * median of 7 timed repetitions as GFLOP/s and as weight bytes streamed per second (the decode figure to
 * hold against {@link MemoryBandwidth}). W is rotated over enough copies to leave the caches between calls.
 * Usage: {@code MatmulBench [rowsxcols,...] [tokens,...]} (threads: the shared team's, one per core).
 */
public final class MatmulBench {
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    public static void main(String[] args) {
        String[] shapes = (args.length > 0 ? args[0] : "2048x768,768x2048,768x768,32000x768").split(",");
        int[] tokenCounts = Arrays.stream((args.length > 1 ? args[1] : "1,8,64,512").split(",")).mapToInt(Integer::parseInt).toArray();
        SplittableRandom rnd = new SplittableRandom(1);
        try (Arena arena = Arena.ofShared()) {
            for (String shape : shapes) {
                int rows = Integer.parseInt(shape.split("x")[0]), cols = Integer.parseInt(shape.split("x")[1]);
                long bytes = 2L * rows * cols;
                int copies = (int) Math.max(1, Math.min(16, (256L << 20) / bytes)); // > the L3 between reuses
                Matrix[] w = new Matrix[copies];
                for (int k = 0; k < copies; k++) {
                    MemorySegment seg = arena.allocate(bytes, 64);
                    for (long i = 0; i < (long) rows * cols; i++) {
                        seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits((float) rnd.nextDouble(-0.05, 0.05)) >>> 16));
                    }
                    w[k] = Matrix.of(new Tensor("w" + k, "bench", DType.BF16, new long[] {rows, cols}, seg));
                }
                for (int tokens : tokenCounts) {
                    float[] x = new float[tokens * cols];
                    for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                    float[] out = new float[tokens * rows];
                    double flops = 2.0 * tokens * rows * cols;
                    int inner = (int) Math.max(1, Math.min(200, 2e9 / flops));
                    for (int warm = 0; warm < 3 * inner + 20; warm++) Matmul.apply(x, tokens, w[warm % copies], out);
                    double[] sec = new double[7], cpu = new double[7], threadCpu = new double[7];
                    for (int rep = 0; rep < sec.length; rep++) {
                        long t0 = System.nanoTime(), c0 = OS.getProcessCpuTime(), tc0 = THREADS.getCurrentThreadCpuTime();
                        for (int i = 0; i < inner; i++) Matmul.apply(x, tokens, w[i % copies], out);
                        sec[rep] = (System.nanoTime() - t0) / 1e9 / inner;
                        cpu[rep] = (OS.getProcessCpuTime() - c0) / 1e9 / inner;
                        threadCpu[rep] = (THREADS.getCurrentThreadCpuTime() - tc0) / 1e9 / inner;
                    }
                    Arrays.sort(sec);
                    Arrays.sort(cpu);
                    Arrays.sort(threadCpu);
                    double s = sec[3];
                    // per CPU-second: the rate each busy core reached, less sensitive to other work on a shared machine
                    // the calling thread's CPU time: with -Darbor.cpu.threads=1 all of the work, at nanosecond resolution (the
                    // process figure ticks in milliseconds) and little moved by other processes on a loaded machine
                    System.out.printf("%5d x %5d, %4d tokens: %8.1f us  %7.1f GFLOP/s  %6.1f GB/s of weights  (min %.1f us; %.1f GFLOP per CPU-second;"
                                    + " caller thread CPU %.1f us = %.1f GB/s of weights per thread-CPU-second)%n",
                            rows, cols, tokens, s * 1e6, flops / s / 1e9, bytes / s / 1e9, sec[0] * 1e6, flops / cpu[3] / 1e9,
                            threadCpu[3] * 1e6, bytes / threadCpu[3] / 1e9);
                }
            }
        }
    }
}
