package dev.arbor.models.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The CUDA graph buckets: powers of two up to the limit, then the limit; a size goes to the smallest bucket holding it. */
class DecodeGraphsBucketsTest {
    @Test
    void bucketsArePowersOfTwoThenTheLimit() {
        assertArrayEquals(new int[] {1}, DecodeGraphs.powersUpTo(1));
        assertArrayEquals(new int[] {1, 2, 4, 8, 16, 32, 64, 128, 256}, DecodeGraphs.powersUpTo(256));
        assertArrayEquals(new int[] {1, 2, 4, 8, 16, 32, 64, 100}, DecodeGraphs.powersUpTo(100));
        assertArrayEquals(new int[] {1, 2, 4, 8, 16, 32, 64, 128, 256, 500}, DecodeGraphs.powersUpTo(500));
        assertThrows(IllegalArgumentException.class, () -> DecodeGraphs.powersUpTo(0));
    }

    @Test
    void aSizeGoesToTheSmallestBucketHoldingIt() {
        int[] b = DecodeGraphs.powersUpTo(100);
        for (int n = 1; n <= 100; n++) {
            int i = DecodeGraphs.bucketOf(b, n);
            assertEquals(true, b[i] >= n && (i == 0 || b[i - 1] < n), n + " -> " + b[i]);
        }
        assertEquals(7, DecodeGraphs.bucketOf(b, 65));
        assertThrows(IllegalArgumentException.class, () -> DecodeGraphs.bucketOf(b, 0));
        assertThrows(IllegalArgumentException.class, () -> DecodeGraphs.bucketOf(b, 101));
    }
}
