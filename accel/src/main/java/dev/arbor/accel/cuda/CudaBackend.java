package dev.arbor.accel.cuda;

import dev.arbor.accel.*;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.compiler.CompiledKernel;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.compiler.KernelParam;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.*;

/**
 * Runs kernels on a GPU through the CUDA driver. Each off-heap array gets a device mirror
 * ({@link DeviceBuffer}) on first use; {@link #toHost} copies results back. Compiled modules are
 * cached per kernel variant on this device.
 */
public final class CudaBackend implements Backend {
    /** Dynamic shared memory above this needs an explicit opt-in per function. */
    private static final int DEFAULT_SHARED_LIMIT = 48 * 1024;
    private final CudaDevice device;
    private final ThreadLocal<CudaStream> capturing = new ThreadLocal<>();
    /** Per (kernel method, constant values): the compiled variant and its loaded module, one hash lookup a launch. */
    private final Map<Variant, Target> targets = new ConcurrentHashMap<>();
    /**
     * Native scratch for one launch's kernelParams (pointers and the values they point to) and launch
     * config, reused by every launch on the thread: the driver copies the parameters during the
     * call (also when capturing into a graph), so nothing outlives it. Saves ~8 malloc/free pairs a launch.
     */
    private static final int SCRATCH_BYTES = 16 * 1024;
    private static final ThreadLocal<MemorySegment> LAUNCH_SCRATCH = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(SCRATCH_BYTES, 16));

    private record Variant(Method method, List<Object> constants) {}

    /** @param paramSlots entries of the kernelParams array (arrays take two: pointer and length) */
    private record Target(CompiledKernel compiled, CudaModule module, int paramSlots) {}

    private CudaBackend(CudaDevice device) { this.device = device; }

    /** Opens device {@code ordinal}; throws (CudaException, or a linkage error without libcuda) when unusable. */
    public static CudaBackend open(int ordinal) {
        return new CudaBackend(CudaDevice.open(ordinal));
    }

    public CudaDevice device() { return device; }

    @Override public String name() { return "cuda"; }

    @Override public int multiprocessors() { return device.multiprocessors(); }

    /** The loaded module of a kernel variant: compiled and JIT-loaded on first use (the first-compile cost). */
    public CudaModule module(Kernel kernel, Object[] constants) {
        return target(kernel, constants).module();
    }

    /**
     * Registers, shared and local memory of the kernel variant {@code args} select (compiling and
     * loading it if needed), and how many blocks of {@code launch}'s shape fit on one multiprocessor.
     */
    public CudaModule.Resources resources(Kernel kernel, Launch launch, Object... args) {
        device.makeCurrent();
        return target(kernel, kernel.constantValues(args)).module().resources(launch.blockThreads(), launch.sharedBytes());
    }

    /** The compiled form (PTX, local-memory report) of the kernel variant {@code args} select. */
    public CompiledKernel compiled(Kernel kernel, Object... args) {
        return target(kernel, kernel.constantValues(args)).compiled();
    }

    private Target target(Kernel kernel, Object[] constants) {
        return targets.computeIfAbsent(new Variant(kernel.method(), Arrays.asList(constants)), v -> {
            CompiledKernel compiled = KernelCompiler.compile(kernel, constants, device.sm());
            int slots = 0;
            for (KernelParam p : compiled.params()) slots += p.constant() ? 0 : p.kind() == KernelParam.Kind.ARRAY ? 2 : 1;
            return new Target(compiled, CudaModule.load(device, compiled.ptx(), compiled.entryName()), slots);
        });
    }

    @Override
    public void launch(Kernel kernel, Launch launch, Object... args) {
        device.makeCurrent();
        Target target = target(kernel, kernel.constantValues(args));
        CudaModule module = target.module();
        if (launch.sharedBytes() > 0 && launch.sharedBytes() + module.staticSharedBytes() > DEFAULT_SHARED_LIMIT)
            module.allowDynamicShared(launch.sharedBytes());
        CudaStream stream = launch.stream() != null ? (CudaStream) launch.stream() : capturing.get();
        MemorySegment streamHandle = stream == null ? MemorySegment.NULL : stream.handle();
        // 16 bytes per slot (pointer + value) plus the launch config fit the scratch for any real kernel
        if (target.paramSlots() <= 256) {
            launch(kernel, launch, args, target, module, streamHandle, SegmentAllocator.slicingAllocator(LAUNCH_SCRATCH.get()));
        } else {
            try (Arena a = Arena.ofConfined()) {
                launch(kernel, launch, args, target, module, streamHandle, a);
            }
        }
    }

    private void launch(Kernel kernel, Launch launch, Object[] args, Target target, CudaModule module, MemorySegment streamHandle,
                        SegmentAllocator a) {
        MemorySegment params = parameters(a, kernel, target, args);
        int[] g = launch.grid(), b = launch.block();
        int shared = launch.sharedBytes();
        String clusterProblem = target.compiled().clusterProblem(g);   // the driver's own error would not say why
        if (clusterProblem != null) throw new IllegalArgumentException(clusterProblem);
        if (launch.overlapPrevious()) {
            MemorySegment config = LaunchConfig.programmaticDependent(a, g, b, shared, streamHandle);
            int rc = call(() -> (int) cuLaunchKernelEx.invokeExact(config, module.function(), params, MemorySegment.NULL));
            if (DriverCallTimes.ON) DriverCallTimes.record("cuLaunchKernelEx");
            if (rc != 0) check(rc, "cuLaunchKernelEx" + sizes(g, b, shared), kernel.name());
        } else {
            int rc = call(() -> (int) cuLaunchKernel.invokeExact(module.function(), g[0], g[1], g[2], b[0], b[1], b[2],
                    shared, streamHandle, params, MemorySegment.NULL));
            if (DriverCallTimes.ON) DriverCallTimes.record("cuLaunchKernel");
            if (rc != 0) check(rc, "cuLaunchKernel" + sizes(g, b, shared), kernel.name());
        }
    }

    /** The launch's sizes for an error message (built only on failure). */
    private static String sizes(int[] grid, int[] block, int shared) {
        return " (grid " + grid[0] + "x" + grid[1] + "x" + grid[2] + ", block " + block[0] + "x" + block[1] + "x" + block[2]
                + ", " + shared + " B dynamic shared)";
    }

    /** The kernelParams array: one pointer per PTX parameter, each to a copy of its value. */
    private MemorySegment parameters(SegmentAllocator a, Kernel kernel, Target target, Object[] args) {
        MemorySegment params = a.allocate(ADDRESS, Math.max(1, target.paramSlots()));
        int slot = 0;
        for (KernelParam p : target.compiled().params()) {
            if (p.constant()) continue;
            Object arg = args[p.javaIndex() - 1];
            switch (p.kind()) {
                case ARRAY -> {
                    OffHeapArray array = (OffHeapArray) arg;
                    params.setAtIndex(ADDRESS, slot++, a.allocateFrom(JAVA_LONG, resident(array, kernel).pointer()));
                    params.setAtIndex(ADDRESS, slot++, a.allocateFrom(JAVA_INT, array.length()));
                }
                case INT -> params.setAtIndex(ADDRESS, slot++, a.allocateFrom(JAVA_INT, intValue(arg)));
                case LONG -> params.setAtIndex(ADDRESS, slot++, a.allocateFrom(JAVA_LONG, (Long) arg));
                case FLOAT -> params.setAtIndex(ADDRESS, slot++, a.allocateFrom(JAVA_FLOAT, (Float) arg));
                case DOUBLE -> params.setAtIndex(ADDRESS, slot++, a.allocateFrom(JAVA_DOUBLE, (Double) arg));
            }
        }
        return params;
    }

    private static int intValue(Object arg) {
        return switch (arg) {
            case Boolean b -> b ? 1 : 0;
            case Character c -> c;
            case Number n -> n.intValue();
            default -> throw new IllegalArgumentException("not an int argument: " + arg);
        };
    }

    /** Whether this thread is capturing launches into a graph ({@link #record}): nothing may be allocated or uploaded then. */
    public boolean capturing() { return capturing.get() != null; }

    /** The device mirror of {@code array}, uploading it on first use (not allowed while capturing a graph). */
    private DeviceBuffer resident(OffHeapArray array, Kernel kernel) {
        if (array.deviceMirror() instanceof DeviceBuffer b) return b;
        if (array.isDeviceOnly()) return allocateOnDevice(array);
        if (capturing.get() != null) throw new IllegalStateException("kernel " + kernel + ": array not on the device while capturing a graph; call toDevice first");
        toDevice(array);
        return (DeviceBuffer) array.deviceMirror();
    }

    @Override
    public void toDevice(OffHeapArray... arrays) {
        for (OffHeapArray array : arrays) {
            if (array.isDeviceOnly()) throw new IllegalStateException("toDevice: a device-only array of " + array.length() + " elements has no host contents to copy");
            DeviceBuffer b = array.deviceMirror() instanceof DeviceBuffer d ? d : DeviceBuffer.allocate(device, array.byteSize());
            array.deviceMirror(b);
            b.upload(array.segment());
        }
    }

    @Override
    public void toDevice(OffHeapArray array, int count) {
        if (!(array.deviceMirror() instanceof DeviceBuffer b)) {
            toDevice(array);
            return;
        }
        if (count < 0 || count > array.length()) throw new IndexOutOfBoundsException("count " + count + " of " + array.length() + " elements");
        b.upload(array.segment(), 0, (long) count * array.elementBytes());
    }

    @Override
    public void toDeviceAsync(OffHeapArray array, int count) {
        if (!(array.deviceMirror() instanceof DeviceBuffer b)) {
            toDevice(array);
            return;
        }
        if (count < 0 || count > array.length()) throw new IndexOutOfBoundsException("count " + count + " of " + array.length() + " elements");
        CudaStream s = capturing.get();
        b.uploadAsync(array.segment(), 0, (long) count * array.elementBytes(), s == null ? MemorySegment.NULL : s.handle());
    }

    @Override
    public void toHost(OffHeapArray array, int count) {
        if (!(array.deviceMirror() instanceof DeviceBuffer b)) throw new IllegalStateException("array was never on the device");
        if (count < 0 || count > array.length()) throw new IndexOutOfBoundsException("count " + count + " of " + array.length() + " elements");
        device.synchronize();
        b.download(array.segment(), 0, (long) count * array.elementBytes());
    }

    /** Like {@link #toDevice} without the copy: for outputs whose host contents do not matter. */
    public DeviceBuffer allocateOnDevice(OffHeapArray array) {
        if (!(array.deviceMirror() instanceof DeviceBuffer)) array.deviceMirror(DeviceBuffer.allocate(device, array.byteSize()));
        return (DeviceBuffer) array.deviceMirror();
    }

    @Override
    public void toHost(OffHeapArray... arrays) {
        device.synchronize();
        for (OffHeapArray array : arrays) {
            if (array.isDeviceOnly()) throw new IllegalStateException("toHost: a device-only array of " + array.length() + " elements has no host memory; read it with DeviceBuffer.download");
            if (!(array.deviceMirror() instanceof DeviceBuffer b)) throw new IllegalStateException("array was never on the device");
            b.download(array.segment());
        }
    }

    @Override public AccelStream newStream() { return new CudaStream(device); }

    @Override public void synchronize() { device.synchronize(); }

    @Override
    public Recording record(AccelStream stream, Runnable body) {
        CudaStream s = (CudaStream) stream;
        capturing.set(s);
        try {
            return CudaGraph.capture(device, s, body);
        } finally {
            capturing.remove();
        }
    }

    /**
     * Captures {@code body} again into {@code graph} (made by {@link #record}), this thread's launches going to its stream
     * meanwhile: see {@link CudaGraph#recapture}. Returns true when its executable was updated in place.
     */
    public boolean recapture(CudaGraph graph, Runnable body) {
        capturing.set(graph.stream());
        try {
            return graph.recapture(body);
        } finally {
            capturing.remove();
        }
    }

    @Override
    public void close() {
        synchronize();
        targets.values().forEach(t -> t.module().close());
        targets.clear();
        device.close();
    }

    @Override public String toString() { return "cuda " + device; }
}
