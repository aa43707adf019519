package dev.arbor.accel.kernels;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.*;

import java.util.List;
import java.util.function.IntFunction;

/**
 * One conformance case: a kernel, how to prepare inputs for size n (deterministically, so the CPU and
 * GPU runs see the same data) and the plain-Java reference for its outputs.
 *
 * @param gpuTolerance relative tolerance between GPU and CPU results (0: bit-identical expected);
 *                     non-zero only for approximate math and order-dependent float atomics
 */
public record KernelCase(String name, Kernel kernel, IntFunction<Run> prepare, double gpuTolerance) {

    /**
     * A prepared launch: arguments, the arrays the kernel writes, and the reference values for them.
     *
     * @param tolerance relative tolerance of the CPU executor against the reference
     */
    public record Run(Launch launch, Object[] args, List<OffHeapArray> outputs, List<double[]> expected, double tolerance,
                      java.util.function.Consumer<dev.arbor.accel.cuda.CudaBackend> onCuda) {
        public Run(Launch launch, Object[] args, List<OffHeapArray> outputs, List<double[]> expected, double tolerance) {
            this(launch, args, outputs, expected, tolerance, null);
        }
    }

    public static KernelCase exact(String name, IntFunction<Run> prepare) {
        return new KernelCase(name, Kernel.of(TestKernels.class, name), prepare, 0);
    }

    public static KernelCase approximate(String name, double gpuTolerance, IntFunction<Run> prepare) {
        return new KernelCase(name, Kernel.of(TestKernels.class, name), prepare, gpuTolerance);
    }

    /** Every element of {@code a} as a double. */
    public static double[] values(OffHeapArray a) {
        double[] v = new double[a.length()];
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (a) {
                case FloatArray f -> f.get(i);
                case HalfFloatArray h -> h.get(i);
                case BFloat16Array b -> b.get(i);
                case IntArray x -> x.get(i);
                case LongArray l -> l.get(i);
                case ByteArray b -> b.get(i);
            };
        }
        return v;
    }

    /** Index of the first element differing by more than {@code tolerance}·max(1, |expected|), or -1. */
    public static int firstMismatch(double[] actual, double[] expected, double tolerance) {
        if (actual.length != expected.length) return 0;
        for (int i = 0; i < actual.length; i++) {
            double e = expected[i], a = actual[i];
            if (Double.isNaN(e) && Double.isNaN(a)) continue;
            if (Double.compare(a, e) == 0) continue;
            if (!(Math.abs(a - e) <= tolerance * Math.max(1, Math.abs(e)))) return i;
        }
        return -1;
    }
}
