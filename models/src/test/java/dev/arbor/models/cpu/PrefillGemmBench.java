package dev.arbor.models.cpu;

import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.Matrix;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The prefill GEMM per projection shape (not a timed test): {@link Matmul#apply} of {@code tokens} tokens over a random bf16
 * (rows, cols) weight in native memory (the engine's route: {@link PanelGemm} with its packed panels, the activations formed
 * once a call), the team's threads ({@code -Darbor.cpu.threads}); per shape the median of {@code reps} calls after thirty
 * warm-up calls: wall GFLOP/s and, with one thread, GFLOP per main-thread-CPU-second. Shapes default to synthetic:100m's
 * q|k|v|o (768×768), gate|up (2048×768), down (768×2048) and the three of q|k|v as one region (2304×768).
 * Usage: {@code PrefillGemmBench [rowsxcols,...] [tokens] [reps]}.
 */
public final class PrefillGemmBench {
    private static final ThreadMXBean TM = ManagementFactory.getThreadMXBean();
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public static void main(String[] args) {
        String[] shapes = (args.length > 0 ? args[0] : "768x768,2048x768,768x2048,2304x768").split(",");
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 15;
        SplittableRandom rnd = new SplittableRandom(5);
        System.out.printf("%d threads, %d tokens, %d reps, load %.2f%n", Parallel.threads(), tokens, reps,
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        try (Arena arena = Arena.ofShared()) {
            for (String shape : shapes) {
                int rows = Integer.parseInt(shape.split("x")[0]), cols = Integer.parseInt(shape.split("x")[1]);
                MemorySegment seg = arena.allocate(2L * rows * cols, 64);
                for (long i = 0; i < (long) rows * cols; i++) seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits((float) rnd.nextDouble(-1, 1)) >>> 16));
                Matrix w = Matrix.of(new Tensor("w", "bench", DType.BF16, new long[] {rows, cols}, seg));
                float[] x = new float[tokens * cols], out = new float[tokens * rows];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                double flops = 2.0 * rows * cols * tokens;
                double[] wall = new double[reps], cpu = new double[reps];
                for (int r = -30; r < reps; r++) {
                    long c0 = TM.getCurrentThreadCpuTime(), w0 = System.nanoTime();
                    Matmul.apply(x, tokens, w, out);
                    if (r >= 0) {
                        wall[r] = flops / (System.nanoTime() - w0);
                        cpu[r] = flops / (TM.getCurrentThreadCpuTime() - c0);
                    }
                }
                Arrays.sort(wall);
                Arrays.sort(cpu);
                System.out.printf("%5d x %5d: wall %.1f GFLOP/s (min %.1f, max %.1f)%s%n", rows, cols, wall[reps / 2], wall[0], wall[reps - 1],
                        Parallel.threads() == 1 ? String.format(", %.1f GFLOP per thread-CPU-s", cpu[reps / 2]) : "");
            }
        }
    }
}
