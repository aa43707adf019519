package dev.arbor.accel;

import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.accel.kernels.KernelCase;
import dev.arbor.accel.kernels.KernelCases;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Every suite kernel on the CPU executor against its plain-Java reference, at sizes 1, 7, 13, 255, 1000. */
class CpuConformanceTest {
    private static final CpuBackend CPU = new CpuBackend();

    @AfterAll static void close() { CPU.close(); }

    @TestFactory
    Stream<DynamicTest> everyKernelMatchesItsReference() {
        assertTrue(KernelCases.all().size() >= 30, "the suite must cover at least 30 kernels");
        return KernelCases.all().stream().flatMap(c -> Arrays.stream(KernelCases.SIZES)
                .mapToObj(n -> DynamicTest.dynamicTest(c.name() + " n=" + n, () -> check(c, n))));
    }

    private static void check(KernelCase c, int n) {
        KernelCase.Run run = c.prepare().apply(n);
        CPU.launch(c.kernel(), run.launch(), run.args());
        assertEquals(run.expected().size(), run.outputs().size());
        for (int o = 0; o < run.outputs().size(); o++) {
            double[] actual = KernelCase.values(run.outputs().get(o)), expected = run.expected().get(o);
            int bad = KernelCase.firstMismatch(actual, expected, run.tolerance());
            if (bad >= 0)
                fail(c.name() + " n=" + n + " output " + o + " differs at " + bad + ": expected "
                        + (bad < expected.length ? expected[bad] : "length " + expected.length) + ", got "
                        + (bad < actual.length ? actual[bad] : "length " + actual.length));
        }
    }
}
