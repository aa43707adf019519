package dev.arbor.accel.compiler;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.kernels.TestKernels;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code atomicAddGlobal128} lowers to one {@code red.global.add.v4.f32} and raises the module to PTX ISA 8.1, on sm_90 only. */
class VectorRedPtxTest {
    @Test
    void vectorRedIsOneReductionAtIsa81() {
        Kernel k = Kernel.of(TestKernels.class, "vectorRed");
        Object[] args = {new FloatArray(32), 13};
        String ptx = KernelCompiler.compile(k, k.constantValues(args), 90).ptx();
        assertTrue(ptx.contains("\n.version 8.1\n"), ptx);
        assertTrue(ptx.contains("red.global.add.v4.f32 ["), ptx);
        assertTrue(!ptx.contains("atom.global.add.f32"), ptx);
        assertThrows(KernelCompileException.class, () -> KernelCompiler.compile(k, k.constantValues(args), 80));
    }
}
