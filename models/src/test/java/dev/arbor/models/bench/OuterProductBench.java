package dev.arbor.models.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A measurement for the prefill GEMM's next step (not a timed test, not used by the engine): an outer-product micro-kernel
 * in the Vector API, the formulation BLAS and llama.cpp use: weights packed k-major in panels of 32 rows (two 16-lane
 * vectors of rows at each k), activations broadcast, 8 tokens × 32 rows = 16 accumulators, no lane sums (each output one
 * FMA chain over k, a different summation order from {@code Matmul}'s, so not batch-compatible with it). The panel (32 rows
 * × K float32) comes from L2, the token group's activations from L1, token blocks as {@code Matmul}'s. Prints GFLOP per
 * thread-CPU-second, to hold against {@code FmaPeak} and {@code GemmKernelBench}'s {@code block} mode. Needs 512-bit vectors.
 * Usage: {@code OuterProductBench rows cols tokens}.
 */
public final class OuterProductBench {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;

    /** 8 tokens x 32 rows: out[t*ldo + o ..+32] = sum_k x[t*K + k] * wp[k*32 ..]. */
    static void k8x32(float[] wp, int wo, float[] x, int xo, int K, float[] out, int o, int ldo) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        for (int k = 0; k < K; k++) {
            FloatVector w0 = FloatVector.fromArray(F, wp, wo + 32 * k), w1 = FloatVector.fromArray(F, wp, wo + 32 * k + 16);
            FloatVector b = FloatVector.broadcast(F, x[xo + k]); c00 = w0.fma(b, c00); c01 = w1.fma(b, c01);
            b = FloatVector.broadcast(F, x[xo + K + k]); c10 = w0.fma(b, c10); c11 = w1.fma(b, c11);
            b = FloatVector.broadcast(F, x[xo + 2 * K + k]); c20 = w0.fma(b, c20); c21 = w1.fma(b, c21);
            b = FloatVector.broadcast(F, x[xo + 3 * K + k]); c30 = w0.fma(b, c30); c31 = w1.fma(b, c31);
            b = FloatVector.broadcast(F, x[xo + 4 * K + k]); c40 = w0.fma(b, c40); c41 = w1.fma(b, c41);
            b = FloatVector.broadcast(F, x[xo + 5 * K + k]); c50 = w0.fma(b, c50); c51 = w1.fma(b, c51);
            b = FloatVector.broadcast(F, x[xo + 6 * K + k]); c60 = w0.fma(b, c60); c61 = w1.fma(b, c61);
            b = FloatVector.broadcast(F, x[xo + 7 * K + k]); c70 = w0.fma(b, c70); c71 = w1.fma(b, c71);
        }
        c00.intoArray(out, o); c01.intoArray(out, o + 16); c10.intoArray(out, o + ldo); c11.intoArray(out, o + ldo + 16);
        c20.intoArray(out, o + 2 * ldo); c21.intoArray(out, o + 2 * ldo + 16); c30.intoArray(out, o + 3 * ldo); c31.intoArray(out, o + 3 * ldo + 16);
        c40.intoArray(out, o + 4 * ldo); c41.intoArray(out, o + 4 * ldo + 16); c50.intoArray(out, o + 5 * ldo); c51.intoArray(out, o + 5 * ldo + 16);
        c60.intoArray(out, o + 6 * ldo); c61.intoArray(out, o + 6 * ldo + 16); c70.intoArray(out, o + 7 * ldo); c71.intoArray(out, o + 7 * ldo + 16);
    }

    public static void main(String[] a) {
        if (F.length() > FloatVector.SPECIES_PREFERRED.length()) throw new IllegalStateException("needs 512-bit vectors");
        int rows = Integer.parseInt(a[0]), K = Integer.parseInt(a[1]), tokens = Integer.parseInt(a[2]);
        var tm = java.lang.management.ManagementFactory.getThreadMXBean();
        float[] wp = new float[rows * K], x = new float[tokens * K], out = new float[tokens * rows];
        for (int i = 0; i < wp.length; i++) wp[i] = (i % 97) * 1e-3f;
        for (int i = 0; i < x.length; i++) x[i] = (i % 89) * 1e-3f;
        int block = Math.max(8, (256 << 10) / (4 * K) / 8 * 8);   // token block: activations in half the L2, as Matmul
        double flops = 2.0 * rows * K * tokens;
        for (int round = 0; round < 8; round++) {
            long c0 = tm.getCurrentThreadCpuTime();
            for (int t0 = 0; t0 < tokens; t0 += block) {
                int t1 = Math.min(tokens, t0 + block);
                for (int p = 0; p < rows / 32; p++)            // a packed 32-row panel (L2), reused by the block's groups
                    for (int t = t0; t + 8 <= t1; t += 8) k8x32(wp, p * 32 * K, x, t * K, K, out, t * rows + p * 32, rows);
            }
            double s = (tm.getCurrentThreadCpuTime() - c0) / 1e9;
            System.out.printf("%dx%d, %d tokens (block %d): outer-product 8x32 kernel %.1f GFLOP per thread-CPU-second%n", rows, K, tokens, block, flops / s / 1e9);
        }
    }
}
