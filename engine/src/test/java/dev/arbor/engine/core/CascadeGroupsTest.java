package dev.arbor.engine.core;

import dev.arbor.kernels.attention.CascadeAttention;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.StepShape;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Groups from block tables: common leading blocks, full blocks only, the threshold, buckets by first block. */
class CascadeGroupsTest {
    private static final StepShape SHAPE = new StepShape(8192, 16, 256, 64, 128, 64);

    /** A decode sequence (one new token at its last position) whose table is {@code shared} then its own blocks. */
    private static void decode(ForwardBatch b, int[] shared, int ownBase, int len) {
        int blocks = (len + 15) / 16;
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i < shared.length ? shared[i] : ownBase + i;
        b.beginSequence(table, blocks);
        b.addToken(7, len - 1);
    }

    private static int[] range(int from, int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = from + i;
        return r;
    }

    @Test
    void groupsShareTheirCommonFullBlocks() {
        ForwardBatch b = new ForwardBatch(SHAPE);
        int[] prefix = range(0, 70);                            // 1120 keys (17 x 68 shared blocks: over MIN_SHARED_READS)
        for (int s = 0; s < 16; s++) decode(b, prefix, 1000 + 100 * s, 1130 + 3 * s);
        int[] other = range(4000, 10);                          // 160 keys, 3 sequences: below MIN_SEQUENCES
        for (int s = 0; s < 3; s++) decode(b, other, 5000 + 100 * s, 170 + s);
        int[] fork = range(0, 70);
        fork[68] = 999;                                         // shares blocks 0..67 with the first 16
        decode(b, fork, 5500, 1200);
        decode(b, range(7000, 3), 0, 40);                       // a loner
        assertEquals(1, new CascadeGroups().form(b));
        assertEquals(1, b.numCascadeGroups());
        for (int s = 0; s < 16; s++) assertEquals(68 * 16, b.keyStart(s), "sequence " + s);
        assertEquals(68 * 16, b.keyStart(19), "the fork");
        for (int s : new int[] {16, 17, 18, 20}) assertEquals(0, b.keyStart(s), "sequence " + s);
        assertEquals(17, b.maxGroupTokens());
        assertEquals(68 * 16, b.maxSharedLen());
    }

    @Test
    void aShortMemberCapsTheSharedPartAtItsFullBlocks() {
        ForwardBatch b = new ForwardBatch(SHAPE);
        int[] prefix = range(0, 80);
        for (int s = 0; s < 15; s++) decode(b, prefix, 1000 + 100 * s, 1280);
        decode(b, prefix, 4000, 1100);                          // 68 full blocks + 12 keys of block 68
        assertEquals(1, new CascadeGroups().form(b));
        assertEquals(68 * 16, b.keyStart(0));
        assertEquals(68 * 16, b.keyStart(15));
    }

    @Test
    void theThresholdIsTheKernels() {
        ForwardBatch b = new ForwardBatch(SHAPE);
        int keys = 16 * (int) Math.ceil(CascadeAttention.MIN_SHARED_READS / 16.0 / CascadeAttention.MIN_SEQUENCES) - 16;   // just under
        int[] prefix = range(0, keys / 16);
        for (int s = 0; s < CascadeAttention.MIN_SEQUENCES; s++) decode(b, prefix, 1000 + 100 * s, keys + 5);
        assertEquals(0, new CascadeGroups().form(b));
        b.clear();
        prefix = range(0, keys / 16 + 1);
        for (int s = 0; s < CascadeAttention.MIN_SEQUENCES; s++) decode(b, prefix, 1000 + 100 * s, keys + 16 + 5);
        assertEquals(1, new CascadeGroups().form(b));
    }

    @Test
    void theBatchRefusesAGroupWhoseTablesDiffer() {
        ForwardBatch b = new ForwardBatch(SHAPE);
        decode(b, range(0, 4), 100, 70);
        decode(b, range(10, 4), 200, 70);
        assertThrows(IllegalArgumentException.class, () -> b.addCascadeGroup(new int[] {0, 1}, 2, 2));
        b.addCascadeGroup(new int[] {0}, 1, 4);
        assertThrows(IllegalArgumentException.class, () -> b.addCascadeGroup(new int[] {0}, 1, 4), "already grouped");
    }

    /** A sequence listed twice, or a member that fails after others passed, leaves every member ungrouped (no mark left). */
    @Test
    void aRejectedGroupLeavesItsMembersFree() {
        ForwardBatch b = new ForwardBatch(SHAPE);
        int[] prefix = range(0, 8);
        for (int s = 0; s < 4; s++) decode(b, prefix, 100 + 20 * s, 150);
        decode(b, range(500, 8), 600, 150);                         // sequence 4: other blocks
        assertThrows(IllegalArgumentException.class, () -> b.addCascadeGroup(new int[] {0, 1, 2, 1}, 4, 8), "listed twice");
        assertThrows(IllegalArgumentException.class, () -> b.addCascadeGroup(new int[] {0, 1, 4}, 3, 8), "tables differ");
        assertThrows(IllegalArgumentException.class, () -> b.addCascadeGroup(new int[] {2, 3, 9}, 3, 8), "outside the batch");
        for (int s = 0; s < 5; s++) assertEquals(0, b.keyStart(s), "sequence " + s);
        assertEquals(0, b.numCascadeGroups());
        b.addCascadeGroup(new int[] {3, 2, 1, 0}, 4, 8);
        for (int s = 0; s < 4; s++) assertEquals(8 * 16, b.keyStart(s), "sequence " + s);
        assertEquals(0, b.keyStart(4));
        assertEquals(1, b.numCascadeGroups());
        assertEquals(4, b.maxGroupTokens());
    }
}
