package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * A random paged batch for the attention tests: sequences with given context lengths whose last
 * {@code newTokens[i]} positions are this step's queries, K/V of every position already in a store whose
 * physical blocks are shuffled (and whose table padding points at unrelated blocks, so a stray read
 * shows), queries random. Sub-batches of its tokens reuse the same store and queries, which is how
 * the tests compare a (token, head) computed alone, in a batch, chunked or whole.
 */
final class PagedBatch implements AutoCloseable {
    final int heads, kvHeads, headDim, blockSize, maxBlocksPerSeq, numBlocks, tokens;
    final KvStore store;
    final int[] contextLens, positions, seqOfToken;
    final int[][] tables;
    final float[] q, kStore, vStore, slopes;
    final OffHeapArray kCache, vCache;
    final IntArray tablesA;
    final FloatArray slopesA;

    /** bf16 true: a bf16 store, false: fp32. */
    PagedBatch(int heads, int kvHeads, int headDim, int blockSize, int[] contextLens, int[] newTokens, boolean alibi, boolean bf16, long seed) {
        this(heads, kvHeads, headDim, blockSize, contextLens, newTokens, alibi, bf16 ? KvStore.BF16 : KvStore.F32, seed, null, null);
    }

    PagedBatch(int heads, int kvHeads, int headDim, int blockSize, int[] contextLens, int[] newTokens, boolean alibi, KvStore store, long seed) {
        this(heads, kvHeads, headDim, blockSize, contextLens, newTokens, alibi, store, seed, null, null);
    }

    PagedBatch(int heads, int kvHeads, int headDim, int blockSize, int[] contextLens, int[] newTokens, boolean alibi, boolean bf16, long seed,
               int[] shared) {
        this(heads, kvHeads, headDim, blockSize, contextLens, newTokens, alibi, bf16 ? KvStore.BF16 : KvStore.F32, seed, shared, null);
    }

    PagedBatch(int heads, int kvHeads, int headDim, int blockSize, int[] contextLens, int[] newTokens, boolean alibi, KvStore store, long seed,
               int[] shared) {
        this(heads, kvHeads, headDim, blockSize, contextLens, newTokens, alibi, store, seed, shared, null);
    }

    PagedBatch(int heads, int kvHeads, int headDim, int blockSize, int[] contextLens, int[] newTokens, boolean alibi, boolean bf16, long seed,
               int[] shared, int[] leader) {
        this(heads, kvHeads, headDim, blockSize, contextLens, newTokens, alibi, bf16 ? KvStore.BF16 : KvStore.F32, seed, shared, leader);
    }

