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
 * One layer's prefill matmuls of synthetic:100m (q, k, v, gate, up: 768 → 768/2048; o 768 → 768; down 2048 → 768) at
 * {@code tokens} tokens on the calling thread, cut into {@code ranges} tile ranges per matrix as {@link Parallel} cuts them
 * (4 a thread), A/B in one JVM (not a timed test): "copy" = {@link PanelGemm#tiles} forming each range's residue-major
 * blocks itself (before cpu15), "once" = the activations formed once per input ({@link PanelGemm.Activations}: xn for
 * q/k/v and for gate/up, the attention output for o, the SwiGLU output for down), the ranges reading that copy. The two
 * alternate, {@code rounds} times; calling-thread CPU ms per layer, median and per round. Run with one thread's worth of
 * work on the calling thread ({@code -Darbor.cpu.threads=1}; the ranges are called here directly anyway).
 * Usage: {@code PanelActivationsBench [tokens] [ranges] [rounds] [reps] [copy]}; with the fifth argument {@code copy}
 * (cpu15b) both columns form the activations once and differ in {@link PanelGemm#vectorCopy}: "copy" = the scalar
 * residue-major loop, "once" = the register transposes. With {@code route} (cpu16, for batched decode: run it at 8
 * tokens) both form the activations once where the panels take the matrix and differ in {@link PanelGemm#minTokens}:
 * "copy" = the route from 32 tokens (so 8 tokens run {@link Matmul}'s {@code kernel4x4} GEMM), "once" = from 8
 * (the panels).
 */
public final class PanelActivationsBench {
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int tokens = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int ranges = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 15;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        boolean copyAb = args.length > 4 && args[4].equals("copy");
        boolean routeAb = args.length > 4 && args[4].equals("route");
        int routeOn = PanelGemm.minTokens;
        SplittableRandom rnd = new SplittableRandom(5);
        int h = 768, inter = 2048;
        try (Arena arena = Arena.ofShared()) {
            Matrix q = bf16(arena, h, h, rnd), k = bf16(arena, h, h, rnd), v = bf16(arena, h, h, rnd), o = bf16(arena, h, h, rnd);
            Matrix g = bf16(arena, inter, h, rnd), u = bf16(arena, inter, h, rnd), d = bf16(arena, h, inter, rnd);
            float[] xn = random(tokens * h, rnd), attn = random(tokens * h, rnd), act = random(tokens * inter, rnd);
            float[] oq = new float[tokens * h], ok = new float[tokens * h], ov = new float[tokens * h], oo = new float[tokens * h];
            float[] og = new float[tokens * inter], ou = new float[tokens * inter], od = new float[tokens * h];
            PanelGemm.Activations a1 = new PanelGemm.Activations(), a2 = new PanelGemm.Activations(), a3 = new PanelGemm.Activations();
            double[][] ms = new double[2][rounds];
            for (int r = -2; r < rounds; r++) {   // two warm-up rounds
                for (int once = 0; once < 2; once++) {
                    long c0 = THREADS.getCurrentThreadCpuTime();
                    for (int rep = 0; rep < reps; rep++) {
                        boolean sh = once == 1 || copyAb || routeAb;
                        if (copyAb) PanelGemm.vectorCopy = once == 1;
                        if (routeAb) PanelGemm.minTokens = once == 1 ? routeOn : 32;
                        float[] x1 = sh ? a1.prepare(xn, tokens, q) : null;
                        run(xn, x1, tokens, q, oq, ranges);
                        run(xn, x1, tokens, k, ok, ranges);
                        run(xn, x1, tokens, v, ov, ranges);
                        float[] x2 = sh ? a2.prepare(attn, tokens, o) : null;
                        run(attn, x2, tokens, o, oo, ranges);
                        float[] x3 = sh ? a1.prepare(xn, tokens, g) : null;
                        run(xn, x3, tokens, g, og, ranges);
                        run(xn, x3, tokens, u, ou, ranges);
                        float[] x4 = sh ? a3.prepare(act, tokens, d) : null;
                        run(act, x4, tokens, d, od, ranges);
                    }
                    if (r >= 0) ms[once][r] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e6 / reps;
                }
            }
            for (int once = 0; once < 2; once++) {
                double[] s = ms[once].clone();
                Arrays.sort(s);
                System.out.printf("%s: median %.2f ms a layer (min %.2f) at %d tokens, %d ranges; rounds %s%n", once == 1 ? "once" : "copy",
                        s[rounds / 2], s[0], tokens, ranges, Arrays.toString(Arrays.stream(ms[once]).map(x -> Math.round(x * 100) / 100.0).toArray()));
            }
            double[] ratio = new double[rounds];
            for (int r = 0; r < rounds; r++) ratio[r] = ms[0][r] / ms[1][r];
            Arrays.sort(ratio);
            System.out.printf("copy / once per round: median %.3f (min %.3f, max %.3f)%n", ratio[rounds / 2], ratio[0], ratio[rounds - 1]);
        }
    }

    /** The matrix's tiles in {@code ranges} contiguous ranges, as {@link Parallel#forRange} cuts them. */
    private static void run(float[] x, float[] xr, int tokens, Matrix w, float[] out, int ranges) {
        int n = Matmul.tiles(w.rows());
        for (int c = 0; c < ranges; c++) Matmul.tiles(x, xr, tokens, w, out, n * c / ranges, n * (c + 1) / ranges);
    }

    private static Matrix bf16(Arena arena, int rows, int cols, SplittableRandom rnd) {
        MemorySegment seg = arena.allocate(2L * rows * cols, 64);
        for (long i = 0; i < (long) rows * cols; i++) {
            seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits((float) rnd.nextDouble(-0.05, 0.05)) >>> 16));
        }
        return Matrix.of(new Tensor("w", "bench", DType.BF16, new long[] {rows, cols}, seg));
    }

    private static float[] random(int n, SplittableRandom rnd) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextDouble(-1, 1);
        return x;
    }
}
