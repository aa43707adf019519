package dev.arbor.kernels.layer;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.kernels.LayerKernels;
import dev.arbor.kernels.Ptxas;
import dev.arbor.kernels.attention.KvWrite;
import dev.arbor.kernels.gemm.GemmKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.IntFunction;

import static dev.arbor.kernels.layer.TokenKernelsTest.assertBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Each fused kernel against the unfused kernels it replaces, run on the same backend, bit for bit: the GEMM's slice sum
 * ({@code GemmKernels.sumSlices}, 1 and 3 slices), {@code LayerKernels.rope} on q and k and {@code KvWrite} into bf16, fp16
 * and fp32 stores (with and without RoPE, a padding slot of -1); {@code sumSlices} + {@code LayerKernels.siluMul};
 * {@code sumSlices} + {@code LayerKernels.add} + {@code LayerKernels.rmsNormRows}. The CPU executor here, the GPU in
 * FusedKernelsGpuTest; every kernel through ptxas.
 */
class FusedKernelsTest {
    static final Kernel SUM_SLICES = Kernel.of(GemmKernels.class, "sumSlices");
    static final Kernel ROPE = Kernel.of(LayerKernels.class, "rope");
    static final Kernel SILU_MUL = Kernel.of(LayerKernels.class, "siluMul");
    static final Kernel ADD = Kernel.of(LayerKernels.class, "add");
    static final Kernel RMS_NORM_ROWS = Kernel.of(LayerKernels.class, "rmsNormRows");

    static float[] random(Random r, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (r.nextFloat() * 2 - 1) * scale;
        return a;
    }

    /** The slabs summed by the GEMM's own kernel (slab 0 as is for one slice), back on the host. */
    static float[] summedBySumSlices(Backend b, FloatArray slabs, int count, int slices) {
        try (FloatArray sum = new FloatArray(count)) {
            b.toDevice(sum);
            b.launch(SUM_SLICES, Launch.cover(count, 256), slabs, sum, count, slices, 0);
            b.toHost(sum);
            return sum.toArray();
        }
    }

    /**
     * {@link #qkvCases(Backend, int, int, int, int, boolean)} at the one-pair and the wide kernels ({@code -Darbor.fused.qkvRopeWide}):
     * a small model (one wide work-group a token, most of its work-items idle), 28 + 4 + 4 heads of 64 (two work-groups a
     * token, the second partial, four pairs a work-item) and half = 12 (not dividing the group: the wide switch falls back).
     */
    static void qkvCases(Backend b) {
        for (boolean wide : new boolean[] {false, true}) {
            qkvCases(b, 4, 2, 8, 4, wide);
            qkvCases(b, 28, 4, 32, 4, wide);
            qkvCases(b, 6, 3, 12, 5, wide);
        }
    }

