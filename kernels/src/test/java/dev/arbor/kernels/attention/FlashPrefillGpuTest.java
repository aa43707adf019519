package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.arbor.kernels.attention.FlashPrefillTest.maxError;
import static dev.arbor.kernels.attention.FlashPrefillTest.tolerance;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static dev.arbor.kernels.attention.PagedAttentionTest.rows;

/**
 * The tensor-core prefill attention on the GPU ({@code @Tag("gpu")}): against the double-precision
 * reference within the 16-bit tolerances of {@link FlashPrefillTest} at model shapes (Llama-2-7B 32×128,
 * GQA 4 and 8, Baichuan2-13B 40 ALiBi heads, head size 64), bf16 and fp16 stores, chunks over cached
 * prefixes; and batch invariance bit for bit on the device (whole, chunked, alone, batched in another order).
 */
@Tag("gpu")
class FlashPrefillGpuTest {
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    private static void againstReference(PagedBatch b, String what) {
        double[] ref = b.reference();
        float[] got = FlashPrefillRun.run(cuda, b, FlashPrefillRun.whole(b));
        System.out.printf("%s: max error %.3g%n", what, maxError(ref, got));
        assertClose(ref, got, tolerance(b.store), what + " (max error " + maxError(ref, got) + ")");
    }

    @Test
    void modelShapesAgreeWithTheReference() {
        int[] ctx = {300 + 255, 17 + 17, 1 + 16, 300 + 1, 15}, chunk = {255, 17, 16, 1, 15};
        try (PagedBatch b = new PagedBatch(32, 32, 128, 16, ctx, chunk, false, KvStore.BF16, 1)) { againstReference(b, "Llama-2-7B bf16"); }
        try (PagedBatch b = new PagedBatch(32, 32, 128, 16, ctx, chunk, false, KvStore.F16, 2)) { againstReference(b, "Llama-2-7B fp16"); }
        try (PagedBatch b = new PagedBatch(32, 8, 128, 16, ctx, chunk, false, KvStore.BF16, 3)) { againstReference(b, "GQA 4 bf16"); }
        try (PagedBatch b = new PagedBatch(64, 8, 128, 16, ctx, chunk, false, KvStore.BF16, 4)) { againstReference(b, "GQA 8 bf16"); }
        try (PagedBatch b = new PagedBatch(40, 40, 128, 16, ctx, chunk, true, KvStore.BF16, 5)) { againstReference(b, "Baichuan2-13B ALiBi bf16"); }
        try (PagedBatch b = new PagedBatch(40, 40, 128, 16, ctx, chunk, true, KvStore.F16, 6)) { againstReference(b, "Baichuan2-13B ALiBi fp16"); }
        try (PagedBatch b = new PagedBatch(5, 1, 64, 7, ctx, chunk, true, KvStore.BF16, 7)) { againstReference(b, "5 ALiBi heads on 1, D=64, bs=7"); }
    }

    @Test
    void batchInvarianceOnTheDevice() {
        for (KvStore store : new KvStore[] {KvStore.BF16, KvStore.F16}) {
            try (PagedBatch b = new PagedBatch(40, 40, 128, 16, new int[] {600, 37, 3000}, new int[] {300, 5, 1}, true, store, 8)) {
                int row = b.heads * b.headDim;
                float[] whole = FlashPrefillRun.run(cuda, b, FlashPrefillRun.whole(b));
                assertClose(b.reference(), whole, tolerance(store), store + " whole");
                int[][][] steps = {{{305, 306}, {0, 1}, {300, 305}}, {{1, 64}, {305, 306}}, {{64, 199}}, {{199, 300}, {300, 305}}, {{299, 300}}, {{150, 151}}};
                for (int[][] step : steps) {
                    assertBits(rows(whole, FlashPrefillRun.tokens(step), row), FlashPrefillRun.run(cuda, b, step),
                            store + " step " + java.util.Arrays.deepToString(step));
                }
            }
        }
    }

    /**
     * The long-chunk form ({@code FlashPrefillKernels.longBf16}: no launch bounds, Q apart, the causal select on diagonal tiles
     * only, banded work order) gives the one-pass kernel's bits on the device: 1,100-token chunks over 200 cached keys (and a
     * 5-token chunk beside them), Llama-2-7B bf16 / fp16, GQA 4, Baichuan2-13B's ALiBi heads; bands of 3 and 32 tiles.
     */
    @Test
    void theLongChunkFormGivesTheOnePassBits() {
        Object[][] shapes = {{32, 32, false, KvStore.BF16}, {32, 32, false, KvStore.F16}, {32, 8, false, KvStore.BF16}, {40, 40, true, KvStore.BF16}};
        for (Object[] sh : shapes) {
            String what = sh[0] + "/" + sh[1] + " heads, " + sh[3] + (((boolean) sh[2]) ? ", ALiBi" : "");
            try (PagedBatch b = new PagedBatch((int) sh[0], (int) sh[1], 128, 16, new int[] {1300, 40}, new int[] {1100, 5}, (boolean) sh[2],
                    (KvStore) sh[3], 9)) {
                int[][] whole = FlashPrefillRun.whole(b);
                float[] onePass = FlashPrefillRun.runLong(cuda, b, whole, -1, 0, 1);
                assertFalse(FlashPrefillRun.lastLong, what + ": long form off");
                for (int band : new int[] {3, 32}) {
                    float[] got = FlashPrefillRun.runLong(cuda, b, whole, -1, 1024, band);
                    assertTrue(FlashPrefillRun.lastLong, what + ": the long form");
                    assertBits(onePass, got, what + ": long form, bands of " + band);
                }
                System.out.printf("%s: long form == one pass bit for bit%n", what);
            }
        }
    }
}
