package dev.arbor.accel.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.cuda.*;

import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;

/**
 * GPU benchmarks for bench/RESULTS.md. Each figure is printed beside its floor, measured in the same
 * run: device-to-device copy bandwidth (cuMemcpyDtoD, read + write bytes / time). GPU times come from
 * CUDA events around REPS back-to-back launches (20, or -Darbor.bench.reps); medians of {@value #TRIALS} trials.
 * Run: java --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.accel.bench.AccelBench
 */
public final class AccelBench {
    /** Warm-up launches let the JVM compile the launch path first, so short kernels are not timed waiting for it. */
    private static final int WARMUP = 200, REPS = Integer.getInteger("arbor.bench.reps", 20), TRIALS = 7;
    private static final long L2_SAFE_BYTES = 256L << 20; // rotate operands through > 2x the H100's 50 MB L2

    private final CudaBackend cuda;
    private final CudaDevice device;

    private AccelBench(CudaBackend cuda) {
        this.cuda = cuda;
        this.device = cuda.device();
    }

    public static void main(String[] args) {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            System.out.println("device: " + cuda.device());
            new AccelBench(cuda).run(args.length > 0 && args[0].equals("matvec"));
        }
    }

    /** {@code matvecOnly}: the copy floor and the matvec rows alone (argument "matvec"). */
    private void run(boolean matvecOnly) {
        double copy = copyBandwidth(1L << 30);
        System.out.printf("%-44s %10.1f GB/s  (floor for the rows below)%n", "cuMemcpyDtoD 1 GiB (read+write)", copy / 1e9);
        if (!matvecOnly) {
            report("saxpy y=a*x+y, 2^28 floats (2 GiB arrays)", saxpy(BenchKernels.class, "saxpy", 1 << 28), copy, 0.90);
            report("saxpy, 8-byte loads, 2 per work-item", saxpy(BenchKernels.class, "saxpy2", 1 << 28), copy, 0.90);
        }
        for (int rows : new int[] {4096, 11008}) {
            report("matvec fp16 " + rows + "x4096, stream launches", matvec("matvecFp16", rows, 4096, 256, false), copy, 0.85);
            report("matvec fp16 " + rows + "x4096, graph replay", matvec("matvecFp16", rows, 4096, 256, true), copy, 0.85);
            report("  read W only (ceiling), graph replay", matvec("readRows", rows, 4096, 256, true), copy, 0.85);
        }
        if (!matvecOnly) {
            launchOverhead();
            firstCompile();
        }
    }

    private static void report(String what, double bytesPerSecond, double copy, double floorFraction) {
        double ratio = bytesPerSecond / copy;
        System.out.printf("%-44s %10.1f GB/s  %5.1f%% of copy  (target >= %.0f%%: %s)%n", what, bytesPerSecond / 1e9,
                100 * ratio, 100 * floorFraction, ratio >= floorFraction ? "MET" : "NOT MET");
    }

    /** Median of {@link #TRIALS} timings (ms) of {@code REPS} repetitions of {@code body}. */
    private double medianMillis(Runnable body) {
        for (int i = 0; i < WARMUP; i++) body.run();
        device.synchronize();
        double[] t = new double[TRIALS];
        try (CudaEvent start = new CudaEvent(device); CudaEvent end = new CudaEvent(device)) {
            for (int i = 0; i < TRIALS; i++) {
                start.record(null);
                for (int r = 0; r < REPS; r++) body.run();
                end.record(null);
                t[i] = end.millisSince(start) / REPS;
            }
        }
        Arrays.sort(t);
        return t[TRIALS / 2];
    }

    private double copyBandwidth(long bytes) {
        try (DeviceBuffer a = DeviceBuffer.allocate(device, bytes); DeviceBuffer b = DeviceBuffer.allocate(device, bytes)) {
            double ms = medianMillis(() -> a.copyTo(b, bytes, java.lang.foreign.MemorySegment.NULL));
            return 2.0 * bytes / (ms / 1e3);
        }
    }

    private double saxpy(Class<?> owner, String name, int n) {
        Kernel k = Kernel.of(owner, name);
        try (FloatArray x = new FloatArray(n); FloatArray y = new FloatArray(n)) {
            for (int i = 0; i < n; i++) {
                x.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, (i & 1023) * 0.5f);
                y.segment().setAtIndex(ValueLayout.JAVA_FLOAT, i, 1f);
            }
            cuda.toDevice(x, y);
            int perItem = name.equals("saxpy2") ? 2 : 1;
            Launch l = Launch.cover(n / perItem, 256);
            double ms = medianMillis(() -> cuda.launch(k, l, 0.5f, x, y, n));
            checkSaxpy(x, y, n);
            return 3.0 * 4 * n / (ms / 1e3);
        }
    }

    /** y started at 1 and got WARMUP + REPS·TRIALS updates of 0.5·x; check a few elements. */
    private void checkSaxpy(FloatArray x, FloatArray y, int n) {
        cuda.toHost(y);
        int updates = WARMUP + REPS * TRIALS;
        for (int i = 0; i < n; i += n / 7) {
            float expect = 1f;
            for (int u = 0; u < updates; u++) expect = 0.5f * x.get(i) + expect;
            if (Math.abs(expect - y.get(i)) > 1e-3f * Math.abs(expect)) throw new AssertionError("saxpy wrong at " + i + ": " + y.get(i) + " vs " + expect);
        }
    }

    /**
     * GB/s of an fp16 matvec, {@code threads} per block. {@code graph}: the launches are captured once as a CUDA graph and
     * replayed, as an engine step would be, so host launch cost does not hide the kernel's time.
     */
    private double matvec(String kernel, int rows, int cols, int threads, boolean graph) {
        Kernel k = Kernel.of(BenchKernels.class, kernel);
        int rowsPerBlock = threads / 32;
        long matrixBytes = 2L * rows * cols;
        int copies = (int) Math.max(1, (L2_SAFE_BYTES + matrixBytes - 1) / matrixBytes);
        HalfFloatArray[] w = new HalfFloatArray[copies];
        Random r = new Random(1);
        for (int c = 0; c < copies; c++) {
            w[c] = new HalfFloatArray(rows * cols);
            for (int i = 0; i < rows * cols; i++) w[c].segment().setAtIndex(ValueLayout.JAVA_SHORT, i, Float.floatToFloat16(r.nextFloat() - 0.5f));
        }
        boolean readOnly = kernel.equals("readRows"); // no result to check
        try (FloatArray x = new FloatArray(cols); FloatArray y = new FloatArray(rows)) {
            for (int i = 0; i < cols; i++) x.set(i, r.nextFloat());
            for (int i = 0; i < rows; i++) y.set(i, Float.NaN); // poisoned: every row must be written
            cuda.toDevice(w);
            cuda.toDevice(x, y);
            // One row per warp. Fewer warps per block spread the rows more evenly over the 132 SMs.
            Launch plain = Launch.of1D((rows + rowsPerBlock - 1) / rowsPerBlock, threads);
            int[] next = {0};
            double ms = graph ? graphMillis(copies, i -> cuda.launch(k, plain, w[i % copies], x, y, rows, cols))
                    : medianMillis(() -> cuda.launch(k, plain, w[next[0]++ % copies], x, y, rows, cols));
            cuda.toHost(y);
            HalfFloatArray last = w[graph ? copies - 1 : (next[0] - 1) % copies];
            for (int row = 0; row < rows && !readOnly; row++) {
                double s = 0;
                for (int c = 0; c < cols; c++) s += (double) last.get(row * cols + c) * x.get(c);
                if (Math.abs(s - y.get(row)) > 1e-3 * Math.max(1, Math.abs(s))) throw new AssertionError("matvec wrong at row " + row + ": " + y.get(row) + " vs " + s);
            }
            return (matrixBytes + 4.0 * cols + 4.0 * rows) / (ms / 1e3);
        } finally {
            for (HalfFloatArray a : w) a.close();
        }
    }

    /**
     * Per-launch milliseconds of launches captured in one graph ({@code copies} × enough rounds for at
     * least REPS·4 kernels, launch i using copy i % copies), replayed: median of trials.
     */
    private double graphMillis(int copies, java.util.function.IntConsumer launchNumber) {
        int rounds = Math.max(1, (4 * REPS + copies - 1) / copies), perGraph = rounds * copies;
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < perGraph; i++) launchNumber.accept(i); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 5, TRIALS) / perGraph;
        }
    }

    private void launchOverhead() {
        Kernel tiny = Kernel.of(BenchKernels.class, "tiny");
        try (FloatArray x = new FloatArray(1); AccelStream stream = cuda.newStream()) {
            cuda.toDevice(x);
            Launch one = Launch.of1D(1, 32).on(stream);
            int launches = 20_000;
            for (int i = 0; i < 1000; i++) cuda.launch(tiny, one, x);
            stream.synchronize();
            long t0 = System.nanoTime();
            for (int i = 0; i < launches; i++) cuda.launch(tiny, one, x);
            stream.synchronize();
            double alone = (System.nanoTime() - t0) / 1e3 / launches;

            int perGraph = 100, replays = 200;
            try (Recording graph = cuda.record(stream, () -> {
                for (int i = 0; i < perGraph; i++) cuda.launch(tiny, Launch.of1D(1, 32), x);
            })) {
                graph.replay();
                stream.synchronize();
                t0 = System.nanoTime();
                for (int i = 0; i < replays; i++) graph.replay();
                stream.synchronize();
                double inGraph = (System.nanoTime() - t0) / 1e3 / (replays * perGraph);
                cuda.toHost(x);
                float expect = 1000 + launches + perGraph * (replays + 1);
                if (x.get(0) != expect) throw new AssertionError("tiny kernel count " + x.get(0) + " vs " + expect);
                System.out.printf("%-44s %10.2f us/kernel (wall clock, %d launches)%n", "launch overhead, cuLaunchKernel alone", alone, launches);
                System.out.printf("%-44s %10.2f us/kernel (%d kernels per graph, %d replays)%n", "launch overhead, inside a replayed graph", inGraph, perGraph, replays);
            }
        }
    }

    private void firstCompile() {
        Kernel k = Kernel.of(BenchKernels.class, "firstCompile");
        long t0 = System.nanoTime();
        var compiled = KernelCompiler.compile(k, new Object[0], device.sm());
        long t1 = System.nanoTime();
        cuda.module(k, new Object[0]);
        long t2 = System.nanoTime();
        System.out.printf("%-44s %10.2f ms (bytecode->PTX %.2f ms, driver JIT+load %.2f ms, %d lines of PTX)%n",
                "first compile, bytecode to loaded module", (t2 - t0) / 1e6, (t1 - t0) / 1e6, (t2 - t1) / 1e6,
                compiled.ptx().lines().count());
    }
}
