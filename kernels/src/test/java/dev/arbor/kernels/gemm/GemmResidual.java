package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;

import java.util.Random;

/**
 * The residual epilogue's bits ({@link GemmKernels#storeF32Tile}): an unsplit plan's {@code C += X·Wᵀ} must store, element by
 * element, the float {@code C₀ + P} where P is what the same plan stores for {@code C = X·Wᵀ} (the same sums, one fp32 add
 * after them), whatever the group of C loads a work-item issues before its stores. Shared by the CPU and GPU tests.
 */
final class GemmResidual {
    private GemmResidual() {}

    /** Elements of C whose {@code C₀ + sum} differs in any bit from the host's {@code C₀ + P}; checks the plan is unsplit. */
    static int differingElements(Backend backend, Gemm gemm, Gemm.Plan plan, int m, int n, int k) {
        if (plan.splits() != 1 || plan.slabs()) throw new IllegalArgumentException("the epilogue's add is the unsplit plans': " + plan);
        Random r = new Random(31L * m + 7L * n + k + plan.tiles().name().hashCode());
        try (FloatArray x = new FloatArray(m * k); BFloat16Array w = new BFloat16Array(n * k); FloatArray p = new FloatArray(m * n);
             FloatArray c = new FloatArray(m * n)) {
            for (int i = 0; i < m * k; i++) x.set(i, r.nextFloat() * 2 - 1);
            for (int i = 0; i < n * k; i++) w.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            float[] c0 = new float[m * n];
            for (int i = 0; i < m * n; i++) {
                c0[i] = r.nextFloat() * 4 - 2;
                c.set(i, c0[i]);
                p.set(i, Float.NaN);
            }
            backend.toDevice(x, w, p, c);
            gemm.matmul(x, m, w, n, k, p, false, plan);
            gemm.matmul(x, m, w, n, k, c, true, plan);
            backend.toHost(p, c);
            int differ = 0;
            for (int i = 0; i < m * n; i++)
                if (Float.floatToRawIntBits(c.get(i)) != Float.floatToRawIntBits(c0[i] + p.get(i))) differ++;
            return differ;
        }
    }
}
