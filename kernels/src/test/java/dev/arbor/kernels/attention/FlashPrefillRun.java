package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

import java.util.ArrayList;
import java.util.List;

/**
 * Runs {@link FlashPrefillAttention} (short tiles always in one-warp tiles, {@code setMinWarpWalks(0)}) over chosen chunks of a
 * {@link PagedBatch}'s tokens: each chunk is a
 * run of consecutive tokens (indices into the batch) of one sequence, and the chunks are one step, in
 * the given order. Returns the output rows in the order of the chunks' tokens.
 */
final class FlashPrefillRun {
    private FlashPrefillRun() {}

    /** Chunks {@code [from, to)} of the batch's token indices. */
    static int[][] chunks(int[]... fromTo) { return fromTo; }

    /** Each sequence's new tokens as one chunk. */
    static int[][] whole(PagedBatch b) {
        List<int[]> out = new ArrayList<>();
        int t = 0;
        while (t < b.tokens) {
            int s = b.seqOfToken[t], from = t;
            while (t < b.tokens && b.seqOfToken[t] == s) t++;
            out.add(new int[] {from, t});
        }
        return out.toArray(new int[0][]);
    }

    /** Token indices of the chunks, concatenated. */
    static int[] tokens(int[][] chunks) {
        List<Integer> all = new ArrayList<>();
        for (int[] c : chunks) for (int t = c[0]; t < c[1]; t++) all.add(t);
        return all.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Tiles the last {@link #run} planned (tall and short); of them short (one-warp) tiles. */
    static int lastTiles, lastWarpTiles;
    /** Whether the last {@link #run} took the long-chunk form ({@link FlashPrefillKernels#longBf16}). */
    static boolean lastLong;
    /**
     * K/V stages of the split form for the next runs' short tiles ({@link FlashSplitKernels}; 0: the one-warp kernel, as by default;
     * -1: 64-row tiles);
     * {@link #lastSplit}: whether the last run took it.
     */
    static int splitStages = 0;
    static boolean lastSplit;
    /** The long-chunk form's threshold and band for the next runs ({@link FlashPrefillAttention#setLongForm}; tokens ≤ 0: never). */
    static int longTokens = FlashPrefillAttention.LONG_TOKENS, longBand = FlashPrefillAttention.LONG_BAND;
    /** The handoff overlap of the next {@link #runHandoff} ({@link FlashPrefillAttention#setHandoffOverlap}). */
    static boolean handoffOverlap = FlashPrefillAttention.HANDOFF_OVERLAP;
    /** The shared pass's dim split of the next {@link #runHandoff} ({@link FlashPrefillAttention#setSharedDimSplit}: -1 by rule, 0, 1). */
    static int sharedDimSplit = -1;
    /** The shared pass's K/V ring of the next {@link #runHandoff} ({@link FlashPrefillAttention#setSharedStages}: -1 by rule, 0, 2..4). */
    static int sharedStages = -1;
    /** The ring's lean tile of the next {@link #runHandoff} ({@link FlashPrefillAttention#setSharedLean}). */
    static boolean sharedLean = FlashPrefillAttention.SHARED_LEAN;
    /** The one-warp kernel with one K/V buffer for the next runs ({@link FlashPrefillAttention#setWarpOneBuffer}) and its launch bounds. */
    static boolean warpOneBuffer = FlashPrefillAttention.WARP_ONE_BUFFER;
    static int warpOneBufferBlocks = FlashPrefillAttention.WARP_ONE_BUFFER_BLOCKS;
    static boolean warpOneBufferHalves = FlashPrefillAttention.WARP_ONE_BUFFER_HALVES;
    /** The one-buffer kernel's half ring for the next runs ({@link FlashPrefillAttention#setWarpHalfRing}). */
    static boolean warpHalfRing = false;
    /** The half ring for decode plans only for the next runs ({@link FlashPrefillAttention#setDecodeHalfRing}). */
    static boolean decodeHalfRing = false;
    /** Chunks of up to this many tokens in short tiles for the next runs ({@link FlashPrefillAttention#setChunkWarpTokens}; 0: never). */
    static int chunkWarpTokens = 0;
    /** Whether the last {@link #runHandoff}'s per-sequence pass was one-warp tiles alone (then launched overlapping the shared pass). */
    static boolean lastWarpOnly;

    /** Short tiles in the one-warp kernel however few ({@link #splitStages} 0), else always in the split form with those stages. */
    private static void shortTiles(FlashPrefillAttention attn) {
        if (splitStages < 0) {   // every tile tall
            attn.setMinWarpWalks(Integer.MAX_VALUE);
            attn.setSplitDecode(false, FlashPrefillAttention.SPLIT_STAGES);
        } else if (splitStages > 0) {
            attn.setMinWarpWalks(Integer.MAX_VALUE);
            attn.setSplitDecode(true, splitStages);
        } else {
            attn.setMinWarpWalks(0);
        }
        attn.setWarpOneBuffer(warpOneBuffer, warpOneBufferBlocks, warpOneBufferHalves);
        attn.setWarpHalfRing(warpHalfRing);
        attn.setDecodeHalfRing(decodeHalfRing);
        attn.setChunkWarpTokens(chunkWarpTokens);
    }

    /** {@link #run(Backend, PagedBatch, int[][], int)} with short tiles in the split form of {@code stages} K/V stages (-1: in 64-row tiles). */
    static float[] runSplit(Backend be, PagedBatch b, int[][] chunks, int positionBound, int stages) {
        int s0 = splitStages;
        splitStages = stages;
        try {
            return run(be, b, chunks, positionBound);
        } finally {
            splitStages = s0;
        }
    }

    static float[] run(Backend be, PagedBatch b, int[][] chunks) {
        return run(be, b, chunks, -1);
    }

    /** {@link #run(Backend, PagedBatch, int[][], int)} with the long-chunk form from {@code tokens} tokens a chunk (≤ 0: never), bands of {@code band}. */
    static float[] runLong(Backend be, PagedBatch b, int[][] chunks, int positionBound, int tokens, int band) {
        int t0 = longTokens, b0 = longBand;
        longTokens = tokens;
        longBand = band;
        try {
            return run(be, b, chunks, positionBound);
        } finally {
            longTokens = t0;
            longBand = b0;
        }
    }

    /**
     * As {@link #run(Backend, PagedBatch, int[][])}, planned by {@link FlashPrefillAttention#planBelow} with
     * {@code positionBound} (-1: by {@code plan} with minTokens 1); rows the plan leaves out come back NaN.
     */
    static float[] run(Backend be, PagedBatch b, int[][] chunks, int positionBound) {
        int[] which = tokens(chunks);
        int n = which.length, row = b.heads * b.headDim;
        int[] queryStart = new int[chunks.length + 1];
        for (int i = 0; i < chunks.length; i++) queryStart[i + 1] = queryStart[i] + chunks[i][1] - chunks[i][0];
        try (FloatArray qa = new FloatArray(n * row); OffHeapArray out = PagedBatch.newOut(n * row);
             IntArray pos = new IntArray(n); IntArray seq = new IntArray(n);
             FlashPrefillAttention attn = new FlashPrefillAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, n, chunks.length)) {
            shortTiles(attn);   // short tiles (decodes, chunks of at most 16 / G tokens) in one-warp tiles however few, or split
            attn.setLongForm(longTokens, longBand);
            for (int i = 0; i < n; i++) {
                int t = which[i];
                for (int e = 0; e < row; e++) qa.set(i * row + e, b.q[t * row + e]);
                pos.set(i, b.positions[t]);
                seq.set(i, b.seqOfToken[t]);
            }
            be.toDevice(qa, out, pos, seq, b.kCache, b.vCache, b.tablesA);
            if (b.slopesA != null) be.toDevice(b.slopesA);
            int[] positions = new int[n];
            for (int i = 0; i < n; i++) positions[i] = b.positions[which[i]];
            int tiles = positionBound < 0 ? attn.plan(be, queryStart, chunks.length, 1)
                    : attn.planBelow(be, queryStart, positions, chunks.length, positionBound);
            lastTiles = tiles;
            lastWarpTiles = attn.numWarpTiles();
            lastSplit = attn.splitShort();
            lastLong = attn.longForm();
            attn.launch(be, qa, b.kCache, b.vCache, out, pos, seq, b.tablesA, b.maxBlocksPerSeq, b.slopesA, n);
            be.toHost(out);
            return PagedBatch.values(out);
        }
    }

    /**
     * Every sequence's new tokens as one chunk (one sequence each, in order: every sequence needs a new token), planned by
     * {@code plan} (minTokens 1), then the cascade as a state handoff ({@link FlashPrefillAttention#planHandoff}) over
     * {@code groups} (sequence indices; group g's members share {@code sharedKeys[g]} keys), the shared pass and the
     * per-sequence pass. Returns the rows of every token; {@link #lastTiles} the shared pass's row tiles.
     */
    /** {@link #runHandoff} with short tiles in the split form of {@code stages} K/V stages. */
    static float[] runHandoffSplit(Backend be, PagedBatch b, int[][] groups, int[] sharedKeys, int stages) {
        int s0 = splitStages;
        splitStages = stages;
        try {
            return runHandoff(be, b, groups, sharedKeys);
        } finally {
            splitStages = s0;
        }
    }

    static float[] runHandoff(Backend be, PagedBatch b, int[][] groups, int[] sharedKeys) {
        int[][] chunks = whole(b);
        int n = b.tokens, row = b.heads * b.headDim, seqs = chunks.length;
        int[] queryStart = new int[seqs + 1];
        for (int i = 0; i < seqs; i++) queryStart[i + 1] = chunks[i][1];
        int[] keys = new int[seqs];
        List<Integer> groupTokens = new ArrayList<>();
        int[] starts = new int[groups.length + 1];
        for (int g = 0; g < groups.length; g++) {
            starts[g] = groupTokens.size();
            for (int s : groups[g]) {
                keys[s] = sharedKeys[g];
                for (int t = queryStart[s]; t < queryStart[s + 1]; t++) groupTokens.add(t);
            }
        }
        starts[groups.length] = groupTokens.size();
        int[] gt = groupTokens.stream().mapToInt(Integer::intValue).toArray();
        try (FloatArray qa = FloatArray.of(b.q); OffHeapArray out = PagedBatch.newOut(n * row);
             IntArray pos = IntArray.of(b.positions); IntArray seq = IntArray.of(b.seqOfToken);
             FloatArray state = new FloatArray(n * b.heads * FlashPrefillKernels.stateStride(b.headDim));
             FlashPrefillAttention attn = new FlashPrefillAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, n, seqs)) {
            shortTiles(attn);
            attn.setLongForm(longTokens, longBand);
            attn.useHandoffState(state);
            attn.setHandoffOverlap(handoffOverlap);
            attn.setSharedDimSplit(sharedDimSplit);
            attn.setSharedStages(sharedStages);
            attn.setSharedLean(sharedLean);
            be.toDevice(qa, pos, seq, state, b.kCache, b.vCache, b.tablesA);
            if (b.slopesA != null) be.toDevice(b.slopesA);
            be.toDevice(out);
            attn.plan(be, queryStart, seqs, 1);
            lastTiles = attn.planHandoff(be, b.seqOfToken, keys, gt, starts, groups.length, n);
            lastSplit = attn.splitShort();
            lastLong = attn.longForm();
            lastWarpOnly = attn.numWarpTiles() == attn.numTiles();
            attn.launchShared(be, qa, b.kCache, b.vCache, pos, b.tablesA, b.maxBlocksPerSeq, b.slopesA, n);
            attn.launch(be, qa, b.kCache, b.vCache, out, pos, seq, b.tablesA, b.maxBlocksPerSeq, b.slopesA, n);
            be.toHost(out);
            return PagedBatch.values(out);
        }
    }
}
