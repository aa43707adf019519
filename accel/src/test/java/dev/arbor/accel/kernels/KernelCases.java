package dev.arbor.accel.kernels;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.*;
import dev.arbor.accel.kernels.KernelCase.Run;

import java.util.List;
import java.util.Random;

import static dev.arbor.accel.kernels.KernelCase.approximate;
import static dev.arbor.accel.kernels.KernelCase.exact;
import static dev.arbor.accel.kernels.TestKernels.BLOCK;
import static dev.arbor.accel.kernels.TestKernels.TILE;

/** The conformance suite: every {@link TestKernels} kernel with inputs and a plain-Java reference. */
public final class KernelCases {
    private KernelCases() {}

    /** Odd sizes that hit partial work-groups and loop tails. */
    public static final int[] SIZES = {1, 7, 13, 255, 1000};

    // ---- deterministic inputs --------------------------------------------------------------------

    static FloatArray floats(int n, long seed, float scale) {
        Random r = new Random(seed);
        FloatArray a = new FloatArray(n);
        for (int i = 0; i < n; i++) a.set(i, (r.nextFloat() * 2 - 1) * scale);
        return a;
    }

    static IntArray ints(int n, long seed) {
        Random r = new Random(seed);
        IntArray a = new IntArray(n);
        for (int i = 0; i < n; i++) a.set(i, r.nextInt());
        return a;
    }

    static Launch cover(int n) { return Launch.cover(n, BLOCK); }

    static Run run(Launch l, Object[] args, List<OffHeapArray> outs, List<double[]> expected) {
        return new Run(l, args, outs, expected, 0);
    }

