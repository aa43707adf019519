package dev.arbor.accel;

import dev.arbor.accel.compiler.KernelCompileException;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.accel.kernels.BadKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each unsupported construct is a compile error naming the kernel, the method, the construct and the source line. */
class UnsupportedConstructTest {
    private static final Path SOURCE = Path.of("src/test/java/dev/arbor/accel/kernels/BadKernels.java");

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "arrayAllocation         | arrayAllocation    | array allocation of a length that is not a compile-time constant (new float[n])",
            "unrollDynamicLoop       | unrolledSum        | loop without a compile-time trip count",
            "objectAllocation        | objectAllocation   | object allocation (new java.lang.StringBuilder)",
            "virtualCall             | virtualCall        | virtual call Object.hashCode",
            "interfaceCall           | interfaceCall      | interface call AutoCloseable.close",
            "fieldWrite              | fieldWrite         | field write KernelContext.globalIdx",
            "staticField             | staticField        | static field read BadKernels.counter",
            "throwing                | throwing           | exception (throw)",
            "tryCatch                | tryCatch           | exception handler (try/catch/finally)",
            "recursion               | recurse            | recursion",
            "synchronizedBlock       | synchronizedBlock  | synchronized block",
            "synchronizedMethod      | locked             | synchronized method",
            "lambda                  | lambda             | invokedynamic (lambda",
            "stringConcat            | stringConcat       | invokedynamic (lambda or string concatenation: makeConcatWithConstants)",
            "dynamicLocalArrayLength | dynamicLocalArrayLength | local array whose length is not a compile-time constant",
            "floatRemainder          | floatRemainder     | floating-point remainder (%)",
            "doubleMathLibrary       | doubleMathLibrary  | call of library method Math.pow(DD)D (for float math use KMath)",
            "nullReference           | nullReference      | null reference",
            "setMaxRegistersCount    | setMaxRegistersCount | setMaxRegistersInc: setmaxnreg's count must be a multiple of 8 in 24..256, got 100",
            "clusterTooLarge         | clusterTooLarge    | clusterDims: a cluster shape has sizes >= 1 and at most 8 blocks, got 4×4×1",
    })
    void rejectedWithKernelMethodConstructAndLine(String kernel, String method, String construct) throws IOException {
        String marker = kernel.equals("synchronizedMethod") ? "synchronizedMethod" : kernel;
        int line = markerLine(marker);
        Kernel k = Kernel.of(BadKernels.class, kernel);
        KernelCompileException e = assertThrows(KernelCompileException.class, () -> KernelCompiler.compile(k, new Object[0], 90));
        String m = e.getMessage();
        assertTrue(m.contains("kernel '" + kernel + "'"), m);
        assertTrue(m.contains("method BadKernels." + method), m);
        assertTrue(m.contains(construct), m);
        assertTrue(m.contains("BadKernels.java:" + line), () -> m + " (expected line " + line + ")");
    }

    @Test
    void setMaxRegistersNeedsLaunchBounds() {
        Kernel k = Kernel.of(BadKernels.class, "setMaxRegistersWithoutBounds");
        KernelCompileException e = assertThrows(KernelCompileException.class, () -> KernelCompiler.compile(k, new Object[0], 90));
        assertTrue(e.getMessage().contains("without launchBounds"), e.getMessage());
    }

    @Test
    void clusterOperationsNeedClusterDims() {
        Kernel k = Kernel.of(BadKernels.class, "clusterRankWithoutDims");
        KernelCompileException e = assertThrows(KernelCompileException.class, () -> KernelCompiler.compile(k, new Object[0], 90));
        assertTrue(e.getMessage().contains("without clusterDims"), e.getMessage());
    }

    @Test
    void gridMustBeAMultipleOfTheCluster() {
        Kernel k = Kernel.of(BadKernels.class, "clusterOfTwo");
        assertTrue(KernelCompiler.compile(k, new Object[0], 90).ptx().contains(".reqnctapercluster 2, 1, 1"));
        try (CpuBackend cpu = new CpuBackend(); var x = new dev.arbor.accel.array.FloatArray(4)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cpu.launch(k, Launch.of1D(3, 32), x));
            assertTrue(e.getMessage().contains("not a multiple"), e.getMessage());
            cpu.launch(k, Launch.of1D(4, 32), x);   // two clusters: ranks 0, 1, 0, 1
            for (int i = 0; i < 4; i++) assertEquals(i % 2, x.get(i));
        }
    }

    @Test
    void cpuExecutorRejectsTheSameKernels() {
        try (CpuBackend cpu = new CpuBackend(); var x = new dev.arbor.accel.array.FloatArray(1)) {
            Kernel k = Kernel.of(BadKernels.class, "objectAllocation");
            assertThrows(KernelCompileException.class, () -> cpu.launch(k, Launch.of1D(1, 1), x));
        }
    }

    /** Line of the "BAD:name" marker in the test source (javac's line table points at the same line). */
    private static int markerLine(String name) throws IOException {
        List<String> lines = Files.readAllLines(SOURCE);
        for (int i = 0; i < lines.size(); i++) if (lines.get(i).contains("// BAD:" + name)) return i + 1;
        throw new IllegalStateException("no marker BAD:" + name);
    }
}