    /**
     * @param shared when given, sequence i's first shared[i] blocks are those of sequence leader[i] (a cascade group)
     * @param leader per sequence the one whose blocks it shares (a lower index, or itself); null: sequence 0
     */
    PagedBatch(int heads, int kvHeads, int headDim, int blockSize, int[] contextLens, int[] newTokens, boolean alibi, KvStore store, long seed,
               int[] shared, int[] leader) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.store = store;
        this.contextLens = contextLens.clone();
        Random r = new Random(seed);
        int seqs = contextLens.length, total = 0, maxBlocks = 1;
        for (int i = 0; i < seqs; i++) {
            int nb = (contextLens[i] + blockSize - 1) / blockSize;
            total += nb - (shared != null && lead(leader, i) != i ? shared[i] : 0);
            maxBlocks = Math.max(maxBlocks, nb);
        }
        maxBlocksPerSeq = maxBlocks + 1;
        numBlocks = total + 3;
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) free.add(b);
        Collections.shuffle(free, r);
        tables = new int[seqs][];
        for (int i = 0; i < seqs; i++) {
            tables[i] = new int[maxBlocksPerSeq];
            int nb = (contextLens[i] + blockSize - 1) / blockSize, own = shared != null && lead(leader, i) != i ? shared[i] : 0;
            for (int b = 0; b < maxBlocksPerSeq; b++) {
                if (b < own) tables[i][b] = tables[lead(leader, i)][b];
                else if (b < nb) tables[i][b] = free.removeLast();
                else tables[i][b] = r.nextInt(numBlocks);   // padding: a real block the kernel must not read
            }
        }
        int n = numBlocks * kvHeads * blockSize * headDim;
        kStore = new float[n];
        vStore = new float[n];
        for (int i = 0; i < n; i++) {
            kStore[i] = round(r.nextFloat() * 2 - 1);
            vStore[i] = round(r.nextFloat() * 2 - 1);
        }
        int tk = 0;
        for (int x : newTokens) tk += x;
        tokens = tk;
        positions = new int[tokens];
        seqOfToken = new int[tokens];
        for (int i = 0, t = 0; i < seqs; i++) {
            for (int k = 0; k < newTokens[i]; k++, t++) {
                positions[t] = contextLens[i] - newTokens[i] + k;
                seqOfToken[t] = i;
            }
        }
        q = new float[tokens * heads * headDim];
        for (int i = 0; i < q.length; i++) q[i] = (r.nextFloat() * 2 - 1) * 2.5f;
        slopes = alibi ? AlibiSlopes.of(heads) : null;
        kCache = store.allocate(n);
        vCache = store.allocate(n);
        for (int i = 0; i < n; i++) {
            set(kCache, i, kStore[i]);
            set(vCache, i, vStore[i]);
        }
        tablesA = new IntArray(seqs * maxBlocksPerSeq);
        for (int i = 0; i < seqs; i++) for (int b = 0; b < maxBlocksPerSeq; b++) tablesA.set(i * maxBlocksPerSeq + b, tables[i][b]);
        slopesA = alibi ? FloatArray.of(slopes) : null;
    }

    private static int lead(int[] leader, int i) { return leader != null ? leader[i] : 0; }

    private float round(float f) { return store.round(f); }

    private static void set(OffHeapArray a, int i, float v) { KvStore.set(a, i, v); }

    int maxContext() {
        int m = 0;
        for (int c : contextLens) m = Math.max(m, c);
        return m;
    }

    int[] allTokens() {
        int[] all = new int[tokens];
        for (int i = 0; i < tokens; i++) all[i] = i;
        return all;
    }

    /**
     * Whether the next runs write a bf16 output (o_proj's X, {@code arbor.gemm.bf16AttentionOut}): the launchers' bf16-output
     * kernels; the rows come back widened to fp32. Tests set it around their runs ({@link #withBf16Out}).
     */
    static boolean outBf16;

    /** {@code run} with {@link #outBf16} set. */
    static float[] withBf16Out(java.util.function.Supplier<float[]> run) {
        boolean before = outBf16;
        outBf16 = true;
        try {
            return run.get();
        } finally {
            outBf16 = before;
        }
    }

    /** An output of {@code n} elements, fp32 or ({@link #outBf16}) bf16, every element NaN (every output must be written). */
    static OffHeapArray newOut(int n) {
        OffHeapArray out = outBf16 ? new BFloat16Array(n) : new FloatArray(n);
        for (int i = 0; i < n; i++) out.setFloat(i, Float.NaN);
        return out;
    }

    /** An output's elements as floats (bf16 widened exactly). */
    static float[] values(OffHeapArray out) {
        float[] v = new float[out.length()];
        for (int i = 0; i < v.length; i++) v[i] = out instanceof BFloat16Array b ? b.get(i) : ((FloatArray) out).get(i);
        return v;
    }

    double[] reference() {
        return AttentionReference.attention(q, kStore, vStore, positions, seqOfToken, tables, heads, kvHeads, headDim, blockSize, slopes);
    }

    /** Runs the tokens {@code which} (in that order) as one batch; split null lets the launcher choose. Returns (which.length, heads*headDim). */
    float[] run(Backend b, PagedAttention attn, int[] which, Boolean split) {
        int n = which.length, row = heads * headDim;
        try (FloatArray qa = new FloatArray(n * row); OffHeapArray out = newOut(n * row);
             IntArray pos = new IntArray(n); IntArray seq = new IntArray(n)) {
            int maxCtx = fill(which, qa, pos, seq);
            b.toDevice(qa, out, pos, seq, kCache, vCache, tablesA);
            if (slopesA != null) b.toDevice(slopesA);
            if (split == null) attn.launch(b, qa, kCache, vCache, out, pos, seq, tablesA, maxBlocksPerSeq, slopesA, n, maxCtx);
            else attn.launch(b, qa, kCache, vCache, out, pos, seq, tablesA, maxBlocksPerSeq, slopesA, n, maxCtx, split);
            b.toHost(out);
            return values(out);
        }
    }

    /** Cascade over the given groups of sequences (each group's members share their first sharedBlocks[g] blocks). */
    float[] runCascade(Backend b, CascadeAttention attn, int[][] groups, int[] sharedBlocks) {
        return runCascade(b, attn, groups, sharedBlocks, true);
    }

    /** tightSuffixGrid: the suffix launch's grid of the batch's most own splits ({@link CascadeAttention#ownSplits}), else of the whole context's. */
    float[] runCascade(Backend b, CascadeAttention attn, int[][] groups, int[] sharedBlocks, boolean tightSuffixGrid) {
        int n = tokens, row = heads * headDim;
        int[] keyStart = new int[contextLens.length];
        List<Integer> groupTokens = new ArrayList<>();
        int[] starts = new int[groups.length + 1];
        int maxGroup = 1, maxShared = 1;
        for (int g = 0; g < groups.length; g++) {
            starts[g] = groupTokens.size();
            for (int s : groups[g]) {
                keyStart[s] = sharedBlocks[g] * blockSize;
                for (int t = 0; t < tokens; t++) if (seqOfToken[t] == s) groupTokens.add(t);
            }
            maxGroup = Math.max(maxGroup, groupTokens.size() - starts[g]);
            maxShared = Math.max(maxShared, sharedBlocks[g] * blockSize);
        }
        starts[groups.length] = groupTokens.size();
        try (FloatArray qa = new FloatArray(n * row); OffHeapArray out = newOut(n * row);
             IntArray pos = new IntArray(n); IntArray seq = new IntArray(n); IntArray ks = IntArray.of(keyStart);
             IntArray gt = IntArray.of(groupTokens.isEmpty() ? new int[] {0} : groupTokens.stream().mapToInt(Integer::intValue).toArray());
             IntArray gs = IntArray.of(starts)) {
            int maxCtx = fill(allTokens(), qa, pos, seq);
            b.toDevice(qa, out, pos, seq, kCache, vCache, tablesA, ks, gt, gs);
            if (slopesA != null) b.toDevice(slopesA);
            if (tightSuffixGrid) {
                int own = 0;
                for (int t = 0; t < n; t++) own = Math.max(own, CascadeAttention.ownSplits(pos.get(t), keyStart[seqOfToken[t]]));
                attn.launch(b, qa, kCache, vCache, out, pos, seq, tablesA, maxBlocksPerSeq, slopesA, n, maxCtx, ks, gt, gs, groups.length, maxGroup,
                        maxShared, own);
            } else {
                attn.launch(b, qa, kCache, vCache, out, pos, seq, tablesA, maxBlocksPerSeq, slopesA, n, maxCtx, ks, gt, gs, groups.length, maxGroup, maxShared);
            }
            b.toHost(out);
            return values(out);
        }
    }

    private int fill(int[] which, FloatArray qa, IntArray pos, IntArray seq) {
        int row = heads * headDim, maxCtx = 1;
        for (int i = 0; i < which.length; i++) {
            int t = which[i];
            for (int e = 0; e < row; e++) qa.set(i * row + e, q[t * row + e]);
            pos.set(i, positions[t]);
            seq.set(i, seqOfToken[t]);
            maxCtx = Math.max(maxCtx, positions[t] + 1);
        }
        return maxCtx;
    }

    @Override public void close() {
        kCache.close();
        vCache.close();
        tablesA.close();
        if (slopesA != null) slopesA.close();
    }
}
