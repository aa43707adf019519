package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The KV write against {@link AttentionReference#writeKv} bit for bit: bf16 (round to nearest even,
 * ties included) and fp32 stores, block sizes 16 and 7, head sizes 128 and 5, skipped slots (-1) and
 * slots untouched by the step keeping their contents.
 */
class KvWriteTest {
    /** Writes a random step into a store full of sentinels; returns null when it matches the reference, else a message. */
    static String check(Backend backend, int tokens, int kvHeads, int headDim, int blockSize, int numBlocks, boolean bf16, long seed) {
        Random r = new Random(seed);
        int kvDim = kvHeads * headDim, n = numBlocks * kvHeads * blockSize * headDim;
        float[] k = new float[tokens * kvDim], v = new float[tokens * kvDim];
        for (int i = 0; i < k.length; i++) {
            k[i] = (r.nextFloat() * 2 - 1) * 8;
            v[i] = i % 17 == 0 ? Float.intBitsToFloat(0x3F808000) : (r.nextFloat() * 2 - 1);   // an exact bf16 tie now and then
        }
        int[] slots = new int[tokens];
        java.util.List<Integer> free = new java.util.ArrayList<>();
        for (int s = 0; s < numBlocks * blockSize; s++) free.add(s);
        java.util.Collections.shuffle(free, r);
        for (int t = 0; t < tokens; t++) slots[t] = t % 5 == 3 ? -1 : free.get(t);
        float[] kRef = new float[n], vRef = new float[n];
        java.util.Arrays.fill(kRef, 7f);
        java.util.Arrays.fill(vRef, -7f);
        AttentionReference.writeKv(k, v, kRef, vRef, slots, kvHeads, headDim, blockSize, bf16);
        try (FloatArray ka = FloatArray.of(k); FloatArray va = FloatArray.of(v); IntArray sa = IntArray.of(slots)) {
            OffHeapArray kc = bf16 ? new BFloat16Array(n) : new FloatArray(n), vc = bf16 ? new BFloat16Array(n) : new FloatArray(n);
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

    static void set(OffHeapArray a, int i, float x) {
        if (a instanceof BFloat16Array b) b.set(i, x);
        else ((FloatArray) a).set(i, x);
    }

    static float get(OffHeapArray a, int i) {
        return a instanceof BFloat16Array b ? b.get(i) : ((FloatArray) a).get(i);
    }

    @Test
    void writesEverySlotOfTheStepAndNothingElse() {
        Backend cpu = new CpuBackend();
        for (boolean bf16 : new boolean[] {true, false}) {
            assertEquals(null, check(cpu, 1, 1, 5, 7, 3, bf16, 1));
            assertEquals(null, check(cpu, 37, 4, 128, 16, 5, bf16, 2));
            assertEquals(null, check(cpu, 13, 2, 5, 7, 4, bf16, 3));
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
    }
}
