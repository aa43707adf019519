package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The one-warp kernel with one K/V buffer ({@link FlashWarpOneBufferKernels}) on the GPU ({@code @Tag("gpu")}), whole tiles, key
 * halves, and key halves under launch bounds of 12 an SM: decodes at model shapes give the plain one-warp kernel's bits ({@link FlashWarpOneBufferTest#check}):
 * Llama-2-7B 32×128 bf16 store and bf16 out (the engine's {@code warpBf16OutBf16} against {@code warpOneBufferBf16OutBf16}, 24 decodes
 * at 1..1,500 keys), Llama-3.2-1B's 32/8 × 64 at its b128 shape (513..576 keys, bf16 out), Baichuan2-13B's 40 ALiBi heads on an fp16
 * store; and seed workload 2's and 1's decode handoffs into it (48 decodes behind 752 shared keys handed off at 704, workload 2's
 * point: walks from the tile holding key 704; 80 decodes, two row tiles, behind 528 handed off at 512) the one-pass bits. FlashDecodeBench onebuffer also
 * compares the bits at workload 2's, 1's and 1b b128's full shapes.
 */
@Tag("gpu")
class FlashWarpOneBufferGpuTest {
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    /** 24 decodes at 1 .. 1,500 keys (walks of 1 to 24 tiles). */
    private static int[] contexts() {
        int[] c = new int[24];
        for (int i = 0; i < c.length; i++) c[i] = 1 + (i * 977) % 1500;
        return c;
    }

    @Test
    void modelShapesGiveTheOneWarpBits() {
        int[] ctx = contexts(), news = FlashWarpOneBufferTest.ones(ctx.length);
        int[] b128 = new int[16];
        for (int i = 0; i < b128.length; i++) b128[i] = 513 + i * 4;   // llama3.2-1b b128's decodes (512 + 1..64)
        boolean before = PagedBatch.outBf16;
        PagedBatch.outBf16 = true;
        try {
            FlashWarpOneBufferTest.check(cuda, 32, 32, 128, 16, ctx, news, false, KvStore.BF16, 101, false);
            FlashWarpOneBufferTest.check(cuda, 32, 8, 64, 16, b128, FlashWarpOneBufferTest.ones(b128.length), false, KvStore.BF16, 102, false);
        } finally {
            PagedBatch.outBf16 = before;
        }
        FlashWarpOneBufferTest.check(cuda, 40, 40, 128, 16, ctx, news, true, KvStore.F16, 103, false);
        System.out.println("one-buffer == one-warp bit for bit at 3 shapes");
    }

    /**
     * Seed workload 2's and 1's decode steps into the one-buffer pass by key halves (workload 2's also under launch bounds 12; whole
     * tiles are {@link #modelShapesGiveTheOneWarpBits}' and FlashDecodeBench onebuffer's): the one-pass bits.
     */
    @Test
    void aDecodeStepsHandoffGivesTheOnePassBits() {
        FlashWarpOneBufferTest.oneBuffer(true, 0, true, () -> {
            FlashHandoffTest.checkDecodes(cuda, 32, 32, 128, 16, 47, 704, false, KvStore.BF16, 48, 1, 108);
            FlashHandoffTest.checkDecodes(cuda, 32, 32, 128, 16, 33, 512, false, KvStore.BF16, 80, 2, 109);
            return null;
        });
        FlashWarpOneBufferTest.oneBuffer(true, 12, true, () -> {
            FlashHandoffTest.checkDecodes(cuda, 32, 32, 128, 16, 47, 704, false, KvStore.BF16, 48, 1, 110);
            return null;
        });
        FlashWarpOneBufferTest.oneBuffer(true, 0, 2, () -> {   // the half ring (FlashPrefillAttention.WARP_HALF_RING)
            FlashHandoffTest.checkDecodes(cuda, 32, 32, 128, 16, 47, 704, false, KvStore.BF16, 48, 1, 111);
            FlashHandoffTest.checkDecodes(cuda, 32, 32, 128, 16, 33, 512, false, KvStore.BF16, 80, 2, 112);
            return null;
        });
        System.out.println("handoff into the one-buffer pass (halves, halves + bounds 12, half ring) == one pass bit for bit");
    }
}
