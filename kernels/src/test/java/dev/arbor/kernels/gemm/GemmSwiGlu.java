package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.kernels.layer.FusedOps;

import java.util.Random;

/**
 * The SwiGLU epilogue's bits ({@link Gemm#matmulSwiGlu}): on the interleaved gate|up weight, a plan's fused {@code h = silu(G)·U}
 * must be, element by element, what the unfused composition on the stacked weight {@code [gate; up]} gives: the same plan's
 * GEMM ({@link Gemm#matmulPartial}) then {@link FusedOps#siluMulRows} (the engine's path before), and so must the composition on
 * the interleaved weight (GEMM, then {@link FusedOps#siluMulRowsInterleaved}: the path of plans without the epilogue).
 * Shared by the CPU and GPU tests; one set of weights (stacked and interleaved, on the backend) for many plans.
 */
final class GemmSwiGlu implements AutoCloseable {
    final int inter, k;
    private final Backend backend;
    private final BFloat16Array stacked, interleaved;

    GemmSwiGlu(Backend backend, int inter, int k) {
        this.backend = backend;
        this.inter = inter;
        this.k = k;
        Random r = new Random(7L * inter + k);
        try (BFloat16Array gate = new BFloat16Array(inter * k); BFloat16Array up = new BFloat16Array(inter * k)) {
            stacked = new BFloat16Array(2 * inter * k);
            for (int i = 0; i < inter * k; i++) {
                gate.set(i, (r.nextFloat() * 2 - 1) * 0.15f);
                up.set(i, (r.nextFloat() * 2 - 1) * 0.15f);
            }
            java.lang.foreign.MemorySegment.copy(gate.segment(), 0, stacked.segment(), 0, gate.byteSize());
            java.lang.foreign.MemorySegment.copy(up.segment(), 0, stacked.segment(), gate.byteSize(), up.byteSize());
            interleaved = Gemm.interleaveGateUp(gate, up, inter, k);
        }
        backend.toDevice(stacked, interleaved);
    }

    /**
     * Elements of h (fp32, or bf16 with {@code bf16Out}) differing in any bit, {fused vs stacked composition, interleaved
     * composition vs stacked}; checks that {@code matmulSwiGlu} ran exactly where {@link Gemm#swiGluEpilogue} says.
     */
    int[] differingElements(Gemm gemm, Gemm.Plan plan, int m, boolean bf16Out) {
        int n = 2 * inter;
        Random r = new Random(31L * m + plan.tiles().name().hashCode());
        try (FloatArray x = new FloatArray(m * k); FloatArray c = new FloatArray(m * n);
             OffHeapArray fused = out(m * inter, bf16Out); OffHeapArray composed = out(m * inter, bf16Out); OffHeapArray reference = out(m * inter, bf16Out)) {
            for (int i = 0; i < m * k; i++) x.set(i, r.nextFloat() * 2 - 1);
            backend.toDevice(x, c, fused, composed, reference);
            Gemm.Partial p = gemm.matmulPartial(x, m, stacked, n, k, c, plan);
            if (reference instanceof BFloat16Array h) FusedOps.siluMulRows(backend, p.sums(), p.slices(), h, m, inter, false);
            else FusedOps.siluMulRows(backend, p.sums(), p.slices(), (FloatArray) reference, m, inter, false);
            Gemm.Partial q = gemm.matmulPartial(x, m, interleaved, n, k, c, plan);
            FusedOps.siluMulRowsInterleaved(backend, q.sums(), q.slices(), composed, m, inter, false);
            boolean ran = gemm.matmulSwiGlu(x, m, interleaved, n, k, fused, plan);
            if (ran != Gemm.swiGluEpilogue(plan, bf16Out)) throw new AssertionError("matmulSwiGlu ran " + ran + " for " + plan);
            if (!ran) FusedOps.siluMulRowsInterleaved(backend, q.sums(), q.slices(), fused, m, inter, false);
            backend.toHost(fused, composed, reference);
            return new int[]{differ(fused, reference, m * inter), differ(composed, reference, m * inter)};
        }
    }

    private static OffHeapArray out(int length, boolean bf16) {
        OffHeapArray a = bf16 ? new BFloat16Array(length) : new FloatArray(length);
        for (int i = 0; i < length; i++) a.setFloat(i, Float.NaN);
        return a;
    }

    private static int differ(OffHeapArray a, OffHeapArray b, int length) {
        int d = 0;
        for (int i = 0; i < length; i++) {
            boolean same = a instanceof BFloat16Array x ? x.getBits(i) == ((BFloat16Array) b).getBits(i)
                    : Float.floatToRawIntBits(((FloatArray) a).get(i)) == Float.floatToRawIntBits(((FloatArray) b).get(i));
            if (!same) d++;
        }
        return d;
    }

    @Override
    public void close() {
        stacked.close();
        interleaved.close();
    }
}
