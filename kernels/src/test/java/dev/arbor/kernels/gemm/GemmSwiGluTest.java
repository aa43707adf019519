package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The SwiGLU epilogue on the CPU executor ({@link GemmSwiGlu}): every tile family with the epilogue (mma.sync, the plain TMA and
 * deep tiles, the ping-pong kernel; fp32 h, and bf16 h on the TMA ones) writes the stacked composition's bits at partial tiles in
 * M, N (inter 72: 144 W rows, a 16-row group past a 128-row tile) and K (200), and the plans without it (split-K atomics, slabs,
 * slices summed in registers) give the same bits through the interleaved SwiGLU kernel.
 */
class GemmSwiGluTest {
    @Test
    void everyFamilyWritesTheCompositionsBits() {
        CpuBackend cpu = new CpuBackend();
        int inter = 72, n = 2 * inter, k = 200;
        try (Gemm hopper = new Gemm(cpu, true); GemmSwiGlu weights = new GemmSwiGlu(cpu, inter, k)) {
            List<Object[]> cases = new ArrayList<>();   // {m, plan, bf16 h}
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.SMALL, Gemm.MEDIUM, Gemm.WIDE, Gemm.LARGE})
                for (int m : new int[]{1, 13, 37})
                    if (m <= 64 || t == Gemm.LARGE) cases.add(new Object[]{m, hopper.plan(m, n, k, t, 1, true), false});
            cases.add(new Object[]{70, hopper.plan(70, n, k, Gemm.LARGE, 1, true), false});
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64, Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_256X3,
                    Gemm.deepTiles(4, 70), Gemm.deepTiles(12, 70)})
                for (boolean bf16 : new boolean[]{false, true}) cases.add(new Object[]{70, hopper.plan(70, n, k, t, 1, true), bf16});
            for (boolean bf16 : new boolean[]{false, true}) cases.add(new Object[]{300, hopper.pingPongPlan(300, n, k, Gemm.TMA_PP128, true), bf16});
            // without the epilogue: split-K atomics, slabs (mma.sync and TMA), the slices summed in registers
            cases.add(new Object[]{13, hopper.plan(13, n, k, Gemm.SMALL, 2, true), false});
            cases.add(new Object[]{13, hopper.slabPlan(13, n, k, Gemm.SMALL, 2, true), false});
            cases.add(new Object[]{70, hopper.slabPlan(70, n, k, Gemm.TMA_64X2, 2, true), true});
            cases.add(new Object[]{70, hopper.slicedPlan(70, n, k, 2, true), true});
            for (Object[] c : cases) {
                int m = (int) c[0];
                Gemm.Plan p = (Gemm.Plan) c[1];
                boolean bf16 = (boolean) c[2];
                int[] d = weights.differingElements(hopper, p, m, bf16);
                String what = p + " m=" + m + (bf16 ? " bf16 h" : " fp32 h");
                assertEquals(0, d[0], what + ": fused h differs from the stacked composition");
                assertEquals(0, d[1], what + ": interleaved composition differs from the stacked one");
            }
        }
    }

    @Test
    void epilogueOnlyWhereThePlanIsOneSliceWithAKernel() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm hopper = new Gemm(cpu, true)) {
            assertTrue(Gemm.swiGluEpilogue(hopper.plan(1, 22016, 4096, Gemm.SMALL, 1, true), false));
            assertFalse(Gemm.swiGluEpilogue(hopper.plan(1, 22016, 4096, Gemm.SMALL, 1, true), true), "mma.sync: fp32 h only");
            assertFalse(Gemm.swiGluEpilogue(hopper.plan(1, 22016, 4096, Gemm.SMALL, 2, true), false), "split-K atomics");
            assertFalse(Gemm.swiGluEpilogue(hopper.plan(300, 22016, 4096, Gemm.WGMMA_128, 1, true), false), "cp.async wgmma");
            assertFalse(Gemm.swiGluEpilogue(hopper.persistentPlan(300, 22016, 4096, Gemm.TMA_128, true), false), "persistent");
            assertTrue(Gemm.swiGluEpilogue(hopper.pingPongPlan(300, 22016, 4096, Gemm.TMA_PP128, true), true));
            assertTrue(Gemm.swiGluEpilogue(hopper.plan(16384, 22016, 4096, true, true), true), "the prefill row's TMA_256");
        }
    }

    @Test
    void interleavedRowsHoldGateThenUpInGroupsOfEight() {
        int inter = 24, k = 8;
        try (var gate = new dev.arbor.accel.array.BFloat16Array(inter * k); var up = new dev.arbor.accel.array.BFloat16Array(inter * k)) {
            for (int i = 0; i < inter * k; i++) {
                gate.set(i, i / k);
                up.set(i, -(i / k) - 1);
            }
            try (var w = Gemm.interleaveGateUp(gate, up, inter, k)) {
                for (int i = 0; i < inter; i++) {
                    int row = GemmKernels.interleavedGateRow(i);
                    assertEquals(i, w.get(row * k + 3), "gate row " + i);
                    assertEquals(-i - 1, w.get((row + 8) * k + 5), "up row " + i);
                }
            }
        }
    }
}
