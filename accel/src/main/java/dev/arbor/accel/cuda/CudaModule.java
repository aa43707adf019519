package dev.arbor.accel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.*;

/** A PTX module JIT-compiled by the driver, and its one kernel entry. */
public final class CudaModule implements AutoCloseable {
    private static final int LOG_BYTES = 16 * 1024;
    private final MemorySegment module;
    private final MemorySegment function;
    private final String entry;

    private CudaModule(MemorySegment module, MemorySegment function, String entry) {
        this.module = module;
        this.function = function;
        this.entry = entry;
    }

    /** Loads {@code ptx} and looks up {@code entry}; on a JIT failure the exception carries the driver's error log. */
    public static CudaModule load(CudaDevice device, String ptx, String entry) {
        device.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment errorLog = a.allocate(LOG_BYTES), infoLog = a.allocate(LOG_BYTES);
            MemorySegment options = a.allocateFrom(JAVA_INT, CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                    CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES);
            MemorySegment values = a.allocate(ADDRESS, 4);
            values.setAtIndex(ADDRESS, 0, errorLog);
            values.setAtIndex(ADDRESS, 1, MemorySegment.ofAddress(LOG_BYTES)); // sizes travel as pointer-sized integers
            values.setAtIndex(ADDRESS, 2, infoLog);
            values.setAtIndex(ADDRESS, 3, MemorySegment.ofAddress(LOG_BYTES));
            MemorySegment out = a.allocate(ADDRESS), image = a.allocateFrom(ptx);
            int r = call(() -> (int) cuModuleLoadDataEx.invokeExact(out, image, 4, options, values));
            if (r != 0) {
                try {
                    check(r, "cuModuleLoadDataEx", entry);
                } catch (CudaException e) {
                    throw new CudaException(e.getMessage() + "\nJIT log: " + errorLog.getString(0).strip(), r);
                }
            }
            MemorySegment module = out.get(ADDRESS, 0);
            MemorySegment fn = a.allocate(ADDRESS);
            check(call(() -> (int) cuModuleGetFunction.invokeExact(fn, module, a.allocateFrom(entry))), "cuModuleGetFunction", entry);
            return new CudaModule(module, fn.get(ADDRESS, 0), entry);
        }
    }

    MemorySegment function() { return function; }

    public String entry() { return entry; }

    /**
     * What the driver's JIT made of the kernel and how many blocks fit on one multiprocessor.
     *
     * @param registers          registers per thread ({@code CU_FUNC_ATTRIBUTE_NUM_REGS})
     * @param staticSharedBytes  static shared memory per block ({@code CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES})
     * @param localBytes         local memory (stack frame, spills) per thread ({@code CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES})
     * @param maxThreadsPerBlock the most threads a block of this kernel may have
     * @param blocksPerSm        {@code cuOccupancyMaxActiveBlocksPerMultiprocessor} for the given block size and dynamic shared memory
     */
    public record Resources(int registers, int staticSharedBytes, int localBytes, int maxThreadsPerBlock, int blocksPerSm) {
        /** Resident warps per multiprocessor over the 64 a Hopper SM holds. */
        public double occupancy(int blockThreads) { return blocksPerSm * ((blockThreads + 31) / 32) / 64.0; }

        @Override public String toString() {
            return registers + " regs, " + staticSharedBytes + " B static smem, " + localBytes + " B local, " + blocksPerSm + " blocks/SM";
        }
    }

    /** Resources of this kernel for blocks of {@code blockThreads} with {@code dynamicSharedBytes} of dynamic shared memory. */
    public Resources resources(int blockThreads, int dynamicSharedBytes) {
        if (dynamicSharedBytes > 48 * 1024) allowDynamicShared(dynamicSharedBytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            int[] attrs = {CU_FUNC_ATTRIBUTE_NUM_REGS, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES,
                    CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK};
            int[] out = new int[attrs.length];
            for (int i = 0; i < attrs.length; i++) {
                int attr = attrs[i];
                check(call(() -> (int) cuFuncGetAttribute.invokeExact(v, attr, function)), "cuFuncGetAttribute", entry);
                out[i] = v.get(JAVA_INT, 0);
            }
            check(call(() -> (int) cuOccupancyMaxActiveBlocksPerMultiprocessor.invokeExact(v, function, blockThreads, (long) dynamicSharedBytes)),
                    "cuOccupancyMaxActiveBlocksPerMultiprocessor", entry);
            return new Resources(out[0], out[1], out[2], out[3], v.get(JAVA_INT, 0));
        }
    }

    /**
     * The dynamic shared memory opt-in set so far: the attribute is set once per size increase, not per launch (nor while capturing
     * a graph). 0 until set: the driver's own default is 48 KiB less the kernel's static shared memory ({@link #staticSharedBytes}).
     */
    private volatile int sharedAllowed;
    private volatile int staticShared = -1;

    /** The kernel's static shared memory ({@code CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES}), read once. */
    int staticSharedBytes() {
        int s = staticShared;
        if (s >= 0) return s;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            check(call(() -> (int) cuFuncGetAttribute.invokeExact(v, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, function)), "cuFuncGetAttribute", entry);
            staticShared = s = v.get(JAVA_INT, 0);
        }
        return s;
    }

    /**
     * Allows {@code bytes} of dynamic shared memory: needed where static and dynamic together pass 48 KiB (a kernel with 2 KiB of
     * static shared memory and 48 KiB of dynamic is refused without it, CUDA_ERROR_INVALID_VALUE: run 82-norm21).
     */
    void allowDynamicShared(int bytes) {
        if (bytes <= sharedAllowed) return;
        sharedAllowed = bytes;
        check(call(() -> (int) cuFuncSetAttribute.invokeExact(function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes)),
                "cuFuncSetAttribute", entry);
    }

    @Override
    public void close() {
        check(call(() -> (int) cuModuleUnload.invokeExact(module)), "cuModuleUnload", entry);
    }
}
