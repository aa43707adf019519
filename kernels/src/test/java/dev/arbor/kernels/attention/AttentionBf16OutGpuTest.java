package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link AttentionBf16OutTest}'s checks on the GPU ({@code @Tag("gpu")}): each attention kernel's bf16-output twin
 * ({@code arbor.gemm.bf16AttentionOut}) writes exactly the fp32 kernel's output rounded to nearest even — DecodeKernels
 * (whole, fused and separate merge, small and narrow splits), the cascade's suffix forms (with the tensor-core shared level), the
 * flash tall, one-warp and long forms, planBelow and the handoff.
 */
@Tag("gpu")
class AttentionBf16OutGpuTest {
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    @Test
    void decodeKernels() {
        AttentionBf16OutTest.decode(cuda);
    }

    @Test
    void cascadeSuffixForms() {
        AttentionBf16OutTest.cascade(cuda);
    }

    @Test
    void flashForms() {
        AttentionBf16OutTest.flash(cuda);
    }
}
