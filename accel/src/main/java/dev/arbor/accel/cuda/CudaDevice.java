package dev.arbor.accel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * One GPU and its primary context. The driver's current context is per thread, so every entry point
 * of the backend calls {@link #makeCurrent()} (cheap after the first call on a thread).
 */
public final class CudaDevice implements AutoCloseable {
    private final int ordinal;
    private final MemorySegment context;
    private final String name;
    private final int sm;            // compute capability × 10, e.g. 90
    private final int multiprocessors;
    private final int driverVersion;
    private final ThreadLocal<Boolean> current = ThreadLocal.withInitial(() -> false);

    private CudaDevice(int ordinal, MemorySegment context, String name, int sm, int multiprocessors, int driverVersion) {
        this.ordinal = ordinal;
        this.context = context;
        this.name = name;
        this.sm = sm;
        this.multiprocessors = multiprocessors;
        this.driverVersion = driverVersion;
    }

    /** Initialises the driver and retains device {@code ordinal}'s primary context. */
    public static CudaDevice open(int ordinal) {
        try (Arena a = Arena.ofConfined()) {
            check(call(() -> (int) cuInit.invokeExact(0)), "cuInit");
            MemorySegment out = a.allocate(JAVA_INT);
            check(call(() -> (int) cuDriverGetVersion.invokeExact(out)), "cuDriverGetVersion");
            int version = out.get(JAVA_INT, 0);
            check(call(() -> (int) cuDeviceGetCount.invokeExact(out)), "cuDeviceGetCount");
            if (out.get(JAVA_INT, 0) <= ordinal) throw new CudaException("no CUDA device " + ordinal + " (found " + out.get(JAVA_INT, 0) + ")", 101);
            check(call(() -> (int) cuDeviceGet.invokeExact(out, ordinal)), "cuDeviceGet");
            int dev = out.get(JAVA_INT, 0);
            MemorySegment nameBuf = a.allocate(256);
            check(call(() -> (int) cuDeviceGetName.invokeExact(nameBuf, 256, dev)), "cuDeviceGetName");
            int major = attribute(a, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
            int minor = attribute(a, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
            int sms = attribute(a, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
            if (major < 8) throw new CudaException("device " + nameBuf.getString(0) + " is sm_" + major + minor + "; Arbor needs sm_80 or newer", 0);
            MemorySegment ctx = a.allocate(ADDRESS);
            check(call(() -> (int) cuDevicePrimaryCtxRetain.invokeExact(ctx, dev)), "cuDevicePrimaryCtxRetain");
            return new CudaDevice(dev, ctx.get(ADDRESS, 0), nameBuf.getString(0), major * 10 + minor, sms, version);
        }
    }

    private static int attribute(Arena a, int attribute, int dev) {
        MemorySegment out = a.allocate(JAVA_INT);
        check(call(() -> (int) cuDeviceGetAttribute.invokeExact(out, attribute, dev)), "cuDeviceGetAttribute");
        return out.get(JAVA_INT, 0);
    }

    /** Free and total device memory in bytes, as the driver reports them now: {@code {free, total}}. */
    public long[] memoryInfo() {
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(java.lang.foreign.ValueLayout.JAVA_LONG), total = a.allocate(java.lang.foreign.ValueLayout.JAVA_LONG);
            check(call(() -> (int) cuMemGetInfo.invokeExact(free, total)), "cuMemGetInfo");
            return new long[] {free.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0), total.get(java.lang.foreign.ValueLayout.JAVA_LONG, 0)};
        }
    }

    void makeCurrent() {
        if (current.get()) return;
        check(call(() -> (int) cuCtxSetCurrent.invokeExact(context)), "cuCtxSetCurrent");
        current.set(true);
    }

    public void synchronize() {
        makeCurrent();
        check(call(() -> (int) cuCtxSynchronize.invokeExact()), "cuCtxSynchronize");
    }

    public String name() { return name; }

    /** Compute capability × 10 (90 for the H100). */
    public int sm() { return sm; }

    public int multiprocessors() { return multiprocessors; }

    /** e.g. 13000 for CUDA 13.0. */
    public int driverVersion() { return driverVersion; }

    @Override
    public void close() {
        check(call(() -> (int) cuDevicePrimaryCtxRelease.invokeExact(ordinal)), "cuDevicePrimaryCtxRelease");
    }

    @Override public String toString() { return name + " (sm_" + sm + ", " + multiprocessors + " SMs, driver " + driverVersion + ")"; }
}
