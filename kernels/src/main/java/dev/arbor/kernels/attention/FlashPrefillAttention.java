package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

/**
 * Host-side launcher of the tensor-core prefill attention ({@link FlashPrefillKernels}) for one model
 * shape. A step is planned first ({@link #plan}: the chosen sequences' new tokens cut into query tiles,
 * uploaded as two small arrays), then launched per layer ({@link #launch}). Tiles come in two heights, one
 * launch each: tall (64 rows, 4 warps, {@link #tokensPerTile} tokens) and short (16 rows, one warp,
 * {@link #tokensPerShortTile} tokens). A sequence's chunk goes into as many tall tiles as it fills; the rest of it
 * (a decode's one token, a short chunk, a long chunk's tail) into short tiles when at most {@link #SHORT_TILES} of
 * them hold it, else one more tall tile ({@link #addTiles}). The height is a matter of speed only: a row's bits are the
 * same in either ({@link FlashPrefillKernels}: each warp's 16 rows are computed alone), so the plan may follow the chunk
 * length without breaking batch invariance. GQA groups of over 16 query heads (no token fits a short tile) take tall
 * tiles only. It owns the tile arrays, sized once at construction; a launch allocates nothing on the device.
 *
 * <p>Constraints ({@link #supports}): headDim 64 or 128, {@code heads % kvHeads == 0},
 * {@code heads / kvHeads ≤ 64}; a bf16 or fp16 store. Not read by the kernel: queryStart and contextLens
 * (the tiles, positions and seqOfToken carry the same). Every token of a planned sequence must already
 * have its K/V in the store ({@link KvWrite} first).
 */
public final class FlashPrefillAttention implements AutoCloseable {
    static final Kernel PREFILL_BF16 = Kernel.of(FlashPrefillKernels.class, "prefillBf16");
    static final Kernel PREFILL_F16 = Kernel.of(FlashPrefillKernels.class, "prefillF16");

    /** A chunk's tail of tokens past its full tall tiles goes into short tiles when at most this many hold it. */
    public static final int SHORT_TILES = 2;

    private final int heads, kvHeads, headDim, blockSize, tokensPerTile, tokensPerShortTile, maxTiles, maxShortTiles;
    private final IntArray tiles;        // (maxTiles, 2) first token, end token of each tall tile
    private final IntArray shortTiles;   // (maxShortTiles, 2) the same for the short tiles
    private final IntArray skip;    // (maxSeqs) keyStart for the CUDA-core kernel: past any position for the planned sequences, else 0
    private final int maxSeqs;
    private int numTiles, numShortTiles, plannedTokens;

    /**
     * @param maxTokens the most tokens of a step
     * @param maxSeqs   the most sequences of a step
     */
    public FlashPrefillAttention(int heads, int kvHeads, int headDim, int blockSize, int maxTokens, int maxSeqs) {
        Shapes.positive("heads", heads);
        Shapes.positive("kvHeads", kvHeads);
        Shapes.positive("blockSize", blockSize);
        if (!supports(heads, kvHeads, headDim)) {
            throw new IllegalArgumentException("the tensor-core prefill needs headDim 64 or 128 and at most " + FlashPrefillKernels.BM
                    + " query heads per kv head, not headDim " + headDim + " with " + heads + "/" + kvHeads + " heads");
        }
        Shapes.positive("maxTokens", maxTokens);
        Shapes.positive("maxSeqs", maxSeqs);
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.blockSize = blockSize;
        this.tokensPerTile = tokensPerTile(heads, kvHeads);
        this.tokensPerShortTile = tokensPerShortTile(heads, kvHeads);
        this.maxTiles = (maxTokens + tokensPerTile - 1) / tokensPerTile + maxSeqs;
        this.maxShortTiles = tokensPerShortTile > 0 ? SHORT_TILES * maxSeqs : 0;   // a sequence's tail, or its one empty tile
        this.tiles = new IntArray(2 * maxTiles);
        this.shortTiles = new IntArray(2 * Math.max(1, maxShortTiles));
        this.maxSeqs = maxSeqs;
        this.skip = new IntArray(maxSeqs);
    }

