package dev.arbor.accel.cpu;

import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.kernels.KernelCase;
import dev.arbor.accel.kernels.KernelCases;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A direct-call runner is generated for every suite kernel without barriers (int, long, float and
 * double parameters, every array type), so the CPU conformance suite exercises the generated path
 * and not the method-handle fallback.
 */
class GroupRunnersTest {
    @Test
    void everyBarrierFreeSuiteKernelGetsAGeneratedRunner() throws Throwable {
        int generated = 0;
        for (KernelCase c : KernelCases.all()) {
            Object[] args = c.prepare().apply(7).args();
            if (KernelCompiler.compile(c.kernel(), c.kernel().constantValues(args), 90).usesBarriers()) continue;
            assertNotNull(GroupRunners.generate(c.kernel()), c.name());
            generated++;
        }
        assertTrue(generated >= 20, "most suite kernels are barrier-free: " + generated);
    }
}
