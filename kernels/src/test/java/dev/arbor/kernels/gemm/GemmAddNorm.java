package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.kernels.layer.FusedOps;

import java.util.Random;

/**
 * The residual add + RMSNorm epilogue's bits ({@link Gemm#matmulAddNorm}, {@link GemmKernels#xf32Wbf16AddNorm}): the residual
 * and the normalised rows it writes must be, bit for bit, those of the composition it replaces, the same plan's
 * {@link Gemm#matmulPartial} followed by {@link FusedOps#addRmsNormSplitRow} on its slabs (itself the bits of
 * {@code FusedOps.addRmsNorm}: FusedKernelsTest). Twice on the same counters: the kernel leaves them zero. Shared by the CPU
 * and GPU tests.
 */
final class GemmAddNorm {
    private GemmAddNorm() {}

    static final double EPS = 1e-5;

    /** Elements of the residual and of the normalised rows (both launches) that differ in any bit from the composition's; -1 if a counter is left non-zero. */
    static int differingElements(Backend backend, Gemm gemm, Gemm.Plan plan, int m, int n, int k) {
        if (!Gemm.addNormEpilogue(plan)) throw new IllegalArgumentException("not a plan of the add + norm epilogue: " + plan);
        Random r = new Random(17L * m + 5L * n + k + plan.splits());
        int arrivalsNeeded = Gemm.addNormArrivals(plan, m, n);
        try (FloatArray x = new FloatArray(m * k); BFloat16Array w = new BFloat16Array(n * k); FloatArray normW = new FloatArray(n);
             FloatArray proj = new FloatArray(m * n); FloatArray residA = new FloatArray(m * n); FloatArray residB = new FloatArray(m * n);
             FloatArray outA = new FloatArray(m * n); FloatArray outB = new FloatArray(m * n); IntArray rowArrivals = new IntArray(m);
             IntArray arrivals = new IntArray(arrivalsNeeded)) {
            for (int i = 0; i < m * k; i++) x.set(i, r.nextFloat() * 2 - 1);
            for (int i = 0; i < n * k; i++) w.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            for (int i = 0; i < n; i++) normW.set(i, 1 + (float) r.nextGaussian() * 0.1f);
            for (int i = 0; i < m * n; i++) {
                float c0 = (float) r.nextGaussian();
                residA.set(i, c0);
                residB.set(i, c0);
                outA.set(i, Float.NaN);
                outB.set(i, Float.NaN);
            }
            backend.toDevice(x, w, normW, proj, residA, residB, outA, outB, rowArrivals, arrivals);
            int differ = 0;
            for (int round = 0; round < 2; round++) {   // round 2 adds into round 1's residual, on the counters round 1 left
                Gemm.Partial s = gemm.matmulPartial(x, m, w, n, k, proj, plan);
                if (s.slices() != plan.splits()) throw new IllegalStateException("the composition left " + s.slices() + " slices");
                FusedOps.addRmsNormSplitRow(backend, residA, s.sums(), s.slices(), normW, outA, rowArrivals, m, n, EPS, false);
                if (!gemm.matmulAddNorm(x, m, w, n, k, plan, residB, normW, outB, arrivals, EPS)) throw new IllegalStateException("not run: " + plan);
                backend.toHost(residA, residB, outA, outB, arrivals);
                for (int i = 0; i < m * n; i++) {
                    if (Float.floatToRawIntBits(residA.get(i)) != Float.floatToRawIntBits(residB.get(i))) differ++;
                    if (Float.floatToRawIntBits(outA.get(i)) != Float.floatToRawIntBits(outB.get(i))) differ++;
                }
                for (int i = 0; i < arrivalsNeeded; i++) if (arrivals.get(i) != 0) return -1;
            }
            return differ;
        }
    }
}
