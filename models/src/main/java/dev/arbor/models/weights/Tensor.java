package dev.arbor.models.weights;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A named tensor whose row-major data lives in off-heap memory: a slice of a memory-mapped
 * safetensors file, or synthetic / derived weights. Never copied into the heap whole.
 *
 * @param source where it came from, for error messages (a file path or "synthetic")
 */
public record Tensor(String name, String source, DType dtype, long[] shape, MemorySegment data) {

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat FLOAT_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public long numElements() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Element {@code i} (flat, row-major) as a float. */
    public float get(long i) {
        return switch (dtype) {
            case BF16 -> Float.intBitsToFloat(data.get(SHORT_LE, i * 2) << 16);
            case F16 -> Float.float16ToFloat(data.get(SHORT_LE, i * 2));
            case F32 -> data.get(FLOAT_LE, i * 4);
        };
    }

    /** The whole tensor as floats: only for small tensors (norm weights). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(numElements())];
        for (int i = 0; i < out.length; i++) out[i] = get(i);
        return out;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString() + " from " + source;
    }
}