    /** Whether the tensor-core kernel takes this shape (the store type aside: bf16 or fp16). */
    public static boolean supports(int heads, int kvHeads, int headDim) {
        return kvHeads > 0 && heads % kvHeads == 0 && heads / kvHeads <= FlashPrefillKernels.BM && (headDim == 64 || headDim == 128);
    }

    /** Whether the store's element type has a tensor-core kernel (bf16, fp16). */
    public static boolean supportsStore(OffHeapArray store) {
        return store instanceof BFloat16Array || store instanceof HalfFloatArray;
    }

    /** New tokens of one sequence per tall work-group: {@code 64 / G} (64 without GQA, 8 at G = 8). */
    public static int tokensPerTile(int heads, int kvHeads) {
        return FlashPrefillKernels.BM / (heads / kvHeads);
    }

    /** New tokens of one sequence per short (one-warp) work-group: {@code 16 / G} (16 without GQA, 2 at G = 8, 0 past G = 16: none). */
    public static int tokensPerShortTile(int heads, int kvHeads) {
        return 16 * FlashPrefillKernels.WARP / (heads / kvHeads);
    }

    /**
     * Cuts the new tokens {@code queryStart[s] .. queryStart[s+1]} of each sequence s with at least
     * {@code minTokens} of them into query tiles ({@link #addTiles}) and uploads the lists (a sequence's tiles last to first,
     * so the longest work-groups start first). Returns the number of tiles of both heights (0: nothing to launch).
     */
    public int plan(Backend b, int[] queryStart, int numSeqs, int minTokens) {
        checkSeqs(numSeqs);
        int planned = 0;
        numTiles = numShortTiles = 0;
        for (int s = 0; s < numSeqs; s++) {
            int lo = queryStart[s], hi = queryStart[s + 1];
            boolean mine = hi - lo >= Math.max(1, minTokens);
            skip.set(s, mine ? Integer.MAX_VALUE : 0);
            if (!mine) continue;
            planned += hi - lo;
            addTiles(lo, hi);
        }
        this.plannedTokens = planned;
        upload(b);
        if (numTiles() > 0 && numSeqs > 0 && planned < queryStart[numSeqs] - queryStart[0]) b.toDevice(skip, numSeqs);
        return numTiles();
    }

    /**
     * The batch-invariant plan: every new token at a position below {@code positionBound} goes into a tile, whatever its
     * sequence's chunk length (so a token meets this kernel or not by its own position alone); the tokens of a sequence at
     * or past the bound get none, and a sequence with no token below it gets one empty tile (the kernel returns at once),
     * so a decode batch always has exactly one tile per sequence: a CUDA graph captured for a batch bucket keeps its grid
     * (its tiles all short where the model has short tiles, one-token chunks and empty tiles alike, so the one launch it
     * captured is always the one it needs). The tokens left out are the caller's to attend first (the paged kernel over every
     * token; this kernel then overwrites the rows it owns). Returns the number of tiles of both heights.
     *
     * @param positions (tokens) each new token's position; a sequence's tokens are consecutive positions
     */
    public int planBelow(Backend b, int[] queryStart, int[] positions, int numSeqs, int positionBound) {
        checkSeqs(numSeqs);
        int planned = 0;
        numTiles = numShortTiles = 0;
        for (int s = 0; s < numSeqs; s++) {
            int lo = queryStart[s], hi = queryStart[s + 1];
            if (hi == lo) continue;
            int end = (int) Math.min(hi, lo + Math.max(0L, (long) positionBound - positions[lo]));
            planned += end - lo;
            if (end > lo) {
                addTiles(lo, end);
            } else if (tokensPerShortTile > 0) {
                checkTiles(numTiles, numShortTiles + 1);
                numShortTiles = setTile(shortTiles, numShortTiles, lo, lo);
            } else {
                checkTiles(numTiles + 1, numShortTiles);
                numTiles = setTile(tiles, numTiles, lo, lo);
            }
        }
        this.plannedTokens = planned;
        upload(b);
        return numTiles();
    }

    private void upload(Backend b) {
        if (numTiles > 0) b.toDevice(tiles, 2 * numTiles);
        if (numShortTiles > 0) b.toDevice(shortTiles, 2 * numShortTiles);
    }