    static double[] each(int n, java.util.function.IntToDoubleFunction f) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = f.applyAsDouble(i);
        return d;
    }

    public static List<KernelCase> all() {
        return List.of(
            exact("saxpy", n -> {
                FloatArray x = floats(n, 1, 10), y = floats(n, 2, 10);
                double[] e = each(n, i -> 2.5f * x.get(i) + y.get(i));
                return run(cover(n), new Object[]{2.5f, x, y, n}, List.of(y), List.of(e));
            }),
            exact("dependentSaxpy", n -> {
                FloatArray x = floats(n, 1, 10), y = floats(n, 2, 10);
                double[] e = each(n, i -> 2.5f * x.get(i) + y.get(i));
                return run(cover(n).overlappingPrevious(), new Object[]{2.5f, x, y, n}, List.of(y), List.of(e));
            }),
            approximate("doubleExpLog", 1e-6, n -> {
                FloatArray x = floats(n, 12, 30), out = new FloatArray(n);
                double[] e = each(n, i -> { double d = x.get(i); return (float) (Math.log(1.0 + Math.exp(d)) + Math.exp(-d * d)); });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("intArith", n -> {
                IntArray a = ints(n, 3), b = ints(n, 4), out = new IntArray(n);
                double[] e = each(n, i -> { int x = a.get(i), y = b.get(i) | 1; return (x * 7 + y) / y - (x % y) + (-x & 0xFF) ^ (x | 3) - x / 5; });
                return run(cover(n), new Object[]{a, b, out, n}, List.of(out), List.of(e));
            }),
            exact("longArith", n -> {
                LongArray a = new LongArray(n), out = new LongArray(n);
                Random r = new Random(5);
                for (int i = 0; i < n; i++) a.set(i, r.nextLong());
                double[] e = each(n, i -> { long x = a.get(i); int s = i + 60; return (double) ((x << s) ^ (x >> 3) ^ (x >>> s) + x * 31L - x / 7L + x % 1000L); });
                return run(cover(n), new Object[]{a, out, n}, List.of(out), List.of(e));
            }),
            exact("divideByConstants", n -> {
                int[] intEdges = {Integer.MIN_VALUE, Integer.MIN_VALUE + 1, -1, 0, 1, Integer.MAX_VALUE, Integer.MAX_VALUE - 1, -7, 7, -12, 12,
                        -13, 64, -64, -65, 1 << 30, -(1 << 30), -641, 640, -23};
                long[] longEdges = {Long.MIN_VALUE, Long.MIN_VALUE + 1, -1, 0, 1, Long.MAX_VALUE, Long.MAX_VALUE - 1, -7, 7, -12, 12, -13,
                        1L << 40, -(1L << 40), -(1L << 40) - 1, Integer.MIN_VALUE, -1_000_000_007L, 2_000_000_014L, -64, -65};
                IntArray x = ints(n, 41), out = new IntArray(n * TestKernels.DIVISIONS);
                LongArray y = new LongArray(n);
                Random r = new Random(42);
                for (int i = 0; i < n; i++) {
                    if (i < intEdges.length) x.set(i, intEdges[i]);
                    y.set(i, i < longEdges.length ? longEdges[i] : i % 2 == 0 ? r.nextLong() : r.nextInt());
                }
                double[] e = new double[n * TestKernels.DIVISIONS];
                for (int i = 0; i < n; i++) {
                    int v = x.get(i), g = 12;
                    int[] d = {1, 2, 8, 64, 3, 7, g, 2 * g - 1, 641, 1 << 30, Integer.MAX_VALUE, -4};
                    for (int j = 0; j < d.length; j++) { e[i * 64 + 2 * j] = v / d[j]; e[i * 64 + 2 * j + 1] = v % d[j]; }
                    long w = y.get(i);
                    long[] dl = {1, 2, 8, 64, 3, 7, g, 1L << 40, 1_000_000_007L, Long.MAX_VALUE};
                    for (int j = 0; j < dl.length; j++) {
                        long[] qr = {w / dl[j], w % dl[j]};
                        for (int h = 0; h < 2; h++) {
                            e[i * 64 + 24 + 4 * j + 2 * h] = (int) qr[h];
                            e[i * 64 + 25 + 4 * j + 2 * h] = (int) (qr[h] >>> 32);
                        }
                    }
                }
                return run(cover(n), new Object[]{x, y, out, n, 48, 4}, List.of(out), List.of(e));
            }),
            exact("loopRewritesConstantArgument", n -> {
                IntArray x = ints(n, 43), out = new IntArray(n);
                double[] e = each(n, i -> {
                    int a = x.get(i), b = 0;
                    for (int r = 0; r < 4; r++) { int t = a * 5 + (b & 0xFFFF) / 3; b = a; a = t; }
                    return a ^ b;
                });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("intShifts", n -> {
                IntArray a = ints(n, 6), out = new IntArray(n);
                double[] e = each(n, i -> { int x = a.get(i), s = i % 41; return (x << s) + (x >> s) + (x >>> s); });
                return run(cover(n), new Object[]{a, out, n}, List.of(out), List.of(e));
            }),
            exact("doubleArith", n -> {
                FloatArray x = floats(n, 7, 100), out = new FloatArray(n);
                double[] e = each(n, i -> { double d = x.get(i); return (float) (d * 1.5 - d / 3.0 + Math.sqrt(Math.abs(d)) - (-d)); });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("compareSelect", n -> {
                FloatArray x = floats(n, 8, 2), y = floats(n, 9, 2);
                for (int i = 0; i < n; i += 5) y.set(i, x.get(i));          // equal pairs
                for (int i = 3; i < n; i += 11) x.set(i, Float.NaN);        // unordered pairs
                IntArray out = new IntArray(n);
                double[] e = each(n, i -> {
                    float a = x.get(i), b = y.get(i);
                    int code = a < b ? 1 : a > b ? 2 : a == b ? 3 : 4;
                    code = code * 10 + (a <= b ? 1 : 0) + (a >= b ? 2 : 0) + (a != b ? 4 : 0);
                    long la = (long) (a * 100), lb = (long) (b * 100);
                    code = code * 10 + (la < lb ? 1 : la == lb ? 2 : 3);
                    double da = a, db = b;
                    return code * 10 + (da > db ? 1 : da < db ? 2 : 3);
                });
                return run(cover(n), new Object[]{x, y, out, n}, List.of(out), List.of(e));
            }),
            exact("casts", n -> {
                FloatArray x = floats(n, 10, 3e6f);
                LongArray out = new LongArray(n);
                double[] e = each(n, i -> {
                    float f = x.get(i) * 1e3f; int fi = (int) f; long fl = (long) (f * 1e7f); double d = f;
                    long acc = fi + fl + (int) d + (long) (d * 3.0) + (byte) fi + (short) (fi * 100) + (char) fi;
                    acc += (long) (float) fl + (long) (double) (long) fi + (int) (long) (fl * 3) + (long) ((float) d);
                    return (double) acc;
                });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("mathIntrinsics", n -> {
                FloatArray x = floats(n, 11, 4), y = floats(n, 12, 4), out = new FloatArray(n);
                double[] e = each(n, i -> {
                    float a = x.get(i), b = y.get(i);
                    float r = Math.fma(a, b, Math.abs(a)) + Math.min(a, b) * Math.max(a, b);
                    int k = Math.max(Math.min(i, 100), -3) + Math.abs(-i);
                    long l = Math.max((long) i * 3L, 7L) - Math.min((long) i, 5L) + Math.abs((long) -i);
                    double d = Math.fma((double) a, (double) b, 1.0) + Math.min((double) a, 0.5) + Math.max((double) b, -0.5);
                    return r + k + l + (float) d;
                });
                return run(cover(n), new Object[]{x, y, out, n}, List.of(out), List.of(e));
            }),
            approximate("kmath", 2e-5, n -> {
                FloatArray x = floats(n, 13, 3), out = new FloatArray(n);
                double[] e = each(n, i -> {
                    float a = x.get(i), p = Math.abs(a) + 0.5f;
                    return (float) Math.exp(a) + (float) Math.log(p) + (float) Math.sqrt(p) + (float) (1 / Math.sqrt(p))
                            + (float) Math.tanh(a) + (float) Math.sin(a) * (float) Math.cos(a) + (float) Math.exp(-a);
                });
                return new Run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e), 1e-6);
            }),
            exact("bitTricks", n -> {
                FloatArray x = floats(n, 14, 1000);
                IntArray out = new IntArray(n);
                double[] e = each(n, i -> {
                    int bits = Float.floatToRawIntBits(x.get(i));
                    float back = Float.intBitsToFloat(bits ^ 0x80000000);
                    long dbits = Double.doubleToRawLongBits(back);
                    return Integer.bitCount(bits) + Integer.numberOfLeadingZeros(bits) * 100 + Long.bitCount(dbits) * 10000
                            + (Float.floatToIntBits(Double.longBitsToDouble(dbits) > 0 ? 1f : -1f) >>> 20);
                });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("helpers", n -> {
                FloatArray x = floats(n, 15, 5), out = new FloatArray(n);
                double[] e = each(n, i -> { float v = x.get(i); return (v * v * 3f + v * 2f + 1f) * (2f * 2f); });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("loops", n -> {
                IntArray a = ints(n, 16), out = new IntArray(n);
                double[] e = each(n, i -> {
                    int acc = 0;
                    for (int j = 0; j < 50; j++) {
                        if (j % 7 == 3) continue;
                        for (int k = 0; k < j; k += 3) acc += (a.get(i) ^ k) & 15;
                        if (acc > 100_000) break;
                    }
                    int v = a.get(i) & 0xFFFF, steps = 0;
                    while (v != 1 && steps < 200) { v = (v & 1) == 0 ? v >> 1 : 3 * v + 1; steps++; }
                    do { acc++; } while ((acc & 3) != 0);
                    return acc * 1000 + steps;
                });
                return run(cover(n), new Object[]{a, out, n}, List.of(out), List.of(e));
            }),
            exact("switches", n -> {
                IntArray a = ints(n, 17), out = new IntArray(n);
                for (int i = 0; i < n; i += 4) a.set(i, (a.get(i) & ~1023) | new int[]{7, 500, 1000, 3}[(i / 4) % 4]);
                double[] e = each(n, i -> {
                    int r = switch (a.get(i) & 7) { case 0 -> 10; case 1 -> 11; case 2 -> 12; case 3 -> 13; case 5 -> 15; default -> -1; };
                    int m = a.get(i) & 1023;
                    return r + (m == 7 ? 100 : m == 500 ? 200 : m == 1000 ? 300 : 1);
                });
                return run(cover(n), new Object[]{a, out, n}, List.of(out), List.of(e));
            }),
            exact("ternaryStack", n -> {
                IntArray a = ints(n, 18);
                LongArray out = new LongArray(n);
                double[] e = each(n, i -> {
                    int v = a.get(i);
                    long l = (v & 1) == 0 ? (long) v * 3L : -v;
                    double d = v > 0 ? 0.5 : 2.0;
                    int k = i + 2, m = i + (i + 2);
                    return (double) (l + (long) (d * 4) + m + (v < 0 ? k : -k));
                });
                return run(cover(n), new Object[]{a, out, n}, List.of(out), List.of(e));
            }),
            exact("fp16RoundTrip", n -> {
                HalfFloatArray x = new HalfFloatArray(n), out = new HalfFloatArray(n);
                Random r = new Random(19);
                for (int i = 0; i < n; i++) x.set(i, (r.nextFloat() - 0.5f) * 100);
                double[] e = each(n, i -> Float.float16ToFloat(Float.floatToFloat16(x.get(i) * 1.25f + 0.1f)));
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("bf16RoundTrip", n -> {
                BFloat16Array x = new BFloat16Array(n), out = new BFloat16Array(n);
                Random r = new Random(20);
                for (int i = 0; i < n; i++) x.set(i, (r.nextFloat() - 0.5f) * 100);
                double[] e = each(n, i -> BFloat16Array.toFloat(BFloat16Array.fromFloat(x.get(i) * 1.25f + 0.1f)));
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("halfBits", n -> {
                FloatArray x = floats(n, 21, 50);
                IntArray out = new IntArray(n);
                double[] e = each(n, i -> {
                    float v = x.get(i) * 3.3f;
                    short h = Float.floatToFloat16(v), b = BFloat16Array.fromFloat(v);
                    short h2 = Float.floatToFloat16(BFloat16Array.toFloat(b));
                    return (h & 0xFFFF) * 65536 + (b & 0xFFFF) + (int) (Float.float16ToFloat(h2) + Float.float16ToFloat(h));
                });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("halfPairs", n -> {
                // pairs of finite fp16 values; the same bits read as bf16 are finite too unless the
                // high byte of a half is 0x7F/0xFF with a large exponent, which random floats in (-8, 8) never give
                IntArray pairs = new IntArray(n);
                Random r = new Random(25);
                for (int i = 0; i < n; i++) {
                    int lo = Float.floatToFloat16((float) (r.nextDouble() * 16 - 8)) & 0xFFFF;
                    int hi = Float.floatToFloat16((float) (r.nextDouble() * 16 - 8)) & 0xFFFF;
                    pairs.set(i, hi << 16 | lo);
                }
                FloatArray out = new FloatArray(4 * n);
                double[] e = each(4 * n, j -> {
                    int p = pairs.get(j / 4);
                    return switch (j % 4) {
                        case 0 -> Float.float16ToFloat((short) p);
                        case 1 -> Float.float16ToFloat((short) (p >>> 16));
                        case 2 -> BFloat16Array.toFloat((short) p);
                        default -> BFloat16Array.toFloat((short) (p >>> 16));
                    };
                });
                return run(cover(n), new Object[]{pairs, out, n}, List.of(out), List.of(e));
            }),
            exact("dequantInt8", n -> {
                ByteArray q = new ByteArray(n);
                Random r = new Random(22);
                for (int i = 0; i < n; i++) q.set(i, (byte) r.nextInt());
                FloatArray scales = floats(n / 32 + 1, 23, 1), out = new FloatArray(n);
                double[] e = each(n, i -> q.get(i) * scales.get(i / 32));
                return run(cover(n), new Object[]{q, scales, out, n}, List.of(out), List.of(e));
            }),
            exact("vectorLoadFp16", n -> {
                HalfFloatArray x = new HalfFloatArray(4 * n);
                Random r = new Random(24);
                for (int i = 0; i < 4 * n; i++) x.set(i, r.nextFloat() * 10);
                FloatArray out = new FloatArray(n);
                double[] e = each(n, g -> { float s = 0f; for (int k = 0; k < 4; k++) s += x.get(4 * g + k); return s; });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("vectorLoad128", n -> {
                FloatArray x = floats(4 * n, 25, 10), out = new FloatArray(n);
                double[] e = each(n, g -> x.get(4 * g) + x.get(4 * g + 1) + x.get(4 * g + 2) + x.get(4 * g + 3));
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("geometry3D", n -> {
                int sx = n, sy = 3, sz = 2;
                int[] block = {4, 2, 2}, grid = {(sx + 3) / 4, 2, 1};
                IntArray out = new IntArray(sx * sy * sz);
                double[] e = new double[sx * sy * sz];
                for (int z = 0; z < sz; z++) for (int y = 0; y < sy; y++) for (int x = 0; x < sx; x++) {
                    int lx = x % 4, ly = y % 2, lz = z % 2;
                    e[(z * sy + y) * sx + x] = lx + 10 * ly + 100 * lz + 1000 * (x / 4 + y / 2 + z / 2) + 100000 * 8
                            + 10000000 * ((grid[0] * 4 + 4 + 2) & 63);
                }
                return run(Launch.of(grid, block), new Object[]{out, sx, sy, sz}, List.of(out), List.of(e));
            }),
            exact("gridStride", n -> {
                FloatArray x = floats(n, 26, 10), out = new FloatArray(n);
                double[] e = each(n, i -> x.get(i) * 2f + n);
                return run(Launch.of1D(2, 32), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("constantSpecialised", n -> {
                FloatArray x = floats(n, 27, 1), out = new FloatArray(n);
                double[] e = each(n, i -> { float v = x.get(i); for (int r = 0; r < 5; r++) v = v * 0.75f + 1f; return v; });
                return run(cover(n), new Object[]{x, out, n, 5, 0.75f}, List.of(out), List.of(e));
            }),
            exact("tiledMatmul", n -> {
                int m = n, k = 13, p = 7;
                FloatArray a = floats(m * k, 28, 1), b = floats(k * p, 29, 1), c = new FloatArray(m * p);
                double[] e = new double[m * p];
                for (int row = 0; row < m; row++) for (int col = 0; col < p; col++) {
                    float s = 0f;
                    for (int t0 = 0; t0 < k; t0 += TILE)
                        for (int j = 0; j < TILE; j++) s += t0 + j < k ? a.get(row * k + t0 + j) * b.get((t0 + j) * p + col) : 0f * 0f;
                    e[row * p + col] = s;
                }
                Launch l = Launch.of(new int[]{(p + TILE - 1) / TILE, (m + TILE - 1) / TILE, 1}, new int[]{TILE, TILE, 1});
                return run(l, new Object[]{a, b, c, m, k, p, TILE}, List.of(c), List.of(e));
            }),
            approximate("blockReduce", 1e-5, n -> {
                FloatArray x = floats(n, 30, 1);
                int groups = (n + BLOCK - 1) / BLOCK;
                FloatArray partials = new FloatArray(groups), total = new FloatArray(1);
                double[] ep = new double[groups];
                for (int i = 0; i < n; i++) ep[i / BLOCK] += x.get(i);
                double sum = 0;
                for (double v : ep) sum += v;
                return new Run(cover(n), new Object[]{x, partials, total, n}, List.of(partials, total), List.of(ep, new double[]{sum}), 1e-5);
            }),
            exact("shuffleDownReduce", n -> {
                FloatArray x = floats(n, 31, 1);
                int groups = (n + BLOCK - 1) / BLOCK, warps = groups * BLOCK / 32;
                FloatArray sums = new FloatArray(warps), maxima = new FloatArray(warps);
                double[] es = new double[warps], em = new double[warps];
                for (int w = 0; w < warps; w++) {
                    float[] v = new float[32], m = new float[32];
                    for (int l = 0; l < 32; l++) { int i = w * 32 + l; v[l] = i < n ? x.get(i) : 0f; m[l] = i < n ? x.get(i) : -1e30f; }
                    for (int d = 16; d > 0; d /= 2) for (int l = 0; l < 32; l++) if (l + d < 32) v[l] += v[l + d];
                    float mx = -Float.MAX_VALUE;
                    for (float f : m) mx = Math.max(mx, f);
                    es[w] = v[0];
                    em[w] = mx;
                }
                return run(cover(n), new Object[]{x, sums, maxima, n}, List.of(sums, maxima), List.of(es, em));
            }),
            exact("shuffleMix", n -> {
                IntArray a = new IntArray(n), out = new IntArray(n);
                for (int i = 0; i < n; i++) a.set(i, i * 3 - 100);
                double[] e = each(n, i -> {
                    int base = i - i % 32;
                    java.util.function.IntUnaryOperator v = j -> j < n ? a.get(j) : 0;
                    int sum = 0;
                    for (int l = 0; l < 32; l++) sum += v.applyAsInt(base + l);
                    return v.applyAsInt(base + ((i % 32) ^ 5)) * 7 + v.applyAsInt(base + 3) * 3 + sum + v.applyAsInt(base + 31);
                });
                return run(cover(n), new Object[]{a, out, n}, List.of(out), List.of(e));
            }),
            exact("histogram", n -> {
                IntArray a = ints(n, 32), bins = new IntArray(16);
                double[] e = new double[16];
                for (int i = 0; i < n; i++) e[a.get(i) & 15]++;
                return run(cover(n), new Object[]{a, bins, n}, List.of(bins), List.of(e));
            }),
            exact("atomicsMixed", n -> {
                FloatArray x = floats(n, 33, 1), fsum = new FloatArray(1);
                LongArray lsum = new LongArray(4);
                double[] el = new double[4];
                long[] acc = new long[4];
                for (int i = 0; i < n; i++) acc[i & 3] += (long) i * 1_000_000_000L;
                for (int j = 0; j < 4; j++) el[j] = acc[j];
                return run(cover(n), new Object[]{x, fsum, lsum, n}, List.of(fsum, lsum), List.of(new double[]{n}, el));
            }),
            exact("vectorRed", n -> {
                FloatArray out = new FloatArray(32);
                double[] e = new double[32];
                for (int i = 0; i < n; i++) for (int k = 0; k < 4; k++) e[(i % 8) * 4 + k] += (k + 1) * (i % 7 + 1);
                return run(cover(n), new Object[]{out, n}, List.of(out), List.of(e));
            }),
            exact("lastGroupSum", n -> {
                FloatArray x = floats(n, 36, 1);
                int groups = (n + BLOCK - 1) / BLOCK;
                FloatArray partials = new FloatArray(groups), total = new FloatArray(1);
                IntArray counter = new IntArray(1);
                float sum = 0f;
                for (int g = 0; g < groups; g++) {
                    float s = 0f;
                    for (int j = 0; j < BLOCK; j++) s += g * BLOCK + j < n ? x.get(g * BLOCK + j) : 0f;
                    sum += s;
                }
                double[] e = {sum};
                return run(cover(n), new Object[]{x, partials, counter, total, n}, List.of(total, counter), List.of(e, new double[]{0}));
            }),
            exact("blockScan", n -> {
                IntArray a = new IntArray(n), out = new IntArray(n);
                Random r = new Random(34);
                for (int i = 0; i < n; i++) a.set(i, r.nextInt(1000) - 500);
                double[] e = new double[n];
                for (int i = 0; i < n; i++) e[i] = (i % BLOCK == 0 ? 0 : e[i - 1]) + a.get(i);
                return run(cover(n), new Object[]{a, out, n}, List.of(out), List.of(e));
            }),
            exact("transpose", n -> {
                int rows = n, cols = 7;
                FloatArray in = floats(rows * cols, 35, 10), out = new FloatArray(rows * cols);
                double[] e = new double[rows * cols];
                for (int y = 0; y < rows; y++) for (int x = 0; x < cols; x++) e[x * rows + y] = in.get(y * cols + x);
                Launch l = Launch.of(new int[]{(cols + TILE - 1) / TILE, (rows + TILE - 1) / TILE, 1}, new int[]{TILE, TILE, 1});
                return run(l, new Object[]{in, out, rows, cols}, List.of(out), List.of(e));
            }),
            approximate("softmaxRows", 1e-5, n -> {
                int rows = 3, cols = n;
                FloatArray x = floats(rows * cols, 36, 5), out = new FloatArray(rows * cols);
                double[] e = new double[rows * cols];
                for (int r = 0; r < rows; r++) {
                    double mx = Double.NEGATIVE_INFINITY, s = 0;
                    for (int c = 0; c < cols; c++) mx = Math.max(mx, x.get(r * cols + c));
                    for (int c = 0; c < cols; c++) s += Math.exp(x.get(r * cols + c) - mx);
                    for (int c = 0; c < cols; c++) e[r * cols + c] = Math.exp(x.get(r * cols + c) - mx) / s;
                }
                return new Run(Launch.of1D(rows, BLOCK), new Object[]{x, out, cols}, List.of(out), List.of(e), 1e-5);
            }),
            approximate("rmsNorm", 1e-5, n -> {
                int rows = 2, cols = n;
                FloatArray x = floats(rows * cols, 37, 3), w = floats(cols, 38, 1), out = new FloatArray(rows * cols);
                double[] e = new double[rows * cols];
                for (int r = 0; r < rows; r++) {
                    double ss = 0;
                    for (int c = 0; c < cols; c++) ss += (double) x.get(r * cols + c) * x.get(r * cols + c);
                    double scale = 1 / Math.sqrt(ss / cols + 1e-5);
                    for (int c = 0; c < cols; c++) e[r * cols + c] = x.get(r * cols + c) * scale * w.get(c);
                }
                return new Run(Launch.of1D(rows, BLOCK), new Object[]{x, w, out, cols}, List.of(out), List.of(e), 1e-5);
            }),
            approximate("matvecFp16", 1e-5, n -> {
                int rows = n, cols = 132;
                HalfFloatArray w = new HalfFloatArray(rows * cols);
                Random r = new Random(39);
                for (int i = 0; i < rows * cols; i++) w.set(i, r.nextFloat() - 0.5f);
                FloatArray x = floats(cols, 40, 1), y = new FloatArray(rows);
                double[] e = each(rows, row -> { double s = 0; for (int c = 0; c < cols; c++) s += (double) w.get(row * cols + c) * x.get(c); return s; });
                int warpsPerGroup = BLOCK / 32;
                return new Run(Launch.of1D((rows + warpsPerGroup - 1) / warpsPerGroup, BLOCK), new Object[]{w, x, y, rows, cols}, List.of(y), List.of(e), 1e-5);
            }),
            exact("reverseInGroup", n -> {
                FloatArray x = floats(n, 41, 10), out = new FloatArray(n);
                double[] e = each(n, j -> { int g = j / BLOCK, t = BLOCK - 1 - j % BLOCK, i = g * BLOCK + t; return i < n ? x.get(i) : 0f; });
                return run(cover(n).withSharedBytes(BLOCK * 4), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("sharedCompound", n -> {
                FloatArray x = floats(n, 42, 10), out = new FloatArray(n);
                double[] e = each(n, i -> {
                    int t = i % BLOCK, next = i - t + (t + 1) % BLOCK;
                    float v = x.get(i), vn = next < n ? x.get(next) : 0f;
                    float s = (v + 2f) * 3f;
                    long l = t + (long) v;
                    double d = v / 2.0;
                    return s + Float.float16ToFloat(Float.floatToFloat16(vn)) + l + (float) d;
                });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            })
            ,
            exact("registerArrays", n -> {
                FloatArray x = floats(n, 51, 10), out = new FloatArray(n);
                double[] e = each(n, i -> {
                    float v = x.get(i), t = 0;
                    float[] acc = new float[8];
                    for (int j = 0; j < 8; j++) acc[j] = v * j + (j % 3 == 0 ? 1f : -0.5f);
                    for (int j = 0; j < 8; j++) if (j != 5) t += acc[j];
                    for (int j = 3; j >= 0; j--) t += (short) (i * 40000 + j) + (i << j) * 0.25f;
                    return t;
                });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("registerArrayDynamic", n -> {
                FloatArray x = floats(n, 52, 10), out = new FloatArray(n);
                double[] e = each(n, i -> x.get(i) * (i % 8) + x.get(i) * 7);
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            approximate("mmaBf16Tiles", 1e-5, n -> mmaCase(n, false)),
            approximate("mmaFp16Tiles", 1e-5, n -> mmaCase(n, true)),
            new KernelCase("wgmmaBf16Tiles n=32", Kernel.of(TestKernels.class, "wgmmaBf16Tiles"), n -> wgmmaCase(n, 32), 1e-5),
            new KernelCase("wgmmaBf16Tiles n=256", Kernel.of(TestKernels.class, "wgmmaBf16Tiles"), n -> wgmmaCase(n, 256), 1e-5),
            exact("bulkCopies", KernelCases::bulkCase),
            exact("tmaTiles", KernelCases::tmaCase),
            exact("clusterTma", KernelCases::clusterTmaCase),
            exact("setMaxRegisters", n -> {   // setmaxnreg: 3 warpgroups a block, the producer-like one at 40 registers, two at 232
                int blocks = 1 + n % 2, len = 97 + n;
                IntArray x = ints(len, 80 + n), out = new IntArray(blocks * 384);
                double[] e = new double[out.length()];
                for (int i = 0; i < e.length; i++) {
                    if (i % 384 < 128) { e[i] = 3 * i + 1; continue; }
                    int[] acc = new int[96];
                    for (int j = 0; j < 96; j++) acc[j] = x.get((i + 7 * j) % len) * (j + 1);
                    int sum = 0;
                    for (int j = 0; j < 96; j++) sum += acc[j] * acc[95 - j];
                    e[i] = sum;
                }
                return run(new Launch(new int[]{blocks, 1, 1}, new int[]{384, 1, 1}, 0, null), new Object[]{x, out, len}, List.of(out), List.of(e));
            }),

            exact("ldmatrixAll", n -> {
                IntArray src = ints(n * 128, 53), out = new IntArray(n * 32 * 14);
                double[] e = new double[out.length()];
                for (int w = 0; w < n; w++)
                    for (int l = 0; l < 32; l++) {
                        int[] f = new int[14];
                        for (int i = 0; i < 4; i++) {
                            int word = src.get(w * 128 + (8 * (i % 2) + l / 4) * 8 + 4 * (i / 2) + l % 4);
                            int lo = half(src, w, 8 * (i % 2) + 2 * (l % 4), 8 * (i / 2) + l / 4);
                            int hi = half(src, w, 8 * (i % 2) + 2 * (l % 4) + 1, 8 * (i / 2) + l / 4);
                            int trans = lo | (hi << 16);
                            if (i < 1) { f[0] = word; f[7] = trans; }
                            if (i < 2) { f[1 + i] = word; f[8 + i] = trans; }
                            f[3 + i] = word;
                            f[10 + i] = trans;
                        }
                        for (int j = 0; j < 14; j++) e[(w * 32 + l) * 14 + j] = f[j];
                    }
                return run(Launch.cover(n * 32, BLOCK), new Object[]{src, out, n}, List.of(out), List.of(e));
            }),
            exact("cpAsyncChunks", n -> {
                IntArray src = ints(n * 4, 54), out = new IntArray(n * 4);
                double[] e = each(n * 4, k -> {
                    int j = (k / 4) ^ 1;
                    return j < n && j % 3 != 1 ? src.get(j * 4 + k % 4) : 0;
                });
                return run(cover(n), new Object[]{src, out, n}, List.of(out), List.of(e));
            }),
            exact("dynamicSharedLarge", n -> {
                IntArray out = new IntArray(n);
                double[] e = each(n, i -> {
                    int l = i % BLOCK, g = i / BLOCK, sum = 0;
                    for (int j = BLOCK - 1 - l; j < TestKernels.LARGE_SHARED_WORDS; j += BLOCK) sum += j * 3 + g;
                    return sum;
                });
                return run(cover(n).withSharedBytes(TestKernels.LARGE_SHARED_WORDS * 4), new Object[]{out, n}, List.of(out), List.of(e));
            }),
            exact("unrollShapes", n -> {
                IntArray x = new IntArray(n), out = new IntArray(n);
                Random rnd = new Random(61);
                for (int i = 0; i < n; i++) x.set(i, rnd.nextInt(3000) - 1000);
                double[] e = each(n, i -> {
                    int v = x.get(i), s = 0;
                    int[] r = new int[16];
                    for (int a = 0; a < 4; a++) for (int b = 0; b <= a; b++) if (b != 2) r[a * 4 + b] = v * (a + 1) - b;
                    for (int j = 15; j > 11; j -= 2) r[j] += j;
                    for (int k = 0; k < 13; k++) {
                        switch (k % 3) { case 0 -> s += r[k]; case 1 -> s ^= r[k]; default -> s -= r[k] >> 1; }
                        if (v > k * 100) s += k;
                    }
                    return s;
                });
                return run(cover(n), new Object[]{x, out, n}, List.of(out), List.of(e));
            }),
            exact("singleAssignments", n -> {
                IntArray out = new IntArray(n);
                double[] e = each(n, i -> (i % 2 == 1 ? 5 : 9) * 100 + (i % 3 == 2 ? 1 : 0));
                return run(cover(n), new Object[]{out, n, 9}, List.of(out), List.of(e));
            }),
            exact("packPairs", n -> {
                FloatArray x = floats(2 * n, 55, 100);
                IntArray bf = new IntArray(n), hf = new IntArray(n);
                double[] eb = each(n, i -> (BFloat16Array.fromFloat(x.get(2 * i)) & 0xFFFF) | (BFloat16Array.fromFloat(x.get(2 * i + 1)) << 16));
                double[] eh = each(n, i -> (Float.floatToFloat16(x.get(2 * i)) & 0xFFFF) | (Float.floatToFloat16(x.get(2 * i + 1)) << 16));
                return run(cover(n), new Object[]{x, bf, hf, n}, List.of(bf, hf), List.of(eb, eh));
            })
        );
    }

    /** 16-bit element (row, col) of warp w's 16×16 tile of pairs (8 words a row) in src. */
    private static int half(IntArray src, int w, int row, int col) {
        int word = src.get(w * 128 + row * 8 + col / 2);
        return (col & 1) == 0 ? word & 0xFFFF : word >>> 16;
    }

    /**
     * n tiles of D = A·B + C (see {@code TestKernels.mmaBf16Tiles}) with the plain product as
     * reference: the exact products summed in double, plus C, rounded once to float.
     */
    private static Run mmaCase(int n, boolean fp16) {
        Random r = new Random(fp16 ? 57 : 56);
        OffHeapArray a = fp16 ? new HalfFloatArray(n * 256) : new BFloat16Array(n * 256);
        OffHeapArray b = fp16 ? new HalfFloatArray(n * 128) : new BFloat16Array(n * 128);
        FloatArray c = floats(n * 128, fp16 ? 59 : 58, 4), d = new FloatArray(n * 128);
        for (OffHeapArray x : List.of(a, b))
            for (int i = 0; i < x.length(); i++) {
                float v = r.nextFloat() * 4 - 2;
                if (x instanceof HalfFloatArray h) h.set(i, v); else ((BFloat16Array) x).set(i, v);
            }
        double[] av = KernelCase.values(a), bv = KernelCase.values(b);
        double[] e = new double[n * 128];
        for (int w = 0; w < n; w++)
            for (int row = 0; row < 16; row++)
                for (int col = 0; col < 8; col++) {
                    double sum = 0;
                    for (int k = 0; k < 16; k++) sum += av[w * 256 + row * 16 + k] * bv[w * 128 + col * 16 + k];
                    e[w * 128 + row * 8 + col] = (float) (sum + c.get(w * 128 + row * 8 + col));
                }
        return run(Launch.cover(n * 32, BLOCK), new Object[]{a, b, c, d, n}, List.of(d), List.of(e));
    }

    /**
     * 1 to 3 warpgroup tiles of D = A·Bᵀ + C (see {@code TestKernels.wgmmaBf16Tiles}), K = 64 (four k16 steps),
     * against the plain product: per k16 step the 16 exact products summed in double plus the running sum, rounded
     * to float (the CPU executor's semantics, exactly; the tensor cores within 1e-5).
     */
    private static Run wgmmaCase(int n, int cols) {
        int tiles = 1 + n % 3;
        Random r = new Random(60 + cols);
        BFloat16Array a = new BFloat16Array(tiles * 64 * 64), b = new BFloat16Array(tiles * cols * 64);
        for (int i = 0; i < a.length(); i++) a.set(i, r.nextFloat() * 4 - 2);
        for (int i = 0; i < b.length(); i++) b.set(i, r.nextFloat() * 4 - 2);
        FloatArray c = floats(tiles * 64 * cols, 61, 4), d = new FloatArray(tiles * 64 * cols);
        double[] e = new double[d.length()];
        for (int tile = 0; tile < tiles; tile++)
            for (int row = 0; row < 64; row++)
                for (int col = 0; col < cols; col++) {
                    int at = tile * 64 * cols + row * cols + col;
                    float acc = c.get(at);
                    for (int ks = 0; ks < 4; ks++) {   // one rounding per k16 step, as each wgmma call rounds once
                        double sum = 0;
                        for (int k = 16 * ks; k < 16 * ks + 16; k++) sum += (double) a.get(tile * 4096 + row * 64 + k) * b.get(tile * cols * 64 + col * 64 + k);
                        acc = (float) (sum + acc);
                    }
                    e[at] = acc;
                }
        Launch launch = new Launch(new int[]{tiles, 1, 1}, new int[]{128, 1, 1}, (64 + cols) * 128, null);
        return run(launch, new Object[]{a, b, c, d, cols}, List.of(d), List.of(e));
    }

    /**
     * 1-D bulk copies on an mbarrier ({@code TestKernels.bulkCopies}): 1-3 blocks, chunks of 4·(1..64) words (16-byte multiples,
     * odd counts of 16-byte units included) from random 16-byte-aligned starts, the last chunk ending at the array's last byte;
     * the expected words are the source's bits in order.
     */
    private static Run bulkCase(int n) {
        int blocks = 1 + n % 3, chunkWords = 4 * (1 + (n * 7) % 64), len = 8 * (40 + n % 50) + 2 * chunkWords;
        Random r = new Random(60 + n);
        BFloat16Array src = new BFloat16Array(len);
        for (int i = 0; i < len; i++) src.set(i, r.nextFloat() * 4 - 2);
        IntArray starts = new IntArray(blocks * 4), out = new IntArray(blocks * 4 * chunkWords);
        double[] e = new double[out.length()];
        for (int k = 0; k < blocks * 4; k++) {
            int start = k == blocks * 4 - 1 ? len - 2 * chunkWords : 8 * r.nextInt((len - 2 * chunkWords) / 8 + 1);
            starts.set(k, start);
            for (int w = 0; w < chunkWords; w++)
                e[k * chunkWords + w] = Short.toUnsignedInt(src.getBits(start + 2 * w)) | (Short.toUnsignedInt(src.getBits(start + 2 * w + 1)) << 16);
        }
        Launch launch = new Launch(new int[]{blocks, 1, 1}, new int[]{64, 1, 1}, 2 * chunkWords * 4 + 16, null);
        return run(launch, new Object[]{src, starts, out, chunkWords}, List.of(out), List.of(e));
    }

    /**
     * Bulk tensor copies on mbarriers ({@code TestKernels.tmaTiles}): a {@code rows × rowLength} bf16 matrix (rows
     * and row length not multiples of the box, so boxes hang over both edges) read as boxes of 16 rows × 64 in two
     * barrier phases per block; the expected words are the matrix's, zeros outside it, in the box's row order.
     */
    private static Run tmaCase(int n) {
        int rows = 5 + n % 40, rowLength = 72 + 8 * (n % 6), boxRows = 16, blocks = (rows + boxRows - 1) / boxRows;
        Random r = new Random(70 + n);
        BFloat16Array src = new BFloat16Array(rows * rowLength);
        for (int i = 0; i < src.length(); i++) src.set(i, r.nextFloat() * 4 - 2);
        LongArray map = new LongArray(16);
        IntArray out = new IntArray(blocks * 2 * boxRows * 32);
        double[] e = new double[out.length()];
        for (int b = 0; b < blocks; b++)
            for (int phase = 0; phase < 2; phase++)
                for (int row = 0; row < boxRows; row++)
                    for (int word = 0; word < 32; word++) {
                        int gr = b * boxRows + row, col = phase * 64 + 2 * word;
                        int lo = gr < rows && col < rowLength ? Short.toUnsignedInt(src.getBits(gr * rowLength + col)) : 0;
                        int hi = gr < rows && col + 1 < rowLength ? Short.toUnsignedInt(src.getBits(gr * rowLength + col + 1)) : 0;
                        e[((b * 2 + phase) * boxRows + row) * 32 + word] = lo | (hi << 16);
                    }
        Launch launch = new Launch(new int[]{blocks, 1, 1}, new int[]{128, 1, 1}, boxRows * 128 + 1024, null);
        return new Run(launch, new Object[]{src, map, out, rows, rowLength, boxRows}, List.of(out), List.of(e), 0, cuda -> {
            try (LongArray made = dev.arbor.accel.cuda.TensorMaps.tile128(cuda, src, rows, rowLength, boxRows)) {
                java.lang.foreign.MemorySegment.copy(made.segment(), 0, map.segment(), 0, 128);
            }
            cuda.toDevice(map);
        });
    }

    /**
     * Clusters of two blocks ({@code TestKernels.clusterTma}): 1-3 clusters, each block's two tiles the boxes of rows
     * (2q + tile)·16 of a matrix whose rows end inside the last box (zeros past it), and every block's rank, cluster size
     * and cluster id.
     */
    private static Run clusterTmaCase(int n) {
        int clusters = 1 + n % 3, boxRows = 16, rows = (2 * clusters - 1) * boxRows + 1 + n % 15, rowLength = 64 + 8 * (n % 3);
        Random r = new Random(90 + n);
        BFloat16Array src = new BFloat16Array(rows * rowLength);
        for (int i = 0; i < src.length(); i++) src.set(i, r.nextFloat() * 4 - 2);
        LongArray map = new LongArray(16);
        IntArray out = new IntArray(clusters * 2 * 2 * boxRows * 32), info = new IntArray(2 * clusters);
        double[] e = new double[out.length()], ei = new double[info.length()];
        for (int b = 0; b < 2 * clusters; b++) {
            ei[b] = (b % 2) * 10000 + 2000 + b / 2;
            for (int tile = 0; tile < 2; tile++)
                for (int row = 0; row < boxRows; row++)
                    for (int word = 0; word < 32; word++) {
                        int gr = (b / 2 * 2 + tile) * boxRows + row, col = 2 * word;
                        int lo = gr < rows ? Short.toUnsignedInt(src.getBits(gr * rowLength + col)) : 0;
                        int hi = gr < rows ? Short.toUnsignedInt(src.getBits(gr * rowLength + col + 1)) : 0;
                        e[((b * 2 + tile) * boxRows + row) * 32 + word] = lo | (hi << 16);
                    }
        }
        Launch launch = new Launch(new int[]{2 * clusters, 1, 1}, new int[]{128, 1, 1}, 2 * boxRows * 128 + 1024, null);
        return new Run(launch, new Object[]{src, map, out, info, rows, rowLength, boxRows}, List.of(out, info), List.of(e, ei), 0, cuda -> {
            try (LongArray made = dev.arbor.accel.cuda.TensorMaps.tile128(cuda, src, rows, rowLength, boxRows)) {
                java.lang.foreign.MemorySegment.copy(made.segment(), 0, map.segment(), 0, 128);
            }
            cuda.toDevice(map);
        });
    }

    /** Compile-time constants of {@link KernelContext#WARP_SIZE}-dependent cases are checked here to keep the suite honest. */
    static { if (KernelContext.WARP_SIZE != 32 || BLOCK % 32 != 0) throw new AssertionError("suite assumes warps of 32 and BLOCK % 32 == 0"); }
}
