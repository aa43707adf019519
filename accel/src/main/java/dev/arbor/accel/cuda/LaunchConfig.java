package dev.arbor.accel.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The {@code CUlaunchConfig} of {@code cuLaunchKernelEx} with one attribute, programmatic stream
 * serialisation, which lets the kernel start before the previous kernel on the stream has ended
 * (it synchronises with {@code griddepcontrol.wait}). Layouts from cuda.h (CUDA 12+, x86-64):
 * <pre>
 * CUlaunchConfig     { u32 grid[3]; u32 block[3]; u32 sharedMemBytes; CUstream hStream @32;
 *                      CUlaunchAttribute* attrs @40; u32 numAttrs @48 }   56 bytes
 * CUlaunchAttribute  { u32 id; pad[4]; union value (64 bytes) @8 }         72 bytes
 * </pre>
 */
final class LaunchConfig {
    private LaunchConfig() {}

    /** CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION. */
    private static final int PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    private static final long CONFIG_BYTES = 56, ATTRIBUTE_BYTES = 72;

    static MemorySegment programmaticDependent(SegmentAllocator a, int[] grid, int[] block, int sharedBytes, MemorySegment stream) {
        // zero-filled: the allocator may hand out reused scratch, and the union's unused bytes must be 0
        MemorySegment attr = a.allocate(ATTRIBUTE_BYTES, 8).fill((byte) 0);
        attr.set(JAVA_INT, 0, PROGRAMMATIC_STREAM_SERIALIZATION);
        attr.set(JAVA_INT, 8, 1);                       // value.programmaticStreamSerializationAllowed
        MemorySegment config = a.allocate(CONFIG_BYTES, 8).fill((byte) 0);
        for (int i = 0; i < 3; i++) {
            config.set(JAVA_INT, 4L * i, grid[i]);
            config.set(JAVA_INT, 12 + 4L * i, block[i]);
        }
        config.set(JAVA_INT, 24, sharedBytes);
        config.set(ADDRESS, 32, stream);
        config.set(ADDRESS, 40, attr);
        config.set(JAVA_INT, 48, 1);
        return config;
    }
}
