package dev.arbor.accel.kernels;

import dev.arbor.accel.Constant;
import dev.arbor.accel.KMath;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Unroll;
import dev.arbor.accel.array.*;

/**
 * The conformance suite's kernels: together they use every construct the compiler supports.
 * Each has a plain-Java reference in {@link KernelCases}. Sizes are guarded ({@code if (i < n)}), so
 * any n works with a rounded-up grid.
 */
public final class TestKernels {
    private TestKernels() {}

    static final int BLOCK = 64;
    static final int TILE = 16;

    // ---- element-wise arithmetic -------------------------------------------------------------------

    /** y = a·x + y. */
    public static void saxpy(KernelContext ctx, float a, FloatArray x, FloatArray y, int n) {
        int i = ctx.globalIdx;
        if (i < n) y.set(i, a * x.get(i) + y.get(i));
    }

    /** int add/sub/mul/div/rem/neg/and/or/xor; b | 1 keeps divisors non-zero. */
    /** saxpy written for programmatic dependent launch: y is read only after the dependency wait. */
    public static void dependentSaxpy(KernelContext ctx, float a, FloatArray x, FloatArray y, int n) {
        ctx.allowDependentLaunch();
        int i = ctx.globalIdx;
        if (i >= n) return;
        float xi = x.get(i);
        ctx.gridDependencyWait();
        y.set(i, a * xi + y.get(i));
    }

    /** Softplus in double precision through Math.exp / Math.log (inlined as DoubleMath on the GPU). */
    public static void doubleExpLog(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        double d = x.get(i);
        out.set(i, (float) (Math.log(1.0 + Math.exp(d)) + Math.exp(-d * d)));
    }

    public static void intArith(KernelContext ctx, IntArray a, IntArray b, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int x = a.get(i), y = b.get(i) | 1;
        out.set(i, (x * 7 + y) / y - (x % y) + (-x & 0xFF) ^ (x | 3) - x / 5);
    }

    /** long arithmetic and shifts with counts past the width (Java masks them). */
    public static void longArith(KernelContext ctx, LongArray a, LongArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        long x = a.get(i);
        int s = i + 60;
        out.set(i, (x << s) ^ (x >> 3) ^ (x >>> s) + x * 31L - x / 7L + x % 1000L);
    }

    /** Results an item of {@link #divideByConstants}: 12 int divisors and 10 long ones, quotient and remainder, longs as two ints. */
    public static final int DIVISIONS = 64;

