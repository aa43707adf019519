package dev.arbor.accel.cuda;

import dev.arbor.accel.array.IntArray;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link PinnedStaging} on the device: one 2D copy lands each region's used prefix in its array's device mirror, and no more. */
@Tag("gpu")
class PinnedStagingGpuTest {
    @Test
    void oneCopyFillsEveryRegionsPrefix() {
        CudaBackend cuda = CudaBackend.open(0);
        int n = 3000, regions = 6;
        try (PinnedStaging s = new PinnedStaging(cuda.device(), new StagingLayout(regions, 4L * n)); Arena a = Arena.ofConfined()) {
            IntArray[] arrays = new IntArray[regions];
            for (int r = 0; r < regions; r++) arrays[r] = s.intArray(r, n);
            for (int round = 0; round < 3; round++) {
                int used = 1 + 997 * round, height = regions - round;
                for (int r = 0; r < regions; r++) for (int i = 0; i < n; i++) arrays[r].set(i, round * 100_000_000 + r * 100_000 + i);
                for (int r = 0; r < regions; r++) ((DeviceBuffer) arrays[r].deviceMirror()).zero();
                s.upload(4L * used, height, MemorySegment.NULL);
                cuda.synchronize();
                MemorySegment back = a.allocate(4L * n);
                for (int r = 0; r < regions; r++) {
                    ((DeviceBuffer) arrays[r].deviceMirror()).download(back, 0, 4L * n);
                    for (int i = 0; i < n; i++) {
                        int want = r < height && i < used ? round * 100_000_000 + r * 100_000 + i : 0;
                        assertEquals(want, back.getAtIndex(JAVA_INT, i), "round " + round + ", region " + r + ", element " + i);
                    }
                }
            }
            for (IntArray x : arrays) x.close();   // views: frees nothing; the staging frees both blocks
        }
    }
}
