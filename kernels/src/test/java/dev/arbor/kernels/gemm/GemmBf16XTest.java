package dev.arbor.kernels.gemm;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bf16-X entry points with a given plan ({@code Gemm.matmul(BFloat16Array, ..., Plan)}, {@code matmulPartial}), which the
 * engine's bf16 producers feed ({@code arbor.gemm.bf16Producers}), against the fp32-X path of the same plan, which converts X
 * first ({@code Plan.convertFirst}, {@code GemmKernels.toBf16x8}): X rounded to bf16 on the host (nearest even, as the pass),
 * in a buffer longer than m × k (the producers' buffer holds the widest row of the step's largest batch; a TMA tile reads
 * rows past m, never stores them), the same bits out. On the CPU executor: the invariant plan's forms (TMA slabs, left
 * unsummed and summed; slices summed in registers; one slice), split-K with atomics and a residual, the persistent and the
 * ping-pong kernels, an mma.sync tile that converts first; partial tiles in M, N and K.
 */
class GemmBf16XTest {
    private final CpuBackend cpu = new CpuBackend();

    /** C of fp32 X through {@code p}, then of X's bf16 copy through {@code p}: both summed (matmul) and, for slab plans, unsummed. */
    private void sameBits(Gemm gemm, Gemm.Plan p, int m, int n, int k, boolean accumulate, String what) {
        assertTrue(p.convertFirst(), what + ": a plan that converts fp32 X first: " + p);
        Random r = new Random(31L * m + 7L * n + k);
        int extraRows = 5;
        try (FloatArray x = new FloatArray(m * k); BFloat16Array xb = new BFloat16Array((m + extraRows) * k); BFloat16Array w = new BFloat16Array(n * k);
             FloatArray c32 = new FloatArray(m * n); FloatArray c16 = new FloatArray(m * n)) {
            for (int i = 0; i < m * k; i++) {
                float v = (r.nextFloat() * 2 - 1) * 3;
                x.set(i, v);
                xb.set(i, v);   // BFloat16Array.set: nearest even, as cvt.rn.bf16.f32
            }
            for (int i = m * k; i < xb.length(); i++) xb.set(i, 1e30f);   // rows past m: read by a tile, never in C
            for (int i = 0; i < n * k; i++) w.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            for (int i = 0; i < m * n; i++) {
                float v = accumulate ? r.nextFloat() * 4 - 2 : Float.NaN;
                c32.set(i, v);
                c16.set(i, v);
            }
            cpu.toDevice(x, xb, w, c32, c16);
            gemm.matmul(x, m, w, n, k, c32, accumulate, p);
            gemm.matmul(xb, m, w, n, k, c16, accumulate, p);
            cpu.toHost(c32, c16);
            // split-K with atomics adds its slices in arrival order (the CPU executor's work-groups run on a thread pool, as
            // the GPU's blocks): the same products, but the sum's rounding may differ by an ulp or so between two launches
            boolean atomics = p.splits() > 1 && !p.slabs() && !p.registerSlices();
            for (int i = 0; i < m * n; i++) {
                String at = what + " " + p + ": C[" + i / n + "][" + i % n + "]";
                if (atomics) assertEquals(c32.get(i), c16.get(i), 1e-5f * (1 + Math.abs(c32.get(i))), at);
                else assertEquals(Float.floatToRawIntBits(c32.get(i)), Float.floatToRawIntBits(c16.get(i)), at);
            }
            if (p.slabs() && !accumulate) {
                Gemm.Partial a = gemm.matmulPartial(x, m, w, n, k, c32, p);
                float[] first = new float[a.slices() * m * n];
                cpu.toHost(a.sums());
                for (int i = 0; i < first.length; i++) first[i] = a.sums().get(i);
                Gemm.Partial b = gemm.matmulPartial(xb, m, w, n, k, c16, p);
                assertEquals(a.slices(), b.slices(), what + ": slices");
                cpu.toHost(b.sums());
                for (int i = 0; i < first.length; i++)
                    assertEquals(Float.floatToRawIntBits(first[i]), Float.floatToRawIntBits(b.sums().get(i)), what + " partial " + p + ": slab element " + i);
            }
        }
    }

    @Test
    void tmaPlansGiveTheConvertedPathsBits() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            int m = 100, n = 136, k = 1032;
            sameBits(hopper, hopper.slabPlan(m, n, k, Gemm.TMA_128, 3, true), m, n, k, false, "TMA slabs");
            sameBits(hopper, hopper.slabPlan(m, n, k, Gemm.TMA_64X2, 4, true), m, n, k, false, "TMA_64X2 slabs");
            sameBits(hopper, hopper.slicedPlan(m, n, k, 3, true), m, n, k, true, "slices in registers, residual");
            sameBits(hopper, hopper.plan(m, n, k, Gemm.TMA_128, 1, true), m, n, k, true, "one slice, residual");
            sameBits(hopper, hopper.plan(90, 40, k, Gemm.TMA_128, 3, true), 90, 40, k, true, "split-K atomics, residual");
            sameBits(hopper, hopper.invariantPlan(m, n, k, true), m, n, k, false, "the invariant plan");
            Gemm.Plan one = hopper.persistentPlan(300, 272, 264, Gemm.TMA_128, true);
            Gemm.Plan two = new Gemm.Plan(Gemm.TMA_128, 1, one.kTilesPerSplit(), new dev.arbor.accel.Launch(new int[]{2, 1, 1}, one.launch().block(),
                    one.launch().sharedBytes(), null), true, false, false, true);
            sameBits(hopper, two, 300, 272, 264, true, "persistent, 2 blocks, residual");
            if (Gemm.TMA_DEFAULT && Gemm.PING_PONG_DEFAULT) {
                Gemm.Plan pp = hopper.pingPongPlan(300, 272, 264, Gemm.TMA_PP128, true);
                Gemm.Plan pp2 = new Gemm.Plan(Gemm.TMA_PP128, 1, pp.kTilesPerSplit(), new dev.arbor.accel.Launch(new int[]{2, 1, 1}, pp.launch().block(),
                        pp.launch().sharedBytes(), null), true, false, false, true);
                sameBits(hopper, pp2, 300, 272, 264, false, "ping-pong, 2 blocks");
            }
        }
    }

    @Test
    void mmaSyncTileThatConvertsFirst() {
        try (Gemm gemm = new Gemm(cpu, false)) {
            Gemm.Plan p = gemm.plan(40, 136, 200, Gemm.WIDE, 1, true);
            sameBits(gemm, p, 40, 136, 200, true, "WIDE (mma.sync), residual");
        }
    }
}
