package dev.arbor.models.weights;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * A (rows, cols) row-major weight matrix: all of a 2-D tensor or a band of its rows (the q, k or v
 * part of Baichuan's fused W_pack). Rows are read from off-heap memory in their stored dtype and
 * converted to float one row at a time.
 */
public record Matrix(Tensor tensor, int rowStart, int rows, int cols) {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));

    public static Matrix of(Tensor t) {
        return new Matrix(t, 0, Math.toIntExact(t.shape()[0]), Math.toIntExact(t.shape()[1]));
    }

    public Matrix band(int firstRow, int numRows) {
        return new Matrix(tensor, rowStart + firstRow, numRows, cols);
    }

    /** Converts row {@code r} into {@code dst[off .. off + cols)}. */
    public void loadRow(int r, float[] dst, int off) {
        MemorySegment seg = tensor.data();
        long row = (long) (rowStart + r) * cols;
        switch (tensor.dtype()) {
            case BF16 -> loadBf16(seg, row * 2, dst, off, cols);
            case F16 -> {
                long base = row * 2;
                for (int i = 0; i < cols; i++) dst[off + i] = Float.float16ToFloat(seg.get(Tensor.SHORT_LE, base + 2L * i));
            }
            case F32 -> MemorySegment.copy(seg, Tensor.FLOAT_LE, row * 4, dst, off, cols);
        }
    }

    /**
     * {@code -Darbor.cpu.weightAddress} (default true; the CPU kernels' switch, {@code Matmul.weightAddress}): a mapped
     * tensor's rows are read through {@link #ALL} at absolute addresses, so no mapped segment reaches the vector API's
     * shared receiver profile (the KV cache's loads keep a one-class profile there). Run 89-cpu22.
     */
    private static final boolean BY_ADDRESS = Boolean.parseBoolean(System.getProperty("arbor.cpu.weightAddress", "true"));
    /** All of memory as one native segment of the global scope, or null where native access is denied. */
    private static final MemorySegment ALL = allMemory();

    private static MemorySegment allMemory() {
        try {
            return MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** bf16 is the top half of a float32: widen each short to an int and shift it up 16 bits. */
    private static void loadBf16(MemorySegment seg, long byteOff, float[] dst, int off, int n) {
        if (BY_ADDRESS && ALL != null && seg.isMapped()) {   // the same values, read by address
            byteOff += seg.address();
            seg = ALL;
        }
        int i = 0;
        int upper = n - n % F.length();
        for (; i < upper; i += F.length()) {
            ShortVector s = ShortVector.fromMemorySegment(S, seg, byteOff + 2L * i, ByteOrder.LITTLE_ENDIAN);
            IntVector w = (IntVector) s.convertShape(VectorOperators.S2I, I, 0);
            w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off + i);
        }
        for (; i < n; i++) dst[off + i] = Float.intBitsToFloat(seg.get(Tensor.SHORT_LE, byteOff + 2L * i) << 16);
    }
}
