package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The KV write against {@link AttentionReference#writeKv} bit for bit: bf16 and fp16 (round to nearest
 * even, ties included; fp16 also subnormals and overflow to infinity) and fp32 stores, block sizes 16 and 7, head sizes 128 and 5, skipped slots (-1) and
 * slots untouched by the step keeping their contents.
 */
class KvWriteTest {
    /** Writes a random step into a store full of sentinels; returns null when it matches the reference, else a message. */
    static String check(Backend backend, int tokens, int kvHeads, int headDim, int blockSize, int numBlocks, boolean bf16, long seed) {
        return check(backend, tokens, kvHeads, headDim, blockSize, numBlocks, bf16 ? KvStore.BF16 : KvStore.F32, seed);
    }

    static String check(Backend backend, int tokens, int kvHeads, int headDim, int blockSize, int numBlocks, KvStore store, long seed) {
        Random r = new Random(seed);
        int kvDim = kvHeads * headDim, n = numBlocks * kvHeads * blockSize * headDim;
        float[] k = new float[tokens * kvDim], v = new float[tokens * kvDim];
        for (int i = 0; i < k.length; i++) {
            k[i] = (r.nextFloat() * 2 - 1) * 8;
            v[i] = i % 17 == 0 ? Float.intBitsToFloat(0x3F808000) : (r.nextFloat() * 2 - 1);   // an exact bf16 tie now and then
        }
        for (int i = 0; i < k.length; i += 11) {   // fp16's edges: ties (to even down, to even up), a subnormal, a tie at 65520 and overflow
            switch (i / 11 % 5) {
                case 0 -> v[i] = Float.intBitsToFloat(0x3F801000);     // 1 + 2^-11 -> 1
                case 1 -> v[i] = -Float.intBitsToFloat(0x3F803000);    // -(1 + 3·2^-11) -> -(1 + 2^-9)
                case 2 -> k[i] = 3.1e-6f;                              // fp16 subnormal
                case 3 -> k[i] = 65520f;                               // fp16 tie past the largest finite: infinity
                default -> k[i] = -70000f;                             // fp16 overflow: -infinity
            }
        }
        int[] slots = new int[tokens];
        java.util.List<Integer> free = new java.util.ArrayList<>();
        for (int s = 0; s < numBlocks * blockSize; s++) free.add(s);
        java.util.Collections.shuffle(free, r);
        for (int t = 0; t < tokens; t++) slots[t] = t % 5 == 3 ? -1 : free.get(t);
        float[] kRef = new float[n], vRef = new float[n];
        java.util.Arrays.fill(kRef, 7f);
        java.util.Arrays.fill(vRef, -7f);
        AttentionReference.writeKv(k, v, kRef, vRef, slots, kvHeads, headDim, blockSize, store::round);
        try (FloatArray ka = FloatArray.of(k); FloatArray va = FloatArray.of(v); IntArray sa = IntArray.of(slots)) {
            OffHeapArray kc = store.allocate(n), vc = store.allocate(n);
            try (kc; vc) {
                for (int i = 0; i < n; i++) {
                    set(kc, i, 7f);
                    set(vc, i, -7f);
                }
                backend.toDevice(ka, va, sa, kc, vc);
                KvWrite.launch(backend, ka, va, kc, vc, sa, tokens, kvHeads, headDim, blockSize);
                backend.toHost(kc, vc);
                for (int i = 0; i < n; i++) {
                    if (Float.floatToRawIntBits(get(kc, i)) != Float.floatToRawIntBits(kRef[i])) return "k at " + i + ": " + get(kc, i) + " vs " + kRef[i];
                    if (Float.floatToRawIntBits(get(vc, i)) != Float.floatToRawIntBits(vRef[i])) return "v at " + i + ": " + get(vc, i) + " vs " + vRef[i];
                }
            }
        }
        return null;
    }

    static void set(OffHeapArray a, int i, float x) { KvStore.set(a, i, x); }

    static float get(OffHeapArray a, int i) { return KvStore.get(a, i); }

    @Test
    void writesEverySlotOfTheStepAndNothingElse() {
        Backend cpu = new CpuBackend();
        for (KvStore store : KvStore.values()) {
            assertEquals(null, check(cpu, 1, 1, 5, 7, 3, store, 1), store.name());
            assertEquals(null, check(cpu, 37, 4, 128, 16, 5, store, 2), store.name());
            assertEquals(null, check(cpu, 13, 2, 5, 7, 4, store, 3), store.name());
        }
    }

    @Test
    void refusesMismatchedStores() {
        Backend cpu = new CpuBackend();
        try (FloatArray k = new FloatArray(16); BFloat16Array kc = new BFloat16Array(64); FloatArray vc = new FloatArray(64); IntArray s = new IntArray(2)) {
            assertTrue(assertThrows(IllegalArgumentException.class, () -> KvWrite.launch(cpu, k, k, kc, vc, s, 2, 1, 8, 4)).getMessage().contains("both"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> KvWrite.launch(cpu, k, k, kc, kc, s, 3, 1, 8, 4)).getMessage().contains("k holds"));
            assertTrue(assertThrows(IllegalArgumentException.class, () -> KvWrite.launch(cpu, k, k, kc, kc, s, 2, 1, 8, 3)).getMessage().contains("whole blocks"));
        }
        try (FloatArray k = new FloatArray(16); HalfFloatArray hc = new HalfFloatArray(64); BFloat16Array bc = new BFloat16Array(64);
             IntArray ic = new IntArray(64); IntArray s = new IntArray(2)) {
            String mixed = assertThrows(IllegalArgumentException.class, () -> KvWrite.launch(cpu, k, k, hc, bc, s, 2, 1, 8, 4)).getMessage();
            assertTrue(mixed.contains("HalfFloatArray and BFloat16Array"), mixed);
            String ints = assertThrows(IllegalArgumentException.class, () -> KvWrite.launch(cpu, k, k, ic, ic, s, 2, 1, 8, 4)).getMessage();
            assertTrue(ints.contains("IntArray and IntArray"), ints);
        }
    }
}
