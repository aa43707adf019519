package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On the CPU executor: the batch-invariant plan gives a row the same bits at M = 1, 3, 17 and 70 (three tile
 * shapes), with one K slice and with slabs added in a fixed order.
 */
class GemmInvarianceTest {
    @Test
    void aRowsResultDoesNotDependOnM() {
        GemmInvariance.check(new CpuBackend(), 40, 64, 1, 1, 3, 17, 70);
    }

    @Test
    void slabSplitKIsInvariantToo() {
        CpuBackend cpu = new CpuBackend();
        try (Gemm gemm = new Gemm(cpu)) {
            assertTrue(gemm.invariantSlices(40, 512) > 1, "this shape must take the slab path");
        }
        GemmInvariance.check(cpu, 40, 512, 1, 1, 3, 17, 70);
    }
}
