package dev.arbor.accel.cuda;

import java.lang.foreign.*;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.*;

/**
 * Downcall handles into libcuda.so.1 (the driver API; no toolkit needed) and error translation.
 * Loading this class fails with an exception when the library is absent. The {@code _v2} entry points
 * are used wherever they exist: the unsuffixed ones are the old 32-bit-size ABI.
 */
final class CudaDriver {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIB = SymbolLookup.libraryLookup("libcuda.so.1", Arena.global());

    static final MethodHandle cuInit = fn("cuInit", JAVA_INT);
    static final MethodHandle cuDriverGetVersion = fn("cuDriverGetVersion", ADDRESS);
    static final MethodHandle cuDeviceGetCount = fn("cuDeviceGetCount", ADDRESS);
    static final MethodHandle cuDeviceGet = fn("cuDeviceGet", ADDRESS, JAVA_INT);
    static final MethodHandle cuDeviceGetName = fn("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle cuDeviceGetAttribute = fn("cuDeviceGetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
    static final MethodHandle cuDevicePrimaryCtxRetain = fn("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
    static final MethodHandle cuDevicePrimaryCtxRelease = fn("cuDevicePrimaryCtxRelease_v2", JAVA_INT);
    static final MethodHandle cuCtxSetCurrent = fn("cuCtxSetCurrent", ADDRESS);
    static final MethodHandle cuCtxSynchronize = fn("cuCtxSynchronize");
    static final MethodHandle cuMemAlloc = fn("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
    static final MethodHandle cuMemGetInfo = fn("cuMemGetInfo_v2", ADDRESS, ADDRESS);
    static final MethodHandle cuMemsetD8 = fn("cuMemsetD8_v2", JAVA_LONG, JAVA_BYTE, JAVA_LONG);
    static final MethodHandle cuMemFree = fn("cuMemFree_v2", JAVA_LONG);
    static final MethodHandle cuMemcpyHtoD = fn("cuMemcpyHtoD_v2", JAVA_LONG, ADDRESS, JAVA_LONG);
    static final MethodHandle cuMemcpyDtoH = fn("cuMemcpyDtoH_v2", ADDRESS, JAVA_LONG, JAVA_LONG);
    /** cuMemcpyDtoHAsync(void* dst, CUdeviceptr src, size_t bytes, CUstream): asynchronous only into page-locked memory. */
    static final MethodHandle cuMemcpyDtoHAsync = fn("cuMemcpyDtoHAsync_v2", ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS);
    static final MethodHandle cuMemcpyDtoDAsync = fn("cuMemcpyDtoDAsync_v2", JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
    /** cuMemHostAlloc(void** pp, size_t bytesize, unsigned int flags): page-locked host memory the copy engines read directly. */
    static final MethodHandle cuMemHostAlloc = fn("cuMemHostAlloc", ADDRESS, JAVA_LONG, JAVA_INT);
    static final MethodHandle cuMemFreeHost = fn("cuMemFreeHost", ADDRESS);
    /** cuMemcpy2DAsync(const CUDA_MEMCPY2D* copy, CUstream stream): see {@link PinnedStaging#upload}. */
    static final MethodHandle cuMemcpy2DAsync = fn("cuMemcpy2DAsync_v2", ADDRESS, ADDRESS);
    /** cuMemcpyHtoDAsync(CUdeviceptr dst, const void* src, size_t bytes, CUstream): from pageable memory the driver stages the source before returning. */
    static final MethodHandle cuMemcpyHtoDAsync = fn("cuMemcpyHtoDAsync_v2", JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS);
    static final MethodHandle cuModuleLoadDataEx = fn("cuModuleLoadDataEx", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
    static final MethodHandle cuModuleGetFunction = fn("cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle cuModuleUnload = fn("cuModuleUnload", ADDRESS);
    static final MethodHandle cuFuncSetAttribute = fn("cuFuncSetAttribute", ADDRESS, JAVA_INT, JAVA_INT);
    /** cuFuncGetAttribute(int* value, CUfunction_attribute, CUfunction). */
    static final MethodHandle cuFuncGetAttribute = fn("cuFuncGetAttribute", ADDRESS, JAVA_INT, ADDRESS);
    /** cuOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, CUfunction, int blockSize, size_t dynamicSMemSize). */
    static final MethodHandle cuOccupancyMaxActiveBlocksPerMultiprocessor = fn("cuOccupancyMaxActiveBlocksPerMultiprocessor",
            ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG);
    static final MethodHandle cuLaunchKernel = fn("cuLaunchKernel", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    /** cuLaunchKernelEx(const CUlaunchConfig*, CUfunction, void** params, void** extra). */
    static final MethodHandle cuLaunchKernelEx = fn("cuLaunchKernelEx", ADDRESS, ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle cuStreamCreate = fn("cuStreamCreate", ADDRESS, JAVA_INT);
    static final MethodHandle cuStreamDestroy = fn("cuStreamDestroy_v2", ADDRESS);
    static final MethodHandle cuStreamSynchronize = fn("cuStreamSynchronize", ADDRESS);
    static final MethodHandle cuEventCreate = fn("cuEventCreate", ADDRESS, JAVA_INT);
    static final MethodHandle cuEventRecord = fn("cuEventRecord", ADDRESS, ADDRESS);
    static final MethodHandle cuEventSynchronize = fn("cuEventSynchronize", ADDRESS);
    static final MethodHandle cuEventElapsedTime = fn("cuEventElapsedTime", ADDRESS, ADDRESS, ADDRESS);
    static final MethodHandle cuEventDestroy = fn("cuEventDestroy_v2", ADDRESS);
    static final MethodHandle cuStreamBeginCapture = fn("cuStreamBeginCapture_v2", ADDRESS, JAVA_INT);
    static final MethodHandle cuStreamEndCapture = fn("cuStreamEndCapture", ADDRESS, ADDRESS);
    static final MethodHandle cuGraphInstantiate = fn("cuGraphInstantiateWithFlags", ADDRESS, ADDRESS, JAVA_LONG);
    static final MethodHandle cuGraphLaunch = fn("cuGraphLaunch", ADDRESS, ADDRESS);
    static final MethodHandle cuGraphExecDestroy = fn("cuGraphExecDestroy", ADDRESS);
    static final MethodHandle cuGraphDestroy = fn("cuGraphDestroy", ADDRESS);
    /**
     * cuGraphExecUpdate_v2(CUgraphExec, CUgraph, CUgraphExecUpdateResultInfo*) (CUDA 12), or null where the driver has none:
     * {@link CudaGraph#recapture} then instantiates every time.
     */
    static final MethodHandle cuGraphExecUpdate = optionalFn("cuGraphExecUpdate_v2", ADDRESS, ADDRESS, ADDRESS);
    /** sizeof(CUgraphExecUpdateResultInfo): the result enum, then two node handles. */
    static final long GRAPH_EXEC_UPDATE_RESULT_INFO_BYTES = 24;
    /**
     * cuTensorMapEncodeTiled(CUtensorMap* map, CUtensorMapDataType, cuuint32_t rank, void* globalAddress, const cuuint64_t* globalDim,
     * const cuuint64_t* globalStrides, const cuuint32_t* boxDim, const cuuint32_t* elementStrides, interleave, swizzle, l2Promotion, oobFill).
     */
    static final MethodHandle cuTensorMapEncodeTiled = fn("cuTensorMapEncodeTiled", ADDRESS, JAVA_INT, JAVA_INT, JAVA_LONG,
            ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT);
    private static final MethodHandle cuGetErrorString = fn("cuGetErrorString", JAVA_INT, ADDRESS);
    private static final MethodHandle cuGetErrorName = fn("cuGetErrorName", JAVA_INT, ADDRESS);

    // enum values from cuda.h
    static final int CU_MEMORYTYPE_HOST = 1, CU_MEMORYTYPE_DEVICE = 2;
    static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
    static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
    static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
    static final int CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0, CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
            CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES = 3, CU_FUNC_ATTRIBUTE_NUM_REGS = 4;
    static final int CU_JIT_INFO_LOG_BUFFER = 3, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
    static final int CU_JIT_ERROR_LOG_BUFFER = 5, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
    static final int CU_STREAM_NON_BLOCKING = 1;
    static final int CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;

    private CudaDriver() {}

    /** A handle for {@code CUresult name(args...)}. */
    private static MethodHandle optionalFn(String name, MemoryLayout... args) {
        return LIB.find(name).map(symbol -> LINKER.downcallHandle(symbol, FunctionDescriptor.of(JAVA_INT, args))).orElse(null);
    }

    private static MethodHandle fn(String name, MemoryLayout... args) {
        MemorySegment symbol = LIB.find(name).orElseThrow(() -> new UnsatisfiedLinkError("libcuda.so.1 has no " + name));
        return LINKER.downcallHandle(symbol, FunctionDescriptor.of(JAVA_INT, args));
    }

    /** Throws a {@link CudaException} unless {@code result} is CUDA_SUCCESS. */
    static void check(int result, String call, String kernel) {
        if (DriverCallTimes.ON) DriverCallTimes.record(call.indexOf('(') > 0 ? call.substring(0, call.indexOf('(')).trim() : call);
        if (result == 0) return;
        throw new CudaException(call + " failed" + (kernel == null ? "" : " for kernel '" + kernel + "'") + ": "
                + errorText(cuGetErrorName, result) + " (" + result + "): " + errorText(cuGetErrorString, result), result);
    }

    static void check(int result, String call) { check(result, call, null); }

    private static String errorText(MethodHandle h, int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            int r = (int) h.invokeExact(result, p);
            if (r != 0 || p.get(ADDRESS, 0).equals(MemorySegment.NULL)) return "unknown error";
            return p.get(ADDRESS, 0).reinterpret(512).getString(0);
        } catch (Throwable t) {
            return "unknown error";
        }
    }

    /** Runs a downcall that returns CUresult, wrapping Throwable from invokeExact. */
    static int call(Invocation i) {
        try {
            if (DriverCallTimes.ON) {
                long t0 = System.nanoTime();
                int r = i.invoke();
                DriverCallTimes.took(System.nanoTime() - t0);
                return r;
            }
            return i.invoke();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    @FunctionalInterface
    interface Invocation { int invoke() throws Throwable; }
}
