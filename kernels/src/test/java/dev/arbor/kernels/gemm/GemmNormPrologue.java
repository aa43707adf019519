package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.kernels.layer.FusedOps;

import java.util.Random;

/**
 * The RMSNorm in the next product's prologue ({@link Gemm#matmulAddSlabs} then {@link Gemm#matmulNormPartial} /
 * {@link Gemm#matmulNormSwiGlu}) against the composition it replaces: the o/down-like slab product ({@link Gemm#matmulPartial}),
 * {@link FusedOps#addRmsNormSplitRow} on its slabs into fp32 xn, then the next product on xn with the same plan
 * ({@link Gemm#matmulPartial} or {@link Gemm#matmulSwiGlu}). The residual and the next product's output (its unsummed slabs,
 * or h) must agree bit for bit; twice on the same counters (the kernels leave them zero). Shared by the CPU and GPU tests.
 */
final class GemmNormPrologue {
    private GemmNormPrologue() {}

    static final double EPS = 1e-5;

    /**
     * The fallback where the next product has no prologue (CudaOps' settled norm): {@link Gemm#matmulAddSlabs} then
     * {@code LayerKernels.rmsNormRows} on the residual against {@link Gemm#matmulPartial} then {@link FusedOps#addRmsNormSplitRow}:
     * elements of the residual and of xn that differ in any bit (one round).
     */
    static int settledDiffers(Backend backend, Gemm gemm, Gemm.Plan plan1, int m, int hidden, int k1) {
        Random r = new Random(29L * m + hidden + k1);
        try (FloatArray x = new FloatArray(m * k1); BFloat16Array w1 = new BFloat16Array(hidden * k1); FloatArray normW = new FloatArray(hidden);
             FloatArray proj = new FloatArray(m * hidden); FloatArray residA = new FloatArray(m * hidden); FloatArray residB = new FloatArray(m * hidden);
             FloatArray xnA = new FloatArray(m * hidden); FloatArray xnB = new FloatArray(m * hidden); IntArray rowArrivals = new IntArray(m);
             IntArray arrivals = new IntArray(Gemm.addSlabsArrivals(plan1, m, hidden))) {
            for (int i = 0; i < m * k1; i++) x.set(i, r.nextFloat() * 2 - 1);
            for (int i = 0; i < hidden * k1; i++) w1.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            for (int i = 0; i < hidden; i++) normW.set(i, 1 + (float) r.nextGaussian() * 0.1f);
            for (int i = 0; i < m * hidden; i++) {
                float c0 = (float) r.nextGaussian();
                residA.set(i, c0);
                residB.set(i, c0);
            }
            backend.toDevice(x, w1, normW, proj, residA, residB, xnA, xnB, rowArrivals, arrivals);
            Gemm.Partial s = gemm.matmulPartial(x, m, w1, hidden, k1, proj, plan1);
            FusedOps.addRmsNormSplitRow(backend, residA, s.sums(), s.slices(), normW, xnA, rowArrivals, m, hidden, EPS, false);
            if (!gemm.matmulAddSlabs(x, m, w1, hidden, k1, plan1, residB, arrivals)) throw new IllegalStateException("not run: " + plan1);
            backend.launch(dev.arbor.accel.Kernel.of(dev.arbor.kernels.LayerKernels.class, "rmsNormRows"),
                    dev.arbor.accel.Launch.of1D(m, dev.arbor.kernels.LayerKernels.NORM_GROUP), residB, normW, xnB, hidden, EPS);
            backend.toHost(residA, residB, xnA, xnB);
            int differ = 0;
            for (int i = 0; i < m * hidden; i++) {
                if (Float.floatToRawIntBits(residA.get(i)) != Float.floatToRawIntBits(residB.get(i))) differ++;
                if (Float.floatToRawIntBits(xnA.get(i)) != Float.floatToRawIntBits(xnB.get(i))) differ++;
            }
            return differ;
        }
    }

