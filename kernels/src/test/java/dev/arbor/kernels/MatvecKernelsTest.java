package dev.arbor.kernels;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

/**
 * The bf16 matvec on the accel CPU executor against the double-precision reference: the vector
 * path with and without whole 1,024-column rounds, the scalar path (width not a multiple of 8),
 * one to eight tokens, rows not a multiple of the 8 warps of a block.
 */
class MatvecKernelsTest {
    @Test
    void agreesWithTheReferenceOverOddShapes() {
        CpuBackend cpu = new CpuBackend();
        for (MatvecCase c : new MatvecCase[] {
                new MatvecCase(1, 8, 1), new MatvecCase(37, 48, 3), new MatvecCase(5, 13, 2),
                new MatvecCase(9, 1032, 2), new MatvecCase(3, 2048, 1), new MatvecCase(11, 776, 1),
                new MatvecCase(7, 24, 5), new MatvecCase(4, 1032, 8), new MatvecCase(6, 9, 7)}) {
            c.check(cpu);
        }
    }

    @Test
    void fp16AndFp32WeightsAgreeWithTheReference() {
        CpuBackend cpu = new CpuBackend();
        for (String dtype : new String[] {"f16", "f32"}) {
            for (int[] shape : new int[][] {{1, 1, 1}, {7, 13, 2}, {13, 255, 3}, {33, 64, 1}, {5, 1000, 7}}) {
                new MatvecCase(shape[0], shape[1], shape[2], dtype).check(cpu);
            }
        }
    }
}
