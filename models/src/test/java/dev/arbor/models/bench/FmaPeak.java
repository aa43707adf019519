package dev.arbor.models.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU prefill GEMM's ceiling (not a timed test): the float32 FMA rate the Vector API reaches on this machine, in
 * GFLOP per thread-CPU-second (an FMA is 2 FLOP a lane), so other processes on a shared machine move it little.
 *
 * <ul>
 *   <li>{@code chain1}: one accumulator, each FMA waiting on the last: the FMA latency, so {@code clock ≈ rate × latency}
 *       (Zen 4/5 and recent Intel: 4 cycles).
 *   <li>{@code regsN}: N independent accumulators (N = 8, 12, 16, 24), operands in registers, no loads: the FMA pipes' peak
 *       (Zen 5: two 512-bit FMA pipes, 64 FLOP a cycle; Zen 4: 512-bit ops on 256-bit units, 32).
 *   <li>{@code l1 4x4}: the GEMM micro-kernel's inner loop shape (four weight vectors and four activation vectors loaded
 *       from L1-resident arrays for 16 FMAs into 16 accumulators), as {@code Matmul.kernel4x4} runs it.
 * </ul>
 * Each figure is the median of 7 timed repetitions on every thread; with {@code threads > 1} the threads run at once and
 * the aggregate wall-clock rate is printed beside the per-thread CPU rate.
 * Usage: {@code FmaPeak [threads,...]} (default 1,2).
 */
public final class FmaPeak {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final long STEPS = 20_000_000;   // loop iterations a repetition (regs: N FMAs each)

    public static void main(String[] args) throws Exception {
        int[] threadCounts = Arrays.stream((args.length > 0 ? args[0] : "1,2").split(",")).mapToInt(Integer::parseInt).toArray();
        System.out.printf("species %s (%d lanes), %d processors%n", F, F.length(), Runtime.getRuntime().availableProcessors());
        String[] kinds = {"chain1", "regs8", "regs12", "regs16", "regs24", "l1 4x4"};
        for (int threads : threadCounts) {
            for (String kind : kinds) {
                for (int warm = 0; warm < 2; warm++) runOnce(kind, threads, false);   // C2-compile before timing
                runOnce(kind, threads, true);
            }
        }
    }

    private static volatile float sink;

