package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The split form of the short tiles ({@link FlashSplitKernels}) on the GPU ({@code @Tag("gpu")}): {@link FlashSplitTest}'s checks
 * at model shapes — Llama-2-7B 32×128 (bf16 and fp16 stores), GQA 4 and 8 at 128, Llama-3.2-1B's 32/8×64, Baichuan2-13B's 40
 * ALiBi heads, 5 ALiBi heads on 1 at 64 with block size 7 — over contexts of 1, 15, 16, 17, 255, 1,000 and 4,100 keys: the split
 * form at 2-4 K/V stages gives the one-warp and 64-row kernels' bits (whole short chunks and decodes alone, another order), the
 * values within the 16-bit tolerance of the reference; and the state handoff continued in the split form gives the one-pass bits.
 */
@Tag("gpu")
class FlashSplitGpuTest {
    private static CudaBackend cuda;
    static final int[] CONTEXTS = {1, 15, 16, 17, 255, 1000, 4100};

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    @Test
    void modelShapesGiveTheOneWarpAndTallBits() {
        FlashSplitTest.check(cuda, 32, 32, 128, 16, false, KvStore.BF16, CONTEXTS, new int[] {2, 3, 4}, 1);
        FlashSplitTest.check(cuda, 32, 32, 128, 16, false, KvStore.F16, CONTEXTS, new int[] {3}, 2);
        FlashSplitTest.check(cuda, 32, 8, 128, 16, false, KvStore.BF16, CONTEXTS, new int[] {2, 3, 4}, 3);
        FlashSplitTest.check(cuda, 64, 8, 128, 16, false, KvStore.BF16, CONTEXTS, new int[] {3}, 4);
        FlashSplitTest.check(cuda, 32, 8, 64, 16, false, KvStore.BF16, CONTEXTS, new int[] {3}, 5);
        FlashSplitTest.check(cuda, 40, 40, 128, 16, true, KvStore.BF16, CONTEXTS, new int[] {3}, 6);
        FlashSplitTest.check(cuda, 5, 1, 64, 7, true, KvStore.F16, CONTEXTS, new int[] {2, 3, 4}, 7);
        System.out.println("split form == one-warp == 64-row bit for bit at 7 shapes");
    }

    @Test
    void theHandoffContinuesInTheSplitForm() {
        FlashSplitTest.handoff(cuda, 32, 32, 128, 16, 33, 528, KvStore.BF16, 8);
        FlashSplitTest.handoff(cuda, 32, 8, 128, 16, 8, 128, KvStore.F16, 9);
        System.out.println("handoff in the split form == one pass bit for bit");
    }
}
