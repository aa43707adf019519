package dev.arbor.engine.cache;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BlockPoolTest {

    @Test
    void allocateRetainRelease() {
        BlockPool pool = new BlockPool(4);
        assertEquals(4, pool.numTotal());
        assertTrue(pool.canAllocate(4));
        assertFalse(pool.canAllocate(5));
        int[] a = pool.allocate(3);
        assertArrayEquals(new int[] {0, 1, 2}, a);
        assertEquals(1, pool.numFree());
        pool.retain(1);
        assertEquals(2, pool.refCount(1));
        pool.release(1);
        assertEquals(1, pool.numFree());
        pool.release(1);
        assertEquals(0, pool.refCount(1));
        assertEquals(2, pool.numFree());
        assertArrayEquals(new int[] {1}, pool.allocate(1), "just released block reused first");
        pool.checkInvariants();
    }

    @Test
    void misuseFailsNamingTheBlock() {
        BlockPool pool = new BlockPool(2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.release(1));
        assertTrue(e.getMessage().contains("block 1"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> pool.retain(0));
        assertThrows(IllegalStateException.class, () -> pool.allocate(3));
        assertThrows(IndexOutOfBoundsException.class, () -> pool.refCount(2));
        assertEquals(2, pool.numFree(), "failed calls change nothing");
        pool.checkInvariants();
    }
}
