package dev.arbor.kernels.layer;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.kernels.Ptxas;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The profiler's spin kernel on the CPU executor against its plain loop, its argument checks, and its PTX through ptxas. */
class TimingKernelsTest {
    @Test
    void spinLeavesTheLoopsFinalState() {
        CpuBackend b = new CpuBackend();
        try (IntArray out = new IntArray(1)) {
            for (int iterations : new int[]{0, 1, 17, 100_000}) {
                TimingKernels.launchSpin(b, out, 5, iterations);
                b.toHost(out);
                assertEquals(TimingKernels.spinReference(5, iterations), out.get(0), iterations + " iterations");
            }
            assertEquals(5, TimingKernels.spinReference(5, 0));
            assertEquals(5 * 1664525 + 1013904223, TimingKernels.spinReference(5, 1));
            assertThrows(IllegalArgumentException.class, () -> TimingKernels.launchSpin(b, out, 0, -1));
        }
    }

    @Test
    void spinAssembles(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        Ptxas.assemble(ptxas, dir, "spin", KernelCompiler.compile(Kernel.of(TimingKernels.class, "spin"), new Object[0], 90).ptx());
    }
}
