package dev.arbor.models.cuda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The rows CudaOps copies of the block tables: exactly the span of rows that differ from the device's copy. */
class ChangedRowsTest {
    @Test
    void spanCoversTheRowsThatDiffer() {
        int rows = 6, width = 5;
        int[] table = new int[rows * width];
        for (int i = 0; i < table.length; i++) table[i] = i * 7;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mirror = arena.allocate(4L * table.length);
            MemorySegment.copy(table, 0, mirror, ValueLayout.JAVA_INT, 0, table.length);
            assertNull(ChangedRows.span(table, mirror, rows, width), "nothing changed");
            table[2 * width + 4] = -1;                                   // last entry of row 2
            assertArrayEquals(new int[] {2, 3}, ChangedRows.span(table, mirror, rows, width));
            table[4 * width] = -1;                                       // first entry of row 4
            assertArrayEquals(new int[] {2, 5}, ChangedRows.span(table, mirror, rows, width));
            assertArrayEquals(new int[] {2, 3}, ChangedRows.span(table, mirror, 4, width), "only the step's rows are compared");
            table[0] = 1;
            assertArrayEquals(new int[] {0, 5}, ChangedRows.span(table, mirror, rows, width));
        }
    }
}