    /**
     * Elements of the residual and of the next product's output (both rounds) that differ in any bit; -1 if a counter is left
     * non-zero. The first product: (m, hidden) += (m, k1) · (hidden, k1)ᵀ in plan1; the next: (m, n2) of (m, hidden) in plan2,
     * its epilogue SwiGLU where {@code swiGlu} (n2 a multiple of 16).
     */
    static int differingElements(Backend backend, Gemm gemm, Gemm.Plan plan1, Gemm.Plan plan2, int m, int hidden, int k1, int n2, boolean swiGlu) {
        if (!Gemm.addNormEpilogue(plan1)) throw new IllegalArgumentException("not a plan of the add epilogue: " + plan1);
        if (!Gemm.normPrologue(plan2, m)) throw new IllegalArgumentException("not a plan of the norm prologue: " + plan2);
        Random r = new Random(13L * m + 7L * hidden + k1 + 3L * n2 + (swiGlu ? 1 : 0));
        int arrivalsNeeded = Gemm.addSlabsArrivals(plan1, m, hidden);
        int outLen = swiGlu ? m * n2 / 2 : plan2.splits() * m * n2;
        try (FloatArray x = new FloatArray(m * k1); BFloat16Array w1 = new BFloat16Array(hidden * k1); BFloat16Array w2 = new BFloat16Array(n2 * hidden);
             FloatArray normW = new FloatArray(hidden); FloatArray proj = new FloatArray(m * hidden); FloatArray residA = new FloatArray(m * hidden);
             FloatArray residB = new FloatArray(m * hidden); FloatArray xn = new FloatArray(m * hidden); FloatArray c = new FloatArray(m * n2);
             FloatArray hA = new FloatArray(Math.max(1, m * n2 / 2)); FloatArray hB = new FloatArray(Math.max(1, m * n2 / 2));
             IntArray rowArrivals = new IntArray(m); IntArray arrivals = new IntArray(arrivalsNeeded)) {
            for (int i = 0; i < m * k1; i++) x.set(i, r.nextFloat() * 2 - 1);
            for (int i = 0; i < hidden * k1; i++) w1.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            for (int i = 0; i < n2 * hidden; i++) w2.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            for (int i = 0; i < hidden; i++) normW.set(i, 1 + (float) r.nextGaussian() * 0.1f);
            for (int i = 0; i < m * hidden; i++) {
                float c0 = (float) r.nextGaussian();
                residA.set(i, c0);
                residB.set(i, c0);
            }
            backend.toDevice(x, w1, w2, normW, proj, residA, residB, xn, c, hA, hB, rowArrivals, arrivals);
            int differ = 0;
            for (int round = 0; round < 2; round++) {   // round 2 adds into round 1's residual, on the counters round 1 left
                // the composition
                Gemm.Partial s = gemm.matmulPartial(x, m, w1, hidden, k1, proj, plan1);
                FusedOps.addRmsNormSplitRow(backend, residA, s.sums(), s.slices(), normW, xn, rowArrivals, m, hidden, EPS, false);
                float[] outA = new float[outLen];
                if (swiGlu) {
                    if (!gemm.matmulSwiGlu(xn, m, w2, n2, hidden, hA, plan2)) throw new IllegalStateException("no SwiGLU epilogue: " + plan2);
                    backend.toHost(hA);
                    for (int i = 0; i < outLen; i++) outA[i] = hA.get(i);
                } else {
                    Gemm.Partial p = gemm.matmulPartial(xn, m, w2, n2, hidden, c, plan2);
                    backend.toHost(p.sums());
                    for (int i = 0; i < outLen; i++) outA[i] = p.sums().get(i);
                }
                // the prologue form
                if (!gemm.matmulAddSlabs(x, m, w1, hidden, k1, plan1, residB, arrivals)) throw new IllegalStateException("not run: " + plan1);
                float[] outB = new float[outLen];
                if (swiGlu) {
                    if (!gemm.matmulNormSwiGlu(residB, normW, EPS, m, w2, n2, hidden, hB, plan2)) throw new IllegalStateException("not run: " + plan2);
                    backend.toHost(hB);
                    for (int i = 0; i < outLen; i++) outB[i] = hB.get(i);
                } else {
                    Gemm.Partial p = gemm.matmulNormPartial(residB, normW, EPS, m, w2, n2, hidden, c, plan2);
                    if (p == null || p.slices() != (plan2.slabs() ? plan2.splits() : 1)) throw new IllegalStateException("not run: " + plan2);
                    backend.toHost(p.sums());
                    for (int i = 0; i < outLen; i++) outB[i] = p.sums().get(i);
                }
                backend.toHost(residA, residB, arrivals);
                for (int i = 0; i < m * hidden; i++)
                    if (Float.floatToRawIntBits(residA.get(i)) != Float.floatToRawIntBits(residB.get(i))) differ++;
                for (int i = 0; i < outLen; i++)
                    if (Float.floatToRawIntBits(outA[i]) != Float.floatToRawIntBits(outB[i])) differ++;
                for (int i = 0; i < arrivalsNeeded; i++) if (arrivals.get(i) != 0) return -1;
            }
            return differ;
        }
    }
}