    static void qkvCases(Backend b, int heads, int kvHeads, int half, int blockSize, boolean wide) {
        int tokens = 5, headDim = 2 * half, numBlocks = 6;
        int width = (heads + 2 * kvHeads) * headDim, store = numBlocks * kvHeads * blockSize * headDim;
        int[] slots = {7, 0, -1, 22, 13};
        for (String dtype : new String[] {"bf16", "fp16", "fp32"}) {
            IntFunction<OffHeapArray> newStore = n -> switch (dtype) {
                case "bf16" -> new BFloat16Array(n);
                case "fp16" -> new HalfFloatArray(n);
                default -> new FloatArray(n);
            };
            for (int slices : new int[] {1, 3}) {
                for (boolean rope : new boolean[] {true, false}) {
                    String what = dtype + " slices=" + slices + " rope=" + rope + " heads=" + heads + "/" + kvHeads + " half=" + half + " wide=" + wide;
                    Random r = new Random(slices * 31 + (rope ? 1 : 0));
                    float[] slabs = random(r, slices * tokens * width, 2);
                    float[] cos = new float[tokens * half], sin = new float[tokens * half];
                    for (int i = 0; i < cos.length; i++) {
                        double angle = r.nextDouble() * 6;
                        cos[i] = (float) Math.cos(angle);
                        sin[i] = (float) Math.sin(angle);
                    }
                    try (FloatArray sa = FloatArray.of(slabs); FloatArray ca = FloatArray.of(cos); FloatArray sn = FloatArray.of(sin);
                         IntArray slotArray = IntArray.of(slots); FloatArray q = new FloatArray(tokens * heads * headDim);
                         OffHeapArray kFused = newStore.apply(store); OffHeapArray vFused = newStore.apply(store);
                         OffHeapArray kRef = newStore.apply(store); OffHeapArray vRef = newStore.apply(store)) {
                        b.toDevice(sa, ca, sn, slotArray, q, kFused, vFused, kRef, vRef);
                        // the composition: sum the slices, split q|k|v, rope q and k, write k and v
                        float[] sum = summedBySumSlices(b, sa, tokens * width, slices);
                        float[] qh = new float[tokens * heads * headDim], kh = new float[tokens * kvHeads * headDim], vh = new float[kh.length];
                        for (int t = 0; t < tokens; t++) {
                            System.arraycopy(sum, t * width, qh, t * heads * headDim, heads * headDim);
                            System.arraycopy(sum, t * width + heads * headDim, kh, t * kvHeads * headDim, kvHeads * headDim);
                            System.arraycopy(sum, t * width + (heads + kvHeads) * headDim, vh, t * kvHeads * headDim, kvHeads * headDim);
                        }
                        try (FloatArray qr = FloatArray.of(qh); FloatArray kr = FloatArray.of(kh); FloatArray vr = FloatArray.of(vh)) {
                            b.toDevice(qr, kr, vr);
                            if (rope) {
                                b.launch(ROPE, Launch.cover(tokens * heads * half, 256), qr, ca, sn, tokens, heads, half);
                                b.launch(ROPE, Launch.cover(tokens * kvHeads * half, 256), kr, ca, sn, tokens, kvHeads, half);
                            }
                            KvWrite.launch(b, kr, vr, kRef, vRef, slotArray, tokens, kvHeads, headDim, blockSize);
                            FusedOps.qkvRopeStore(b, sa, slices, q, kFused, vFused, rope ? ca : null, rope ? sn : null, slotArray, tokens, heads,
                                    kvHeads, headDim, blockSize, false, wide);
                            b.toHost(qr, q, kFused, vFused, kRef, vRef);
                            assertBits(qr.toArray(), q.toArray(), "q " + what);
                            assertBits(floats(kRef), floats(kFused), "K store " + what);
                            assertBits(floats(vRef), floats(vFused), "V store " + what);
                        }
                    }
                }
            }
        }
    }

    /** A store's elements widened to float (exact for bf16 and fp16). */
    static float[] floats(OffHeapArray a) {
        float[] f = new float[a.length()];
        for (int i = 0; i < f.length; i++) {
            f[i] = switch (a) {
                case BFloat16Array x -> x.get(i);
                case HalfFloatArray x -> x.get(i);
                case FloatArray x -> x.get(i);
                default -> throw new IllegalArgumentException(a.getClass().getSimpleName());
            };
        }
        return f;
    }

    static void siluCases(Backend b) {
        for (int slices : new int[] {1, 3}) {
            int tokens = 3, inter = 37, width = 2 * inter;
            Random r = new Random(slices);
            float[] slabs = random(r, slices * tokens * width, 4);
            try (FloatArray sa = FloatArray.of(slabs); FloatArray out = new FloatArray(tokens * inter)) {
                b.toDevice(sa, out);
                float[] sum = summedBySumSlices(b, sa, tokens * width, slices);
                float[] g = new float[tokens * inter], u = new float[tokens * inter];
                for (int t = 0; t < tokens; t++) {
                    System.arraycopy(sum, t * width, g, t * inter, inter);
                    System.arraycopy(sum, t * width + inter, u, t * inter, inter);
                }
                try (FloatArray ga = FloatArray.of(g); FloatArray ua = FloatArray.of(u)) {
                    b.toDevice(ga, ua);
                    b.launch(SILU_MUL, Launch.cover(tokens * inter, 256), ga, ua, tokens * inter);
                    FusedOps.siluMulRows(b, sa, slices, out, tokens, inter, false);
                    b.toHost(ga, out);
                    assertBits(ga.toArray(), out.toArray(), "siluMulRows slices=" + slices);
                }
            }
        }
    }

