package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/** On the CPU executor: the batch-invariant plan gives a row the same bits at M = 1, 3, 17 and 70 (three tile shapes). */
class GemmInvarianceTest {
    @Test
    void aRowsResultDoesNotDependOnM() {
        GemmInvariance.check(new CpuBackend(), 40, 64, 1, 1, 3, 17, 70);
    }
}
