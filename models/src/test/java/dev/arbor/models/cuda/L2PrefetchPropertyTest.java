package dev.arbor.models.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** {@code -Darbor.cuda.l2PrefetchMiB}: one MiB count for every window or four (o, gate|up, down, q|k|v); 0 = off. */
class L2PrefetchPropertyTest {
    @Test
    void oneOrFourMiBCounts() {
        assertArrayEquals(new long[] {0, 0, 0, 0}, CudaOps.l2PrefetchBytes("0"));
        assertArrayEquals(new long[] {16L << 20, 16L << 20, 16L << 20, 16L << 20}, CudaOps.l2PrefetchBytes("16"));
        assertArrayEquals(new long[] {32L << 20, 20L << 20, 10L << 20, 20L << 20}, CudaOps.l2PrefetchBytes(" 32, 20,10 ,20"));
        assertThrows(IllegalArgumentException.class, () -> CudaOps.l2PrefetchBytes("8,8"), "two counts");
        assertThrows(IllegalArgumentException.class, () -> CudaOps.l2PrefetchBytes("-1"), "negative");
        assertThrows(NumberFormatException.class, () -> CudaOps.l2PrefetchBytes("16MB"), "not a count");
    }
}