    static void addRmsNormCases(Backend b) {
        for (int n : new int[] {5, 300, 4096}) {
            for (int slices : new int[] {1, 3}) {
                int rows = 3;
                Random r = new Random(n * 7L + slices);
                float[] x = random(r, rows * n, 3), slabs = random(r, slices * rows * n, 1), w = random(r, n, 1.5f);
                try (FloatArray xf = FloatArray.of(x); FloatArray xr = FloatArray.of(x); FloatArray sa = FloatArray.of(slabs);
                     FloatArray wa = FloatArray.of(w); FloatArray outF = new FloatArray(rows * n); FloatArray outR = new FloatArray(rows * n);
                     FloatArray y = FloatArray.of(new float[rows * n])) {
                    b.toDevice(xf, xr, sa, wa, outF, outR, y);
                    b.launch(SUM_SLICES, Launch.cover(rows * n, 256), sa, y, rows * n, slices, 0);
                    b.launch(ADD, Launch.cover(rows * n, 256), xr, y, rows * n);
                    b.launch(RMS_NORM_ROWS, Launch.of1D(rows, LayerKernels.NORM_GROUP), xr, wa, outR, n, 1e-5);
                    FusedOps.addRmsNorm(b, xf, sa, slices, wa, outF, rows, n, 1e-5, false);
                    b.toHost(xf, xr, outF, outR);
                    assertBits(xr.toArray(), xf.toArray(), "residual n=" + n + " slices=" + slices);
                    assertBits(outR.toArray(), outF.toArray(), "normalised n=" + n + " slices=" + slices);
                }
            }
        }
    }

    static final Kernel TO_BF16 = Kernel.of(GemmKernels.class, "toBf16x8");
    static final Kernel RMS_NORM_ROWS_BF16 = Kernel.of(LayerKernels.class, "rmsNormRowsBf16");

    /** The GEMM's conversion pass ({@code GemmKernels.toBf16x8}) over {@code count} floats of {@code a} (a multiple of 8), on the backend. */
    static short[] convertedByThePass(Backend b, FloatArray a, int count) {
        try (BFloat16Array y = new BFloat16Array(count)) {
            b.toDevice(y);
            b.launch(TO_BF16, Launch.cover(count / 8, 256), a, y, count);
            b.toHost(y);
            short[] bits = new short[count];
            for (int i = 0; i < count; i++) bits[i] = y.getBits(i);
            return bits;
        }
    }

