package dev.arbor.accel.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pinned ring's arithmetic (no device): aligned spans within a segment, the move to the next segment, the wrap, the pinned-range check. */
class PinnedRingTest {
    @Test
    void spansStayInOneSegmentAlignedAndWrap() {
        PinnedRing.RingCursor c = new PinnedRing.RingCursor(4096, 4, 256);   // 4 segments of 1,024 bytes
        assertEquals(1024, c.segmentBytes());
        assertEquals(0, c.take(1));
        assertEquals(256, c.take(300));      // 1 byte took one 256-byte unit
        assertEquals(768, c.take(256));      // 300 took two
        assertEquals(0, c.segment());
        assertEquals(1024, c.take(1));       // no room left in segment 0: segment 1
        assertEquals(1, c.segment());
        assertEquals(2048, c.take(1024));    // a whole segment does not fit behind 256 used bytes
        assertEquals(3072, c.take(1024));
        assertEquals(0, c.take(7));          // wrapped to segment 0
        assertEquals(0, c.segment());
        for (int i = 0; i < 1000; i++) {     // every span lies inside one segment
            long bytes = 1 + (i * 389L) % 1024, at = c.take(bytes);
            assertEquals(at / 1024, (at + bytes - 1) / 1024, "span of " + bytes + " at " + at);
            assertEquals(0, at % 256);
            assertEquals(c.segment(), at / 1024);
        }
        assertThrows(IllegalArgumentException.class, () -> c.take(1025));
        assertThrows(IllegalArgumentException.class, () -> new PinnedRing.RingCursor(4096, 1, 256));
        assertThrows(IllegalArgumentException.class, () -> new PinnedRing.RingCursor(1000, 8, 256));
    }

    @Test
    void pinnedRangesAreWholeSpansOfARegisteredBlock() {
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            var block = a.allocate(4096, 64);
            long base = block.address();
            assertEquals(false, PinnedRing.pinned(base, 16));
            PinnedRing.register(block);
            try {
                assertTrue(PinnedRing.pinned(base, 4096));
                assertTrue(PinnedRing.pinned(base + 100, 16));
                assertEquals(false, PinnedRing.pinned(base + 4090, 16), "a span running past the block");
                assertEquals(false, PinnedRing.pinned(base - 8, 16), "a span starting before it");
            } finally {
                PinnedRing.unregister(block);
            }
            assertEquals(false, PinnedRing.pinned(base, 16));
        }
    }
}
