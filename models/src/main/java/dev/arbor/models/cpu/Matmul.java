package dev.arbor.models.cpu;

import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.Matrix;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code out (tokens, rows) = x (tokens, cols) · Wᵀ} for a (rows, cols) weight in bf16/fp16/fp32.
 *
 * <p>Register-blocked: a thread's range of rows is cut into panels of {@link #TILE} rows (a quarter of the range
 * apart, so the weights are read as four long streams), each converted to float32 once per
 * block of tokens into a packed panel (TILE rows × cols, in L1), and a micro-kernel multiplies it with
 * {@link #MR} tokens at a time, keeping MR × TILE vector accumulators in registers (16 with 512-bit vectors,
 * 8 with 256-bit ones, so neither AVX-512's 32 nor AVX2's 16 registers spill). Token blocks are sized so their
 * activations stay in L2 while every tile of the thread's rows passes over them. The threads take ranges of
 * tiles; a step still reads each weight row once per token block, so decode (one block) reads W once. Decode
 * below MR tokens streams bf16 rows through registers instead ({@link #streamBf16}); bf16 at {@link PanelGemm#minTokens}
 * tokens or more (prefill) goes to {@link PanelGemm}'s outer-product kernel over packed panels; with
 * {@code -Darbor.cpu.decodeDirect8} (off) bf16 from 8 tokens below that (batched decode) with 16-lane vectors goes to
 * {@link #kernel8x2Bf16}, which widens the weights in registers.
 *
 * <p>Batch invariance: every (token, row) result is computed in one fixed order whatever kernel, tile or batch
 * it falls in: lane j of a vector accumulator sums {@code w[c] * x[c]} for c ≡ j (mod lanes) by FMA in
 * increasing c, the lanes are added by {@link Lanes#sum}'s fixed tree, then the scalar tail
 * {@code s += w[c] * x[c]} for the last cols % lanes columns. {@link #reference} spells that order out in plain
 * Java; chunked prefill therefore equals unchunked, and a sequence gives the same bits alone or in a batch.
 */
public final class Matmul {
    private Matmul() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Weight rows per tile (the panel the micro-kernel's accumulators span). */
    static final int TILE = 4;
    /**
     * Tokens per micro-kernel call, so that MR × TILE accumulators are one transposed lane sum (L vectors of L
     * lanes): 4 with 16-lane (512-bit) vectors and their 32 registers, 2 with 8-lane (AVX2, 16 registers); other
     * shapes take the one-token path ({@link #dot4}) only.
     */
    static final int MR = F.length() == 16 ? 4 : F.length() == 8 ? 2 : 0;
    /** Bytes of activations per token block: half of a 1 MiB L2, the rest for the panel and the outputs. */
    private static final int BLOCK_BYTES = 256 << 10;

    public static void apply(float[] x, int tokens, Matrix w, float[] out) {
        new Task().apply(x, tokens, w, out);
    }

    /**
     * {@link Matmul#apply} as a reusable object: the forward pass keeps one, so a call allocates nothing (a lambda
     * capturing the arguments would be a new object per call). Not thread-safe.
     */
    static final class Task implements Parallel.Range {
        private final PanelGemm.Activations activations = new PanelGemm.Activations();
        private float[] x, xr, out;
        private int tokens;
        private Matrix w;

        void apply(float[] x, int tokens, Matrix w, float[] out) {
            this.x = x;
            this.tokens = tokens;
            this.w = w;
            this.out = out;
            try {
                this.xr = activations.prepare(x, tokens, w);
                int tiles = tiles(w.rows());
                Parallel.forRange(tiles, grain(w, tokens, tiles, TILE), this);
            } finally {
                this.x = null;
                this.xr = null;
                this.w = null;
                this.out = null;
            }
        }

        @Override public void run(int from, int to) { tiles(x, xr, tokens, w, out, from, to); }
    }

    /** Tiles of a matrix of {@code rows} rows (the last one may be partial). */
    static int tiles(int rows) { return (rows + TILE - 1) / TILE; }

    /**
     * Work units per parallel range at least, for {@code units} units of {@code unitRows} rows of {@code w}: ~64K
     * multiply-adds per range, so tiny matrices don't pay for the hand-off; when streaming ({@link #streamBf16}), two
     * ranges per thread, not {@link Parallel}'s four, so each thread's four row streams are long (and still one spare
     * range per thread for the other to take when one is descheduled). NOTE: batched decode (the GEMM path) keeps four:
     * with two, a batch-8 A/B round on the loaded VM ran 46 against 73 tokens/s (not separated from the noise, cpu5).
     */
    static int grain(Matrix w, int tokens, int units, int unitRows) {
        int cols = w.cols();
        int grain = Math.max(1, 65536 / Math.max(1, cols * unitRows * Math.min(tokens, tokenBlock(cols))));
        if (streams(w, tokens)) grain = Math.max(grain, (units + 2 * Parallel.threads() - 1) / (2 * Parallel.threads()));
        return grain;
    }

    /** Whether {@link #tiles} streams {@code w} ({@link #streamBf16}) for {@code tokens} tokens. */
    static boolean streams(Matrix w, int tokens) { return tokens < Math.max(1, MR) && w.tensor().dtype() == DType.BF16; }

    /**
     * Tiles {@code [from, to)} of {@code out (tokens, rows) = x · Wᵀ}: one parallel range's work. Decode (fewer tokens
     * than a micro-kernel, bf16) streams the weights ({@link #streamBf16}), the rest runs the blocked GEMM; either way
     * each result has the one order {@link #reference} defines, so the fused stages ({@link FusedStages}), which run
     * several matrices' tiles in one parallel region, give the bits of separate calls.
     */
    static void tiles(float[] x, int tokens, Matrix w, float[] out, int from, int to) {
        tiles(x, null, tokens, w, out, from, to);
    }

    /**
     * {@link #tiles(float[], int, Matrix, float[], int, int)} with {@code xr}: x's residue-major copy when the caller
     * formed it once for the call ({@link PanelGemm.Activations#prepare}, non-null only where {@link PanelGemm} takes
     * {@code w}), or null.
     */
    static void tiles(float[] x, float[] xr, int tokens, Matrix w, float[] out, int from, int to) {
        if (streams(w, tokens)) streamBf16(x, tokens, w, out, from, to);
        else if (PanelGemm.applies(w, tokens)) PanelGemm.tiles(x, xr, tokens, w, out, from, to);
        else if (direct8(w, tokens)) direct8Bf16(x, tokens, w, out, from, to);
        else gemm(x, 0, tokens, tokenBlock(w.cols()), w, out, from, to);
    }

    /**
     * {@code -Darbor.cpu.decodeDirect8}: batched decode (8 to {@link PanelGemm#minTokens} tokens, bf16, 16-lane vectors)
     * through {@link #kernel8x2Bf16}, which widens each bf16 weight vector in registers once and FMAs it into 8 tokens'
     * accumulators, instead of {@link #gemm}'s float32 panel (written, then read back by two 4-token micro-kernels).
     * Not final: benches flip it between passes in one JVM. The same bits either way. NOTE: default off — alone
     * ({@code DecodeDirectBench}) it was 1.2-1.3x faster with W in the caches and 1.0-1.23x from DRAM, but the engine's
     * batch-8 decode from a checkpoint ran slower with it in 6 of 6 interleaved pairs (~0.9x; run 83-cpu21), also with
     * the weights copied to aligned 2 MiB pages. Explained in run 89-cpu22: the mapped weights took a virtual call per
     * load in the hot loop (the JDK's shared type profile, see {@link #weightAddress}), which this 19-register kernel pays
     * more for than the panel path; with {@link #weightAddress} on it is still not ahead of the panel GEMM in the engine
     * (0.90x single-threaded, 0.95-1.06x at two threads under load, batch 8: the step is bound by DRAM), so still off.
     */
    static boolean decodeDirect8 = Boolean.parseBoolean(System.getProperty("arbor.cpu.decodeDirect8", "false"));

    /** Whether {@link #tiles} takes {@link #direct8Bf16} for {@code tokens} tokens of {@code w} (not the panel GEMM's range). */
    static boolean direct8(Matrix w, int tokens) {
        return decodeDirect8 && F.length() == 16 && tokens >= 8 && w.tensor().dtype() == DType.BF16;
    }

    /**
     * Tiles {@code [from, to)} for 8 or more tokens (fewer than the panel GEMM takes): rows a quarter of the range apart
     * as {@link #streamBf16} reads them (four long streams), each row pair through {@link #kernel8x2Bf16} for every
     * group of 8 tokens (one group in batch-8 decode: each weight read and widened once), the tokens past the last
     * group by {@link #dot4Bf16}, the rows past the last multiple of four by {@link #dotBf16}: every result in
     * {@link #reference}'s order.
     */
    private static void direct8Bf16(float[] x, int tokens, Matrix w, float[] out, int from, int to) {
        int rows = w.rows(), cols = w.cols();
        MemorySegment seg = w.tensor().data();
        boolean addr = byAddress(seg);
        long base = (addr ? seg.address() : 0) + (long) w.rowStart() * cols * 2, rb = 2L * cols;   // byte offset (address) of row 0, bytes per row
        int r0 = from * TILE, r1 = Math.min(rows, to * TILE), q = (r1 - r0) / 4;
        int t8 = tokens - tokens % 8;
        float[] acc = ACC.get();
        long stride = q * rb;
        int ahead = touchAhead;
        for (int k = 0; k < q; k++) {
            int ra = r0 + k;
            long off = base + ra * rb;
            if (addr) {
                if (ahead > 0 && k + ahead < q && touch4A(off + ahead * rb, stride, rb) == Integer.MIN_VALUE) touchSink++;
                for (int t = 0; t < t8; t += 8) {
                    kernel8x2Bf16A(off, off + stride, cols, x, t * cols, out, t * rows + ra, rows, q, acc);
                    kernel8x2Bf16A(off + 2 * stride, off + 3 * stride, cols, x, t * cols, out, t * rows + ra + 2 * q, rows, q, acc);
                }
                for (int t = t8; t < tokens; t++) dot4Bf16A(off, stride, cols, x, t * cols, out, t * rows + ra, q);
            } else {
                if (ahead > 0 && k + ahead < q && touch4(seg, off + ahead * rb, stride, rb) == Integer.MIN_VALUE) touchSink++;
                for (int t = 0; t < t8; t += 8) {
                    kernel8x2Bf16(seg, off, off + stride, cols, x, t * cols, out, t * rows + ra, rows, q, acc);
                    kernel8x2Bf16(seg, off + 2 * stride, off + 3 * stride, cols, x, t * cols, out, t * rows + ra + 2 * q, rows, q, acc);
                }
                for (int t = t8; t < tokens; t++) dot4Bf16(seg, off, stride, cols, x, t * cols, out, t * rows + ra, q);
            }
        }
        for (int r = r0 + 4 * q; r < r1; r++) {
            for (int t = 0; t < tokens; t++) {
                out[t * rows + r] = addr ? dotBf16A(base + r * rb, x, t * cols, cols) : dotBf16(seg, base + r * rb, x, t * cols, cols);
            }
        }
    }

    /**
     * {@code -Darbor.cpu.weightAddress} (default on): the bf16 kernels read a memory-mapped weight tensor (a checkpoint's
     * file) through {@link #MEM}, one constant segment spanning the address space, at absolute addresses, instead of
     * through the tensor's own segment. Why: the JDK's memory-access code inlined into every kernel loop keeps
     * one type profile for all segments the process touches (heap views of float arrays, the KV cache's native blocks,
     * mapped weights); with three classes in it C2 cannot specialise the loads and keeps a virtual call per load in the loop
     * (all vector registers are caller-saved: the 16-accumulator kernels spill around it). {@code MEM} is a static final
     * constant: its class is exact, its scope global (no liveness check), nothing to profile. Same loads, same bits.
     * Allocated (native, not mapped) weights keep the segment path: with the mapped ones out of the profile theirs is the
     * KV cache's class, and there the segment path measured 3-7% faster than this one (synthetic:100m, batch 1); heap
     * segments (tests) keep it too. Not final: benches flip it in one JVM. Run 89-cpu22.
     */
    static boolean weightAddress = Boolean.parseBoolean(System.getProperty("arbor.cpu.weightAddress", "true"));

    /**
     * The whole address space as one native segment of the global scope ({@link #weightAddress}); null where native access
     * is denied ({@code reinterpret} is a restricted method: the launcher passes {@code --enable-native-access}), and then
     * the segment path runs.
     */
    static final MemorySegment MEM = allMemory();

    private static MemorySegment allMemory() {
        try {
            return MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
        } catch (RuntimeException e) {   // IllegalCallerException under --illegal-native-access=deny
            return null;
        }
    }

    /** Whether the kernels read {@code seg} by address through {@link #MEM} ({@link #weightAddress} and a mapped segment). */
    static boolean byAddress(MemorySegment seg) {
        return weightAddress && MEM != null && (seg.isMapped() || weightAddressNative && seg.isNative());
    }

    /**
     * {@code -Darbor.cpu.weightAddressNative} (default false): allocated (native, not mapped) weights by address too, as
     * {@link #weightAddress}'s first version did. Kept to settle a contradiction (run 89-cpu22): in one JVM's A/B on
     * synthetic:100m it measured 0.93-0.97x, while across engine runs the mapped checkpoint's matmuls (by address) ran
     * ~15% faster than the in-memory model's (segment path).
     */
    static boolean weightAddressNative = Boolean.parseBoolean(System.getProperty("arbor.cpu.weightAddressNative", "false"));

    /** {@link #touch4} at absolute addresses through {@link #MEM}. */
    private static int touch4A(long off, long stride, long rowBytes) {
        int s = 0;
        for (long p = 0; p < rowBytes; p += 64) {
            s += MEM.get(BF16_LE, off + p) + MEM.get(BF16_LE, off + stride + p) + MEM.get(BF16_LE, off + 2 * stride + p)
                    + MEM.get(BF16_LE, off + 3 * stride + p);
        }
        return s;
    }

    /** {@link #kernel8x2Bf16} with the rows at absolute addresses {@code a0}, {@code a1} read through {@link #MEM}. */
    static void kernel8x2Bf16A(long a0, long a1, int n, float[] x, int xo, float[] out, int o, int ldo, int os, float[] acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        int upper = F.loopBound(n);
        for (int i = 0; i < upper; i += F.length()) {
            long p = 2L * i;
            FloatVector w0 = bf16A(a0 + p), w1 = bf16A(a1 + p);
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            c00 = w0.fma(xv, c00); c01 = w1.fma(xv, c01);
            xv = FloatVector.fromArray(F, x, xo + n + i);
            c10 = w0.fma(xv, c10); c11 = w1.fma(xv, c11);
            xv = FloatVector.fromArray(F, x, xo + 2 * n + i);
            c20 = w0.fma(xv, c20); c21 = w1.fma(xv, c21);
            xv = FloatVector.fromArray(F, x, xo + 3 * n + i);
            c30 = w0.fma(xv, c30); c31 = w1.fma(xv, c31);
            xv = FloatVector.fromArray(F, x, xo + 4 * n + i);
            c40 = w0.fma(xv, c40); c41 = w1.fma(xv, c41);
            xv = FloatVector.fromArray(F, x, xo + 5 * n + i);
            c50 = w0.fma(xv, c50); c51 = w1.fma(xv, c51);
            xv = FloatVector.fromArray(F, x, xo + 6 * n + i);
            c60 = w0.fma(xv, c60); c61 = w1.fma(xv, c61);
            xv = FloatVector.fromArray(F, x, xo + 7 * n + i);
            c70 = w0.fma(xv, c70); c71 = w1.fma(xv, c71);
        }
        int l = F.length();
        c00.intoArray(acc, 0); c01.intoArray(acc, l); c10.intoArray(acc, 2 * l); c11.intoArray(acc, 3 * l);
        c20.intoArray(acc, 4 * l); c21.intoArray(acc, 5 * l); c30.intoArray(acc, 6 * l); c31.intoArray(acc, 7 * l);
        c40.intoArray(acc, 8 * l); c41.intoArray(acc, 9 * l); c50.intoArray(acc, 10 * l); c51.intoArray(acc, 11 * l);
        c60.intoArray(acc, 12 * l); c61.intoArray(acc, 13 * l); c70.intoArray(acc, 14 * l); c71.intoArray(acc, 15 * l);
        laneSums(acc);
        for (int t = 0; t < 8; t++) {
            float s0 = acc[2 * t], s1 = acc[2 * t + 1];
            int x0 = xo + t * n;
            for (int i = upper; i < n; i++) {
                float xi = x[x0 + i];
                long p = 2L * i;
                s0 += bf16AtA(a0 + p) * xi;
                s1 += bf16AtA(a1 + p) * xi;
            }
            out[o + t * ldo] = s0;
            out[o + t * ldo + os] = s1;
        }
    }

    /** L bf16 values at absolute address {@code a}, through {@link #MEM}, as floats. */
    private static FloatVector bf16A(long a) {
        ShortVector s = ShortVector.fromMemorySegment(S, MEM, a, ByteOrder.LITTLE_ENDIAN);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static float bf16AtA(long a) { return Float.intBitsToFloat(MEM.get(BF16_LE, a) << 16); }

    /** {@link #dot4Bf16} with the rows at absolute addresses {@code a + i * stride}, through {@link #MEM}. */
    static void dot4Bf16A(long a, long stride, int n, float[] x, int xo, float[] out, int o, int ostride) {
        long a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            long p = 2L * i;
            c0 = bf16A(a + p).fma(xv, c0);
            c1 = bf16A(a1 + p).fma(xv, c1);
            c2 = bf16A(a2 + p).fma(xv, c2);
            c3 = bf16A(a3 + p).fma(xv, c3);
        }
        float s0 = Lanes.sum(c0), s1 = Lanes.sum(c1);
        float s2 = Lanes.sum(c2), s3 = Lanes.sum(c3);
        for (; i < n; i++) {
            float xi = x[xo + i];
            long p = 2L * i;
            s0 += bf16AtA(a + p) * xi;
            s1 += bf16AtA(a1 + p) * xi;
            s2 += bf16AtA(a2 + p) * xi;
            s3 += bf16AtA(a3 + p) * xi;
        }
        out[o] = s0;
        out[o + ostride] = s1;
        out[o + 2 * ostride] = s2;
        out[o + 3 * ostride] = s3;
    }

    /** {@link #dotBf16} of the row at absolute address {@code a}, through {@link #MEM}. */
    static float dotBf16A(long a, float[] x, int xo, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) acc = bf16A(a + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc);
        float s = Lanes.sum(acc);
        for (; i < n; i++) s += bf16AtA(a + 2L * i) * x[xo + i];
        return s;
    }

    /** {@link #panelBf16} from absolute addresses, through {@link #MEM}. */
    static void panelBf16A(long a, long stride, int n, float[] wt) {
        long a1 = a + stride, a2 = a + 2 * stride, a3 = a + 3 * stride;
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            long p = 2L * i;
            FloatVector w0 = bf16A(a + p), w1 = bf16A(a1 + p), w2 = bf16A(a2 + p), w3 = bf16A(a3 + p);
            w0.intoArray(wt, i);
            w1.intoArray(wt, n + i);
            w2.intoArray(wt, 2 * n + i);
            w3.intoArray(wt, 3 * n + i);
        }
        for (; i < n; i++) {
            long p = 2L * i;
            wt[i] = bf16AtA(a + p);
            wt[n + i] = bf16AtA(a1 + p);
            wt[2 * n + i] = bf16AtA(a2 + p);
            wt[3 * n + i] = bf16AtA(a3 + p);
        }
    }

    /**
     * {@code -Darbor.cpu.decodeTouchAhead=N} (default 2; 0 off; only with {@link #decodeDirect8}): {@link #direct8Bf16} loads one value per 64-byte line of
     * the row group N groups ahead before each group's kernels, so those DRAM misses overlap the FMAs (weights on 4 KiB
     * pages, where the hardware prefetchers stop at every page). Changes no value. NOTE: the same touch in batch-1
     * streaming ({@link #streamBf16}) made it 1.4-2x slower (run 83-cpu21): there nothing else hides the loads' stalls.
     */
    static int touchAhead = Integer.getInteger("arbor.cpu.decodeTouchAhead", 2);
    /**
     * Written only when {@link #touch4}'s sum hits one value (practically never): the loads feed a branch, so the JIT keeps
     * them, and the threads share no written line (a sum stored every group bounced this field between the cores).
     */
    static int touchSink;

    /**
     * One scalar load per 64-byte line of the four rows at {@code off + i·stride} ({@code rowBytes} each): their DRAM misses
     * start now, in parallel, while the current rows' FMAs run (the Vector API has no prefetch instruction).
     */
    private static int touch4(MemorySegment seg, long off, long stride, long rowBytes) {
        int s = 0;
        for (long p = 0; p < rowBytes; p += 64) {
            s += seg.get(BF16_LE, off + p) + seg.get(BF16_LE, off + stride + p) + seg.get(BF16_LE, off + 2 * stride + p)
                    + seg.get(BF16_LE, off + 3 * stride + p);
        }
        return s;
    }

    /**
     * Eight tokens × two bf16 weight rows (byte offsets {@code off0}, {@code off1}):
     * {@code out[o + t*ldo + r*os] = w_r · x[xo + t*n ..]}. Each step widens two weight vectors in registers and loads
     * eight activation vectors for sixteen FMAs into sixteen accumulators (16 lanes: 16 + 3 of AVX-512's 32
     * registers); the lane sums are one transposed reduction ({@link #laneSums}), accumulator {@code 2t + r}.
     */
    static void kernel8x2Bf16(MemorySegment seg, long off0, long off1, int n, float[] x, int xo, float[] out, int o, int ldo, int os,
                              float[] acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        int upper = F.loopBound(n);
        for (int i = 0; i < upper; i += F.length()) {
            long p = 2L * i;
            FloatVector w0 = bf16(seg, off0 + p), w1 = bf16(seg, off1 + p);
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            c00 = w0.fma(xv, c00); c01 = w1.fma(xv, c01);
            xv = FloatVector.fromArray(F, x, xo + n + i);
            c10 = w0.fma(xv, c10); c11 = w1.fma(xv, c11);
            xv = FloatVector.fromArray(F, x, xo + 2 * n + i);
            c20 = w0.fma(xv, c20); c21 = w1.fma(xv, c21);
            xv = FloatVector.fromArray(F, x, xo + 3 * n + i);
            c30 = w0.fma(xv, c30); c31 = w1.fma(xv, c31);
            xv = FloatVector.fromArray(F, x, xo + 4 * n + i);
            c40 = w0.fma(xv, c40); c41 = w1.fma(xv, c41);
            xv = FloatVector.fromArray(F, x, xo + 5 * n + i);
            c50 = w0.fma(xv, c50); c51 = w1.fma(xv, c51);
            xv = FloatVector.fromArray(F, x, xo + 6 * n + i);
            c60 = w0.fma(xv, c60); c61 = w1.fma(xv, c61);
            xv = FloatVector.fromArray(F, x, xo + 7 * n + i);
            c70 = w0.fma(xv, c70); c71 = w1.fma(xv, c71);
        }
        int l = F.length();
        c00.intoArray(acc, 0); c01.intoArray(acc, l); c10.intoArray(acc, 2 * l); c11.intoArray(acc, 3 * l);
        c20.intoArray(acc, 4 * l); c21.intoArray(acc, 5 * l); c30.intoArray(acc, 6 * l); c31.intoArray(acc, 7 * l);
        c40.intoArray(acc, 8 * l); c41.intoArray(acc, 9 * l); c50.intoArray(acc, 10 * l); c51.intoArray(acc, 11 * l);
        c60.intoArray(acc, 12 * l); c61.intoArray(acc, 13 * l); c70.intoArray(acc, 14 * l); c71.intoArray(acc, 15 * l);
        laneSums(acc);
        for (int t = 0; t < 8; t++) {
            float s0 = acc[2 * t], s1 = acc[2 * t + 1];
            int x0 = xo + t * n;
            for (int i = upper; i < n; i++) {
                float xi = x[x0 + i];
                long p = 2L * i;
                s0 += bf16At(seg, off0 + p) * xi;
                s1 += bf16At(seg, off1 + p) * xi;
            }
            out[o + t * ldo] = s0;
            out[o + t * ldo + os] = s1;
        }
    }

    /** Tiles {@code [from, to)} of the product for tokens {@code [t0, t1)} only, by the blocked GEMM below ({@link PanelGemm}'s edges). */
    static void gemm(float[] x, int t0, int t1, Matrix w, float[] out, int from, int to) {
        gemm(x, t0, t1, tokenBlock(w.cols()), w, out, from, to);
    }

    /**
     * Tiles {@code [from, to)} of the product: token blocks sized for L2, float32 panels, the MR × TILE micro-kernel. A
     * panel holds rows a quarter of the range apart ({@code r0 + k + i·q}, i &lt; 4, as {@link #streamBf16} reads them),
     * so the weights arrive in four long streams; the rows past the last multiple of four take {@link #dot} one by one.
     */
    private static void gemm(float[] x, int first, int tokens, int block, Matrix w, float[] out, int from, int to) {
        int rows = w.rows(), cols = w.cols();
        int r0 = from * TILE, r1 = Math.min(rows, to * TILE), q = (r1 - r0) / TILE;
        boolean bf16 = w.tensor().dtype() == DType.BF16;
        MemorySegment seg = w.tensor().data();
        boolean addr = bf16 && byAddress(seg);
        long base = (addr ? seg.address() : 0) + (long) w.rowStart() * cols * 2, rb = 2L * cols;   // bf16: byte offset (address) of row 0, bytes per row
        float[] wt = tileScratch(TILE * cols); // (TILE, cols) packed float32 weight rows
        float[] acc = ACC.get();               // (L, L) a micro-kernel's accumulators, for the lane sums
        for (int t0 = first; t0 < tokens; t0 += block) {
            int t1 = Math.min(tokens, t0 + block);
            for (int k = 0; k < q; k++) {
                int ra = r0 + k;               // the panel's rows: ra, ra + q, ra + 2q, ra + 3q
                if (addr) panelBf16A(base + ra * rb, q * rb, cols, wt);
                else if (bf16) panelBf16(seg, base + ra * rb, q * rb, cols, wt);
                else for (int i = 0; i < TILE; i++) w.loadRow(ra + i * q, wt, i * cols);
                int t = t0;
                for (; MR > 0 && t + MR <= t1; t += MR) {
                    if (MR == 4) kernel4x4(wt, cols, x, t * cols, out, t * rows + ra, rows, q, acc);
                    else kernel2x4(wt, cols, x, t * cols, out, t * rows + ra, rows, q, acc);
                }
                for (; t < t1; t++) dot4(wt, cols, x, t * cols, out, t * rows + ra, q);
            }
            for (int r = r0 + TILE * q; r < r1; r++) {
                w.loadRow(r, wt, 0);
                for (int t = t0; t < t1; t++) out[t * rows + r] = dot(wt, 0, x, t * cols, cols);
            }
        }
    }

    /**
     * Decode (fewer tokens than one micro-kernel), tiles {@code [from, to)}: bandwidth-bound, so the bf16 weights are
     * converted in registers as they stream in and dotted with each token's activations, no float32 panel in between.
     *
     * <p>Four rows at a time (four FMA chains hide the FMA latency), taken a quarter of the range apart: rows
     * {@code r0 + k, r0 + q + k, r0 + 2q + k, r0 + 3q + k} for k &lt; q = (range rows) / 4. So a thread reads four long
     * sequential streams, which the hardware prefetchers follow; four adjacent rows (1.5 KB apart at 768 columns)
     * were four new 1.5 KB streams every tile, and one core streamed ~19 GB/s against ~23-33 this way (cpu5,
     * {@code RESULTS.md}). Each row keeps {@link #dot}'s order, so the same bits as every other path.
     */
    private static void streamBf16(float[] x, int tokens, Matrix w, float[] out, int from, int to) {
        int rows = w.rows(), cols = w.cols();
        MemorySegment seg = w.tensor().data();
        boolean addr = byAddress(seg);
        long base = (addr ? seg.address() : 0) + (long) w.rowStart() * cols * 2, rb = 2L * cols;   // byte offset (address) of row 0, bytes per row
        int r0 = from * TILE, r1 = Math.min(rows, to * TILE), q = (r1 - r0) / 4;
        for (int k = 0; k < q; k++) {
            int ra = r0 + k;
            long off = base + ra * rb;
            if (addr) for (int t = 0; t < tokens; t++) dot4Bf16A(off, q * rb, cols, x, t * cols, out, t * rows + ra, q);
            else for (int t = 0; t < tokens; t++) dot4Bf16(seg, off, q * rb, cols, x, t * cols, out, t * rows + ra, q);
        }
        for (int r = r0 + 4 * q; r < r1; r++) {
            for (int t = 0; t < tokens; t++) {
                out[t * rows + r] = addr ? dotBf16A(base + r * rb, x, t * cols, cols) : dotBf16(seg, base + r * rb, x, t * cols, cols);
            }
        }
    }

    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfShort BF16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** L bf16 values at byte offset {@code off} as floats: bf16 is the top half of a float32. */
    private static FloatVector bf16(MemorySegment seg, long off) {
        ShortVector s = ShortVector.fromMemorySegment(S, seg, off, ByteOrder.LITTLE_ENDIAN);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static float bf16At(MemorySegment seg, long off) { return Float.intBitsToFloat(seg.get(BF16_LE, off) << 16); }

    /**
     * {@link #dot4} with the four bf16 rows read from {@code seg} at byte offsets {@code off + i * stride} (i &lt; 4), with
     * {@code x[xo ..]}; row i's result goes to {@code out[o + i * ostride]}.
     */
    static void dot4Bf16(MemorySegment seg, long off, long stride, int n, float[] x, int xo, float[] out, int o, int ostride) {
        long o1 = off + stride, o2 = off + 2 * stride, o3 = off + 3 * stride;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            long p = 2L * i;
            a0 = bf16(seg, off + p).fma(xv, a0);
            a1 = bf16(seg, o1 + p).fma(xv, a1);
            a2 = bf16(seg, o2 + p).fma(xv, a2);
            a3 = bf16(seg, o3 + p).fma(xv, a3);
        }
        float s0 = Lanes.sum(a0), s1 = Lanes.sum(a1);
        float s2 = Lanes.sum(a2), s3 = Lanes.sum(a3);
        for (; i < n; i++) {
            float xi = x[xo + i];
            long p = 2L * i;
            s0 += bf16At(seg, off + p) * xi;
            s1 += bf16At(seg, o1 + p) * xi;
            s2 += bf16At(seg, o2 + p) * xi;
            s3 += bf16At(seg, o3 + p) * xi;
        }
        out[o] = s0;
        out[o + ostride] = s1;
        out[o + 2 * ostride] = s2;
        out[o + 3 * ostride] = s3;
    }

    /**
     * A float32 panel {@code wt (4, n)} of the four bf16 rows at byte offsets {@code off + i·stride}, converted in one
     * loop (four loads in flight, not one row's after another's: the GEMM's panel loads wait on DRAM at batched-decode
     * token counts). The widening is exact: the panel holds the values {@link Matrix#loadRow} gives.
     */
    static void panelBf16(MemorySegment seg, long off, long stride, int n, float[] wt) {
        long o1 = off + stride, o2 = off + 2 * stride, o3 = off + 3 * stride;
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            long p = 2L * i;
            FloatVector w0 = bf16(seg, off + p), w1 = bf16(seg, o1 + p), w2 = bf16(seg, o2 + p), w3 = bf16(seg, o3 + p);
            w0.intoArray(wt, i);
            w1.intoArray(wt, n + i);
            w2.intoArray(wt, 2 * n + i);
            w3.intoArray(wt, 3 * n + i);
        }
        for (; i < n; i++) {
            long p = 2L * i;
            wt[i] = bf16At(seg, off + p);
            wt[n + i] = bf16At(seg, o1 + p);
            wt[2 * n + i] = bf16At(seg, o2 + p);
            wt[3 * n + i] = bf16At(seg, o3 + p);
        }
    }

    /** {@link #dot} of one bf16 row at byte offset {@code off} with {@code x[xo ..]}. */
    static float dotBf16(MemorySegment seg, long off, float[] x, int xo, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) acc = bf16(seg, off + 2L * i).fma(FloatVector.fromArray(F, x, xo + i), acc);
        float s = Lanes.sum(acc);
        for (; i < n; i++) s += bf16At(seg, off + 2L * i) * x[xo + i];
        return s;
    }

    /** Tokens per block: as many as fit {@link #BLOCK_BYTES} of activations, a multiple of {@link #MR}. */
    static int tokenBlock(int cols) {
        int fit = BLOCK_BYTES / (Float.BYTES * Math.max(1, cols));
        int mr = Math.max(1, MR);
        return Math.max(mr, fit - fit % mr);
    }

    private static final ThreadLocal<float[][]> TILE_SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);

    /** This thread's weight-tile buffer, at least n floats (grown to the widest matrix, then reused). */
    private static float[] tileScratch(int n) {
        float[][] s = TILE_SCRATCH.get();
        if (s[0].length < n) s[0] = new float[n];
        return s[0];
    }

    /**
     * Four tokens × four weight rows: {@code out[o + t*ldo + r*os] = w[r*n ..] · x[xo + t*n ..]}. Each step loads
     * four weight vectors and four activation vectors for sixteen FMAs into sixteen accumulators; the sixteen
     * lane sums are then formed together, one transposed reduction (a 16-lane species: used when MR is 4).
     */
    static void kernel4x4(float[] w, int n, float[] x, int xo, float[] out, int o, int ldo, int os, float[] acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int upper = F.loopBound(n);
        int x0 = xo, x1 = xo + n, x2 = xo + 2 * n, x3 = xo + 3 * n;
        for (int i = 0; i < upper; i += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, w, i);
            FloatVector w1 = FloatVector.fromArray(F, w, n + i);
            FloatVector w2 = FloatVector.fromArray(F, w, 2 * n + i);
            FloatVector w3 = FloatVector.fromArray(F, w, 3 * n + i);
            FloatVector xv = FloatVector.fromArray(F, x, x0 + i);
            c00 = w0.fma(xv, c00); c01 = w1.fma(xv, c01); c02 = w2.fma(xv, c02); c03 = w3.fma(xv, c03);
            xv = FloatVector.fromArray(F, x, x1 + i);
            c10 = w0.fma(xv, c10); c11 = w1.fma(xv, c11); c12 = w2.fma(xv, c12); c13 = w3.fma(xv, c13);
            xv = FloatVector.fromArray(F, x, x2 + i);
            c20 = w0.fma(xv, c20); c21 = w1.fma(xv, c21); c22 = w2.fma(xv, c22); c23 = w3.fma(xv, c23);
            xv = FloatVector.fromArray(F, x, x3 + i);
            c30 = w0.fma(xv, c30); c31 = w1.fma(xv, c31); c32 = w2.fma(xv, c32); c33 = w3.fma(xv, c33);
        }
        // The sixteen accumulators go to memory (acc: this thread's L × L floats) and are summed together there by
        // laneSums, kept out of this method: its inlined vector nodes would pass C2's budget and box the vectors.
        int l = F.length();
        c00.intoArray(acc, 0); c01.intoArray(acc, l); c02.intoArray(acc, 2 * l); c03.intoArray(acc, 3 * l);
        c10.intoArray(acc, 4 * l); c11.intoArray(acc, 5 * l); c12.intoArray(acc, 6 * l); c13.intoArray(acc, 7 * l);
        c20.intoArray(acc, 8 * l); c21.intoArray(acc, 9 * l); c22.intoArray(acc, 10 * l); c23.intoArray(acc, 11 * l);
        c30.intoArray(acc, 12 * l); c31.intoArray(acc, 13 * l); c32.intoArray(acc, 14 * l); c33.intoArray(acc, 15 * l);
        laneSums(acc);
        for (int t = 0; t < 4; t++) finish4(acc, 4 * t, w, n, x, xo + t * n, upper, out, o + t * ldo, os);
    }

    /** Two tokens × four weight rows, for 8-lane (256-bit) vectors: eight accumulators within AVX2's sixteen registers. */
    static void kernel2x4(float[] w, int n, float[] x, int xo, float[] out, int o, int ldo, int os, float[] acc) {
        FloatVector c00 = FloatVector.zero(F), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        int upper = F.loopBound(n);
        int x0 = xo, x1 = xo + n;
        for (int i = 0; i < upper; i += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, w, i);
            FloatVector w1 = FloatVector.fromArray(F, w, n + i);
            FloatVector w2 = FloatVector.fromArray(F, w, 2 * n + i);
            FloatVector w3 = FloatVector.fromArray(F, w, 3 * n + i);
            FloatVector xv = FloatVector.fromArray(F, x, x0 + i);
            c00 = w0.fma(xv, c00); c01 = w1.fma(xv, c01); c02 = w2.fma(xv, c02); c03 = w3.fma(xv, c03);
            xv = FloatVector.fromArray(F, x, x1 + i);
            c10 = w0.fma(xv, c10); c11 = w1.fma(xv, c11); c12 = w2.fma(xv, c12); c13 = w3.fma(xv, c13);
        }
        int l = F.length();
        c00.intoArray(acc, 0); c01.intoArray(acc, l); c02.intoArray(acc, 2 * l); c03.intoArray(acc, 3 * l);
        c10.intoArray(acc, 4 * l); c11.intoArray(acc, 5 * l); c12.intoArray(acc, 6 * l); c13.intoArray(acc, 7 * l);
        laneSums(acc);
        for (int t = 0; t < 2; t++) finish4(acc, 4 * t, w, n, x, xo + t * n, upper, out, o + t * ldo, os);
    }

    /*
     * Transposed lane sums. Lanes.sum(v) adds lanes i and i ^ (L/2), then i ^ (L/4), ... down to i ^ 1. Level k of
     * that tree for two vectors a, b at once: a + a.swap(d) in the lanes whose bit d is clear, b + b.swap(d) in the
     * others (d = L >> (k + 1)). Both halves are exact lane adds of the same pairs as Lanes.sum (float addition
     * commutes), so after log2(L) levels over L vectors each lane holds one vector's Lanes.sum bit for bit.
     */
    private static final int LEVELS = Integer.numberOfTrailingZeros(F.length());
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] SWAP = new VectorShuffle[LEVELS];
    @SuppressWarnings("unchecked")
    private static final VectorMask<Float>[] UPPER = new VectorMask[LEVELS];
    /** Lane i of the result takes lane bitreverse(i): accumulator k (level-0 partner bit first) back to lane k. */
    private static final VectorShuffle<Float> SUM_ORDER =
            VectorShuffle.fromOp(F, i -> Integer.reverse(i) >>> (32 - LEVELS));

    static {
        for (int k = 0; k < LEVELS; k++) {
            int d = F.length() >> (k + 1);
            SWAP[k] = VectorShuffle.fromOp(F, i -> i ^ d);
            boolean[] bits = new boolean[F.length()];
            for (int i = 0; i < bits.length; i++) bits[i] = (i & d) != 0;
            UPPER[k] = VectorMask.fromArray(F, bits, 0);
        }
    }

    /**
     * {@code acc[k] = Lanes.sum(acc[k*L .. (k+1)*L))} for the L accumulators stored at {@code acc} (k = 0..L-1), by
     * the transposed tree: level 0 pairs vectors (2k, 2k + 1) into slot k, level 1 pairs those results, ..., so
     * lane i of the last vector holds accumulator bitreverse(i); {@link #SUM_ORDER} puts accumulator k in lane k.
     */
    static void laneSums(float[] acc) {
        int l = F.length();
        if (l == 16) {
            laneSums16(acc);
            return;
        }
        for (int level = 0, count = l; level < LEVELS; level++, count >>= 1) {
            VectorShuffle<Float> swap = SWAP[level];
            VectorMask<Float> upper = UPPER[level];
            for (int k = 0; 2 * k < count; k++) {   // slot k is written after slots 2k, 2k + 1 are read
                FloatVector a = FloatVector.fromArray(F, acc, 2 * k * l);
                FloatVector b = FloatVector.fromArray(F, acc, (2 * k + 1) * l);
                a.add(a.rearrange(swap)).blend(b.add(b.rearrange(swap)), upper).intoArray(acc, k * l);
            }
        }
        FloatVector.fromArray(F, acc, 0).rearrange(SUM_ORDER).intoArray(acc, 0);
    }

    /** Each thread's spill area for a micro-kernel's accumulators: L vectors of L lanes. */
    private static final VectorShuffle<Float> SW8 = VectorShuffle.fromOp(F, i -> i ^ (F.length() >> 1));
    private static final VectorShuffle<Float> SW4 = VectorShuffle.fromOp(F, i -> i ^ (F.length() >> 2));
    private static final VectorShuffle<Float> SW2 = VectorShuffle.fromOp(F, i -> i ^ Math.max(1, F.length() >> 3));
    private static final VectorShuffle<Float> SW1 = VectorShuffle.fromOp(F, i -> i ^ 1);
    private static final VectorMask<Float> HI8 = VectorMask.fromLong(F, 0xFF00L);
    private static final VectorMask<Float> HI4 = VectorMask.fromLong(F, 0xF0F0L);
    private static final VectorMask<Float> HI2 = VectorMask.fromLong(F, 0xCCCCL);
    private static final VectorMask<Float> HI1 = VectorMask.fromLong(F, 0xAAAAL);

    /**
     * {@link #laneSums} for 16 lanes, straight-line: the same pairs as the loop (levels d = 8, 4, 2, 1), with the
     * shuffles and masks as constants and no index arithmetic for C2 to check.
     */
    private static void laneSums16(float[] acc) {
        if (acc.length < 256) throw new IllegalArgumentException("16 accumulators of 16 lanes");
        FloatVector a, b;
        a = FloatVector.fromArray(F, acc, 0); b = FloatVector.fromArray(F, acc, 16);
        FloatVector p0 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        a = FloatVector.fromArray(F, acc, 32); b = FloatVector.fromArray(F, acc, 48);
        FloatVector p1 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        a = FloatVector.fromArray(F, acc, 64); b = FloatVector.fromArray(F, acc, 80);
        FloatVector p2 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        a = FloatVector.fromArray(F, acc, 96); b = FloatVector.fromArray(F, acc, 112);
        FloatVector p3 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        a = FloatVector.fromArray(F, acc, 128); b = FloatVector.fromArray(F, acc, 144);
        FloatVector p4 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        a = FloatVector.fromArray(F, acc, 160); b = FloatVector.fromArray(F, acc, 176);
        FloatVector p5 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        a = FloatVector.fromArray(F, acc, 192); b = FloatVector.fromArray(F, acc, 208);
        FloatVector p6 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        a = FloatVector.fromArray(F, acc, 224); b = FloatVector.fromArray(F, acc, 240);
        FloatVector p7 = a.add(a.rearrange(SW8)).blend(b.add(b.rearrange(SW8)), HI8);
        FloatVector q0 = p0.add(p0.rearrange(SW4)).blend(p1.add(p1.rearrange(SW4)), HI4);
        FloatVector q1 = p2.add(p2.rearrange(SW4)).blend(p3.add(p3.rearrange(SW4)), HI4);
        FloatVector q2 = p4.add(p4.rearrange(SW4)).blend(p5.add(p5.rearrange(SW4)), HI4);
        FloatVector q3 = p6.add(p6.rearrange(SW4)).blend(p7.add(p7.rearrange(SW4)), HI4);
        FloatVector r0 = q0.add(q0.rearrange(SW2)).blend(q1.add(q1.rearrange(SW2)), HI2);
        FloatVector r1 = q2.add(q2.rearrange(SW2)).blend(q3.add(q3.rearrange(SW2)), HI2);
        r0.add(r0.rearrange(SW1)).blend(r1.add(r1.rearrange(SW1)), HI1).rearrange(SUM_ORDER).intoArray(acc, 0);
    }

    private static final ThreadLocal<float[]> ACC = ThreadLocal.withInitial(() -> new float[F.length() * F.length()]);

    /** {@code out[o + i*os] = w[i*n ..] · x[xo ..]} for the panel's four rows, sharing the loads of x. */
    static void dot4(float[] w, int n, float[] x, int xo, float[] out, int o, int os) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            a0 = FloatVector.fromArray(F, w, i).fma(xv, a0);
            a1 = FloatVector.fromArray(F, w, n + i).fma(xv, a1);
            a2 = FloatVector.fromArray(F, w, 2 * n + i).fma(xv, a2);
            a3 = FloatVector.fromArray(F, w, 3 * n + i).fma(xv, a3);
        }
        float s0 = Lanes.sum(a0), s1 = Lanes.sum(a1);
        float s2 = Lanes.sum(a2), s3 = Lanes.sum(a3);
        for (; i < n; i++) {
            float xi = x[xo + i];
            s0 += w[i] * xi;
            s1 += w[n + i] * xi;
            s2 += w[2 * n + i] * xi;
            s3 += w[3 * n + i] * xi;
        }
        out[o] = s0;
        out[o + os] = s1;
        out[o + 2 * os] = s2;
        out[o + 3 * os] = s3;
    }

    /** One token's four row results from their lane sums {@code sums[k .. k + 4)}: the scalar tail {@code [upper, n)}, in order. */
    private static void finish4(float[] sums, int k, float[] w, int n, float[] x, int xo, int upper, float[] out, int o, int os) {
        float s0 = sums[k], s1 = sums[k + 1], s2 = sums[k + 2], s3 = sums[k + 3];
        for (int i = upper; i < n; i++) {
            float xi = x[xo + i];
            s0 += w[i] * xi;
            s1 += w[n + i] * xi;
            s2 += w[2 * n + i] * xi;
            s3 += w[3 * n + i] * xi;
        }
        out[o] = s0;
        out[o + os] = s1;
        out[o + 2 * os] = s2;
        out[o + 3 * os] = s3;
    }

    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0, upper = F.loopBound(n);
        for (; i < upper; i += F.length()) {
            acc = FloatVector.fromArray(F, a, ao + i).fma(FloatVector.fromArray(F, b, bo + i), acc);
        }
        float s = Lanes.sum(acc);
        for (; i < n; i++) s += a[ao + i] * b[bo + i];
        return s;
    }

    /**
     * The plain-Java definition of every result above, one (token, row) at a time: per lane j an FMA chain over
     * columns c ≡ j (mod lanes) below the vector bound, the lanes added by the fixed halving tree, then the
     * scalar tail. The accelerated paths must match it bit for bit.
     */
    static void reference(float[] x, int tokens, Matrix w, float[] out) {
        int rows = w.rows(), n = w.cols(), lanes = F.length(), upper = n - n % lanes;
        float[] row = new float[n];
        float[] acc = new float[lanes];
        for (int r = 0; r < rows; r++) {
            w.loadRow(r, row, 0);
            for (int t = 0; t < tokens; t++) {
                java.util.Arrays.fill(acc, 0f);
                for (int c = 0; c < upper; c++) acc[c % lanes] = Math.fma(row[c], x[t * n + c], acc[c % lanes]);
                for (int half = lanes / 2; half >= 1; half /= 2) {
                    for (int j = 0; j < half; j++) acc[j] = acc[j] + acc[j + half];
                }
                float s = acc[0];
                for (int c = upper; c < n; c++) s += row[c] * x[t * n + c];
                out[t * rows + r] = s;
            }
        }
    }
}
