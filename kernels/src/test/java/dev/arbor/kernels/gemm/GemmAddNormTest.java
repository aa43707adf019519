package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GEMM with the residual add and RMSNorm in its last-arriving block ({@link Gemm#matmulAddRmsNorm}) on the CPU executor
 * against the two launches it replaces ({@link GemmAddNorm}): a 200-wide weight (4 W-row blocks, the last partly
 * outside N) over K = 1024 (16 K tiles: 4 invariant slices), M = 1, 3 and 16; a 320-wide one over K = 2056 (a short last K
 * tile and a short last slice).
 */
class GemmAddNormTest {
    @Test
    void equalsTheSlabSumAndAddRmsNormBitForBit() {
        try (CpuBackend cpu = new CpuBackend(); Gemm gemm = new Gemm(cpu, false)) {
            for (int m : new int[]{1, 3, 16}) {
                Gemm.Plan p = GemmAddNorm.check(cpu, gemm, 200, 1024, m, GemmAddNorm.Form.INVARIANT, 11 + m);
                assertTrue(p.slabs() && p.splits() == 4, p::toString);
            }
            Gemm.Plan p = GemmAddNorm.check(cpu, gemm, 320, 2056, 2, GemmAddNorm.Form.INVARIANT, 5);
            assertTrue(p.slabs(), p::toString);
        }
    }

    @Test
    void equalsTheAccumulatingGemmAndRmsNormRows() {
        try (CpuBackend cpu = new CpuBackend(); Gemm gemm = new Gemm(cpu, false)) {
            for (int m : new int[]{1, 16}) {
                assertEquals(1, GemmAddNorm.check(cpu, gemm, 200, 1024, m, GemmAddNorm.Form.ONE_SLICE, 21 + m).splits());
                Gemm.Plan p = GemmAddNorm.check(cpu, gemm, 200, 1024, m, GemmAddNorm.Form.DEFAULT, 31 + m);
                assertTrue(!p.slabs() && p.splits() > 1, p::toString);   // split-K atomics into x
            }
        }
    }

    @Test
    void takesDecodePlansOnly() {
        try (CpuBackend cpu = new CpuBackend(); Gemm gemm = new Gemm(cpu, true)) {
            assertTrue(gemm.fusesAddRmsNorm(gemm.invariantPlan(16, 4096, 4096, true), 16));
            assertFalse(gemm.fusesAddRmsNorm(gemm.invariantPlan(17, 4096, 4096, true), 17));    // MEDIUM converts X first
            assertFalse(gemm.fusesAddRmsNorm(gemm.invariantPlan(128, 4096, 4096, true), 128));  // the TMA tiles
            gemm.addNormMaxM(0);
            assertFalse(gemm.fusesAddRmsNorm(gemm.invariantPlan(1, 4096, 4096, true), 1));
            Gemm.Plan big = gemm.invariantPlan(128, 256, 256, true);
            try (dev.arbor.accel.array.FloatArray f = new dev.arbor.accel.array.FloatArray(128 * 256);
                 dev.arbor.accel.array.BFloat16Array w = new dev.arbor.accel.array.BFloat16Array(256 * 256)) {
                assertThrows(IllegalArgumentException.class, () -> gemm.matmulAddRmsNorm(f, 128, w, 256, 256, f, f, f, 1e-5, big));
            }
        }
    }
}