    static void assertShortBits(short[] expected, BFloat16Array actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual.getBits(i)) {
                throw new AssertionError(what + ": element " + i + " of " + expected.length + " is bf16 bits " + Integer.toHexString(actual.getBits(i) & 0xFFFF)
                        + ", the conversion pass of the fp32 kernel's output gives " + Integer.toHexString(expected[i] & 0xFFFF));
            }
        }
    }

    /**
     * The bf16 producers ({@code arbor.gemm.bf16Producers}) against their fp32 kernel followed by the GEMM's conversion pass
     * ({@code toBf16x8}), bit for bit: {@code rmsNormRowsBf16} against rmsNormRows, {@code addRmsNormRowsBf16} against
     * addRmsNormRows (the residual x too), {@code siluMulRowsBf16} against siluMulRows; rows of odd widths (5, 37, 4101 —
     * under, inside and past one pass a work-item), a row count that makes the pass's multiple of 8, 1, 3 and 9 slices (past
     * the prefetched 8). Values scaled so that some land halfway between bf16 neighbours' neighbourhoods (ties to even are hit
     * by the integers below 2^9 in the silu case).
     */
    static void bf16ProducerCases(Backend b) {
        int rows = 8;
        for (int n : new int[] {5, 37, 300, 4101, 8200}) {
            for (int slices : new int[] {1, 3, 9}) {
                Random r = new Random(n * 13L + slices);
                float[] x = random(r, rows * n, 3), slabs = random(r, slices * rows * n, 1), w = random(r, n, 1.5f);
                String what = "n=" + n + " slices=" + slices;
                try (FloatArray xf = FloatArray.of(x); FloatArray xb = FloatArray.of(x); FloatArray sa = FloatArray.of(slabs);
                     FloatArray wa = FloatArray.of(w); FloatArray outF = new FloatArray(rows * n); BFloat16Array outB = new BFloat16Array(rows * n);
                     BFloat16Array normB = new BFloat16Array(rows * n); FloatArray normF = new FloatArray(rows * n)) {
                    b.toDevice(xf, xb, sa, wa, outF, outB, normB, normF);
                    // rmsNormRows on the untouched x, then the add + norm
                    b.launch(RMS_NORM_ROWS, Launch.of1D(rows, LayerKernels.NORM_GROUP), xf, wa, normF, n, 1e-5);
                    b.launch(RMS_NORM_ROWS_BF16, Launch.of1D(rows, LayerKernels.NORM_GROUP), xb, wa, normB, n, 1e-5);
                    FusedOps.addRmsNorm(b, xf, sa, slices, wa, outF, rows, n, 1e-5, false);
                    FusedOps.addRmsNorm(b, xb, sa, slices, wa, outB, rows, n, 1e-5, false);
                    b.toHost(xf, xb, outB, normB);
                    assertShortBits(convertedByThePass(b, normF, rows * n), normB, "rmsNormRowsBf16 " + what);
                    assertShortBits(convertedByThePass(b, outF, rows * n), outB, "addRmsNormRowsBf16 " + what);
                    assertBits(xf.toArray(), xb.toArray(), "addRmsNormRowsBf16's residual " + what);
                }
                int inter = n, width = 2 * inter;
                float[] gu = random(r, slices * rows * width, 6);
                for (int i = 0; i < gu.length; i += 7) gu[i] = Math.round(gu[i] * 40);   // integers: exact products, ties to even
                try (FloatArray ga = FloatArray.of(gu); FloatArray outF = new FloatArray(rows * inter); BFloat16Array outB = new BFloat16Array(rows * inter)) {
                    b.toDevice(ga, outF, outB);
                    FusedOps.siluMulRows(b, ga, slices, outF, rows, inter, false);
                    FusedOps.siluMulRows(b, ga, slices, outB, rows, inter, false);
                    b.toHost(outB);
                    assertShortBits(convertedByThePass(b, outF, rows * inter), outB, "siluMulRowsBf16 " + what);
                }
            }
        }
    }

    /**
     * The wide SwiGLU kernels ({@link FusedKernels#siluMulRowsWide}, its bf16 twin) against the one-element ones, bit for bit:
     * rows whose width is not a multiple of the work-group's span (5, 37, 1,025, 4,101: partial last groups and clamped
     * loads) and a span multiple (2,048), 1, 3 and 9 slabs, 1, 3 and 130 tokens; some gate values integers and large (exact
     * products, silu's saturation), one row of zeros.
     */
    static void siluWideCases(Backend b) {
        for (int inter : new int[] {5, 37, 1025, 2048, 4101}) {
            for (int slices : new int[] {1, 3, 9}) {
                for (int rows : new int[] {1, 3, 130}) {
                    if (rows == 130 && inter > 2048 && slices > 1) continue;   // the CPU executor's time
                    Random r = new Random(inter * 31L + slices * 7L + rows);
                    int width = 2 * inter;
                    float[] gu = random(r, slices * rows * width, 12);
                    for (int i = 0; i < gu.length; i += 5) gu[i] = Math.round(gu[i] * 10);
                    if (rows > 1) java.util.Arrays.fill(gu, width, 2 * width, 0f);
                    String what = "inter=" + inter + " slices=" + slices + " rows=" + rows;
                    try (FloatArray ga = FloatArray.of(gu); FloatArray one = new FloatArray(rows * inter); FloatArray wide = new FloatArray(rows * inter);
                         BFloat16Array oneB = new BFloat16Array(rows * inter); BFloat16Array wideB = new BFloat16Array(rows * inter)) {
                        b.toDevice(ga, one, wide, oneB, wideB);
                        FusedOps.siluMulRows(b, ga, slices, one, rows, inter, false, false);
                        FusedOps.siluMulRows(b, ga, slices, wide, rows, inter, false, true);
                        FusedOps.siluMulRows(b, ga, slices, oneB, rows, inter, false, false);
                        FusedOps.siluMulRows(b, ga, slices, wideB, rows, inter, false, true);
                        b.toHost(one, wide, oneB, wideB);
                        assertBits(one.toArray(), wide.toArray(), "siluMulRowsWide " + what);
                        short[] sb = new short[rows * inter], wb = new short[rows * inter];
                        for (int i = 0; i < sb.length; i++) { sb[i] = oneB.getBits(i); wb[i] = wideB.getBits(i); }
                        assertArrayEquals(sb, wb, "siluMulRowsWideBf16 " + what);
                    }
                }
            }
        }
    }

    @Test void siluWideKeepsTheOneElementKernelsBits() { siluWideCases(new CpuBackend()); }

    @Test void bf16ProducersEqualTheConversionPass() { bf16ProducerCases(new CpuBackend()); }

    @Test void qkvRopeStoreEqualsTheComposition() { qkvCases(new CpuBackend()); }

    @Test void siluMulRowsEqualsTheComposition() { siluCases(new CpuBackend()); }

    @Test void addRmsNormEqualsTheComposition() { addRmsNormCases(new CpuBackend()); }

    /**
     * The chunked loads (run 26-gemv4) keep the plain strided loop's bits: {@code LayerKernelsTest.stridedRmsNorm}, for
     * addRmsNormRows (1, 5, 8, 10 slabs) and rmsNormRows (in place) on backend {@code b} (the CPU executor here, the GPU in
     * FusedKernelsGpuTest); rows of fewer elements than work-items, one chunk a work-item, several and a ragged last.
     */
    static void stridedBitsCases(Backend b) {
        Random r = new Random(26);
        for (int n : new int[]{100, 4096, 5120, 8200}) {
            for (int slices : new int[]{1, 5, 8, 10}) {
                int rows = 2;
                float[] x = new float[rows * n], y = new float[slices * rows * n], w = new float[n], out = new float[rows * n];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                for (int i = 0; i < y.length; i++) y[i] = (float) r.nextGaussian() * 0.3f;
                for (int i = 0; i < n; i++) w[i] = 1 + (float) r.nextGaussian() * 0.1f;
                float[] xExpected = x.clone(), normExpected = new float[rows * n];
                dev.arbor.kernels.LayerKernelsTest.stridedRmsNorm(xExpected, y, slices, w, out, rows, n, 1e-5);
                dev.arbor.kernels.LayerKernelsTest.stridedRmsNorm(x.clone(), null, 1, w, normExpected, rows, n, 1e-5);
                try (FloatArray xa = FloatArray.of(x); FloatArray ya = FloatArray.of(y); FloatArray wa = FloatArray.of(w);
                     FloatArray outA = new FloatArray(rows * n); FloatArray inPlace = FloatArray.of(x)) {
                    b.toDevice(xa, ya, wa, outA, inPlace);
                    FusedOps.addRmsNorm(b, xa, ya, slices, wa, outA, rows, n, 1e-5, false);
                    b.launch(RMS_NORM_ROWS, Launch.of1D(rows, LayerKernels.NORM_GROUP), inPlace, wa, inPlace, n, 1e-5);
                    b.toHost(xa, outA, inPlace);
                    for (int i = 0; i < rows * n; i++) {
                        assertEquals(Float.floatToRawIntBits(xExpected[i]), Float.floatToRawIntBits(xa.get(i)), "x, n=" + n + " slices=" + slices + " at " + i);
                        assertEquals(Float.floatToRawIntBits(out[i]), Float.floatToRawIntBits(outA.get(i)), "out, n=" + n + " slices=" + slices + " at " + i);
                        assertEquals(Float.floatToRawIntBits(normExpected[i]), Float.floatToRawIntBits(inPlace.get(i)), "rmsNormRows, n=" + n + " at " + i);
                    }
                }
                // the split-row form, twice on the same counters (the kernel leaves them zero for the next launch)
                try (FloatArray xa = FloatArray.of(x); FloatArray ya = FloatArray.of(y); FloatArray wa = FloatArray.of(w);
                     FloatArray outA = new FloatArray(rows * n); IntArray arrivals = new IntArray(rows)) {
                    b.toDevice(xa, ya, wa, outA, arrivals);
                    float[] x2 = xExpected.clone(), out2 = new float[rows * n];
                    dev.arbor.kernels.LayerKernelsTest.stridedRmsNorm(x2, y, slices, w, out2, rows, n, 1e-5);
                    for (int round = 0; round < 2; round++) {
                        FusedOps.addRmsNormSplitRow(b, xa, ya, slices, wa, outA, arrivals, rows, n, 1e-5, false);
                        b.toHost(xa, outA, arrivals);
                        float[] xe = round == 0 ? xExpected : x2, oe = round == 0 ? out : out2;
                        for (int i = 0; i < rows * n; i++) {
                            assertEquals(Float.floatToRawIntBits(xe[i]), Float.floatToRawIntBits(xa.get(i)), "split-row x, round " + round + ", n=" + n + " slices=" + slices + " at " + i);
                            assertEquals(Float.floatToRawIntBits(oe[i]), Float.floatToRawIntBits(outA.get(i)), "split-row out, round " + round + ", n=" + n + " slices=" + slices + " at " + i);
                        }
                        for (int row = 0; row < rows; row++) assertEquals(0, arrivals.get(row), "arrivals left at zero");
                    }
                }
            }
        }
    }

    @Test void addRmsNormKeepsTheStridedLoopsBits() { stridedBitsCases(new CpuBackend()); }

    @Test
    void shapesAreChecked() {
        try (FloatArray small = new FloatArray(10); FloatArray out = new FloatArray(100); FloatArray w = new FloatArray(10)) {
            assertThrows(IllegalArgumentException.class, () -> FusedOps.siluMulRows(new CpuBackend(), small, 1, out, 2, 5, false));
            assertThrows(IllegalArgumentException.class, () -> FusedOps.addRmsNorm(new CpuBackend(), out, out, 2, w, small, 10, 10, 1e-5, false));
            try (IntArray one = new IntArray(1); BFloat16Array b16 = new BFloat16Array(10)) {
                assertThrows(IllegalArgumentException.class, () -> FusedOps.addRmsNormSplitRow(new CpuBackend(), small, small, 1, w, out, one, 2, 5, 1e-5, false));
                assertThrows(IllegalArgumentException.class, () -> FusedOps.siluMulRows(new CpuBackend(), out, 1, b16, 2, 10, false));
                assertThrows(IllegalArgumentException.class, () -> FusedOps.addRmsNorm(new CpuBackend(), out, out, 1, w, b16, 10, 10, 1e-5, false));
            }
        }
    }

    @Test
    void everyKernelAssemblesForSm90(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        for (String name : Arrays.asList("qkvRopeStoreBf16", "qkvRopeStoreF16", "qkvRopeStoreF32", "siluMulRows", "addRmsNormRows", "addRmsNormSplitRow",
                "siluMulRowsBf16", "addRmsNormRowsBf16", "siluMulRowsWide", "siluMulRowsWideBf16", "siluMulRowsInterleaved",
                "siluMulRowsInterleavedBf16", "qkvRopeStoreWideBf16", "qkvRopeStoreWideF16", "qkvRopeStoreWideF32")) {
            Ptxas.assemble(ptxas, dir, name, KernelCompiler.compile(Kernel.of(FusedKernels.class, name), new Object[0], 90).ptx());
        }
    }
}
