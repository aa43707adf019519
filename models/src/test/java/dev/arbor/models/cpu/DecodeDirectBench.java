package dev.arbor.models.cpu;

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
 * Batched decode's matmuls alone, {@code -Darbor.cpu.decodeDirect8} off and on in one JVM (not a timed test): the
 * synthetic:100m shapes in bf16 at 8 tokens, each weight rotated over copies that together pass the L3, so every call
 * streams W from DRAM as a decode step does. Rounds alternate the order (off first, then on first); each pass is
 * {@code inner} calls; prints per round the wall µs a call, the calling thread's CPU µs a call (with {@code -Darbor.cpu.threads=1} all of the work, at
 * nanosecond resolution and not moved by descheduling on a loaded machine), and at the end the medians and
 * the median of the per-round ratios (off / on: above 1 means the direct kernel is faster).
 * Usage: {@code DecodeDirectBench [rowsxcols,...] [tokens] [rounds] [hugePages] [copies]} (copies: 1 keeps W in the caches).
 */
public final class DecodeDirectBench {
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.management.ThreadMXBean THREAD = java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        String[] shapes = (args.length > 0 ? args[0] : "2048x768,768x2048,768x768,32000x768").split(",");
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 9;
        boolean huge = args.length > 3 && Boolean.parseBoolean(args[3]);
        SplittableRandom rnd = new SplittableRandom(1);
        System.out.printf("direct8Panel %s, ", Matmul.direct8Panel);
        System.out.printf("tokens %d, rounds %d, weights on %s pages, route at %d tokens: %s%n", tokens, rounds,
                huge ? "2 MiB" : "4 KiB", tokens, Matmul.direct8(dummy(), tokens) ? "direct8 available" : "no direct8 (species)");
        try (Arena arena = Arena.ofShared()) {
            for (String shape : shapes) {
                int rows = Integer.parseInt(shape.split("x")[0]), cols = Integer.parseInt(shape.split("x")[1]);
                long bytes = 2L * rows * cols;
                int copies = args.length > 4 ? Integer.parseInt(args[4]) : (int) Math.max(2, Math.min(64, (256L << 20) / bytes));
                Matrix[] w = new Matrix[copies];
                for (int k = 0; k < copies; k++) {
                    MemorySegment seg = huge ? HugePages.allocate(arena, bytes) : arena.allocate(bytes, 64);
                    for (long i = 0; i < (long) rows * cols; i++) {
                        seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits((float) rnd.nextDouble(-0.05, 0.05)) >>> 16));
                    }
                    w[k] = Matrix.of(new Tensor("w" + k, "bench", DType.BF16, new long[] {rows, cols}, seg));
                }
                float[] x = new float[tokens * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                float[] out = new float[tokens * rows], ref = new float[tokens * rows];
                int inner = (int) Math.max(copies, Math.min(400, 0.3e9 / (2.0 * tokens * rows * cols)));
                for (int warm = 0; warm < 4; warm++) {
                    pass(false, x, tokens, w, out, inner);
                    pass(true, x, tokens, w, out, inner);
                }
                Matmul.decodeDirect8 = false;
                Matmul.apply(x, tokens, w[0], ref);
                Matmul.decodeDirect8 = true;
                Matmul.apply(x, tokens, w[0], out);
                for (int i = 0; i < out.length; i++) {
                    if (Float.floatToRawIntBits(out[i]) != Float.floatToRawIntBits(ref[i])) throw new AssertionError("bits differ at " + i);
                }
                double[][] wall = new double[2][rounds], cpu = new double[2][rounds];
                double[] ratio = new double[rounds], cpuRatio = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    for (int k = 0; k < 2; k++) {
                        boolean on = (k == 0) == (r % 2 == 1);
                        double[] m = pass(on, x, tokens, w, out, inner);
                        wall[on ? 1 : 0][r] = m[0];
                        cpu[on ? 1 : 0][r] = m[1];
                    }
                    ratio[r] = wall[0][r] / wall[1][r];
                    cpuRatio[r] = cpu[0][r] / cpu[1][r];
                    System.out.printf("%5d x %5d round %d: off %.1f us (cpu %.1f), on %.1f us (cpu %.1f), off/on %.3f%n", rows, cols, r,
                            wall[0][r], cpu[0][r], wall[1][r], cpu[1][r], ratio[r]);
                }
                double flops = 2.0 * tokens * rows * cols;
                double offW = median(wall[0]), onW = median(wall[1]);
                System.out.printf("%5d x %5d, %d tokens: off %.1f us (%.1f GFLOP/s, %.1f GB/s), on %.1f us (%.1f GFLOP/s, %.1f GB/s);"
                                + " median off/on wall %.3f (range %.3f-%.3f, on ahead in %d of %d); thread CPU off %.1f, on %.1f us, median off/on %.3f (range %.3f-%.3f)%n",
                        rows, cols, tokens, offW, flops / offW / 1e3, bytes / offW / 1e3, onW, flops / onW / 1e3, bytes / onW / 1e3,
                        median(ratio), min(ratio), max(ratio), (int) Arrays.stream(ratio).filter(v -> v > 1).count(), rounds, median(cpu[0]), median(cpu[1]), median(cpuRatio),
                        min(cpuRatio), max(cpuRatio));
            }
        }
    }

    private static Matrix dummy() {
        return Matrix.of(new Tensor("d", "bench", DType.BF16, new long[] {1, 16}, MemorySegment.ofArray(new short[16])));
    }

    /** {@code inner} calls with the switch at {@code on}: {wall µs, process CPU µs} a call. */
    private static double[] pass(boolean on, float[] x, int tokens, Matrix[] w, float[] out, int inner) {
        Matmul.decodeDirect8 = on;
        long t0 = System.nanoTime(), c0 = THREAD.getCurrentThreadCpuTime();
        for (int i = 0; i < inner; i++) Matmul.apply(x, tokens, w[i % w.length], out);
        return new double[] {(System.nanoTime() - t0) / 1e3 / inner, (THREAD.getCurrentThreadCpuTime() - c0) / 1e3 / inner};
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double min(double[] v) { return Arrays.stream(v).min().orElse(0); }

    private static double max(double[] v) { return Arrays.stream(v).max().orElse(0); }
}