    /** {@code threads} threads each run 7 repetitions of {@code kind}; prints the medians when {@code print}. */
    private static void runOnce(String kind, int threads, boolean print) throws Exception {
        double[][] cpuRate = new double[threads][7];
        double[] wallRate = new double[7];
        Thread[] ts = new Thread[threads];
        java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(threads);
        long[] start = new long[7], end = new long[7];
        for (int t = 0; t < threads; t++) {
            int id = t;
            ts[t] = new Thread(() -> {
                try {
                    float[] w = new float[4 * 768], x = new float[4 * 768];
                    for (int i = 0; i < w.length; i++) { w[i] = 1e-3f * (i % 97); x[i] = 1e-3f * (i % 89); }
                    for (int rep = 0; rep < 7; rep++) {
                        barrier.await();
                        long w0 = System.nanoTime(), c0 = THREADS.getCurrentThreadCpuTime();
                        double flops = switch (kind) {
                            case "chain1" -> chain1(STEPS / 8);
                            case "regs8" -> regs8(STEPS);
                            case "regs12" -> regs12(STEPS * 2 / 3);
                            case "regs16" -> regs16(STEPS / 2);
                            case "regs24" -> regs24(STEPS / 3);
                            default -> l1Kernel(w, x, 768, STEPS / 2 / 48);
                        };
                        long c1 = THREADS.getCurrentThreadCpuTime(), w1 = System.nanoTime();
                        cpuRate[id][rep] = flops / (c1 - c0);   // FLOP per ns = GFLOP/s
                        barrier.await();
                        if (id == 0) { start[rep] = w0; end[rep] = System.nanoTime(); wallRate[rep] = flops * threads / (end[rep] - w0); }
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        if (!print) return;
        StringBuilder per = new StringBuilder();
        for (double[] r : cpuRate) {
            Arrays.sort(r);
            per.append(String.format(" %.1f", r[3]));
        }
        Arrays.sort(wallRate);
        System.out.printf("%d thread(s) %-7s: GFLOP per thread-CPU-second (median of 7, each thread):%s; all threads, wall: %.1f GFLOP/s%n",
                threads, kind, per, wallRate[3]);
    }

    /** One dependent FMA chain: n × 8 FMAs, each on the last one's result. */
    private static double chain1(long n) {
        FloatVector a = FloatVector.broadcast(F, 0.999f), b = FloatVector.broadcast(F, 1e-3f), c = FloatVector.zero(F);
        for (long i = 0; i < n; i++) {
            c = c.fma(a, b); c = c.fma(a, b); c = c.fma(a, b); c = c.fma(a, b);
            c = c.fma(a, b); c = c.fma(a, b); c = c.fma(a, b); c = c.fma(a, b);
        }
        sink = c.lane(0);
        return 2.0 * F.length() * 8 * n;
    }

    private static double regs8(long n) {
        FloatVector a = FloatVector.broadcast(F, 0.999f), b = FloatVector.broadcast(F, 1e-3f);
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (long i = 0; i < n; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
        }
        sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).lane(0);
        return 2.0 * F.length() * 8 * n;
    }

    private static double regs12(long n) {
        FloatVector a = FloatVector.broadcast(F, 0.999f), b = FloatVector.broadcast(F, 1e-3f);
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        FloatVector c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < n; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
        }
        sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).lane(0);
        return 2.0 * F.length() * 12 * n;
    }

    private static double regs16(long n) {
        FloatVector a = FloatVector.broadcast(F, 0.999f), b = FloatVector.broadcast(F, 1e-3f);
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        FloatVector c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        for (long i = 0; i < n; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
            c12 = c12.fma(a, b); c13 = c13.fma(a, b); c14 = c14.fma(a, b); c15 = c15.fma(a, b);
        }
        sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .add(c12).add(c13).add(c14).add(c15).lane(0);
        return 2.0 * F.length() * 16 * n;
    }

    private static double regs24(long n) {
        FloatVector a = FloatVector.broadcast(F, 0.999f), b = FloatVector.broadcast(F, 1e-3f);
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        FloatVector c8 = c0, c9 = c0, c10 = c0, c11 = c0, c12 = c0, c13 = c0, c14 = c0, c15 = c0;
        FloatVector c16 = c0, c17 = c0, c18 = c0, c19 = c0, c20 = c0, c21 = c0, c22 = c0, c23 = c0;
        for (long i = 0; i < n; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
            c12 = c12.fma(a, b); c13 = c13.fma(a, b); c14 = c14.fma(a, b); c15 = c15.fma(a, b);
            c16 = c16.fma(a, b); c17 = c17.fma(a, b); c18 = c18.fma(a, b); c19 = c19.fma(a, b);
            c20 = c20.fma(a, b); c21 = c21.fma(a, b); c22 = c22.fma(a, b); c23 = c23.fma(a, b);
        }
        sink = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .add(c12).add(c13).add(c14).add(c15).add(c16).add(c17).add(c18).add(c19).add(c20).add(c21).add(c22)
                .add(c23).lane(0);
        return 2.0 * F.length() * 24 * n;
    }

    /** {@code reps} passes of Matmul.kernel4x4's inner loop over an (4, n) panel and 4 tokens, both in L1. */
    private static double l1Kernel(float[] w, float[] x, int n, long reps) {
        FloatVector s = FloatVector.zero(F);
        int upper = F.loopBound(n);
        for (long r = 0; r < reps; r++) {
            FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
            FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
            FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
            FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
            for (int i = 0; i < upper; i += F.length()) {
                FloatVector w0 = FloatVector.fromArray(F, w, i);
                FloatVector w1 = FloatVector.fromArray(F, w, n + i);
                FloatVector w2 = FloatVector.fromArray(F, w, 2 * n + i);
                FloatVector w3 = FloatVector.fromArray(F, w, 3 * n + i);
                FloatVector xv = FloatVector.fromArray(F, x, i);
                c00 = w0.fma(xv, c00); c01 = w1.fma(xv, c01); c02 = w2.fma(xv, c02); c03 = w3.fma(xv, c03);
                xv = FloatVector.fromArray(F, x, n + i);
                c10 = w0.fma(xv, c10); c11 = w1.fma(xv, c11); c12 = w2.fma(xv, c12); c13 = w3.fma(xv, c13);
                xv = FloatVector.fromArray(F, x, 2 * n + i);
                c20 = w0.fma(xv, c20); c21 = w1.fma(xv, c21); c22 = w2.fma(xv, c22); c23 = w3.fma(xv, c23);
                xv = FloatVector.fromArray(F, x, 3 * n + i);
                c30 = w0.fma(xv, c30); c31 = w1.fma(xv, c31); c32 = w2.fma(xv, c32); c33 = w3.fma(xv, c33);
            }
            s = s.add(c00.add(c01).add(c02).add(c03).add(c10).add(c11).add(c12).add(c13))
                    .add(c20.add(c21).add(c22).add(c23).add(c30).add(c31).add(c32).add(c33));
        }
        sink = s.lane(0);
        return 2.0 * F.length() * 16 * (upper / F.length()) * reps;
    }
}
