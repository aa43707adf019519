package dev.arbor.kernels;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The bf16 matvec on the GPU against the double-precision reference, decode shapes included ({@code @Tag("gpu")}). */
@Tag("gpu")
class MatvecKernelsGpuTest {
    @Test
    void agreesWithTheReferenceOnTheGpu() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            for (MatvecCase c : new MatvecCase[] {
                    new MatvecCase(37, 48, 3), new MatvecCase(5, 13, 2), new MatvecCase(9, 1032, 2),
                    new MatvecCase(4096, 4096, 1), new MatvecCase(11008, 4096, 2), new MatvecCase(768, 2048, 8)}) {
                c.check(cuda);
            }
        }
    }
}
