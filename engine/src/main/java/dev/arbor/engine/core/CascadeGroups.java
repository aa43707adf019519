package dev.arbor.engine.core;

import dev.arbor.kernels.attention.CascadeAttention;
import dev.arbor.models.ForwardBatch;

import java.util.Arrays;

/**
 * Finds cascade groups in a filled {@link ForwardBatch} (issue 11): sequences whose block tables begin
 * with the same physical blocks, which the prefix trie made so (a shared system prompt, few-shot
 * examples). Sequences are bucketed by their first block; a bucket's shared part is the longest run of
 * leading blocks common to all its members, capped at the full blocks before each member's first new
 * token (only full blocks are shared, and no query then lies inside the shared part). A bucket becomes a group when {@link CascadeAttention#pays} says the shared reads it saves
 * are worth the extra launch: the threshold lives beside the kernel that was measured.
 *
 * <p>Ids and counts only: it reads block tables and context lengths, never a tensor. Its scratch is
 * allocated once and grown, so a step allocates nothing once warm.
 */
final class CascadeGroups {
    private int[] order = new int[0];     // sequence indices sorted by first block
    private long[] keys = new long[0];    // (first block << 32 | sequence) for the sort
    private int[] members = new int[0];

    /** Adds the batch's cascade groups to it and returns how many it added. */
    int form(ForwardBatch b) {
        int n = b.numSeqs(), bs = b.shape().blockSize();
        if (n < CascadeAttention.MIN_SEQUENCES) return 0;
        if (keys.length < n) {
            keys = new long[n];
            order = new int[n];
            members = new int[n];
        }
        int m = 0;
        for (int s = 0; s < n; s++) if (b.position(b.queryStart(s)) >= bs) keys[m++] = ((long) b.block(s, 0) << 32) | s;
        Arrays.sort(keys, 0, m);
        for (int i = 0; i < m; i++) order[i] = (int) keys[i];
        int groups = 0;
        for (int i = 0; i < m; ) {
            int first = b.block(order[i], 0), j = i;
            while (j < m && b.block(order[j], 0) == first) j++;
            if (j - i >= CascadeAttention.MIN_SEQUENCES) groups += formBucket(b, i, j, bs);
            i = j;
        }
        return groups;
    }

    /** One bucket order[i .. j) with a common first block: its common leading blocks, then the threshold. */
    private int formBucket(ForwardBatch b, int i, int j, int bs) {
        int lead = order[i], shared = Integer.MAX_VALUE;
        // full blocks before each member's first new token: no query lies inside the shared part
        for (int k = i; k < j; k++) shared = Math.min(shared, b.position(b.queryStart(order[k])) / bs);
        for (int k = i + 1; k < j; k++) {
            int s = order[k], c = 0;
            while (c < shared && b.block(s, c) == b.block(lead, c)) c++;
            shared = c;
        }
        if (shared < 1 || !CascadeAttention.pays(j - i, shared * bs)) return 0;
        System.arraycopy(order, i, members, 0, j - i);
        b.addCascadeGroup(members, j - i, shared);
        return 1;
    }
}
