package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The cascade as a state handoff on the GPU ({@code @Tag("gpu")}): a group of 40 sequences (decodes and 17-token chunks)
 * behind 530 shared keys (8 shared tiles), at model shapes (Llama-2-7B 32×128, GQA 4, Baichuan2-13B 40 ALiBi heads), bf16
 * and fp16 stores: the shared pass + per-sequence pass give the one-pass kernel's bits, and agree with the
 * double-precision reference within {@link FlashPrefillTest}'s 16-bit tolerances ({@link FlashHandoffTest#check}).
 */
@Tag("gpu")
class FlashHandoffGpuTest {
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    /** 40 members: 13 chunks of 17 and 27 decodes, 248 tokens; row tiles of 64 / G tokens. */
    private static int rowTiles(int heads, int kvHeads) {
        int t = FlashPrefillAttention.tokensPerTile(heads, kvHeads);
        return (13 * 17 + 27 + t - 1) / t;
    }

    @Test
    void handoffGivesTheOnePassBitsAtModelShapes() {
        FlashHandoffTest.check(cuda, 32, 32, 128, 10, 53, 530, false, KvStore.BF16, 40, rowTiles(32, 32), 41);
        FlashHandoffTest.check(cuda, 32, 32, 128, 10, 53, 530, false, KvStore.F16, 40, rowTiles(32, 32), 42);
        FlashHandoffTest.check(cuda, 32, 8, 128, 16, 33, 528, false, KvStore.BF16, 40, rowTiles(32, 8), 43);
        FlashHandoffTest.check(cuda, 40, 40, 128, 10, 53, 530, true, KvStore.BF16, 40, rowTiles(40, 40), 44);
        FlashHandoffTest.check(cuda, 32, 32, 64, 16, 4, 64, false, KvStore.BF16, 40, rowTiles(32, 32), 45);
    }

    /**
     * A decode step behind workload 1's prefix (107 decodes sharing 33 blocks, handed off at 512 keys; 2 row tiles at G = 1): the
     * handoff's overlapping launches (shared pass on the kernel before, one-warp pass on the shared pass) and the plain ones give
     * the one-pass bits; also GQA 4, ALiBi 40 heads and fp16.
     */
    @Test
    void aDecodeStepsHandoffGivesTheOnePassBitsWithOverlappingLaunches() {
        FlashHandoffTest.checkDecodes(cuda, 32, 32, 128, 16, 33, 512, false, KvStore.BF16, 107, 2, 61);
        FlashHandoffTest.checkDecodes(cuda, 32, 32, 128, 16, 33, 512, false, KvStore.F16, 107, 2, 62);
        FlashHandoffTest.checkDecodes(cuda, 32, 8, 128, 16, 33, 512, false, KvStore.BF16, 107, 7, 63);
        FlashHandoffTest.checkDecodes(cuda, 40, 40, 128, 16, 33, 512, true, KvStore.BF16, 107, 2, 64);
    }

    /**
     * The shared pass's ring ({@link FlashSharedKernels}) at 2, 3, 4 stages, whole dims and the dim split, against the two-stage kernels'
     * and the one-pass bits ({@link FlashHandoffTest#checkRing}): 40 members behind 528 keys (8 tiles), Llama-2-7B, GQA 4, ALiBi 40, fp16.
     */
    @Test
    void theSharedPassRingGivesTheOnePassBitsAtModelShapes() {
        FlashHandoffTest.checkRing(cuda, 32, 32, 128, 16, 33, 528, false, KvStore.BF16, 40, rowTiles(32, 32), 81);
        FlashHandoffTest.checkRing(cuda, 32, 32, 128, 16, 33, 528, false, KvStore.F16, 40, rowTiles(32, 32), 82);
        FlashHandoffTest.checkRing(cuda, 32, 8, 128, 16, 12, 192, false, KvStore.BF16, 40, rowTiles(32, 8), 83);
        FlashHandoffTest.checkRing(cuda, 40, 40, 128, 10, 53, 530, true, KvStore.BF16, 40, rowTiles(40, 40), 84);
    }
}
