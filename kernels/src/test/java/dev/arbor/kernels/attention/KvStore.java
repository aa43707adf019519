package dev.arbor.kernels.attention;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.OffHeapArray;

/** The element types of the paged KV store, for the tests: allocation, element access and the reference rounding. */
enum KvStore {
    BF16, F16, F32;

    /** The value the store keeps for {@code f} (the reference's own rounding, not the array class's). */
    float round(float f) {
        return switch (this) {
            case BF16 -> AttentionReference.roundBf16(f);
            case F16 -> AttentionReference.roundFp16(f);
            case F32 -> f;
        };
    }

    OffHeapArray allocate(int n) {
        return switch (this) {
            case BF16 -> new BFloat16Array(n);
            case F16 -> new HalfFloatArray(n);
            case F32 -> new FloatArray(n);
        };
    }

    static void set(OffHeapArray a, int i, float v) {
        switch (a) {
            case BFloat16Array b -> b.set(i, v);
            case HalfFloatArray h -> h.set(i, v);
            case FloatArray f -> f.set(i, v);
            default -> throw new IllegalArgumentException(a.getClass().getSimpleName());
        }
    }

    static float get(OffHeapArray a, int i) {
        return switch (a) {
            case BFloat16Array b -> b.get(i);
            case HalfFloatArray h -> h.get(i);
            case FloatArray f -> f.get(i);
            default -> throw new IllegalArgumentException(a.getClass().getSimpleName());
        };
    }
}
