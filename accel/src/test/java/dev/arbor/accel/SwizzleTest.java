package dev.arbor.accel;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** The swizzles are permutations within each row and make 8-row ldmatrix reads conflict-free. */
class SwizzleTest {
    @Test
    void rowsArePermutedInPlace() {
        for (int row = 0; row < 64; row++) {
            Set<Integer> w128 = new HashSet<>(), w64 = new HashSet<>();
            for (int c = 0; c < 8; c++) {
                int w = Swizzle.rowChunk128(row, c);
                assertEquals(0, w % 4);
                assertEquals(row, w / 32);
                w128.add(w);
            }
            for (int c = 0; c < 4; c++) {
                int w = Swizzle.rowChunk64(row, c);
                assertEquals(row, w / 16);
                w64.add(w);
            }
            assertEquals(8, w128.size());
            assertEquals(4, w64.size());
        }
    }

    @Test
    void eightConsecutiveRowsAtOneChunkHitEightBankGroups() {
        for (int first = 0; first < 64; first += 8)
            for (int c = 0; c < 8; c++) {
                Set<Integer> groups128 = new HashSet<>(), groups64 = new HashSet<>();
                for (int r = first; r < first + 8; r++) {
                    groups128.add((Swizzle.rowChunk128(r, c) % 32) / 4);   // 16-byte group within the 128 bytes of banks
                    if (c < 4) groups64.add((Swizzle.rowChunk64(r, c) % 32) / 4);
                }
                assertEquals(8, groups128.size());
                if (c < 4) assertEquals(8, groups64.size());
            }
    }
}
