package dev.arbor.accel;

import dev.arbor.accel.array.*;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class OffHeapArraysTest {
    @Test
    void halfFloatStoresRoundToNearestEven() {
        try (HalfFloatArray h = new HalfFloatArray(3)) {
            // 1 + 2^-11 lies halfway between 1 and the next fp16 (1 + 2^-10): ties go to the even one, 1.0
            h.set(0, 1f + 0x1p-11f);
            // 1 + 3·2^-11 lies halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even)
            h.set(1, 1f + 3 * 0x1p-11f);
            h.set(2, 65520f); // rounds up past the largest finite fp16
            assertEquals(1f, h.get(0));
            assertEquals(1f + 0x1p-9f, h.get(1));
            assertEquals(Float.POSITIVE_INFINITY, h.get(2));
        }
    }

    @Test
    void bfloat16StoresRoundToNearestEvenAndWidenExactly() {
        try (BFloat16Array b = new BFloat16Array(4)) {
            b.set(0, 1f + 0x1p-8f);        // halfway between 1 and 1 + 2^-7: to even (1)
            b.set(1, 1f + 3 * 0x1p-8f);    // halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even)
            b.set(2, -3.140625f);           // exactly representable
            b.set(3, Float.NaN);
            assertEquals(1f, b.get(0));
            assertEquals(1f + 0x1p-6f, b.get(1));
            assertEquals(-3.140625f, b.get(2));
            assertTrue(Float.isNaN(b.get(3)));
        }
    }

    @Test
    void setFloatStoresInTheArraysOwnType() {
        try (FloatArray f = new FloatArray(1); BFloat16Array b = new BFloat16Array(2); HalfFloatArray h = new HalfFloatArray(1); IntArray i = new IntArray(1)) {
            OffHeapArray[] outs = {f, b, h};
            for (OffHeapArray a : outs) a.setFloat(0, 1f + 3 * 0x1p-11f);
            assertEquals(1f + 3 * 0x1p-11f, f.get(0));
            assertEquals(1f, b.get(0), "bf16: nearest (1 + 3·2^-11 is under 1 + 2^-8)");
            assertEquals(1f + 0x1p-9f, h.get(0), "fp16: the tie to even");
            b.setFloat(1, 1f + 3 * 0x1p-8f);
            assertEquals(1f + 0x1p-6f, b.get(1), "bf16: the tie to even, as set");
            assertThrows(UnsupportedOperationException.class, () -> i.setFloat(0, 1f));
        }
    }

    @Test
    void atomicsAreAtomicUnderContention() {
        try (IntArray i = new IntArray(1); FloatArray f = new FloatArray(1); LongArray l = new LongArray(1)) {
            IntStream.range(0, 10_000).parallel().forEach(k -> {
                i.atomicAdd(0, 1);
                f.atomicAdd(0, 1f);
                l.atomicAdd(0, 3L);
            });
            assertEquals(10_000, i.get(0));
            assertEquals(10_000f, f.get(0));
            assertEquals(30_000L, l.get(0));
        }
    }

    @Test
    void bits64ReadsFourHalvesLittleEndian() {
        try (HalfFloatArray h = HalfFloatArray.of(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f)) {
            long bits = h.getBits64(4);
            assertEquals(5f, Float.float16ToFloat((short) bits));
            assertEquals(8f, Float.float16ToFloat((short) (bits >>> 48)));
            assertEquals(h.getBits64(0), h.getBits128Low(0));
            assertEquals(h.getBits64(4), h.getBits128High(0));
        }
    }

    @Test
    void wrapsForeignMemoryAndChecksBounds() {
        try (Arena a = Arena.ofConfined()) {
            FloatArray f = new FloatArray(a.allocate(40, 64));
            assertEquals(10, f.length());
            f.set(9, 2f);
            assertEquals(2f, f.get(9));
            assertThrows(IllegalArgumentException.class, () -> new FloatArray(a.allocate(6)));
            assertThrows(IndexOutOfBoundsException.class, () -> f.atomicAdd(10, 1f));
        }
    }
}
