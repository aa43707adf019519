package dev.arbor.accel;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaException;
import dev.arbor.accel.cuda.CudaModule;
import dev.arbor.accel.kernels.KernelCase;
import dev.arbor.accel.kernels.KernelCases;
import dev.arbor.accel.kernels.TestKernels;
import org.junit.jupiter.api.*;

import java.util.Arrays;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** The conformance suite on a CUDA device: every kernel and size agrees with the CPU executor. */
@Tag("gpu")
class GpuConformanceTest {
    private static CudaBackend cuda;
    private static final CpuBackend CPU = new CpuBackend();

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { if (cuda != null) cuda.close(); }

    @TestFactory
    Stream<DynamicTest> everyKernelAgreesWithTheCpuExecutor() {
        return KernelCases.all().stream().flatMap(c -> Arrays.stream(KernelCases.SIZES)
                .mapToObj(n -> DynamicTest.dynamicTest(c.name() + " n=" + n, () -> compare(c, n))));
    }

    private static void compare(KernelCase c, int n) {
        KernelCase.Run onCpu = c.prepare().apply(n), onGpu = c.prepare().apply(n);
        CPU.launch(c.kernel(), onCpu.launch(), onCpu.args());
        for (Object a : onGpu.args()) if (a instanceof OffHeapArray array) cuda.toDevice(array);
        if (onGpu.onCuda() != null) onGpu.onCuda().accept(cuda);   // device-only inputs, e.g. tensor maps of the uploaded arrays
        cuda.launch(c.kernel(), onGpu.launch(), onGpu.args());
        cuda.toHost(onGpu.outputs().toArray(OffHeapArray[]::new));
        for (int o = 0; o < onCpu.outputs().size(); o++) {
            double[] expected = KernelCase.values(onCpu.outputs().get(o)), actual = KernelCase.values(onGpu.outputs().get(o));
            int bad = KernelCase.firstMismatch(actual, expected, c.gpuTolerance());
            if (bad >= 0) fail(c.name() + " n=" + n + " output " + o + " at " + bad + ": cpu " + expected[bad] + ", gpu " + actual[bad]);
        }
    }

    @Test
    void driverReportsRegistersSharedMemoryAndOccupancy() {
        Kernel k = Kernel.of(TestKernels.class, "ldmatrixAll");
        try (dev.arbor.accel.array.IntArray src = new dev.arbor.accel.array.IntArray(128); dev.arbor.accel.array.IntArray out = new dev.arbor.accel.array.IntArray(32 * 14)) {
            CudaModule.Resources r = cuda.resources(k, Launch.of1D(1, 64), src, out, 1);
            assertTrue(r.registers() > 0 && r.registers() <= 255, r.toString());
            assertEquals(1024, r.staticSharedBytes(), r.toString());
            assertEquals(0, r.localBytes(), r.toString());
            assertTrue(r.blocksPerSm() >= 1 && r.maxThreadsPerBlock() >= 64, r.toString());
        }
        Kernel big = Kernel.of(TestKernels.class, "dynamicSharedLarge");
        try (dev.arbor.accel.array.IntArray out = new dev.arbor.accel.array.IntArray(64)) {
            CudaModule.Resources r = cuda.resources(big, Launch.of1D(1, 64).withSharedBytes(100 * 1024), out, 64);
            assertTrue(r.blocksPerSm() >= 1 && r.blocksPerSm() <= 2, "100 KiB blocks: at most two fit in 228 KiB: " + r);
        }
    }

    @Test
    void graphReplaysCapturedLaunches() {
        Kernel saxpy = Kernel.of(TestKernels.class, "saxpy");
        try (FloatArray x = FloatArray.of(1f, 2f, 3f); FloatArray y = new FloatArray(3); AccelStream s = cuda.newStream()) {
            cuda.toDevice(x, y);
            try (Recording r = cuda.record(s, () -> {
                cuda.launch(saxpy, Launch.cover(3, 32), 1f, x, y, 3);
                cuda.launch(saxpy, Launch.cover(3, 32), 2f, x, y, 3);
            })) {
                cuda.toHost(y);
                assertEquals(0f, y.get(2), "capture does not execute");
                r.replay();
                r.replay();
                s.synchronize();
                cuda.toHost(y);
                assertEquals(18f, y.get(2));
            }
        }
    }

    @Test
    void graphReplaysOnTheDefaultStreamInOrderWithCopies() {
        Kernel saxpy = Kernel.of(TestKernels.class, "saxpy");
        try (FloatArray x = FloatArray.of(1f, 2f, 3f); FloatArray y = new FloatArray(3); AccelStream s = cuda.newStream()) {
            cuda.toDevice(x, y);
            try (Recording r = cuda.record(s, () -> cuda.launch(saxpy, Launch.cover(3, 32), 2f, x, y, 3))) {
                for (int i = 1; i <= 5; i++) {
                    x.set(2, i);
                    cuda.toDevice(x);                                   // synchronous copy on the default stream
                    ((dev.arbor.accel.cuda.CudaGraph) r).replayOnDefaultStream();
                }
                cuda.toHost(y);                                         // waits for the device
                assertEquals(2f * (1 + 2 + 3 + 4 + 5), y.get(2), "each replay saw the copy before it");
            }
        }
    }

    @Test
    void driverErrorsNameTheKernelAndTheCudaError() {
        Kernel saxpy = Kernel.of(TestKernels.class, "saxpy");
        try (FloatArray x = new FloatArray(4); FloatArray y = new FloatArray(4)) {
            CudaException e = assertThrows(CudaException.class, () -> cuda.launch(saxpy, Launch.of1D(1, 4096), 1f, x, y, 4));
            assertTrue(e.getMessage().contains("saxpy") && e.getMessage().contains("CUDA_ERROR_INVALID_VALUE"), e.getMessage());
        }
    }

    @Test
    void jitErrorsCarryTheDriverLog() {
        String broken = ".version 7.8\n.target sm_90\n.address_size 64\n.visible .entry broken() { add.f32 %nope, 1, 2; ret; }\n";
        CudaException e = assertThrows(CudaException.class, () -> CudaModule.load(cuda.device(), broken, "broken"));
        assertTrue(e.getMessage().contains("JIT log") && e.getMessage().contains("nope"), e.getMessage());
    }

    @Test
    void deviceOrdinalsAreSelectableAndChecked() {
        String old = System.getProperty(Backends.PROPERTY);
        try {
            System.setProperty(Backends.PROPERTY, "cuda:0");
            try (Backend b = Backends.select()) { assertEquals("cuda", b.name()); }
        } finally {
            if (old == null) System.clearProperty(Backends.PROPERTY); else System.setProperty(Backends.PROPERTY, old);
        }
        CudaException e = assertThrows(CudaException.class, () -> CudaBackend.open(99));
        assertTrue(e.getMessage().contains("no CUDA device 99") && e.getMessage().contains("found"), e.getMessage());
    }
}
