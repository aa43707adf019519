package dev.arbor.accel.cuda;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.LongArray;
import dev.arbor.accel.array.OffHeapArray;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Tensor maps for Hopper's bulk tensor copies ({@code KernelContext.tmaLoadTile128}): the driver's 128-byte
 * {@code CUtensorMap}, made by {@code cuTensorMapEncodeTiled} and put on the device as a 16-long array that a
 * kernel takes as an ordinary array parameter (the copy instruction reads it from global memory).
 */
public final class TensorMaps {
    private TensorMaps() {}

    // enum values from cuda.h
    private static final int DATA_TYPE_FLOAT16 = 6, DATA_TYPE_BFLOAT16 = 9;
    private static final int INTERLEAVE_NONE = 0, SWIZZLE_128B = 3, L2_PROMOTION_256B = 3, OOB_FILL_ZEROS = 0;

    /**
     * A map of the row-major {@code rows × rowLength} bf16 or fp16 matrix in {@code src} (uploaded first if it is
     * not on the device) whose box is {@code boxRows} rows (1..256) × 64 elements (128 bytes), landing in shared
     * memory in the 128-byte swizzle; elements outside the matrix read as zeros. {@code rowLength} a multiple of 8
     * (16-byte row strides). The result is on the device; the caller closes it. Not while capturing a graph.
     */
    public static LongArray tile128(CudaBackend cuda, OffHeapArray src, int rows, int rowLength, int boxRows) {
        int type = switch (src) {
            case BFloat16Array b -> DATA_TYPE_BFLOAT16;
            case HalfFloatArray h -> DATA_TYPE_FLOAT16;
            default -> throw new IllegalArgumentException("tensor maps of 16-bit matrices only, got " + src.getClass().getSimpleName());
        };
        if (rows < 1 || rowLength < 8 || rowLength % 8 != 0) throw new IllegalArgumentException("rows " + rows + " × rowLength " + rowLength + ": rowLength must be a positive multiple of 8");
        if ((long) rows * rowLength > src.length()) throw new IllegalArgumentException(rows + " × " + rowLength + " exceeds the array's " + src.length() + " elements");
        if (boxRows < 1 || boxRows > 256) throw new IllegalArgumentException("box rows must be in 1..256, got " + boxRows);
        if (cuda.capturing()) throw new IllegalStateException("a tensor map cannot be made while capturing a graph");
        if (!(src.deviceMirror() instanceof DeviceBuffer)) cuda.toDevice(src);
        long address = ((DeviceBuffer) src.deviceMirror()).pointer();
        LongArray map = new LongArray(16);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment out = a.allocate(128, 64);
            MemorySegment dims = a.allocate(JAVA_LONG, 2), strides = a.allocate(JAVA_LONG, 1);
            MemorySegment box = a.allocate(JAVA_INT, 2), elementStrides = a.allocate(JAVA_INT, 2);
            dims.setAtIndex(JAVA_LONG, 0, rowLength);   // innermost first
            dims.setAtIndex(JAVA_LONG, 1, rows);
            strides.setAtIndex(JAVA_LONG, 0, 2L * rowLength);   // bytes between rows
            box.setAtIndex(JAVA_INT, 0, 64);
            box.setAtIndex(JAVA_INT, 1, boxRows);
            elementStrides.setAtIndex(JAVA_INT, 0, 1);
            elementStrides.setAtIndex(JAVA_INT, 1, 1);
            CudaDriver.check(CudaDriver.call(() -> (int) CudaDriver.cuTensorMapEncodeTiled.invokeExact(out, type, 2, address, dims, strides, box,
                    elementStrides, INTERLEAVE_NONE, SWIZZLE_128B, L2_PROMOTION_256B, OOB_FILL_ZEROS)), "cuTensorMapEncodeTiled");
            MemorySegment.copy(out, 0, map.segment(), 0, 128);
        }
        cuda.toDevice(map);
        return map;
    }
}
