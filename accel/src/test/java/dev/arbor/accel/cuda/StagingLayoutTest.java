package dev.arbor.accel.cuda;

import dev.arbor.accel.array.IntArray;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.*;

/** {@link StagingLayout}: the regions of a {@link PinnedStaging} block and its one 2D copy, checked on the host. */
class StagingLayoutTest {

    @Test
    void regionsAreAlignedDisjointAndHoldTheirBytes() {
        for (long bytes : new long[] {0, 1, 4, 255, 256, 257, 4 * 4097}) {
            StagingLayout l = new StagingLayout(8, bytes);
            assertEquals(0, l.pitch() % StagingLayout.ALIGN);
            assertTrue(l.pitch() >= bytes);
            assertEquals(8 * l.pitch(), l.bytes());
            for (int r = 0; r < 8; r++) {
                assertEquals(0, l.offset(r) % StagingLayout.ALIGN);
                if (r > 0) assertTrue(l.offset(r) >= l.offset(r - 1) + bytes, "region " + r + " overlaps the one before");
            }
            assertTrue(l.offset(7) + bytes <= l.bytes());
        }
        assertThrows(IndexOutOfBoundsException.class, () -> new StagingLayout(3, 64).offset(3));
        assertThrows(IllegalArgumentException.class, () -> new StagingLayout(0, 64));
    }

    /**
     * Arrays over the regions keep their values apart, and the 2D copy the layout encodes (rows = regions, pitch apart)
     * carries every array's used prefix: replayed here byte by byte as the copy engine would, into a second block.
     */
    @Test
    void theTwoDimensionalCopyCarriesEachArraysPrefix() {
        int n = 1000, regions = 5;
        StagingLayout l = new StagingLayout(regions, 4L * n);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(l.bytes(), 256), device = a.allocate(l.bytes(), 256);
            IntArray[] arrays = new IntArray[regions];
            for (int r = 0; r < regions; r++) arrays[r] = new IntArray(l.slice(host, r, 4L * n));
            int used = 37;
            for (int r = 0; r < regions; r++) for (int i = 0; i < n; i++) arrays[r].set(i, 1_000_000 * r + i);
            for (int r = 0; r < regions; r++) for (int i = 0; i < n; i++) assertEquals(1_000_000 * r + i, arrays[r].get(i));

            MemorySegment copy = a.allocate(StagingLayout.MEMCPY2D_BYTES, 8);
            l.encode2D(copy, host.address(), device.address(), 4L * used, regions - 1);
            replay2D(copy, device);
            for (int r = 0; r < regions; r++) {
                for (int i = 0; i < n; i++) {
                    int want = r < regions - 1 && i < used ? 1_000_000 * r + i : 0;
                    assertEquals(want, device.get(JAVA_INT, l.offset(r) + 4L * i), "region " + r + " element " + i);
                }
            }
            assertThrows(IndexOutOfBoundsException.class, () -> l.encode2D(copy, host.address(), device.address(), 4L * n + 1, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> l.encode2D(copy, host.address(), device.address(), 4, regions + 1));
        }
    }

    /** What the driver does with a host-to-device CUDA_MEMCPY2D (cuda.h field order), with both ends as host memory. */
    private static void replay2D(MemorySegment copy, MemorySegment dst) {
        assertEquals(0, copy.get(JAVA_LONG, 0));   // srcXInBytes
        assertEquals(0, copy.get(JAVA_LONG, 8));   // srcY
        assertEquals(CudaDriver.CU_MEMORYTYPE_HOST, copy.get(JAVA_INT, 16));
        assertEquals(CudaDriver.CU_MEMORYTYPE_DEVICE, copy.get(JAVA_INT, 72));
        assertEquals(0, copy.get(JAVA_LONG, 56));  // dstXInBytes
        assertEquals(0, copy.get(JAVA_LONG, 64));  // dstY
        long src = copy.get(JAVA_LONG, 24), srcPitch = copy.get(JAVA_LONG, 48);
        long dstAt = copy.get(JAVA_LONG, 88), dstPitch = copy.get(JAVA_LONG, 104);
        long width = copy.get(JAVA_LONG, 112), height = copy.get(JAVA_LONG, 120);
        assertEquals(dst.address(), dstAt);
        MemorySegment from = MemorySegment.ofAddress(src).reinterpret(srcPitch * height);
        for (long row = 0; row < height; row++) MemorySegment.copy(from, row * srcPitch, dst, row * dstPitch, width);
    }
}
