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
 * {@link PanelGemm}'s two per-call copies on the calling thread, A/B in one JVM (not a timed test): the activations'
 * residue-major copy ({@link PanelGemm#residueMajorScalar} against {@link PanelGemm#residueMajor}) of {@code tokens}
 * rows at 768 and 2048 columns, and the panel widening ({@link PanelGemm#widen}) of a whole 2048 × 768 matrix, beside
 * one {@link PanelGemm#kernel8x2} call per panel pair for scale. Calling-thread CPU µs, median of {@code rounds}.
 * Usage: {@code PanelCopyBench [tokens] [rounds]}.
 */
public final class PanelCopyBench {
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int tokens = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 15;
        SplittableRandom rnd = new SplittableRandom(3);
        int L = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        for (int cols : new int[] {768, 2048}) {
            int kl = cols / L;
            float[] x = new float[tokens * cols], a = new float[tokens * cols], b = new float[tokens * cols];
            for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextDouble(-1, 1);
            double[][] us = new double[2][rounds];
            for (int r = -3; r < rounds; r++) {
                for (int v = 0; v < 2; v++) {
                    long c0 = THREADS.getCurrentThreadCpuTime();
                    for (int rep = 0; rep < 20; rep++) {
                        for (int t = 0; t < tokens; t++) {
                            if (v == 0) PanelGemm.residueMajorScalar(x, t * cols, cols, kl, a, t * cols);
                            else PanelGemm.residueMajor(x, t * cols, cols, kl, b, t * cols);
                        }
                    }
                    if (r >= 0) us[v][r] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e3 / 20;
                }
            }
            if (!Arrays.equals(a, b)) throw new AssertionError("copies differ");
            System.out.printf("residue-major copy %d x %d: scalar median %.1f us, vector %.1f us%n", tokens, cols, med(us[0]), med(us[1]));
        }
        try (Arena arena = Arena.ofConfined()) {
            int rows = 2048, cols = 768;
            MemorySegment seg = arena.allocate(2L * rows * cols, 64);
            for (long i = 0; i < (long) rows * cols; i++) seg.setAtIndex(S, i, (short) (Float.floatToRawIntBits((float) rnd.nextDouble(-0.05, 0.05)) >>> 16));
            Matrix w = Matrix.of(new Tensor("w", "bench", DType.BF16, new long[] {rows, cols}, seg));
            MemorySegment pk = PanelGemm.packed(w);
            float[] wp = new float[2 * L * cols], part = new float[L * 2 * PanelGemm.MT * L];
            float[] xr = new float[8 * cols];
            for (int i = 0; i < xr.length; i++) xr[i] = (float) rnd.nextDouble(-1, 1);
            double[][] us = new double[2][rounds];
            int pairs = rows / (2 * L);
            for (int r = -3; r < rounds; r++) {
                long c0 = THREADS.getCurrentThreadCpuTime();
                for (int rep = 0; rep < 20; rep++)
                    for (int p = 0; p < pairs; p++) PanelGemm.widen(pk, (long) p * 2 * L * cols * 2, 2 * L * cols, wp);
                if (r >= 0) us[0][r] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e3 / 20;
                c0 = THREADS.getCurrentThreadCpuTime();
                for (int rep = 0; rep < 20; rep++)
                    for (int p = 0; p < pairs; p++) PanelGemm.kernel8x2(wp, cols, cols / L, xr, 0, part);
                if (r >= 0) us[1][r] = (THREADS.getCurrentThreadCpuTime() - c0) / 1e3 / 20;
            }
            System.out.printf("widen 2048 x 768 (all %d pairs): median %.1f us; one 8-token kernel8x2 call a pair: %.1f us "
                    + "(x %d token groups at %d tokens = %.0f us)%n", pairs, med(us[0]), med(us[1]), tokens / 8, tokens, med(us[1]) * tokens / 8);
        }
    }

    private static double med(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