    /**
     * Division and remainder by compile-time constants (literals, {@code @Constant} parameters and expressions of them), which
     * the compiler lowers to shifts (powers of two) or a multiply-high (others); -4 keeps the division instruction. With
     * heads = 48, kvHeads = 4: g = 12, 2g - 1 = 23.
     */
    public static void divideByConstants(KernelContext ctx, IntArray x, LongArray y, IntArray out, int n, @Constant int heads, @Constant int kvHeads) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int v = x.get(i), g = heads / kvHeads, o = i * DIVISIONS;
        out.set(o, v / 1); out.set(o + 1, v % 1);
        out.set(o + 2, v / 2); out.set(o + 3, v % 2);
        out.set(o + 4, v / 8); out.set(o + 5, v % 8);
        out.set(o + 6, v / 64); out.set(o + 7, v % 64);
        out.set(o + 8, v / 3); out.set(o + 9, v % 3);
        out.set(o + 10, v / 7); out.set(o + 11, v % 7);
        out.set(o + 12, v / g); out.set(o + 13, v % g);
        out.set(o + 14, v / (2 * g - 1)); out.set(o + 15, v % (2 * g - 1));
        out.set(o + 16, v / 641); out.set(o + 17, v % 641);
        out.set(o + 18, v / (1 << 30)); out.set(o + 19, v % (1 << 30));
        out.set(o + 20, v / Integer.MAX_VALUE); out.set(o + 21, v % Integer.MAX_VALUE);
        out.set(o + 22, v / -4); out.set(o + 23, v % -4);
        long w = y.get(i);
        long d = g;
        putLong(out, o + 24, w / 1L); putLong(out, o + 26, w % 1L);
        putLong(out, o + 28, w / 2L); putLong(out, o + 30, w % 2L);
        putLong(out, o + 32, w / 8L); putLong(out, o + 34, w % 8L);
        putLong(out, o + 36, w / 64L); putLong(out, o + 38, w % 64L);
        putLong(out, o + 40, w / 3L); putLong(out, o + 42, w % 3L);
        putLong(out, o + 44, w / 7L); putLong(out, o + 46, w % 7L);
        putLong(out, o + 48, w / d); putLong(out, o + 50, w % d);
        putLong(out, o + 52, w / (1L << 40)); putLong(out, o + 54, w % (1L << 40));
        putLong(out, o + 56, w / 1_000_000_007L); putLong(out, o + 58, w % 1_000_000_007L);
        putLong(out, o + 60, w / Long.MAX_VALUE); putLong(out, o + 62, w % Long.MAX_VALUE);
    }

    /**
     * A helper called with a constant argument that its loop rewrites every round (as Philox.block's counter words): the
     * argument is 0 only on entry, so nothing after the loop's head may take it as known.
     */
    public static void loopRewritesConstantArgument(KernelContext ctx, IntArray x, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        out.set(i, mixRounds(x.get(i), 0));
    }

    private static int mixRounds(int a, int b) {
        for (int r = 0; r < 4; r++) {
            int t = a * 5 + (b & 0xFFFF) / 3;
            b = a;
            a = t;
        }
        return a ^ b;
    }

    private static void putLong(IntArray out, int at, long v) {
        out.set(at, (int) v);
        out.set(at + 1, (int) (v >>> 32));
    }

    /** int shifts, counts 0..40 (masked to 5 bits). */
    public static void intShifts(KernelContext ctx, IntArray a, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int x = a.get(i), s = i % 41;
        out.set(i, (x << s) + (x >> s) + (x >>> s));
    }

    /** double arithmetic and Math.sqrt(double), narrowed at the end. */
    public static void doubleArith(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        double d = x.get(i);
        double r = d * 1.5 - d / 3.0 + Math.sqrt(Math.abs(d)) - (-d);
        out.set(i, (float) r);
    }

    /** Comparisons of every kind, including NaN (fcmpl/fcmpg) and ternaries. */
    public static void compareSelect(KernelContext ctx, FloatArray x, FloatArray y, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float a = x.get(i), b = y.get(i);
        int code = a < b ? 1 : a > b ? 2 : a == b ? 3 : 4;
        code = code * 10 + (a <= b ? 1 : 0) + (a >= b ? 2 : 0) + (a != b ? 4 : 0);
        long la = (long) (a * 100), lb = (long) (b * 100);
        code = code * 10 + (la < lb ? 1 : la == lb ? 2 : 3);
        double da = a, db = b;
        code = code * 10 + (da > db ? 1 : da < db ? 2 : 3);
        out.set(i, code);
    }

    /** Every conversion bytecode: i2l, i2f, i2d, l2i, l2f, l2d, f2i, f2l, f2d, d2i, d2l, d2f, i2b, i2s, i2c. */
    public static void casts(KernelContext ctx, FloatArray x, LongArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float f = x.get(i) * 1e3f;
        int fi = (int) f;
        long fl = (long) (f * 1e7f);
        double d = f;
        long acc = fi + fl + (int) d + (long) (d * 3.0) + (byte) fi + (short) (fi * 100) + (char) fi;
        acc += (long) (float) fl + (long) (double) (long) fi + (int) (long) (fl * 3) + (long) ((float) d);
        out.set(i, acc);
    }

    /** Math intrinsics: abs, min, max on every type, fma. */
    public static void mathIntrinsics(KernelContext ctx, FloatArray x, FloatArray y, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float a = x.get(i), b = y.get(i);
        float r = Math.fma(a, b, Math.abs(a)) + Math.min(a, b) * Math.max(a, b);
        int k = Math.max(Math.min(i, 100), -3) + Math.abs(-i);
        long l = Math.max((long) i * 3L, 7L) - Math.min((long) i, 5L) + Math.abs((long) -i);
        double d = Math.fma((double) a, (double) b, 1.0) + Math.min((double) a, 0.5) + Math.max((double) b, -0.5);
        out.set(i, r + k + l + (float) d);
    }

    /** KMath: exp, expFtz, log, sqrt, rsqrt, tanh, sin, cos (approximate on the GPU). */
    public static void kmath(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float a = x.get(i);
        float p = Math.abs(a) + 0.5f;
        out.set(i, KMath.exp(a) + KMath.log(p) + KMath.sqrt(p) + KMath.rsqrt(p) + KMath.tanh(a) + KMath.sin(a) * KMath.cos(a)
                + KMath.expFtz(-a));
    }

    /** Raw bit conversions and bit counting. */
    public static void bitTricks(KernelContext ctx, FloatArray x, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int bits = Float.floatToRawIntBits(x.get(i));
        float back = Float.intBitsToFloat(bits ^ 0x80000000);
        long dbits = Double.doubleToRawLongBits(back);
        out.set(i, Integer.bitCount(bits) + Integer.numberOfLeadingZeros(bits) * 100 + Long.bitCount(dbits) * 10000
                + (Float.floatToIntBits(Double.longBitsToDouble(dbits) > 0 ? 1f : -1f) >>> 20));
    }

    // ---- helpers, loops, switches ------------------------------------------------------------------

    static float square(float v) { return v * v; }

    static float polynomial(float v) { return square(v) * 3f + v * 2f + 1f; }

    static void scaleInto(FloatArray out, int i, float v, float s) { out.set(i, v * s); }

    /** Nested static helpers, one taking an array: all inlined. */
    public static void helpers(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i < n) scaleInto(out, i, polynomial(x.get(i)), square(2f));
    }

    /** Loop-heavy: nested loops, while, do-while, break and continue; integer work only so results are exact. */
    public static void loops(KernelContext ctx, IntArray a, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int acc = 0;
        for (int j = 0; j < 50; j++) {
            if (j % 7 == 3) continue;
            for (int k = 0; k < j; k += 3) acc += (a.get(i) ^ k) & 15;
            if (acc > 100_000) break;
        }
        int v = a.get(i) & 0xFFFF;
        int steps = 0;
        while (v != 1 && steps < 200) { // Collatz steps
            v = (v & 1) == 0 ? v >> 1 : 3 * v + 1;
            steps++;
        }
        do { acc++; } while ((acc & 3) != 0);
        out.set(i, acc * 1000 + steps);
    }

    /** tableswitch and lookupswitch. */
    public static void switches(KernelContext ctx, IntArray a, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int r = switch (a.get(i) & 7) {
            case 0 -> 10; case 1 -> 11; case 2 -> 12; case 3 -> 13; case 5 -> 15;
            default -> -1;
        };
        switch (a.get(i) & 1023) {
            case 7: r += 100; break;
            case 500: r += 200; break;
            case 1000: r += 300; break;
            default: r += 1;
        }
        out.set(i, r);
    }

    /** Ternaries leaving long and double values on the stack across branches; i++ inside expressions. */
    public static void ternaryStack(KernelContext ctx, IntArray a, LongArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int v = a.get(i);
        long l = (v & 1) == 0 ? (long) v * 3L : -v;
        double d = v > 0 ? 0.5 : 2.0;
        int k = i;
        int m = k++ + ++k;
        out.set(i, l + (long) (d * 4) + m + (v < 0 ? k : -k));
    }

    // ---- fp16 / bf16 / int8 --------------------------------------------------------------------

    /** fp16 in, fp16 out: load widens, store rounds to nearest even. */
    public static void fp16RoundTrip(KernelContext ctx, HalfFloatArray x, HalfFloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i < n) out.set(i, x.get(i) * 1.25f + 0.1f);
    }

    /** bf16 in, bf16 out. */
    public static void bf16RoundTrip(KernelContext ctx, BFloat16Array x, BFloat16Array out, int n) {
        int i = ctx.globalIdx;
        if (i < n) out.set(i, x.get(i) * 1.25f + 0.1f);
    }

    /** Conversions between float and fp16/bf16 bit patterns held as shorts. */
    public static void halfBits(KernelContext ctx, FloatArray x, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float v = x.get(i) * 3.3f;
        short h = KernelContext.floatToFp16(v), b = KernelContext.floatToBf16(v);
        short h2 = Float.floatToFloat16(KernelContext.bf16ToFloat(b));
        out.set(i, (h & 0xFFFF) * 65536 + (b & 0xFFFF) + (int) (Float.float16ToFloat(h2) + KernelContext.fp16ToFloat(h)));
    }

    /** Packed pairs unpacked in place: out[4i ..] = fp16 low, fp16 high, bf16 low, bf16 high of pairs[i]. */
    public static void halfPairs(KernelContext ctx, IntArray pairs, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int p = pairs.get(i);
        out.set(4 * i, KernelContext.fp16LowToFloat(p));
        out.set(4 * i + 1, KernelContext.fp16HighToFloat(p));
        out.set(4 * i + 2, KernelContext.bf16LowToFloat(p));
        out.set(4 * i + 3, KernelContext.bf16HighToFloat(p));
    }

    /** int8 dequantisation: byte × per-block scale. */
    public static void dequantInt8(KernelContext ctx, ByteArray q, FloatArray scales, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i < n) out.set(i, q.get(i) * scales.get(i / 32));
    }

    /** Aligned 8-byte loads: four fp16 values per load, summed; out has n/4 rounded up entries. */
    public static void vectorLoadFp16(KernelContext ctx, HalfFloatArray x, FloatArray out, int groups) {
        int g = ctx.globalIdx;
        if (g >= groups) return;
        long bits = x.getBits64(g * 4);
        float s = 0f;
        for (int k = 0; k < 4; k++) s += KernelContext.fp16ToFloat((short) (bits >>> (16 * k)));
        out.set(g, s);
    }

    /** Aligned 16-byte loads: four floats per load (the index variable pairs the low and high halves). */
    public static void vectorLoad128(KernelContext ctx, FloatArray x, FloatArray out, int groups) {
        int g = ctx.globalIdx;
        if (g >= groups) return;
        int at = g * 4;
        long lo = x.getBits128Low(at), hi = x.getBits128High(at);
        out.set(g, Float.intBitsToFloat((int) lo) + Float.intBitsToFloat((int) (lo >>> 32))
                + Float.intBitsToFloat((int) hi) + Float.intBitsToFloat((int) (hi >>> 32)));
    }

    // ---- geometry ----------------------------------------------------------------------------

    /** 3D launch: every geometry field; out[(z·sy + y)·sx + x] encodes them. */
    public static void geometry3D(KernelContext ctx, IntArray out, int sx, int sy, int sz) {
        int x = ctx.globalIdx, y = ctx.globalIdy, z = ctx.globalIdz;
        if (x >= sx || y >= sy || z >= sz) return;
        int code = ctx.localIdx + 10 * ctx.localIdy + 100 * ctx.localIdz
                + 1000 * (ctx.groupIdx + ctx.groupIdy + ctx.groupIdz)
                + 100000 * (ctx.localGroupSizeX + ctx.localGroupSizeY + ctx.localGroupSizeZ)
                + 10000000 * ((ctx.globalGroupSizeX + ctx.globalGroupSizeY + ctx.globalGroupSizeZ) & 63);
        out.set((z * sy + y) * sx + x, code);
    }

    /** Grid-stride loop over n with a fixed small grid. */
    public static void gridStride(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        for (int i = ctx.globalIdx; i < n; i += ctx.globalGroupSizeX) out.set(i, x.get(i) * 2f + out.length());
    }

    /** @Constant specialisation: the unroll count and scale are baked into the PTX. */
    public static void constantSpecialised(KernelContext ctx, FloatArray x, FloatArray out, int n, @Constant int repeats, @Constant float scale) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float v = x.get(i);
        for (int r = 0; r < repeats; r++) v = v * scale + 1f;
        out.set(i, v);
    }

    // ---- shared memory, barriers, warps, atomics ------------------------------------------------

    /** Tiled matmul C(m×p) = A(m×k) · B(k×p), row-major; TILE×TILE work-groups, shared tiles and barriers. */
    public static void tiledMatmul(KernelContext ctx, FloatArray a, FloatArray b, FloatArray c, int m, int k, int p, @Constant int tile) {
        float[] as = ctx.allocateFloatLocalArray(tile * tile);
        float[] bs = ctx.allocateFloatLocalArray(tile * tile);
        int tx = ctx.localIdx, ty = ctx.localIdy;
        int col = ctx.groupIdx * tile + tx, row = ctx.groupIdy * tile + ty;
        float sum = 0f;
        for (int t0 = 0; t0 < k; t0 += tile) {
            as[ty * tile + tx] = row < m && t0 + tx < k ? a.get(row * k + t0 + tx) : 0f;
            bs[ty * tile + tx] = col < p && t0 + ty < k ? b.get((t0 + ty) * p + col) : 0f;
            ctx.localBarrier();
            for (int j = 0; j < tile; j++) sum += as[ty * tile + j] * bs[j * tile + tx];
            ctx.localBarrier();
        }
        if (row < m && col < p) c.set(row * p + col, sum);
    }

    /** Block sum: warp reductions by shuffles, then warp partials through shared memory; one atomicAdd per block. */
    public static void blockReduce(KernelContext ctx, FloatArray x, FloatArray partials, FloatArray total, int n) {
        float[] warpSums = ctx.allocateFloatLocalArray(BLOCK / KernelContext.WARP_SIZE);
        int i = ctx.globalIdx;
        float v = i < n ? x.get(i) : 0f;
        v = ctx.warpReduceSum(v);
        int warp = ctx.localIdx / KernelContext.WARP_SIZE;
        if (ctx.laneId() == 0) warpSums[warp] = v;
        ctx.localBarrier();
        if (ctx.localIdx == 0) {
            float s = 0f;
            for (int w = 0; w < warpSums.length; w++) s += warpSums[w];
            partials.set(ctx.groupIdx, s);
            ctx.atomicAdd(total, 0, s);
        }
    }

    /**
     * The last-arriving work-group pattern: each group writes its sum to partials[group], fences, and counts
     * itself in; the group that counts last fences again, adds the partials in group order (a fixed order:
     * exact) into total[0] and resets the counter for the next launch.
     */
    public static void lastGroupSum(KernelContext ctx, FloatArray x, FloatArray partials, IntArray counter, FloatArray total, int n) {
        float[] sums = ctx.allocateFloatLocalArray(BLOCK);
        int[] last = ctx.allocateIntLocalArray(1);
        int i = ctx.globalIdx, tid = ctx.localIdx;
        sums[tid] = i < n ? x.get(i) : 0f;
        ctx.localBarrier();
        if (tid == 0) {
            float s = 0f;
            for (int j = 0; j < BLOCK; j++) s += sums[j];
            partials.set(ctx.groupIdx, s);
            ctx.threadFence();
            last[0] = ctx.atomicAdd(counter, 0, 1) == ctx.globalGroupSizeX / BLOCK - 1 ? 1 : 0;
        }
        ctx.localBarrier();
        if (last[0] != 0 && tid == 0) {
            ctx.threadFence();
            float s = 0f;
            for (int g = 0; g < ctx.globalGroupSizeX / BLOCK; g++) s += partials.get(g);
            total.set(0, s);
            counter.set(0, 0);
        }
    }

    /** Tree reduction with shuffleDown; lane 0 of each warp writes the warp's sum and max. */
    public static void shuffleDownReduce(KernelContext ctx, FloatArray x, FloatArray sums, FloatArray maxima, int n) {
        int i = ctx.globalIdx;
        float v = i < n ? x.get(i) : 0f;
        float m = i < n ? x.get(i) : -1e30f;
        for (int d = 16; d > 0; d /= 2) v += ctx.shuffleDown(v, d);
        m = ctx.warpReduceMax(m);
        if (ctx.laneId() == 0) {
            sums.set(i / 32, v);
            maxima.set(i / 32, m);
        }
    }

    /** shuffleXor, shuffleBroadcast and int warp sums. */
    public static void shuffleMix(KernelContext ctx, IntArray a, IntArray out, int n) {
        int i = ctx.globalIdx;
        int v = i < n ? a.get(i) : 0;
        int swapped = ctx.shuffleXor(v, 5);
        int first = ctx.shuffleBroadcast(v, 3);
        int sum = ctx.warpReduceSum(v);
        float f = ctx.shuffleBroadcast((float) v, 31);
        if (i < n) out.set(i, swapped * 7 + first * 3 + sum + (int) f);
    }

    /** Histogram of a[i] & 15: shared-memory atomics per group, then global atomics. */
    public static void histogram(KernelContext ctx, IntArray a, IntArray bins, int n) {
        int[] local = ctx.allocateIntLocalArray(16);
        if (ctx.localIdx < 16) local[ctx.localIdx] = 0;
        ctx.localBarrier();
        int i = ctx.globalIdx;
        if (i < n) ctx.atomicAdd(local, a.get(i) & 15, 1);
        ctx.localBarrier();
        if (ctx.localIdx < 16) ctx.atomicAdd(bins, ctx.localIdx, local[ctx.localIdx]);
    }

    /** Global float and long atomics, and float atomics in shared memory. */
    public static void atomicsMixed(KernelContext ctx, FloatArray x, FloatArray fsum, LongArray lsum, int n) {
        float[] acc = ctx.allocateFloatLocalArray(1);
        if (ctx.localIdx == 0) acc[0] = 0f;
        ctx.localBarrier();
        int i = ctx.globalIdx;
        if (i < n) {
            ctx.atomicAdd(acc, 0, 1f);
            ctx.atomicAdd(lsum, i & 3, (long) i * 1_000_000_000L);
        }
        ctx.localBarrier();
        if (ctx.localIdx == 0) ctx.atomicAdd(fsum, 0, acc[0]);
    }

    /**
     * Vector reductions ({@code red.global.add.v4.f32}): work-item i adds (v, 2v, 3v, 4v), v = i % 7 + 1, into the 4 floats of
     * bin i % 8 of {@code out} (32 floats), so many work-items hit each 16 bytes at once; integers, so any order is exact.
     */
    public static void vectorRed(KernelContext ctx, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i < n) {
            float v = i % 7 + 1;
            ctx.atomicAddGlobal128(out, (i % 8) * 4, v, 2 * v, 3 * v, 4 * v);
        }
    }

    /** Inclusive prefix sum inside each work-group (Hillis–Steele, double-buffered in shared memory). */
    public static void blockScan(KernelContext ctx, IntArray a, IntArray out, int n) {
        int[] buf = ctx.allocateIntLocalArray(2 * BLOCK);
        int t = ctx.localIdx, i = ctx.globalIdx;
        buf[t] = i < n ? a.get(i) : 0;
        ctx.localBarrier();
        int src = 0;
        for (int offset = 1; offset < BLOCK; offset <<= 1) {
            int dst = BLOCK - src;
            buf[dst + t] = t >= offset ? buf[src + t] + buf[src + t - offset] : buf[src + t];
            ctx.localBarrier();
            src = dst;
        }
        if (i < n) out.set(i, buf[src + t]);
    }

    /** Matrix transpose (rows×cols → cols×rows) through a padded shared tile, 2D work-groups of TILE×TILE. */
    public static void transpose(KernelContext ctx, FloatArray in, FloatArray out, int rows, int cols) {
        float[] tileMem = ctx.allocateFloatLocalArray(TILE * (TILE + 1));
        int x = ctx.groupIdx * TILE + ctx.localIdx, y = ctx.groupIdy * TILE + ctx.localIdy;
        if (x < cols && y < rows) tileMem[ctx.localIdy * (TILE + 1) + ctx.localIdx] = in.get(y * cols + x);
        ctx.localBarrier();
        int tx = ctx.groupIdy * TILE + ctx.localIdx, ty = ctx.groupIdx * TILE + ctx.localIdy;
        if (tx < rows && ty < cols) out.set(ty * rows + tx, tileMem[ctx.localIdx * (TILE + 1) + ctx.localIdy]);
    }

    /** Row softmax, one work-group per row: max and sum reductions in shared memory. */
    public static void softmaxRows(KernelContext ctx, FloatArray x, FloatArray out, int cols) {
        float[] red = ctx.allocateFloatLocalArray(BLOCK);
        int row = ctx.groupIdx, t = ctx.localIdx;
        float m = -Float.MAX_VALUE;
        for (int c = t; c < cols; c += BLOCK) m = Math.max(m, x.get(row * cols + c));
        red[t] = m;
        ctx.localBarrier();
        for (int s = BLOCK / 2; s > 0; s >>= 1) {
            if (t < s) red[t] = Math.max(red[t], red[t + s]);
            ctx.localBarrier();
        }
        float rowMax = red[0];
        ctx.localBarrier();
        float sum = 0f;
        for (int c = t; c < cols; c += BLOCK) sum += KMath.exp(x.get(row * cols + c) - rowMax);
        red[t] = sum;
        ctx.localBarrier();
        for (int s = BLOCK / 2; s > 0; s >>= 1) {
            if (t < s) red[t] += red[t + s];
            ctx.localBarrier();
        }
        float inv = 1f / red[0];
        for (int c = t; c < cols; c += BLOCK) out.set(row * cols + c, KMath.exp(x.get(row * cols + c) - rowMax) * inv);
    }

    /** RMSNorm of one row per work-group: warp sums of squares, rsqrt, weight. */
    public static void rmsNorm(KernelContext ctx, FloatArray x, FloatArray weight, FloatArray out, int cols) {
        float[] partial = ctx.allocateFloatLocalArray(BLOCK / KernelContext.WARP_SIZE);
        int row = ctx.groupIdx, t = ctx.localIdx;
        float ss = 0f;
        for (int c = t; c < cols; c += BLOCK) {
            float v = x.get(row * cols + c);
            ss += v * v;
        }
        ss = ctx.warpReduceSum(ss);
        if (ctx.laneId() == 0) partial[t / KernelContext.WARP_SIZE] = ss;
        ctx.localBarrier();
        float total = 0f;
        for (int w = 0; w < BLOCK / KernelContext.WARP_SIZE; w++) total += partial[w];
        float scale = KMath.rsqrt(total / cols + 1e-5f);
        for (int c = t; c < cols; c += BLOCK) out.set(row * cols + c, x.get(row * cols + c) * scale * weight.get(c));
    }

    /**
     * fp16 matrix × fp32 vector, y(rows) = W(rows×cols) · x(cols); one warp per row, each lane reading
     * 8-byte chunks (4 halves). cols must be a multiple of 4.
     */
    public static void matvecFp16(KernelContext ctx, HalfFloatArray w, FloatArray x, FloatArray y, int rows, int cols) {
        int warpsPerGroup = ctx.localGroupSizeX / KernelContext.WARP_SIZE;
        int row = ctx.groupIdx * warpsPerGroup + ctx.localIdx / KernelContext.WARP_SIZE;
        int lane = ctx.laneId();
        float sum = 0f;
        if (row < rows) {
            int base = row * cols;
            for (int c = lane * 4; c < cols; c += KernelContext.WARP_SIZE * 4) {
                long bits = w.getBits64(base + c);
                sum += KernelContext.fp16ToFloat((short) bits) * x.get(c)
                        + KernelContext.fp16ToFloat((short) (bits >>> 16)) * x.get(c + 1)
                        + KernelContext.fp16ToFloat((short) (bits >>> 32)) * x.get(c + 2)
                        + KernelContext.fp16ToFloat((short) (bits >>> 48)) * x.get(c + 3);
            }
        }
        sum = ctx.warpReduceSum(sum);
        if (row < rows && lane == 0) y.set(row, sum);
    }

    /** Dynamic shared memory: reverse each work-group's slice. */
    public static void reverseInGroup(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        float[] buf = ctx.dynamicFloatLocalArray();
        int t = ctx.localIdx, i = ctx.globalIdx, size = ctx.localGroupSizeX;
        buf[t] = i < n ? x.get(i) : 0f;
        ctx.localBarrier();
        int j = ctx.groupIdx * size + (size - 1 - t);
        if (j < n) out.set(j, buf[t]);
    }

    /** Compound assignment on shared arrays (dup2 / dup_x forms) and a half-float shared array. */
    public static void sharedCompound(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        float[] s = ctx.allocateFloatLocalArray(BLOCK);
        short[] h = ctx.allocateHalfFloatLocalArray(BLOCK);
        long[] l = ctx.allocateLongLocalArray(BLOCK);
        double[] d = ctx.allocateDoubleLocalArray(BLOCK);
        int t = ctx.localIdx, i = ctx.globalIdx;
        float v = i < n ? x.get(i) : 0f;
        s[t] = v;
        s[t] += 2f;
        s[t] *= 3f;
        h[t] = KernelContext.floatToFp16(v);
        l[t] = t;
        l[t] += (long) v;
        d[t] = v;
        d[t] /= 2.0;
        ctx.localBarrier();
        float r = s[t] + KernelContext.fp16ToFloat(h[(t + 1) % BLOCK]) + l[t] + (float) d[t];
        if (i < n) out.set(i, r);
    }
    // ---- register arrays and unrolling ------------------------------------------------------------

    /** Per work-item float[8], short[4] and int[4] register arrays, filled and summed by unrolled helpers. */
    public static void registerArrays(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float[] acc = new float[8];
        short[] s = new short[4];
        int[] w = new int[4];
        fillRegisters(acc, s, w, x.get(i), i);
        out.set(i, sumRegisters(acc, s, w));
    }

    @Unroll
    static void fillRegisters(float[] acc, short[] s, int[] w, float v, int i) {
        for (int j = 0; j < acc.length; j++) acc[j] = v * j + (j % 3 == 0 ? 1f : -0.5f);
        for (int j = 0; j < 4; j++) {
            s[j] = (short) (i * 40000 + j);
            w[j] = i << j;
        }
    }

    @Unroll
    static float sumRegisters(float[] acc, short[] s, int[] w) {
        float t = 0;
        for (int j = 0; j < 8; j++) {
            if (j == 5) continue;
            t += acc[j];
        }
        for (int j = 3; j >= 0; j--) t += s[j] + w[j] * 0.25f;
        return t;
    }

    /** A register array indexed at run time: the compiler places it in local memory (and reports it). */
    public static void registerArrayDynamic(KernelContext ctx, FloatArray x, FloatArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        float[] t = new float[8];
        for (int j = 0; j < 8; j++) t[j] = x.get(i) * j;
        out.set(i, t[i % 8] + t[7]);
    }

    // ---- tensor cores -------------------------------------------------------------------------------

    /**
     * Warp w: D = A·B + C with A the 16×16 bf16 tile at a[256w] (row-major), B the 16×8 tile at
     * b[128w] (column-major: B[k][n] at n·16 + k), C and D 16×8 fp32 row-major at c[128w], d[128w].
     * Warps past {@code tiles} join the mma (it is warp-wide) on tile 0 and store nothing.
     */
    public static void mmaBf16Tiles(KernelContext ctx, BFloat16Array a, BFloat16Array b, FloatArray c, FloatArray d, int tiles) {
        int w = ctx.globalIdx / 32, lane = ctx.laneId(), g = lane >> 2, t = lane & 3;
        int tile = w < tiles ? w : 0, ab = tile * 256, bb = tile * 128, cb = tile * 128;
        int[] af = new int[4];
        int[] bf = new int[2];
        float[] acc = new float[4];
        af[0] = KernelContext.packBf16(a.get(ab + g * 16 + 2 * t), a.get(ab + g * 16 + 2 * t + 1));
        af[1] = KernelContext.packBf16(a.get(ab + (g + 8) * 16 + 2 * t), a.get(ab + (g + 8) * 16 + 2 * t + 1));
        af[2] = KernelContext.packBf16(a.get(ab + g * 16 + 2 * t + 8), a.get(ab + g * 16 + 2 * t + 9));
        af[3] = KernelContext.packBf16(a.get(ab + (g + 8) * 16 + 2 * t + 8), a.get(ab + (g + 8) * 16 + 2 * t + 9));
        bf[0] = KernelContext.packBf16(b.get(bb + g * 16 + 2 * t), b.get(bb + g * 16 + 2 * t + 1));
        bf[1] = KernelContext.packBf16(b.get(bb + g * 16 + 2 * t + 8), b.get(bb + g * 16 + 2 * t + 9));
        loadAccumulator(acc, c, cb, g, t);
        ctx.mmaBf16(acc, 0, af, 0, bf, 0);
        if (w < tiles) storeAccumulator(acc, d, cb, g, t);
    }

    /** {@link #mmaBf16Tiles} with fp16 inputs. */
    public static void mmaFp16Tiles(KernelContext ctx, HalfFloatArray a, HalfFloatArray b, FloatArray c, FloatArray d, int tiles) {
        int w = ctx.globalIdx / 32, lane = ctx.laneId(), g = lane >> 2, t = lane & 3;
        int tile = w < tiles ? w : 0, ab = tile * 256, bb = tile * 128, cb = tile * 128;
        int[] af = new int[4];
        int[] bf = new int[2];
        float[] acc = new float[4];
        af[0] = KernelContext.packFp16(a.get(ab + g * 16 + 2 * t), a.get(ab + g * 16 + 2 * t + 1));
        af[1] = KernelContext.packFp16(a.get(ab + (g + 8) * 16 + 2 * t), a.get(ab + (g + 8) * 16 + 2 * t + 1));
        af[2] = KernelContext.packFp16(a.get(ab + g * 16 + 2 * t + 8), a.get(ab + g * 16 + 2 * t + 9));
        af[3] = KernelContext.packFp16(a.get(ab + (g + 8) * 16 + 2 * t + 8), a.get(ab + (g + 8) * 16 + 2 * t + 9));
        bf[0] = KernelContext.packFp16(b.get(bb + g * 16 + 2 * t), b.get(bb + g * 16 + 2 * t + 1));
        bf[1] = KernelContext.packFp16(b.get(bb + g * 16 + 2 * t + 8), b.get(bb + g * 16 + 2 * t + 9));
        loadAccumulator(acc, c, cb, g, t);
        ctx.mmaFp16(acc, 0, af, 0, bf, 0);
        if (w < tiles) storeAccumulator(acc, d, cb, g, t);
    }

    /**
     * Warpgroup MMA (sm_90a): block (one warpgroup of 128 work-items) {@code tile} computes
     * {@code D = A·Bᵀ + C} with A 64×64 bf16 (row-major at a[4096·tile]), B {@code cols}×64 bf16 (row-major at
     * b[64·cols·tile], i.e. K-major), C and D 64×cols fp32 row-major at c/d[64·cols·tile]: both operands are
     * written into dynamic shared memory in the 128-byte swizzle ({@link dev.arbor.accel.Swizzle#rowChunk128}),
     * then four wgmma k16 steps advance the descriptors by 32 bytes each. Dynamic shared memory: (64 + cols)·128 bytes.
     */
    public static void wgmmaBf16Tiles(KernelContext ctx, BFloat16Array a, BFloat16Array b, FloatArray c, FloatArray d, @Constant int cols) {
        int[] smem = ctx.dynamicIntLocalArray();
        int tile = ctx.groupIdx, tid = ctx.localIdx;
        fillSwizzled(smem, 0, a, tile * 64 * 64, 64, tid);
        fillSwizzled(smem, 64 * 32, b, tile * cols * 64, cols, tid);
        ctx.fenceProxyAsyncShared();
        ctx.localBarrier();
        float[] acc = new float[cols / 2];
        int w = tid >> 5, g = (tid & 31) >> 2, t = tid & 3, cb = tile * 64 * cols;
        wgmmaAccumulator(acc, c, d, cb, cols, w, g, t, false);
        long da = ctx.wgmmaDescriptorSw128(smem, 0), db = ctx.wgmmaDescriptorSw128(smem, 64 * 32);
        ctx.wgmmaFence();
        for (int ks = 0; ks < 4; ks++) ctx.wgmmaBf16(acc, 0, cols, smem, da + 2 * ks, db + 2 * ks);
        ctx.wgmmaCommit();
        ctx.wgmmaWait(0);
        wgmmaAccumulator(acc, c, d, cb, cols, w, g, t, true);
    }

    /**
     * Per-warpgroup register reallocation (setmaxnreg, sm_90a) in a warp-specialized block of 3 warpgroups (384 work-items,
     * launch bounds 384: a cap of 168 registers at entry): warpgroup 0 releases down to 40 and writes {@code out[i] = 3i + 1};
     * warpgroups 1 and 2 take 232 and each work-item fills a 96-element register array from x, then writes
     * {@code out[i] = Σ_j acc[j] · acc[95 - j]} (int arithmetic: exact on either side). {@code n}: x's length.
     */
    public static void setMaxRegisters(KernelContext ctx, IntArray x, IntArray out, int n) {
        ctx.launchBounds(384);
        int tid = ctx.localIdx, i = ctx.groupIdx * 384 + tid;
        if (tid < 128) {
            ctx.setMaxRegistersDec(40);
            out.set(i, 3 * i + 1);
        } else {
            ctx.setMaxRegistersInc(232);
            int[] acc = new int[96];
            fillFromX(acc, x, i, n);
            out.set(i, mirroredDot(acc));
        }
    }

    /** acc[j] = x[(i + 7j) mod n] · (j + 1). */
    @Unroll
    static void fillFromX(int[] acc, IntArray x, int i, int n) {
        for (int j = 0; j < 96; j++) acc[j] = x.get((i + 7 * j) % n) * (j + 1);
    }

    @Unroll
    static int mirroredDot(int[] acc) {
        int sum = 0;
        for (int j = 0; j < 96; j++) sum += acc[j] * acc[95 - j];
        return sum;
    }

    /**
     * 1-D bulk copies on an mbarrier: in each of two barrier phases, block b copies two chunks of {@code chunkWords} words of
     * {@code src} (from elements {@code starts[(2b + phase)·2 + c]}, multiples of 8) into shared words c·chunkWords, waits on
     * the phase, writes the words out in order, then fences the async proxy and barriers before the next phase's copies.
     * Dynamic shared memory: 2·chunkWords words of chunks, then the 8-byte barrier.
     */
    public static void bulkCopies(KernelContext ctx, BFloat16Array src, IntArray starts, IntArray out, int chunkWords) {
        int[] smem = ctx.dynamicIntLocalArray();
        int tid = ctx.localIdx, bar = 2 * chunkWords, b = ctx.groupIdx;
        if (tid == 0) {
            ctx.mbarrierInit(smem, bar, 1);
            ctx.fenceMbarrierInit();
        }
        ctx.localBarrier();
        for (int phase = 0; phase < 2; phase++) {
            if (tid == 0) {
                ctx.mbarrierArriveExpectTx(smem, bar, 2 * chunkWords * 4);
                for (int c = 0; c < 2; c++) ctx.bulkLoad(smem, c * chunkWords, bar, src, starts.get((2 * b + phase) * 2 + c), chunkWords * 4);
            }
            while (!ctx.mbarrierTryWait(smem, bar, phase)) {}
            int base = (2 * b + phase) * 2 * chunkWords;
            for (int i = tid; i < 2 * chunkWords; i += ctx.localGroupSizeX) out.set(base + i, smem[i]);
            ctx.fenceProxyAsyncShared();   // the reads above come before the copy engine's next writes
            ctx.localBarrier();
        }
    }

    /**
     * Hopper bulk tensor copies and mbarriers: block b loads the box of {@code boxRows} rows from row b·boxRows, columns
     * 0..63 of {@code src} (a {@code rows × rowLength} bf16 matrix described by {@code map}) into a 128-byte-swizzled
     * tile, waits on the barrier's phase 0, writes the tile out unswizzled (row-major words), then, after a block
     * barrier, loads columns 64..127 into the same tile on phase 1 and writes that out after it.
     * Dynamic shared memory: boxRows·128 bytes of tile, then the 8-byte barrier (1024 bytes reserved).
     */
    public static void tmaTiles(KernelContext ctx, BFloat16Array src, LongArray map, IntArray out, int rows, int rowLength, int boxRows) {
        int[] smem = ctx.dynamicIntLocalArray();
        int tid = ctx.localIdx, bar = boxRows * 32;
        if (tid == 0) {
            ctx.mbarrierInit(smem, bar, 1);
            ctx.fenceMbarrierInit();
        }
        ctx.localBarrier();
        for (int phase = 0; phase < 2; phase++) {
            if (tid == 0) {
                ctx.mbarrierArriveExpectTx(smem, bar, boxRows * 128);
                ctx.tmaLoadTile128(smem, 0, bar, map, src, rows, rowLength, ctx.groupIdx * boxRows, phase * 64, boxRows);
            }
            while (!ctx.mbarrierTryWait(smem, bar, phase)) {}
            int base = (ctx.groupIdx * 2 + phase) * boxRows * 32;
            for (int q = tid; q < boxRows * 8; q += 128) {
                int row = q >> 3, chunk = q & 7;
                for (int i = 0; i < 4; i++) out.set(base + row * 32 + chunk * 4 + i, smem[dev.arbor.accel.Swizzle.rowChunk128(row, chunk) + i]);
            }
            ctx.fenceProxyAsyncShared();   // the reads above come before the copy engine's next writes
            ctx.localBarrier();
        }
    }

    /**
     * Thread-block clusters of two blocks (128 work-items each): after the barriers' initialisation and a cluster barrier,
     * block rank r of cluster q loads the box of {@code boxRows} rows from row (2q + r)·boxRows, columns 0..63 of {@code src}
     * by a multicast copy into tile r of both blocks (completing on both blocks' "full" barriers, each of which expects
     * both tiles' bytes, perhaps after the peer's copy has landed); each block writes its two tiles out unswizzled
     * (out[((2·block + tile)·boxRows + row)·32 + word]). Then work-item 0 arrives on the peer's "peer" barrier (a remote
     * arrival), every work-item waits on its own, and {@code info[block]} = rank · 10000 + blocks in the
     * cluster · 1000 + cluster id; a split cluster barrier (arrive, wait) before the end keeps the block alive while its
     * peer may still arrive on it. Dynamic shared memory: 2·boxRows·128 bytes of tiles, then the two barriers (1024 bytes).
     */
    public static void clusterTma(KernelContext ctx, BFloat16Array src, LongArray map, IntArray out, IntArray info, int rows, int rowLength, int boxRows) {
        ctx.clusterDims(2, 1, 1);
        int[] smem = ctx.dynamicIntLocalArray();
        int tid = ctx.localIdx, tileWords = boxRows * 32, full = 2 * tileWords, peer = full + 2;
        int rank = ctx.clusterCtaRank(), q = ctx.clusterIdX();
        if (tid == 0) {
            ctx.mbarrierInit(smem, full, 1);
            ctx.mbarrierInit(smem, peer, 1);
            ctx.fenceMbarrierInit();
        }
        ctx.clusterBarrier();   // no peer copies into, or arrives on, a barrier not yet initialised
        if (tid == 0) {
            ctx.tmaLoadTile128Multicast(smem, rank * tileWords, full, map, src, rows, rowLength, (2 * q + rank) * boxRows, 0, boxRows,
                    (1 << ctx.clusterCtaCount()) - 1);
            ctx.mbarrierArriveExpectTx(smem, full, 2 * boxRows * 128);
        }
        while (!ctx.mbarrierTryWait(smem, full, 0)) {}
        for (int tile = 0; tile < 2; tile++) {
            int base = (ctx.groupIdx * 2 + tile) * tileWords;
            for (int w = tid; w < boxRows * 8; w += 128) {
                int row = w >> 3, chunk = w & 7;
                for (int i = 0; i < 4; i++) out.set(base + row * 32 + chunk * 4 + i, smem[tile * tileWords + dev.arbor.accel.Swizzle.rowChunk128(row, chunk) + i]);
            }
        }
        if (tid == 0) ctx.mbarrierArriveCluster(smem, peer, rank ^ 1);
        while (!ctx.mbarrierTryWait(smem, peer, 0)) {}
        if (tid == 0) info.set(ctx.groupIdx, rank * 10000 + ctx.clusterCtaCount() * 1000 + q);
        ctx.clusterArrive();
        ctx.clusterWait();
    }

    /** rows × 64 bf16 (row-major from src[base]) into the 128-byte-swizzled tile at word {@code word}; 128 work-items. */
    static void fillSwizzled(int[] smem, int word, BFloat16Array src, int base, int rows, int tid) {
        for (int q = tid; q < rows * 8; q += 128) {
            int row = q >> 3, chunk = q & 7;
            for (int j = 0; j < 4; j++) {
                int e = base + row * 64 + chunk * 8 + 2 * j;
                smem[word + dev.arbor.accel.Swizzle.rowChunk128(row, chunk) + j] = KernelContext.packBf16(src.get(e), src.get(e + 1));
            }
        }
    }

    /** Loads C into (or, with {@code store}, stores D from) the wgmma accumulator layout: element 4j+r is (16w + g + 8·(r ≥ 2), 8j + 2t + (r &amp; 1)). */
    @Unroll
    static void wgmmaAccumulator(float[] acc, FloatArray c, FloatArray d, int base, int cols, int w, int g, int t, boolean store) {
        for (int j = 0; j < cols / 8; j++)
            for (int r = 0; r < 4; r++) {
                int at = base + (16 * w + g + (r >= 2 ? 8 : 0)) * cols + 8 * j + 2 * t + (r & 1);
                if (store) d.set(at, acc[4 * j + r]);
                else acc[4 * j + r] = c.get(at);
            }
    }

    @Unroll
    static void loadAccumulator(float[] acc, FloatArray c, int base, int g, int t) {
        for (int r = 0; r < 4; r++) acc[r] = c.get(base + (g + (r >= 2 ? 8 : 0)) * 8 + 2 * t + (r & 1));
    }

    @Unroll
    static void storeAccumulator(float[] acc, FloatArray d, int base, int g, int t) {
        for (int r = 0; r < 4; r++) d.set(base + (g + (r >= 2 ? 8 : 0)) * 8 + 2 * t + (r & 1), acc[r]);
    }

    /**
     * Warp w copies its 16×16 tile of 16-bit pairs (128 words at src[128w], row r = words 8r..8r+7)
     * to shared memory with 16-byte loads and stores, then reads it back with ldmatrix x1, x2, x4 and
     * their .trans forms; lane l writes its 14 result words to out[14·(32w + l)].
     * Matrix i of the x4 load covers rows 8(i%2).., columns 8(i/2)..
     */
    public static void ldmatrixAll(KernelContext ctx, IntArray src, IntArray out, int tiles) {
        int[] tile = ctx.allocateIntLocalArray(2 * 128);
        int w = ctx.globalIdx / 32, lane = ctx.laneId(), base = (ctx.localIdx / 32) * 128;
        int from = (w < tiles ? w : 0) * 128 + lane * 4;
        int[] v = new int[4];
        ctx.loadGlobal128(v, 0, src, from);
        ctx.storeShared128(tile, base + lane * 4, v, 0);
        ctx.localBarrier();
        int m = lane / 8, r = lane % 8;
        int row = base + ((m % 2) * 8 + r) * 8 + (m / 2) * 4;
        int[] f = new int[14];
        ctx.ldmatrixX1(f, 0, tile, row);
        ctx.ldmatrixX2(f, 1, tile, row);
        ctx.ldmatrixX4(f, 3, tile, row);
        ctx.ldmatrixX1Trans(f, 7, tile, row);
        ctx.ldmatrixX2Trans(f, 8, tile, row);
        ctx.ldmatrixX4Trans(f, 10, tile, row);
        if (w < tiles) storeWords(out, (w * 32 + lane) * 14, f);
    }

    @Unroll
    static void storeWords(IntArray out, int at, int[] f) {
        for (int j = 0; j < f.length; j++) out.set(at + j, f[j]);
    }

    /**
     * cp.async: work-item i copies 16-byte chunk i of src (4 ints) to shared memory, zero-filled
     * when {@code i % 3 == 1} or past {@code n} chunks; after the wait and a barrier it writes its
     * neighbour's ({@code localIdx ^ 1}) chunk to chunk i of out with a 16-byte load and store.
     */
    public static void cpAsyncChunks(KernelContext ctx, IntArray src, IntArray out, int n) {
        int[] chunks = ctx.allocateIntLocalArray(BLOCK * 4);
        int i = ctx.globalIdx, l = ctx.localIdx;
        boolean valid = i < n && i % 3 != 1;
        ctx.cpAsync16(chunks, l * 4, src, valid ? i * 4 : 0, valid);
        ctx.cpAsyncCommit();
        ctx.cpAsyncWait(0);
        ctx.localBarrier();
        int[] v = new int[4];
        ctx.loadShared128(v, 0, chunks, (l ^ 1) * 4);
        if (i < n) ctx.storeGlobal128(out, i * 4, v, 0);
    }

    /** Pairs of floats packed as bf16x2 and fp16x2 (round to nearest even), plus an 8-byte shared store read back. */
    public static void packPairs(KernelContext ctx, FloatArray x, IntArray bf, IntArray hf, int n) {
        int[] pairs = ctx.allocateIntLocalArray(BLOCK * 2);
        int i = ctx.globalIdx, l = ctx.localIdx;
        float lo = i < n ? x.get(2 * i) : 0f, hi = i < n ? x.get(2 * i + 1) : 0f;
        ctx.storeShared64(pairs, l * 2, KernelContext.packBf16(lo, hi), KernelContext.packFp16(lo, hi));
        ctx.localBarrier();
        if (i < n) {
            bf.set(i, pairs[l * 2]);
            hf.set(i, pairs[l * 2 + 1]);
        }
    }
    /** 100 KiB of dynamic shared memory (over the 48 KiB default): strided writes, a barrier, another work-item's reads. */
    public static void dynamicSharedLarge(KernelContext ctx, IntArray out, int n) {
        int[] s = ctx.dynamicIntLocalArray();
        int l = ctx.localIdx, i = ctx.globalIdx;
        for (int j = l; j < LARGE_SHARED_WORDS; j += BLOCK) s[j] = j * 3 + ctx.groupIdx;
        ctx.localBarrier();
        int sum = 0;
        for (int j = BLOCK - 1 - l; j < LARGE_SHARED_WORDS; j += BLOCK) sum += s[j];
        if (i < n) out.set(i, sum);
    }

    static final int LARGE_SHARED_WORDS = 25600;
    /**
     * Unrolling edge cases: nested loops whose inner bound depends on the outer variable, break and
     * continue decided at compile time, a run-time if inside the unrolled body, a while loop, and a
     * switch on the loop variable; all on an int[16] that must stay in registers.
     */
    public static void unrollShapes(KernelContext ctx, IntArray x, IntArray out, int n) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int[] r = new int[16];
        unrollFill(r, x.get(i));
        out.set(i, unrollFold(r, x.get(i)));
    }

    @Unroll
    static void unrollFill(int[] r, int v) {
        for (int a = 0; a < 4; a++)
            for (int b = 0; b <= a; b++) {
                if (b == 2) continue;
                r[a * 4 + b] = v * (a + 1) - b;
            }
        int j = 15;
        while (j > 11) {
            r[j] += j;
            j -= 2;
        }
    }

    @Unroll
    static int unrollFold(int[] r, int v) {
        int s = 0;
        for (int k = 0; k < 16; k++) {
            if (k == 13) break;
            switch (k % 3) {
                case 0 -> s += r[k];
                case 1 -> s ^= r[k];
                default -> s -= r[k] >> 1;
            }
            if (v > k * 100) s += k;   // decided at run time
        }
        return s;
    }
    /**
     * A parameter assigned a constant inside a loop that may not run, and a local assigned once from
     * constants: after the loop the parameter is 5 only where the loop ran; the local is known everywhere.
     */
    public static void singleAssignments(KernelContext ctx, IntArray out, int n, int v) {
        int i = ctx.globalIdx;
        if (i >= n) return;
        int width = BLOCK / 16 * 3;
        for (int j = 0; j < i % 2; j++) v = 5;
        int[] r = new int[BLOCK / 16 * 3];
        for (int j = 0; j < i % 3; j++) r[0] += j;
        r[width - 1] = v;
        out.set(i, r[width - 1] * 100 + r[0]);
    }
}
