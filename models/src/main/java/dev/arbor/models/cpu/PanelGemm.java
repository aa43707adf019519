package dev.arbor.models.cpu;

import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.Matrix;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.WeakReference;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The prefill / batched GEMM of {@link Matmul} for bf16 weights and at least {@link #minTokens} tokens, in the
 * outer-product form (weight rows in the vector lanes, one activation broadcast per FMA) with {@link Matmul#reference}'s
 * summation order, so its results are the bits of every other path (batch-1 decode keeps {@link Matmul}'s streaming
 * kernel and its row-major weights untouched).
 *
 * <p>The order: result (t, r) is, per lane j of L = {@code SPECIES_PREFERRED} lanes, an FMA chain over the columns
 * c ≡ j (mod L) in increasing c, the L chains added by the halving tree ({@code acc[j] += acc[j + half]}), then the
 * scalar tail {@code s += w[c] * x[c]} over the last cols % L columns. A dot-product kernel keeps the L chains of one
 * result in the lanes of one vector and pays a lane sum per result; here a vector holds one chain (residue j) of L
 * rows, so the residues are walked one after another (each chain still in increasing c: chains are independent, their
 * interleaving does not change a bit), every chain's end is parked in L1, and the tree adds whole vectors (L results at
 * once, no shuffles).
 *
 * <p>Layout: the weights are packed once, on a matrix's first use here ({@link #packed}), into panels of L rows
 * (zero rows past the end, never read), each residue-major: for j &lt; L, m &lt; cols / L the L rows' bf16 values of column
 * {@code j + L·m}, then the tail columns; panels follow each other. A second copy of the matrix (the same bytes,
 * bf16), kept off-heap as long as its tensor is reachable: 170 MB for synthetic:100m's layers, 49 MB more when the
 * tied lm_head takes this path (32+ logits rows a step). Per block of tokens (activations in L2) the token rows are
 * copied into the same residue-major order, each panel pair widened to a float32 scratch, and {@link #kernel8x2} (16
 * lanes: 8 tokens × 2 panels, 16 accumulators; {@link #kernel4x2} with 8 lanes) runs the block's token groups.
 * Rows outside whole panel pairs and tokens past the last full group go to {@link Matmul}'s blocked GEMM.
 */
final class PanelGemm {
    private PanelGemm() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfShort BF16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int L = F.length();
    /** Tokens per micro-kernel call: 8 with 16 lanes (32 registers), 4 with 8 lanes (AVX2's 16); 0: not used. */
    static final int MT = L == 16 ? 8 : L == 8 ? 4 : 0;
    /** Rows a micro-kernel call covers: two panels. */
    static final int PAIR_ROWS = 2 * L;
    /**
     * Fewest tokens that take this path ({@code -Darbor.cpu.panelGemmTokens}, default 32: prefill chunks); fewer go to
     * {@link Matmul}'s paths. Any value gives the same bits. Batch-8 decode here measured slower than {@link Matmul}'s
     * GEMM at load 12-24 (cpu12), then, with the activations formed once per call (cpu15), the same: one layer's matmuls
     * at 8 tokens 0.993x, the engine's batch-8 step 1.000x in one-JVM A/Bs (cpu16, {@code DecodeSwitchBench}), so 32 stays.
     * Not final: {@code DecodeSwitchBench} flips it between steps in one JVM (one field load a call).
     */
    static int minTokens = Math.max(MT, Integer.getInteger("arbor.cpu.panelGemmTokens", 32));
    /** Bytes of residue-major activations per token block: a quarter of a 1 MiB L2 (the panel pair's float32 beside). */
    private static final int BLOCK_BYTES = 256 << 10;

    static int minTokens() { return minTokens; }

    /** Whether {@link Matmul#tiles} sends {@code tokens} tokens of {@code w} here. */
    static boolean applies(Matrix w, int tokens) {
        return MT > 0 && tokens >= minTokens && w.tensor().dtype() == DType.BF16 && w.rows() >= PAIR_ROWS;
    }

    /**
     * Bytes of residue-major activations per token block when the call formed them once ({@link Activations}): 4 MiB
     * (a 512-token prompt in one block at 768 and 2048 columns), so each panel pair is widened once per range instead
     * of once per 256 KiB block (7 times at 768 columns, 16 at 2048); the block then streams from L3 per pair. One layer's
     * matmuls at 512 tokens, 8 ranges on one thread ({@code PanelActivationsBench}, cpu15): per-range copies / once
     * 1.28 and 1.24 with 256 KiB blocks, 1.31 and 1.30 with 1 MiB, 1.38 and 1.40 with 4 MiB.
     */
    private static final int SHARED_BLOCK_BYTES = 4 << 20;

    /** Tokens per block over {@link Activations}' copy: {@link #SHARED_BLOCK_BYTES}' worth, a multiple of {@link #MT}. */
    static int sharedBlock(int cols) {
        int fit = SHARED_BLOCK_BYTES / (Float.BYTES * Math.max(1, cols));
        return Math.max(MT, fit - fit % MT);
    }

    /** Tokens per block: as many residue-major rows as fit {@link #BLOCK_BYTES}, a multiple of {@link #MT}. */
    static int tokenBlock(int cols) {
        int fit = BLOCK_BYTES / (Float.BYTES * Math.max(1, cols));
        return Math.max(MT, fit - fit % MT);
    }

    /**
     * Whether a matmul call forms its residue-major activations once ({@link Activations}, before its parallel region,
     * shared by the threads' ranges and by the matrices that read the same input: q/k/v, gate/up) instead of once per
     * range and matrix inside {@link #tiles} (~28 copies of the 512 × 768/2048 activations a layer at two threads, ~7%
     * of a prompt's CPU in cpu12's probe). {@code -Darbor.cpu.panelActivationsOnce}, default true (cpu15 in
     * {@code RESULTS.md}); the same bits either way (the same values in the same positions).
     */
    static final boolean ACTIVATIONS_ONCE = Boolean.parseBoolean(System.getProperty("arbor.cpu.panelActivationsOnce", "true"));

    /**
     * One matmul call's activations {@code x (tokens, cols)} in residue-major order, every token's row as
     * {@link #residueMajor} writes it, {@code xr[t·cols ..]}: formed by the team before the call's parallel region
     * ({@link #prepare}), then read by every range's {@link #tiles}. Reused across calls (grown, never shrunk), so a step
     * allocates nothing; one per task object (not thread-safe).
     */
    static final class Activations implements Parallel.Range {
        private float[] xr = new float[0];
        private float[] x;
        private int cols, kl;

        /**
         * The residue-major copy of {@code x (tokens, cols)} when {@link #tiles} will take {@code w} at {@code tokens}
         * tokens (and {@link #ACTIVATIONS_ONCE}), else null (the ranges copy per block, as before).
         */
        float[] prepare(float[] x, int tokens, Matrix w) {
            if (!ACTIVATIONS_ONCE || !applies(w, tokens)) return null;
            int cols = w.cols();
            int n = Math.multiplyExact(tokens, cols);
            if (xr.length < n) xr = new float[n];
            this.x = x;
            this.cols = cols;
            this.kl = cols / L;
            try {
                // ~64K floats a range: 512 × 768 → 6 ranges, the copy split across the team
                Parallel.forRange(tokens, Math.max(1, 65536 / Math.max(1, cols)), this);
            } finally {
                this.x = null;
            }
            return xr;
        }

        @Override public void run(int from, int to) {
            for (int t = from; t < to; t++) residueMajor(x, t * cols, cols, kl, xr, t * cols);
        }
    }

    /**
     * Tiles {@code [from, to)} (of {@link Matmul#TILE} rows) of {@code out (tokens, rows) = x · Wᵀ}: the whole panel pairs
     * inside the range here, the rows around them and the last {@code tokens % MT} tokens by {@link Matmul#gemm}.
     */
    static void tiles(float[] x, int tokens, Matrix w, float[] out, int from, int to) {
        tiles(x, null, tokens, w, out, from, to);
    }

    /**
     * {@link #tiles(float[], int, Matrix, float[], int, int)} with {@code xr}, x's residue-major copy from
     * {@link Activations#prepare}, or null: each token block copied here.
     */
    static void tiles(float[] x, float[] xr, int tokens, Matrix w, float[] out, int from, int to) {
        int rows = w.rows();
        int r0 = from * Matmul.TILE, r1 = Math.min(rows, to * Matmul.TILE);
        int p0 = (r0 + L - 1) / L, p1 = p0 + 2 * Math.max(0, (r1 / L - p0) / 2);   // whole panel pairs [p0, p1)
        if (p1 <= p0) {
            Matmul.gemm(x, 0, tokens, w, out, from, to);
            return;
        }
        int perTile = L / Matmul.TILE;
        if (from < p0 * perTile) Matmul.gemm(x, 0, tokens, w, out, from, p0 * perTile);
        if (p1 * perTile < to) Matmul.gemm(x, 0, tokens, w, out, p1 * perTile, to);
        int groups = tokens - tokens % MT;
        panels(x, xr, groups, w, out, p0, p1);
        if (groups < tokens) Matmul.gemm(x, groups, tokens, w, out, p0 * perTile, p1 * perTile);
    }

    /**
     * Panels {@code [p0, p1)} (an even count) for tokens {@code [0, tokens)}, a multiple of {@link #MT}; {@code shared}:
     * the call's residue-major activations ({@link Activations}) or null (each block copied into this thread's scratch).
     */
    private static void panels(float[] x, float[] shared, int tokens, Matrix w, float[] out, int p0, int p1) {
        int rows = w.rows(), cols = w.cols(), kl = cols / L;
        MemorySegment pk = packed(w);
        Scratch s = SCRATCH.get();
        int block = shared != null ? sharedBlock(cols) : tokenBlock(cols);
        float[] xr = shared != null ? shared : s.xr(Math.min(block, tokens) * cols), wp = s.wp(2 * L * cols), part = s.part;
        for (int t0 = 0; t0 < tokens; t0 += block) {
            int t1 = Math.min(tokens, t0 + block);
            int xb;   // xr's offset of token t0's row
            if (shared != null) xb = t0 * cols;
            else {
                xb = 0;
                for (int t = t0; t < t1; t++) residueMajor(x, t * cols, cols, kl, xr, (t - t0) * cols);
            }
            for (int p = p0; p < p1; p += 2) {
                widen(pk, (long) p * L * cols * 2, 2 * L * cols, wp);
                for (int t = t0; t < t1; t += MT) {
                    int xo = xb + (t - t0) * cols;
                    if (MT == 8) kernel8x2(wp, cols, kl, xr, xo, part);
                    else kernel4x2(wp, cols, kl, xr, xo, part);
                    finish(part, wp, cols, kl, xr, xo, out, t * rows + p * L, rows);
                }
            }
        }
    }

    /**
     * {@code xr[o + j·kl + m] = x[xo + j + L·m]} for j &lt; L, m &lt; kl, then the tail columns as they are. With 16 lanes
     * ({@link #vectorCopy}): the row viewed as a (kl, 16) matrix, transposed 16 × 16 blocks at a time in registers
     * ({@link #transpose16}: 16 loads, 64 two-source permutes, 16 stores for 256 values, against 256 scalar loads and
     * stores), the last kl % 16 values of m scalar. The same values in the same positions as {@link #residueMajorScalar}
     * (a copy: the same bits).
     */
    static void residueMajor(float[] x, int xo, int cols, int kl, float[] xr, int o) {
        if (!vectorCopy || L != 16) {
            residueMajorScalar(x, xo, cols, kl, xr, o);
            return;
        }
        int mv = kl - kl % 16;
        for (int m = 0; m < mv; m += 16) transpose16(x, xo + 16 * m, xr, o + m, kl);
        if (mv < kl) {
            for (int j = 0; j < 16; j++) {
                int d = o + j * kl;
                for (int m = mv, c = xo + j + 16 * mv; m < kl; m++, c += 16) xr[d + m] = x[c];
            }
        }
        System.arraycopy(x, xo + L * kl, xr, o + L * kl, cols - L * kl);
    }

    /**
     * Whether {@link #residueMajor} transposes in registers ({@code -Darbor.cpu.panelVectorCopy}, default true; 16 lanes
     * only) or runs the scalar loop ({@link #residueMajorScalar}); the same bits either way. Not final: an A/B bench
     * ({@code PrefillSwitchBench}) flips it between prompts in one JVM (one field load a token row).
     */
    static boolean vectorCopy = Boolean.parseBoolean(System.getProperty("arbor.cpu.panelVectorCopy", "true"));

    /**
     * Two-source permute indices of the 16 × 16 block transpose, stage h (8, 4, 2, 1): the rows i and i + h (bit h of i
     * clear) swap their off-diagonal h-blocks: new r[i][l] = r[i + h][l - h] where bit h of l is set, else r[i][l];
     * new r[i + h][l] = r[i][l + h] where bit h of l is clear, else r[i + h][l]. Index k &lt; 16: the first source's lane
     * k; 16 + k: the second's.
     */
    private static final FloatVector[] SWAP_LO = new FloatVector[9], SWAP_HI = new FloatVector[9];
    static {
        if (L == 16) {
            for (int h = 1; h <= 8; h <<= 1) {
                float[] lo = new float[16], hi = new float[16];
                for (int l = 0; l < 16; l++) {
                    boolean set = (l & h) != 0;
                    lo[l] = set ? 16 + l - h : l;
                    hi[l] = set ? 16 + l : l + h;
                }
                SWAP_LO[h] = FloatVector.fromArray(F, lo, 0);
                SWAP_HI[h] = FloatVector.fromArray(F, hi, 0);
            }
        }
    }

    /**
     * {@code xr[o + j·kl + i] = x[xo + 16·i + j]} for i, j &lt; 16: sixteen rows of 16 loaded, transposed by four stages
     * of block swaps (8, 4, 2, 1; {@link #SWAP_LO}), stored as sixteen rows kl apart.
     */
    private static void transpose16(float[] x, int xo, float[] xr, int o, int kl) {
        FloatVector r0 = FloatVector.fromArray(F, x, xo + 0);
        FloatVector r1 = FloatVector.fromArray(F, x, xo + 16);
        FloatVector r2 = FloatVector.fromArray(F, x, xo + 32);
        FloatVector r3 = FloatVector.fromArray(F, x, xo + 48);
        FloatVector r4 = FloatVector.fromArray(F, x, xo + 64);
        FloatVector r5 = FloatVector.fromArray(F, x, xo + 80);
        FloatVector r6 = FloatVector.fromArray(F, x, xo + 96);
        FloatVector r7 = FloatVector.fromArray(F, x, xo + 112);
        FloatVector r8 = FloatVector.fromArray(F, x, xo + 128);
        FloatVector r9 = FloatVector.fromArray(F, x, xo + 144);
        FloatVector r10 = FloatVector.fromArray(F, x, xo + 160);
        FloatVector r11 = FloatVector.fromArray(F, x, xo + 176);
        FloatVector r12 = FloatVector.fromArray(F, x, xo + 192);
        FloatVector r13 = FloatVector.fromArray(F, x, xo + 208);
        FloatVector r14 = FloatVector.fromArray(F, x, xo + 224);
        FloatVector r15 = FloatVector.fromArray(F, x, xo + 240);
        FloatVector lo, hi, t;
        lo = SWAP_LO[8]; hi = SWAP_HI[8];
        t = lo.selectFrom(r0, r8); r8 = hi.selectFrom(r0, r8); r0 = t;
        t = lo.selectFrom(r1, r9); r9 = hi.selectFrom(r1, r9); r1 = t;
        t = lo.selectFrom(r2, r10); r10 = hi.selectFrom(r2, r10); r2 = t;
        t = lo.selectFrom(r3, r11); r11 = hi.selectFrom(r3, r11); r3 = t;
        t = lo.selectFrom(r4, r12); r12 = hi.selectFrom(r4, r12); r4 = t;
        t = lo.selectFrom(r5, r13); r13 = hi.selectFrom(r5, r13); r5 = t;
        t = lo.selectFrom(r6, r14); r14 = hi.selectFrom(r6, r14); r6 = t;
        t = lo.selectFrom(r7, r15); r15 = hi.selectFrom(r7, r15); r7 = t;
        lo = SWAP_LO[4]; hi = SWAP_HI[4];
        t = lo.selectFrom(r0, r4); r4 = hi.selectFrom(r0, r4); r0 = t;
        t = lo.selectFrom(r1, r5); r5 = hi.selectFrom(r1, r5); r1 = t;
        t = lo.selectFrom(r2, r6); r6 = hi.selectFrom(r2, r6); r2 = t;
        t = lo.selectFrom(r3, r7); r7 = hi.selectFrom(r3, r7); r3 = t;
        t = lo.selectFrom(r8, r12); r12 = hi.selectFrom(r8, r12); r8 = t;
        t = lo.selectFrom(r9, r13); r13 = hi.selectFrom(r9, r13); r9 = t;
        t = lo.selectFrom(r10, r14); r14 = hi.selectFrom(r10, r14); r10 = t;
        t = lo.selectFrom(r11, r15); r15 = hi.selectFrom(r11, r15); r11 = t;
        lo = SWAP_LO[2]; hi = SWAP_HI[2];
        t = lo.selectFrom(r0, r2); r2 = hi.selectFrom(r0, r2); r0 = t;
        t = lo.selectFrom(r1, r3); r3 = hi.selectFrom(r1, r3); r1 = t;
        t = lo.selectFrom(r4, r6); r6 = hi.selectFrom(r4, r6); r4 = t;
        t = lo.selectFrom(r5, r7); r7 = hi.selectFrom(r5, r7); r5 = t;
        t = lo.selectFrom(r8, r10); r10 = hi.selectFrom(r8, r10); r8 = t;
        t = lo.selectFrom(r9, r11); r11 = hi.selectFrom(r9, r11); r9 = t;
        t = lo.selectFrom(r12, r14); r14 = hi.selectFrom(r12, r14); r12 = t;
        t = lo.selectFrom(r13, r15); r15 = hi.selectFrom(r13, r15); r13 = t;
        lo = SWAP_LO[1]; hi = SWAP_HI[1];
        t = lo.selectFrom(r0, r1); r1 = hi.selectFrom(r0, r1); r0 = t;
        t = lo.selectFrom(r2, r3); r3 = hi.selectFrom(r2, r3); r2 = t;
        t = lo.selectFrom(r4, r5); r5 = hi.selectFrom(r4, r5); r4 = t;
        t = lo.selectFrom(r6, r7); r7 = hi.selectFrom(r6, r7); r6 = t;
        t = lo.selectFrom(r8, r9); r9 = hi.selectFrom(r8, r9); r8 = t;
        t = lo.selectFrom(r10, r11); r11 = hi.selectFrom(r10, r11); r10 = t;
        t = lo.selectFrom(r12, r13); r13 = hi.selectFrom(r12, r13); r12 = t;
        t = lo.selectFrom(r14, r15); r15 = hi.selectFrom(r14, r15); r14 = t;
        r0.intoArray(xr, o + 0 * kl);
        r1.intoArray(xr, o + 1 * kl);
        r2.intoArray(xr, o + 2 * kl);
        r3.intoArray(xr, o + 3 * kl);
        r4.intoArray(xr, o + 4 * kl);
        r5.intoArray(xr, o + 5 * kl);
        r6.intoArray(xr, o + 6 * kl);
        r7.intoArray(xr, o + 7 * kl);
        r8.intoArray(xr, o + 8 * kl);
        r9.intoArray(xr, o + 9 * kl);
        r10.intoArray(xr, o + 10 * kl);
        r11.intoArray(xr, o + 11 * kl);
        r12.intoArray(xr, o + 12 * kl);
        r13.intoArray(xr, o + 13 * kl);
        r14.intoArray(xr, o + 14 * kl);
        r15.intoArray(xr, o + 15 * kl);
    }

    /** {@link #residueMajor}'s plain form: the scalar strided loop (the reference the tests compare against). */
    static void residueMajorScalar(float[] x, int xo, int cols, int kl, float[] xr, int o) {
        for (int j = 0; j < L; j++) {
            int d = o + j * kl;
            for (int m = 0, c = xo + j; m < kl; m++, c += L) xr[d + m] = x[c];
        }
        System.arraycopy(x, xo + L * kl, xr, o + L * kl, cols - L * kl);
    }

    /** {@code wp[0 .. n) = } the n packed bf16 values at byte offset {@code off}, widened (exactly) to float32. */
    static void widen(MemorySegment pk, long off, int n, float[] wp) {
        for (int i = 0; i < n; i += L) {   // n is a multiple of L
            ShortVector v = ShortVector.fromMemorySegment(S, pk, off + 2L * i, ByteOrder.LITTLE_ENDIAN);
            ((IntVector) v.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                    .reinterpretAsFloats().intoArray(wp, i);
        }
    }

    /**
     * Eight tokens × two panels (16 lanes): for each residue j, sixteen FMA chains over m (column j + 16·m), each step
     * two panel loads, eight broadcasts, sixteen FMAs; the chains' ends go to {@code part[(j·16 + a)·L ..]}
     * (a = panel·8 + token), summed by {@link #finish}.
     */
    static void kernel8x2(float[] wp, int cols, int kl, float[] xr, int xo, float[] part) {
        int lk = L * cols;
        for (int j = 0; j < L; j++) {
            FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00, c04 = c00, c05 = c00, c06 = c00, c07 = c00;
            FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00, c14 = c00, c15 = c00, c16 = c00, c17 = c00;
            int wo = j * kl * L, xj = xo + j * kl;
            for (int m = 0; m < kl; m++) {
                FloatVector w0 = FloatVector.fromArray(F, wp, wo + m * L);
                FloatVector w1 = FloatVector.fromArray(F, wp, lk + wo + m * L);
                int xm = xj + m;
                FloatVector xb = FloatVector.broadcast(F, xr[xm]);
                c00 = w0.fma(xb, c00); c10 = w1.fma(xb, c10);
                xb = FloatVector.broadcast(F, xr[xm + cols]);
                c01 = w0.fma(xb, c01); c11 = w1.fma(xb, c11);
                xb = FloatVector.broadcast(F, xr[xm + 2 * cols]);
                c02 = w0.fma(xb, c02); c12 = w1.fma(xb, c12);
                xb = FloatVector.broadcast(F, xr[xm + 3 * cols]);
                c03 = w0.fma(xb, c03); c13 = w1.fma(xb, c13);
                xb = FloatVector.broadcast(F, xr[xm + 4 * cols]);
                c04 = w0.fma(xb, c04); c14 = w1.fma(xb, c14);
                xb = FloatVector.broadcast(F, xr[xm + 5 * cols]);
                c05 = w0.fma(xb, c05); c15 = w1.fma(xb, c15);
                xb = FloatVector.broadcast(F, xr[xm + 6 * cols]);
                c06 = w0.fma(xb, c06); c16 = w1.fma(xb, c16);
                xb = FloatVector.broadcast(F, xr[xm + 7 * cols]);
                c07 = w0.fma(xb, c07); c17 = w1.fma(xb, c17);
            }
            int o = j * 16 * L;
            c00.intoArray(part, o); c01.intoArray(part, o + L); c02.intoArray(part, o + 2 * L); c03.intoArray(part, o + 3 * L);
            c04.intoArray(part, o + 4 * L); c05.intoArray(part, o + 5 * L); c06.intoArray(part, o + 6 * L); c07.intoArray(part, o + 7 * L);
            c10.intoArray(part, o + 8 * L); c11.intoArray(part, o + 9 * L); c12.intoArray(part, o + 10 * L); c13.intoArray(part, o + 11 * L);
            c14.intoArray(part, o + 12 * L); c15.intoArray(part, o + 13 * L); c16.intoArray(part, o + 14 * L); c17.intoArray(part, o + 15 * L);
        }
    }

    /** {@link #kernel8x2} for 8 lanes: four tokens × two panels, eight accumulators (AVX2's sixteen registers). */
    static void kernel4x2(float[] wp, int cols, int kl, float[] xr, int xo, float[] part) {
        int lk = L * cols;
        for (int j = 0; j < L; j++) {
            FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
            FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
            int wo = j * kl * L, xj = xo + j * kl;
            for (int m = 0; m < kl; m++) {
                FloatVector w0 = FloatVector.fromArray(F, wp, wo + m * L);
                FloatVector w1 = FloatVector.fromArray(F, wp, lk + wo + m * L);
                int xm = xj + m;
                FloatVector xb = FloatVector.broadcast(F, xr[xm]);
                c00 = w0.fma(xb, c00); c10 = w1.fma(xb, c10);
                xb = FloatVector.broadcast(F, xr[xm + cols]);
                c01 = w0.fma(xb, c01); c11 = w1.fma(xb, c11);
                xb = FloatVector.broadcast(F, xr[xm + 2 * cols]);
                c02 = w0.fma(xb, c02); c12 = w1.fma(xb, c12);
                xb = FloatVector.broadcast(F, xr[xm + 3 * cols]);
                c03 = w0.fma(xb, c03); c13 = w1.fma(xb, c13);
            }
            int o = j * 2 * MT * L;
            c00.intoArray(part, o); c01.intoArray(part, o + L); c02.intoArray(part, o + 2 * L); c03.intoArray(part, o + 3 * L);
            c10.intoArray(part, o + 4 * L); c11.intoArray(part, o + 5 * L); c12.intoArray(part, o + 6 * L); c13.intoArray(part, o + 7 * L);
        }
    }

    /**
     * The 2·MT results of a kernel call: per accumulator a (panel a / MT, token a % MT) the residues' vectors added by
     * the halving tree (level by level, {@code v[j] += v[j + half]}: {@link Matmul#reference}'s pairs, L rows at once),
     * then the tail columns {@code s += w[c] * x[c]} in order, stored to the token's row of {@code out} (the pair's
     * panels are whole: {@link #tiles} takes only panels inside the matrix).
     */
    private static void finish(float[] part, float[] wp, int cols, int kl, float[] xr, int xo, float[] out, int o, int ldo) {
        int accs = 2 * MT, stride = accs * L, upper = L * kl;
        for (int a = 0; a < accs; a++) {
            int base = a * L;
            FloatVector s;
            if (L == 16) tree16(part, base, stride);
            else {
                for (int half = L / 2; half >= 1; half >>= 1) {
                    for (int j = 0; j < half; j++) {
                        int dj = base + j * stride;
                        FloatVector.fromArray(F, part, dj).add(FloatVector.fromArray(F, part, dj + half * stride))
                                .intoArray(part, dj);
                    }
                }
            }
            s = FloatVector.fromArray(F, part, base);
            int panel = a / MT, t = a % MT;
            for (int c = upper; c < cols; c++) {
                FloatVector wc = FloatVector.fromArray(F, wp, panel * L * cols + c * L);
                s = s.add(wc.mul(xr[xo + t * cols + c]));
            }
            s.intoArray(out, o + t * ldo + panel * L);
        }
    }

    /**
     * The halving tree over 16 residue vectors {@code part[o + j·stride ..]} in registers (level by level, v[j] + v[j +
     * half]), the sum stored back at {@code part[o ..]} (returned through memory: a vector returned from a call C2 does
     * not inline would be boxed).
     */
    private static void tree16(float[] part, int o, int stride) {
        FloatVector v0 = FloatVector.fromArray(F, part, o), v1 = FloatVector.fromArray(F, part, o + stride);
        FloatVector v2 = FloatVector.fromArray(F, part, o + 2 * stride), v3 = FloatVector.fromArray(F, part, o + 3 * stride);
        FloatVector v4 = FloatVector.fromArray(F, part, o + 4 * stride), v5 = FloatVector.fromArray(F, part, o + 5 * stride);
        FloatVector v6 = FloatVector.fromArray(F, part, o + 6 * stride), v7 = FloatVector.fromArray(F, part, o + 7 * stride);
        v0 = v0.add(FloatVector.fromArray(F, part, o + 8 * stride));
        v1 = v1.add(FloatVector.fromArray(F, part, o + 9 * stride));
        v2 = v2.add(FloatVector.fromArray(F, part, o + 10 * stride));
        v3 = v3.add(FloatVector.fromArray(F, part, o + 11 * stride));
        v4 = v4.add(FloatVector.fromArray(F, part, o + 12 * stride));
        v5 = v5.add(FloatVector.fromArray(F, part, o + 13 * stride));
        v6 = v6.add(FloatVector.fromArray(F, part, o + 14 * stride));
        v7 = v7.add(FloatVector.fromArray(F, part, o + 15 * stride));
        v0 = v0.add(v4); v1 = v1.add(v5); v2 = v2.add(v6); v3 = v3.add(v7);
        v0 = v0.add(v2); v1 = v1.add(v3);
        v0.add(v1).intoArray(part, o);
    }

    /** Per-thread scratch: the block's residue-major activations, the widened panel pair, the residue partials. */
    private static final class Scratch {
        float[] xr = new float[0], wp = new float[0];
        final float[] part = new float[L * 2 * Math.max(1, MT) * L];

        float[] xr(int n) {
            if (xr.length < n) xr = new float[n];
            return xr;
        }

        float[] wp(int n) {
            if (wp.length < n) wp = new float[n];
            return wp;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    // ---- the packed copies ----

    /** One matrix's packed panels, found by its tensor (weakly held), first row and row count. */
    private record Entry(WeakReference<Tensor> tensor, int rowStart, int rows, MemorySegment panels) {}

    /** Immutable open-addressing table (length a power of two, at most half full); replaced whole on a miss. */
    private static volatile Entry[] table = new Entry[64];
    private static final Object PACK_LOCK = new Object();

    private static int slot(Tensor t, int rowStart, int rows, int mask) {
        return (System.identityHashCode(t) * 31 + rowStart * 7 + rows) * 0x9E3779B1 >>> 7 & mask;
    }

    /** The packed panels of {@code w}: looked up without a lock or an allocation; packed once under the lock on a miss. */
    static MemorySegment packed(Matrix w) {
        MemorySegment hit = find(table, w);
        if (hit != null) return hit;
        synchronized (PACK_LOCK) {
            Entry[] cur = table;
            hit = find(cur, w);
            if (hit != null) return hit;
            MemorySegment panels = pack(w);
            int live = 0;
            for (Entry e : cur) if (e != null && e.tensor.get() != null) live++;
            int len = cur.length;
            while (2 * (live + 1) > len) len *= 2;
            Entry[] next = new Entry[len];
            for (Entry e : cur) if (e != null && e.tensor.get() != null) insert(next, e);
            insert(next, new Entry(new WeakReference<>(w.tensor()), w.rowStart(), w.rows(), panels));
            table = next;
            return panels;
        }
    }

    private static MemorySegment find(Entry[] tab, Matrix w) {
        Tensor t = w.tensor();
        int mask = tab.length - 1;
        for (int i = slot(t, w.rowStart(), w.rows(), mask); ; i = (i + 1) & mask) {
            Entry e = tab[i];
            if (e == null) return null;
            if (e.tensor.get() == t && e.rowStart == w.rowStart() && e.rows == w.rows()) return e.panels;
        }
    }

    private static void insert(Entry[] tab, Entry e) {
        Tensor t = e.tensor.get();
        int mask = tab.length - 1;
        int i = slot(t, e.rowStart, e.rows, mask);
        while (tab[i] != null) i = (i + 1) & mask;
        tab[i] = e;
    }

    /** Packs a bf16 matrix into residue-major panels of L rows (see the class comment); zero rows past the end. */
    static MemorySegment pack(Matrix w) {
        if (w.tensor().dtype() != DType.BF16) throw new IllegalArgumentException("panels are packed from bf16 weights: " + w.tensor().dtype());
        int rows = w.rows(), cols = w.cols(), kl = cols / L, upper = L * kl, panels = (rows + L - 1) / L;
        MemorySegment src = w.tensor().data();
        long base = (long) w.rowStart() * cols * 2;
        MemorySegment dst = Arena.ofAuto().allocate((long) panels * L * cols * 2, 64);
        short[] row = new short[cols];
        for (int r = 0; r < rows; r++) {
            MemorySegment.copy(src, BF16_LE, base + (long) r * cols * 2, row, 0, cols);
            int p = r / L, i = r % L;
            long po = (long) p * L * cols;
            for (int c = 0; c < cols; c++) {
                int pos = c < upper ? (c % L) * kl + c / L : c;   // residue-major column position
                dst.setAtIndex(BF16_LE, po + (long) pos * L + i, row[c]);
            }
        }
        return dst;
    }
}
