package dev.arbor.kernels.gemm;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link Gemm#overlapPrevious}: a GEMM launched overlapping the kernel that writes its X (that kernel lets it launch at
 * once, as the engine's fused kernels do) streams W first and waits before reading X, so it computes on the new X: the
 * same bits as the plain launch for the batch-invariant plans (slab split-K, one slice) at M = 1, 16 and 40 (fp32 X
 * converted on load, and the conversion pass first), and within rounding for the default plan's atomic split-K (with the
 * zeroing of C overlapped too). Each round writes a different X, so a GEMM reading X early would read the last round's.
 */
@Tag("gpu")
class GemmOverlapGpuTest {
    /** x[i] = a value of (i, round), written after waiting for the previous grid and after letting the next one launch. */
    public static void writeX(KernelContext ctx, FloatArray x, int n, int round) {
        ctx.allowDependentLaunch();
        ctx.gridDependencyWait();
        int i = ctx.globalIdx;
        if (i < n) {
            int h = (i * 0x9E3779B1) ^ (round * 0x85EBCA77);
            h ^= h >>> 15;
            x.set(i, ((h & 0xFFFF) / 65536f - 0.5f) * 2f);
        }
    }

    private static final Kernel WRITE_X = Kernel.of(GemmOverlapGpuTest.class, "writeX");

    @Test
    void overlappedGemmReadsTheNewX() {
        int n = 4096, k = 4096;
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda); FloatArray x = new FloatArray(64 * k);
             BFloat16Array w = new BFloat16Array(n * k); FloatArray c = new FloatArray(64 * n); FloatArray ref = new FloatArray(64 * n)) {
            Random r = new Random(11);
            for (int i = 0; i < w.length(); i++) w.set(i, (float) r.nextGaussian() * 0.05f);
            cuda.toDevice(x, w, c, ref);
            gemm.reserve(64, k);
            gemm.reserveSlabs(64, n, k);
            for (int m : new int[]{1, 16, 40}) {
                Gemm.Plan[] plans = {gemm.invariantPlan(m, n, k, true), gemm.plan(m, n, k, Gemm.tilesFor(m), 1, true), gemm.plan(m, n, k, true, true)};
                for (Gemm.Plan plan : plans) {
                    boolean exact = plan.slabs() || plan.splits() == 1;
                    for (int round = 0; round < 6; round++) {
                        Launch l = Launch.cover(m * k, 256);
                        cuda.launch(WRITE_X, l, x, m * k, round);
                        gemm.matmul(x, m, w, n, k, ref, false, plan);       // plain launches: the reference
                        cuda.launch(WRITE_X, l.overlappingPrevious(), x, m * k, round + 1000);
                        cuda.launch(WRITE_X, l.overlappingPrevious(), x, m * k, round);   // X back to this round's, overlapping
                        gemm.overlapPrevious(true);
                        try {
                            gemm.matmul(x, m, w, n, k, c, false, plan);
                        } finally {
                            gemm.overlapPrevious(false);
                        }
                        cuda.toHost(c, ref);
                        for (int i = 0; i < m * n; i++) {
                            if (exact) assertEquals(Float.floatToRawIntBits(ref.get(i)), Float.floatToRawIntBits(c.get(i)),
                                    "C[" + i / n + "][" + i % n + "] at M=" + m + ", round " + round + " (" + plan + ")");
                            else assertEquals(ref.get(i), c.get(i), 1e-4f * (1 + Math.abs(ref.get(i))),
                                    "C[" + i / n + "][" + i % n + "] at M=" + m + ", round " + round + " (" + plan + ")");
                        }
                    }
                }
            }
        }
    }
}
