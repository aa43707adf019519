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
        int[] full = new int[rows];
        java.util.Arrays.fill(full, width * 16);                        // every row's context reaches its last block
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mirror = arena.allocate(4L * table.length);
            MemorySegment.copy(table, 0, mirror, ValueLayout.JAVA_INT, 0, table.length);
            assertNull(ChangedRows.span(table, mirror, rows, width, full, 16), "nothing changed");
            table[2 * width + 4] = -1;                                   // last entry of row 2
            assertArrayEquals(new int[] {2, 3}, ChangedRows.span(table, mirror, rows, width, full, 16));
            table[4 * width] = -1;                                       // first entry of row 4
            assertArrayEquals(new int[] {2, 5}, ChangedRows.span(table, mirror, rows, width, full, 16));
            assertArrayEquals(new int[] {2, 3}, ChangedRows.span(table, mirror, 4, width, full, 16), "only the step's rows are compared");
            table[0] = 1;
            assertArrayEquals(new int[] {0, 5}, ChangedRows.span(table, mirror, rows, width, full, 16));
        }
    }

    /** Only the blocks a row's context reaches are compared: a change past them (padding no kernel reads) is not copied. */
    @Test
    void entriesPastARowsContextAreNotCompared() {
        int rows = 3, width = 8, bs = 16;
        int[] table = new int[rows * width];
        for (int i = 0; i < table.length; i++) table[i] = i + 1;
        int[] context = {3 * bs, 1, 8 * bs};                          // row 0 reads blocks 0..2, row 1 block 0, row 2 all 8
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mirror = arena.allocate(4L * table.length);
            MemorySegment.copy(table, 0, mirror, ValueLayout.JAVA_INT, 0, table.length);
            table[3] = -1;                                              // row 0, block 3: past its context
            table[width + 1] = -1;                                      // row 1, block 1: past its context
            assertNull(ChangedRows.span(table, mirror, rows, width, context, bs), "padding changed only");
            context[0] = 3 * bs + 1;                                    // row 0's context now reaches block 3
            assertArrayEquals(new int[] {0, 1}, ChangedRows.span(table, mirror, rows, width, context, bs));
            table[2 * width + 7] = -1;                                  // row 2's last block
            assertArrayEquals(new int[] {0, 3}, ChangedRows.span(table, mirror, rows, width, context, bs));
            assertArrayEquals(new int[] {1, 2}, ChangedRows.span(table, mirror, rows, width, new int[] {3 * bs, 2 * bs, 1}, bs),
                    "row 1 now reaching block 1; row 2 reading block 0 only (unchanged)");
        }
    }
}