    private void checkSeqs(int numSeqs) {
        if (numSeqs > maxSeqs) throw new IllegalArgumentException("numSeqs " + numSeqs + " over the launcher's " + maxSeqs);
    }

    /**
     * Tiles of tokens [lo, hi) of one sequence: ⌊T / tokensPerTile⌋ full tall tiles, then the tail — in short tiles if at most
     * {@link #SHORT_TILES} hold it (a decode: one short tile for its token), else in one more tall tile. Each list last to first.
     */
    private void addTiles(int lo, int hi) {
        int full = (hi - lo) / tokensPerTile, tail = hi - lo - full * tokensPerTile;
        int shorts = tail == 0 || tokensPerShortTile == 0 ? 0 : (tail + tokensPerShortTile - 1) / tokensPerShortTile;
        boolean tallTail = tail > 0 && (shorts == 0 || shorts > SHORT_TILES);
        if (tallTail) shorts = 0;
        int count = full + (tallTail ? 1 : 0), tallEnd = tallTail ? hi : lo + full * tokensPerTile;
        checkTiles(numTiles + count, numShortTiles + shorts);
        for (int i = count - 1; i >= 0; i--) numTiles = setTile(tiles, numTiles, lo + i * tokensPerTile, Math.min(tallEnd, lo + (i + 1) * tokensPerTile));
        for (int i = shorts - 1; i >= 0; i--) {
            numShortTiles = setTile(shortTiles, numShortTiles, tallEnd + i * tokensPerShortTile, Math.min(hi, tallEnd + (i + 1) * tokensPerShortTile));
        }
    }

    /** Tile n of a list: tokens [first, end); returns n + 1. */
    private static int setTile(IntArray list, int n, int first, int end) {
        list.set(2 * n, first);
        list.set(2 * n + 1, end);
        return n + 1;
    }

    private void checkTiles(int tall, int shorts) {
        if (tall > maxTiles || shorts > maxShortTiles) {
            throw new IllegalArgumentException("step needs over " + maxTiles + " tall or " + maxShortTiles
                    + " short query tiles: more tokens or sequences than the launcher was sized for");
        }
    }

    /** Tiles of both heights of the last {@link #plan} or {@link #planBelow}. */
    public int numTiles() { return numTiles + numShortTiles; }

    /** Short (one-warp, 16-row) tiles of the last {@link #plan} or {@link #planBelow}. */
    public int numShortTiles() { return numShortTiles; }

    /** Tokens the last {@link #plan} or {@link #planBelow} took. */
    public int plannedTokens() { return plannedTokens; }

    /**
     * The tokens of the last step that {@link #plan} left out (sequences with fewer than minTokens new
     * tokens, e.g. decodes in a mixed step) through the CUDA-core kernel, whole mode: the planned sequences
     * get a key start past any position, so that kernel returns at once for their tokens and writes
     * nothing. Call it with the same batch arrays as {@link #launch}; a no-op when the plan took every token. After
     * {@link #plan} only: {@link #planBelow} leaves the key starts as they were (its caller runs the paged kernel over every token first).
     */
    public void launchOthers(Backend b, PagedAttention paged, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, FloatArray out,
                             IntArray positions, IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes,
                             int tokens, int maxContextLen) {
        if (plannedTokens == tokens) return;
        if (numTiles() == 0) {
            paged.launch(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen);
            return;
        }
        int numBlocks = paged.checkBatch(q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, tokens, maxContextLen);
        paged.launchPaged(b, q, kCache, vCache, out, positions, seqOfToken, blockTables, skip, maxBlocksPerSeq, alibiSlopes, tokens,
                1, 1, numBlocks, false, true, paged.slots(), 0);
    }

