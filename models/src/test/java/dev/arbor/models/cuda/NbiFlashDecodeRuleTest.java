package dev.arbor.models.cuda;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.kernels.attention.FlashPrefillAttention;
import org.junit.jupiter.api.Test;

/**
 * Without batch invariance, which decode steps take the tensor-core kernel (CudaOps.nbiFlashDecodePays): G ≥ 4 query heads a
 * kv head, at most 16 (one decode token in a one-warp tile), and enough (sequence, kv head) walks for one-warp tiles.
 */
class NbiFlashDecodeRuleTest {
    private static final int SMS = 132;

    @Test
    void wideGqaDecodeStepsTakeTheTensorCoreKernel() {
        int walks = FlashPrefillAttention.WARP_WAVES * SMS;   // 528 on the H200
        // Llama-3.2-1B (32 on 8): 128 sequences = 1,024 walks (issue 12's b128 row); 66 = 528 the first; 65 = 520 not
        assertTrue(CudaOps.nbiFlashDecodePays(4, 128, 8, SMS));
        assertTrue(CudaOps.nbiFlashDecodePays(4, walks / 8, 8, SMS));
        assertFalse(CudaOps.nbiFlashDecodePays(4, walks / 8 - 1, 8, SMS));
        assertFalse(CudaOps.nbiFlashDecodePays(4, 32, 8, SMS));
        // G = 8 and 16 fill 8 / 16 of the 16 rows; G = 32 has no one-warp tile
        assertTrue(CudaOps.nbiFlashDecodePays(8, 128, 8, SMS));
        assertTrue(CudaOps.nbiFlashDecodePays(16, 264, 2, SMS));
        assertFalse(CudaOps.nbiFlashDecodePays(32, 1024, 1, SMS));
        // G = 1 and 2 (Llama-2-7B's 32 on 32: the paged kernel measured faster at every batch) keep the paged kernel
        assertFalse(CudaOps.nbiFlashDecodePays(1, 434, 32, SMS));
        assertFalse(CudaOps.nbiFlashDecodePays(2, 512, 16, SMS));
        // the walks scale with the multiprocessors
        assertFalse(CudaOps.nbiFlashDecodePays(4, 128, 8, 300));
        assertTrue(CudaOps.nbiFlashDecodePays(4, 128, 8, 256));
    }
}
