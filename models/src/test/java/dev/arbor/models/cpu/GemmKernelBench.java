package dev.arbor.models.cpu;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

/**
 * The prefill GEMM's micro-kernel alone (not a timed test): {@link Matmul#kernel4x4} over a float32 panel, as the blocked
 * GEMM calls it for a (rows, cols) weight and a 512-token prompt, without the bf16 panel conversion, one thread, GFLOP per
 * thread-CPU-second (median of 7). Two modes split the loss against {@code FmaPeak}: {@code l1} feeds every call the same
 * four tokens (panel and activations in L1: what is left is the lane-sum epilogue), {@code block} walks the token block's
 * activations as the GEMM does (one L2 load per four FMAs on top). Usage: {@code GemmKernelBench [rowsxcols,...] [tokens]}.
 */
public final class GemmKernelBench {
    private static final ThreadMXBean TM = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        String[] shapes = (args.length > 0 ? args[0] : "2048x768,768x2048").split(",");
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        for (String shape : shapes) {
            int rows = Integer.parseInt(shape.split("x")[0]), n = Integer.parseInt(shape.split("x")[1]);
            float[] x = new float[tokens * n], out = new float[tokens * rows], wt = new float[4 * n], acc = new float[256];
            for (int i = 0; i < x.length; i++) x[i] = (i % 101) * 1e-3f;
            for (int i = 0; i < wt.length; i++) wt[i] = (i % 97) * 1e-3f;
            int block = Matmul.tokenBlock(n), q = rows / 4;
            double flops = 2.0 * rows * n * (tokens - tokens % 4);
            for (String mode : new String[] {"l1", "block", "l1", "block"}) {
                double[] rate = new double[7];
                for (int rep = -2; rep < rate.length; rep++) {   // two warm-up passes
                    long c0 = TM.getCurrentThreadCpuTime();
                    for (int t0 = 0; t0 < tokens; t0 += block) {
                        int t1 = Math.min(tokens, t0 + block);
                        for (int k = 0; k < q; k++) {
                            for (int t = t0; t + 4 <= t1; t += 4) {
                                int xo = mode.equals("l1") ? 0 : t * n;
                                Matmul.kernel4x4(wt, n, x, xo, out, t * rows + k, rows, q, acc);
                            }
                        }
                    }
                    if (rep >= 0) rate[rep] = flops / (TM.getCurrentThreadCpuTime() - c0);
                }
                Arrays.sort(rate);
                System.out.printf("%5d x %5d, %d tokens (block %d), %-5s: %.1f GFLOP per thread-CPU-second%n", rows, n, tokens, block, mode, rate[3]);
            }
        }
    }
}