    /**
     * Attention of the planned tokens over their sequences' paged context; rows of other tokens of
     * {@code out} are left as they are.
     *
     * @param q           (tokens, heads * headDim) fp32, after RoPE
     * @param kCache      (numBlocks, kvHeads, blockSize, headDim), BFloat16Array or HalfFloatArray; vCache alike
     * @param out         (tokens, heads * headDim)
     * @param positions   (tokens)
     * @param seqOfToken  (tokens) row of blockTables
     * @param blockTables (numSeqs, maxBlocksPerSeq), row-major, padded
     * @param alibiSlopes (heads) ALiBi slopes, or null for RoPE models
     * @param tokens      tokens in q, out, positions, seqOfToken (for the checks)
     */
    public void launch(Backend b, FloatArray q, OffHeapArray kCache, OffHeapArray vCache, FloatArray out, IntArray positions,
                       IntArray seqOfToken, IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int tokens) {
        Shapes.positive("tokens", tokens);
        Shapes.positive("maxBlocksPerSeq", maxBlocksPerSeq);
        int numBlocks = Shapes.storeBlocks(kCache, vCache, kvHeads, headDim, blockSize);
        Kernel kernel = kernelFor(kCache);
        Shapes.need("q", q, (long) tokens * heads * headDim);
        Shapes.need("out", out, (long) tokens * heads * headDim);
        Shapes.need("positions", positions, tokens);
        Shapes.need("seqOfToken", seqOfToken, tokens);
        Shapes.need("blockTables", blockTables, maxBlocksPerSeq);
        if (alibiSlopes != null) Shapes.need("alibiSlopes", alibiSlopes, heads);
        if (numTiles > 0) {
            b.launch(kernel, launchOf(numTiles, FlashPrefillKernels.WARPS), args(q, kCache, vCache, out, positions,
                    seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks, FlashPrefillKernels.WARPS));
        }
        if (numShortTiles > 0) {
            b.launch(kernel, launchOf(numShortTiles, FlashPrefillKernels.WARP), args(q, kCache, vCache, out, positions,
                    seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks, FlashPrefillKernels.WARP));
        }
    }

    /** The launch of {@code n} tiles of {@code warps} warps: grid (n, kvHeads), 32·warps work-items, the kernel's dynamic shared memory. */
    public Launch launchOf(int n, int warps) {
        return Launch.of(new int[] {n, kvHeads, 1}, new int[] {32 * warps, 1, 1})
                .withSharedBytes(FlashPrefillKernels.sharedBytes(headDim, warps));
    }

    /** The kernel's arguments for the planned tiles of {@code warps} warps (also for {@code CudaBackend.resources}). */
    public Object[] args(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, FloatArray out, IntArray positions, IntArray seqOfToken,
                         IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int numBlocks, int warps) {
        return args(q, kCache, vCache, out, positions, seqOfToken, blockTables, maxBlocksPerSeq, alibiSlopes, numBlocks, warps,
                warps == FlashPrefillKernels.WARP ? shortTiles : tiles);
    }

    /**
     * The kernel's arguments over a caller's tile list {@code (n, 2)} (first token, end token) at height {@code warps}: for
     * the tests and benches that put the same tokens in tiles of either height.
     */
    public Object[] args(FloatArray q, OffHeapArray kCache, OffHeapArray vCache, FloatArray out, IntArray positions, IntArray seqOfToken,
                         IntArray blockTables, int maxBlocksPerSeq, FloatArray alibiSlopes, int numBlocks, int warps, IntArray tileList) {
        FloatArray slopes = alibiSlopes != null ? alibiSlopes : q;   // not read without ALiBi
        return new Object[] {q, kCache, vCache, out, positions, seqOfToken, tileList, blockTables, slopes, maxBlocksPerSeq, numBlocks,
                heads, kvHeads, headDim, blockSize, alibiSlopes != null ? 1 : 0, warps};
    }

    /** The kernel of a store type. */
    public static Kernel kernelFor(OffHeapArray store) {
        if (!supportsStore(store)) throw new IllegalArgumentException("the tensor-core prefill takes bf16 or fp16 stores, not " + store.getClass().getSimpleName());
        return store instanceof HalfFloatArray ? PREFILL_F16 : PREFILL_BF16;
    }

    /** Puts the tile array on the device (before capturing launches in a CUDA graph). */
    public void toDevice(Backend b) { b.toDevice(tiles, shortTiles, skip); }

    @Override public void close() {
        tiles.close();
        shortTiles.close();
        skip.close();
    }
}
