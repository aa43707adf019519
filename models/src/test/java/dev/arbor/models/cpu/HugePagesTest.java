package dev.arbor.models.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.arbor.models.ForwardBatch;
import dev.arbor.models.StepShape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link HugePages}: its buffers are zeroed, writable to the last byte and start on a 2 MiB boundary (Linux); and a KV
 * cache on them gives attention the same bits as one from {@link Arena#allocate} (the layout and the arithmetic are
 * the same; only the pages differ).
 */
class HugePagesTest {
    private static final long HUGE = 2L << 20;

    @Test
    void buffersAreZeroedWritableAndAligned() {
        assumeTrue(System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux"), "Linux only");
        Arena arena = Arena.ofAuto();
        long bytes = 5 * HUGE + 123;
        MemorySegment s = HugePages.allocate(arena, bytes);
        assertEquals(bytes, s.byteSize());
        assertEquals(0, s.address() % HUGE, "start on a 2 MiB boundary (the mmap path)");
        for (long o = 0; o < bytes; o += 4093) assertEquals(0, s.get(ValueLayout.JAVA_BYTE, o), "zero at " + o);
        s.set(ValueLayout.JAVA_BYTE, 0, (byte) 7);
        s.set(ValueLayout.JAVA_BYTE, bytes - 1, (byte) 9);
        assertEquals(7, s.get(ValueLayout.JAVA_BYTE, 0));
        assertEquals(9, s.get(ValueLayout.JAVA_BYTE, bytes - 1));
        MemorySegment small = HugePages.allocate(arena, 4096);   // below a huge page: the plain allocation
        assertEquals(4096, small.byteSize());
        assertEquals(0, small.get(ValueLayout.JAVA_LONG, 0));
    }

    /** {@link CpuModelBackend#resident}: big tensors copied byte for byte onto 2 MiB pages, small ones kept, none with it off. */
    @Test
    void residentWeightsAreTheSameBytes() {
        assumeTrue(System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux"), "Linux only");
        Arena arena = Arena.ofShared();
        try {
            SplittableRandom rnd = new SplittableRandom(43);
            java.util.Map<String, dev.arbor.models.weights.Tensor> in = new java.util.LinkedHashMap<>();
            for (long[] shape : new long[][] {{2048, 768}, {768}, {3, 1000, 700}}) {
                long n = 1;
                for (long d : shape) n *= d;
                MemorySegment seg = arena.allocate(2 * n, 64);
                for (long i = 0; i < n; i++) seg.setAtIndex(ValueLayout.JAVA_SHORT, i, (short) rnd.nextInt());
                String name = "t" + in.size();
                in.put(name, new dev.arbor.models.weights.Tensor(name, "test", dev.arbor.models.weights.DType.BF16, shape, seg));
            }
            CpuModelBackend backend = new CpuModelBackend();
            boolean saved = HugePages.weights;
            try {
                HugePages.weights = false;
                assertEquals(in, backend.resident(in, arena));
                HugePages.weights = true;
                var out = backend.resident(in, arena);
                assertEquals(in.keySet(), out.keySet());
                for (String k : in.keySet()) {
                    var a = in.get(k);
                    var b = out.get(k);
                    assertEquals(a.dtype(), b.dtype());
                    org.junit.jupiter.api.Assertions.assertArrayEquals(a.shape(), b.shape());
                    assertEquals(-1L, a.data().mismatch(b.data()), k + ": the same bytes");
                    if (a.data().byteSize() < HUGE) org.junit.jupiter.api.Assertions.assertSame(a, b, k + ": below 2 MiB, kept");
                    else assertEquals(0, b.data().address() % HUGE, k + ": on 2 MiB pages");
                }
            } finally {
                HugePages.weights = saved;
            }
        } finally {
            arena.close();
        }
    }

    @Test
    void kvCacheOnHugePagesGivesTheSameAttentionBits() {
        for (boolean bf16 : new boolean[] {false, true}) sameBits(bf16);
    }

    /**
     * Three sequences (prompt lengths 300, 77, 513; all tokens in one step, then each sequence's last token alone as a
     * decode query) over 64-dim heads, 4 query heads on 2 kv heads, blocks of 16 at scattered physical indices; one cache
     * per page kind, each layer ≥ 2 MiB so {@link HugePages} maps it.
     */
    private static void sameBits(boolean bf16) {
        int headDim = 64, heads = 4, kvHeads = 2, bs = 16, blocks = 1200;
        int[] lens = {300, 77, 513};
        boolean saved = HugePages.kv;
        PagedKvCache small, huge;
        try {
            HugePages.kv = false;
            small = new PagedKvCache(1, blocks, bs, kvHeads, headDim, bf16);
            HugePages.kv = true;
            huge = new PagedKvCache(1, blocks, bs, kvHeads, headDim, bf16);
        } finally {
            HugePages.kv = saved;
        }
        assertEquals(0, huge.keys(0).address() % HUGE, "the huge cache's layer is mapped by HugePages");
        int[][] tables = new int[lens.length][];
        int next = 0, tokens = 0, maxBlocks = 0;
        for (int s = 0; s < lens.length; s++) {
            int nb = (lens[s] + bs - 1) / bs;
            tables[s] = new int[nb];
            for (int k = 0; k < nb; k++) tables[s][k] = (next++ * 37 + 11) % blocks;   // 37 coprime to 1200: distinct blocks
            tokens += lens[s];
            maxBlocks = Math.max(maxBlocks, nb);
        }
        StepShape shape = new StepShape(blocks, bs, tokens, lens.length, maxBlocks, lens.length);
        ForwardBatch batch = new ForwardBatch(shape);
        for (int s = 0; s < lens.length; s++) {
            batch.beginSequence(tables[s], tables[s].length);
            for (int i = 0; i < lens[s]; i++) batch.addToken(0, i);
        }
        SplittableRandom rnd = new SplittableRandom(41);
        int kvDim = kvHeads * headDim, qDim = heads * headDim;
        float[] k = random(rnd, tokens * kvDim), v = random(rnd, tokens * kvDim), q = random(rnd, tokens * qDim);
        for (int t = 0; t < tokens; t++) {
            int slot = batch.slot(t);
            small.write(0, k, v, t, slot / bs, slot % bs);
            huge.write(0, k, v, t, slot / bs, slot % bs);
        }
        float[] a = new float[tokens * qDim], b = new float[tokens * qDim];
        Attention.run(q, batch, small, 0, heads, null, a);
        Attention.run(q, batch, huge, 0, heads, null, b);
        for (int i = 0; i < a.length; i++) {
            assertEquals(Float.floatToRawIntBits(a[i]), Float.floatToRawIntBits(b[i]), (bf16 ? "bf16" : "fp32") + " prefill element " + i);
        }
        ForwardBatch decode = new ForwardBatch(shape);   // each sequence's last token as a decode query
        float[] qd = new float[lens.length * qDim];
        for (int s = 0, end = 0; s < lens.length; s++) {
            end += lens[s];
            decode.beginSequence(tables[s], tables[s].length);
            decode.addToken(0, lens[s] - 1);
            System.arraycopy(q, (end - 1) * qDim, qd, s * qDim, qDim);
        }
        float[] da = new float[qd.length], db = new float[qd.length];
        Attention.run(qd, decode, small, 0, heads, null, da);
        Attention.run(qd, decode, huge, 0, heads, null, db);
        for (int i = 0; i < da.length; i++) {
            assertEquals(Float.floatToRawIntBits(da[i]), Float.floatToRawIntBits(db[i]), (bf16 ? "bf16" : "fp32") + " decode element " + i);
        }
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        return a;
    }
}
