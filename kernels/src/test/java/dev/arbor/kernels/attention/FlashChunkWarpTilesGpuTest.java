package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Chunks in short tiles ({@link FlashPrefillAttention#CHUNK_WARP_TILES}) on the GPU ({@code @Tag("gpu")}): Llama-2-7B's 32×128 on a
 * bf16 store, chunks of 17..32 tokens beside decodes and a 33-token chunk at 40..1,500 keys, in one-warp and split-form tiles, give the
 * 64-row tiles' bits ({@link FlashChunkWarpTilesTest#check}); bf16 out too; and seed workload 2's mixed step in small (28-token chunks
 * and decodes behind 752 shared keys handed off at 704, every per-sequence tile one-warp) the one-pass bits.
 */
@Tag("gpu")
class FlashChunkWarpTilesGpuTest {
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    @Test
    void workloadShapesGiveTheTallBits() {
        int[] ctx = {40, 300, 781, 781, 1500, 97, 810, 64};
        int[] news = {17, 28, 28, 32, 20, 1, 33, 1};   // short tiles: 2 + 2 + 2 + 2 + 2 + 1 + 0 + 1; one tall tile (33)
        FlashChunkWarpTilesTest.check(cuda, 32, 32, 128, 16, ctx, news, false, KvStore.BF16, 32, 12, 1, 301);
        boolean before = PagedBatch.outBf16;
        PagedBatch.outBf16 = true;
        try {
            FlashChunkWarpTilesTest.check(cuda, 32, 32, 128, 16, ctx, news, false, KvStore.BF16, 32, 12, 1, 302);
        } finally {
            PagedBatch.outBf16 = before;
        }
        System.out.println("chunks in one-warp and split tiles == 64-row tiles bit for bit (fp32 and bf16 out)");
    }

    @Test
    void workload2sMixedStepHandoffGivesTheOnePassBits() {
        // 36 chunks of 28 tokens + 12 decodes = 1,020 rows: 16 row tiles over 11 shared key tiles
        FlashChunkWarpTilesTest.checkHandoff(cuda, 32, 32, 128, 16, 47, 704, 48, 28, KvStore.BF16, 16, 303);
        System.out.println("workload 2's mixed-step handoff into one-warp chunk tiles == one pass bit for bit");
    }
}
