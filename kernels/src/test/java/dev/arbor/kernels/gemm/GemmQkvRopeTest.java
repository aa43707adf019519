package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RoPE and the KV store in the q|k|v product's epilogue on the CPU executor ({@link GemmQkvRope}): the composition's bits
 * (matmulPartial + FusedOps.qkvRopeStore) at llama-7b's head shape (128: two 64-column tiles a head) in the engine's slab plan
 * (2 slices; 32 q heads, 8 KV heads as GQA), heads of 64 (a tile a head) and 32 (two heads a tile), 256 (four tiles a head),
 * one slice, no rotation; bf16, fp16 and fp32 stores; 1-20 tokens (two token tiles at 20).
 */
class GemmQkvRopeTest {
    @Test
    void theEpilogueGivesTheCompositionsBits() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false)) {
            // {m, k, heads, kvHeads, headDim, slices, storeType, rope}
            int[][] cases = {{1, 256, 32, 8, 128, 2, 0, 1}, {1, 128, 32, 8, 128, 2, 1, 1}, {1, 128, 4, 4, 128, 2, 2, 1},
                    {3, 136, 6, 2, 64, 3, 0, 1}, {8, 128, 8, 2, 128, 2, 0, 1}, {2, 128, 4, 2, 32, 2, 1, 1}, {5, 128, 2, 1, 256, 2, 0, 1},
                    {1, 128, 4, 2, 128, 1, 0, 1}, {3, 128, 4, 2, 128, 2, 0, 0}, {20, 128, 4, 2, 64, 2, 2, 1}, {16, 128, 4, 4, 128, 2, 0, 1}};
            for (int[] c : cases) {
                int m = c[0], k = c[1], heads = c[2], kvHeads = c[3], headDim = c[4], n = (heads + 2 * kvHeads) * headDim;
                Gemm.Plan p = c[5] == 1 ? gemm.plan(m, n, k, Gemm.SMALL, 1, true) : gemm.slabPlan(m, n, k, Gemm.SMALL, c[5], true);
                String what = m + "x" + k + " heads " + heads + "/" + kvHeads + "x" + headDim + " store " + c[6] + (c[7] == 1 ? "" : " no rope") + ": " + p;
                assertEquals(0, GemmQkvRope.differingElements(cpu, gemm, p, m, k, heads, kvHeads, headDim, 16, 5, c[6], c[7] == 1), what);
            }
        }
    }

    /** The norm-prologue form ({@link Gemm#matmulNormQkvRope}): matmulNormPartial + qkvRopeStore's bits (one token tile). */
    @Test
    void theNormPrologueFormGivesTheCompositionsBits() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false)) {
            // {m, k (hidden), heads, kvHeads, headDim, slices, storeType}
            int[][] cases = {{1, 256, 8, 2, 128, 2, 0}, {3, 1000, 2, 1, 64, 3, 1}, {1, 128, 2, 2, 128, 1, 2}};
            for (int[] c : cases) {
                int m = c[0], k = c[1], heads = c[2], kvHeads = c[3], headDim = c[4], n = (heads + 2 * kvHeads) * headDim;
                Gemm.Plan p = c[5] == 1 ? gemm.plan(m, n, k, Gemm.SMALL, 1, true) : gemm.slabPlan(m, n, k, Gemm.SMALL, c[5], true);
                String what = "norm " + m + "x" + k + " heads " + heads + "/" + kvHeads + "x" + headDim + " store " + c[6] + ": " + p;
                assertEquals(0, GemmQkvRope.differingElements(cpu, gemm, p, m, k, heads, kvHeads, headDim, 16, 5, c[6], true, true), what);
            }
        }
    }

    @Test
    void theEnginesPlansTakeIt() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu, false)) {
            for (int m : new int[]{1, 8}) {
                Gemm.Plan p = gemm.invariantPlan(m, 12288, 4096, true);   // llama-7b's stacked q|k|v at decode
                assertTrue(Gemm.qkvRopeEpilogue(p, 128), p.toString());
                assertEquals(12288 / 128, Gemm.qkvRopeArrivals(p, m, 12288, 128));
            }
            assertFalse(Gemm.qkvRopeEpilogue(gemm.plan(1, 256, 512, Gemm.SMALL, 2, true), 128), "split-K atomics");
            assertFalse(Gemm.qkvRopeEpilogue(gemm.slabPlan(1, 256, 512, Gemm.SMALL, 2, true), 96), "96: neither a multiple nor a divisor of 64");
            assertFalse(Gemm.qkvRopeEpilogue(gemm.slabPlan(64, 256, 512, Gemm.WIDE, 2, true), 128), "X converted first");
        }
    }
}
