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
 * Usage: {@code DecodeDirectBench [rowsxcols,...] [tokens] [rounds] [hugePages] [copies]} (copies: 1 keeps W in the caches;
 * {@code -Dbench.mapped=true}: W from mapped files, as a checkpoint's).
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
        System.out.printf("settings %s, %s, ", String.join(",", SETTINGS), MAPPED ? "mapped files at offset 16" : "anonymous memory");
        System.out.printf("tokens %d, rounds %d, weights on %s pages, route at %d tokens: %s%n", tokens, rounds,
                huge ? "2 MiB" : "4 KiB", tokens,
                jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() == 16 && tokens >= 8 && tokens < PanelGemm.minTokens()
                        ? "direct8 available" : "no direct8 (species or token count): on = off");
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
                    if (MAPPED) seg = mapped(seg, arena);
                    w[k] = Matrix.of(new Tensor("w" + k, "bench", DType.BF16, new long[] {rows, cols}, seg));
                }
                float[] x = new float[tokens * cols];
                for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
                float[] out = new float[tokens * rows], ref = new float[tokens * rows];
                int inner = (int) Math.max(copies, Math.min(400, 0.3e9 / (2.0 * tokens * rows * cols)));
                for (int warm = 0; warm < 4; warm++) for (String setting : SETTINGS) pass(setting, x, tokens, w, out, inner);
                Matmul.decodeDirect8 = false;
                Matmul.apply(x, tokens, w[0], ref);
                Matmul.decodeDirect8 = true;
                Matmul.touchAhead = DEFAULT_AHEAD;
                Matmul.apply(x, tokens, w[0], out);
                for (int i = 0; i < out.length; i++) {
                    if (Float.floatToRawIntBits(out[i]) != Float.floatToRawIntBits(ref[i])) throw new AssertionError("bits differ at " + i);
                }
                int n = SETTINGS.length;
                double[][] wall = new double[n][rounds], cpu = new double[n][rounds];
                for (int r = 0; r < rounds; r++) {
                    StringBuilder line = new StringBuilder(String.format("%5d x %5d round %2d:", rows, cols, r));
                    for (int k = 0; k < n; k++) {
                        int v = (k + r) % n;   // rotate the order every round
                        double[] m = pass(SETTINGS[v], x, tokens, w, out, inner);
                        wall[v][r] = m[0];
                        cpu[v][r] = m[1];
                    }
                    for (int v = 0; v < n; v++) line.append(String.format(" %s %.1f us (cpu %.1f)", SETTINGS[v], wall[v][r], cpu[v][r]));
                    System.out.println(line);
                }
                double flops = 2.0 * tokens * rows * cols;
                StringBuilder sum = new StringBuilder(String.format("%5d x %5d, %d tokens:", rows, cols, tokens));
                for (int v = 0; v < n; v++) {
                    double[] ratio = new double[rounds], cpuRatio = new double[rounds];
                    for (int r = 0; r < rounds; r++) {
                        ratio[r] = wall[0][r] / wall[v][r];
                        cpuRatio[r] = cpu[0][r] / cpu[v][r];
                    }
                    double wv = median(wall[v]), cv = median(cpu[v]);
                    sum.append(String.format("%n   %-4s wall %.1f us (%.1f GFLOP/s, %.1f GB/s), thread CPU %.1f us (%.1f GFLOP/s);", SETTINGS[v],
                            wv, flops / wv / 1e3, bytes / wv / 1e3, cv, flops / cv / 1e3));
                    if (v > 0) {
                        sum.append(String.format(" %s/%s wall median %.3f (%.3f-%.3f, ahead in %d of %d), CPU median %.3f (%.3f-%.3f, ahead in %d)",
                                SETTINGS[0], SETTINGS[v], median(ratio), min(ratio), max(ratio), (int) Arrays.stream(ratio).filter(q -> q > 1).count(),
                                rounds, median(cpuRatio), min(cpuRatio), max(cpuRatio), (int) Arrays.stream(cpuRatio).filter(q -> q > 1).count()));
                    }
                }
                System.out.println(sum);
            }
        }
    }

    /**
     * {@code -Dbench.mapped=true}: each weight copied to a temporary file and mapped read-only at byte offset 16 mod 64, as a
     * checkpoint's tensors are (the safetensors header of synthetic:100m ends there): the engine's segment kind and alignment.
     */
    private static final boolean MAPPED = Boolean.getBoolean("bench.mapped");

    private static MemorySegment mapped(MemorySegment src, Arena arena) {
        try {
            java.nio.file.Path f = java.nio.file.Files.createTempFile("decode-direct", ".bin");
            f.toFile().deleteOnExit();
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(f, java.nio.file.StandardOpenOption.READ,
                    java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(java.nio.ByteBuffer.allocate(16), 0);
                ch.write(src.asByteBuffer(), 16);
                MemorySegment file = ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, 16 + src.byteSize(), arena);
                return file.asSlice(16, src.byteSize());
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * The settings compared ({@code -Dbench.settings}, default {@code off,on}): {@code off} the float32 panel GEMM
     * ({@link Matmul#decodeDirect8} false), {@code onN} the direct kernel touching N row groups ahead
     * ({@link Matmul#touchAhead}; {@code on}: the default's N).
     */
    private static final String[] SETTINGS = System.getProperty("bench.settings", "off,on").split(",");
    private static final int DEFAULT_AHEAD = Matmul.touchAhead;

    /** {@code inner} calls at {@code setting}: {wall µs, calling thread's CPU µs} a call. */
    private static double[] pass(String setting, float[] x, int tokens, Matrix[] w, float[] out, int inner) {
        Matmul.decodeDirect8 = !setting.equals("off");
        Matmul.touchAhead = setting.startsWith("on") && setting.length() > 2 ? Integer.parseInt(setting.substring(2)) : DEFAULT_AHEAD;
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
