package dev.arbor.kernels.bench;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.kernels.Ptxas;
import dev.arbor.kernels.layer.TimingKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GemmBench's L2 window kernel (run 64-dec16): on the CPU executor its spin leaves the plain loop's state and its prefetches
 * stay inside W (the CPU checks each range: 16-byte multiples, not past the end); for sm_90 it lowers to
 * {@code cp.async.bulk.prefetch.L2.global} and assembles with ptxas; below sm_90 the prefetch emits nothing.
 */
class WindowPrefetchTest {
    private static final Kernel WINDOW = Kernel.of(GemmBench.class, "windowPrefetch");

    @Test
    void prefetchesStayInsideTheWeightsAndTheSpinKeepsItsState() {
        CpuBackend b = new CpuBackend();
        int rows = 100, k = 64;
        try (BFloat16Array w = new BFloat16Array(rows * k); IntArray out = new IntArray(1)) {
            for (int bytes : new int[]{0, 32, 2 * k}) {
                b.launch(WINDOW, new Launch(new int[]{2, 1, 1}, new int[]{32, 1, 1}, 0, null), w, rows, k, bytes, out, 9);
                b.toHost(out);
                assertEquals(TimingKernels.spinReference(rows, 9), out.get(0), "the spin's state with " + bytes + " bytes a row");
            }
            assertThrows(RuntimeException.class, () -> b.launch(WINDOW, new Launch(new int[]{1, 1, 1}, new int[]{32, 1, 1}, 0, null),
                    w, rows, k, 2 * k + 16, out, 1), "a row's prefetch past the array's end");
            assertThrows(RuntimeException.class, () -> b.launch(WINDOW, new Launch(new int[]{1, 1, 1}, new int[]{32, 1, 1}, 0, null),
                    w, rows, k, 8, out, 1), "a length not a multiple of 16");
        }
    }

    @Test
    void lowersToTheBulkPrefetchAndAssembles(@TempDir Path dir) throws Exception {
        String ptx = KernelCompiler.compile(WINDOW, new Object[0], 90).ptx();
        assertTrue(ptx.contains("cp.async.bulk.prefetch.L2.global ["), "sm_90: the bulk prefetch");
        String old = KernelCompiler.compile(WINDOW, new Object[0], 80).ptx();
        assertTrue(!old.contains("prefetch"), "sm_80: no prefetch instruction");
        assertTrue(ptx.contains(".version 8.0") && ptx.contains(".target sm_90a"), "PTX ISA 8.0, sm_90a");
        Ptxas.assemble(Ptxas.require(), dir, "windowPrefetch", ptx, "-arch=sm_90a");
    }
}
