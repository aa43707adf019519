package dev.arbor.kernels;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.compiler.KernelCompiler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The layer kernels on the accel CPU executor agree bit for bit with the plain loops over odd
 * sizes, and their PTX (and the bf16 matvec's, two widths) assembles for sm_90.
 */
public class LayerKernelsTest {
    private static final int[] SIZES = {1, 7, 13, 255, 1000};
    private final CpuLayerOps ops = new CpuLayerOps();

    private static float[] random(int n, long seed, float scale) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (r.nextFloat() * 2 - 1) * scale;
        return a;
    }

    @Test
    void rmsNormMatchesTheReferenceIncludingInPlace() {
        for (int n : SIZES) {
            int rows = 3;
            float[] x = random(rows * n, n, 4), w = random(n, n + 1, 2);
            float[] expected = new float[rows * n], got = new float[rows * n];
            LayerReference.rmsNorm(x, rows, n, w, 1e-6, expected);
            ops.rmsNorm(x, rows, n, w, 1e-6, got);
            assertArrayEquals(expected, got, "n=" + n);
            ops.rmsNorm(x, rows, n, w, 1e-6, x);                 // out == x
            assertArrayEquals(expected, x, "in place, n=" + n);
        }
    }

    @Test
    void siluMulAndAddMatchTheReference() {
        for (int n : SIZES) {
            float[] g1 = random(n, 1, 8), up = random(n, 2, 3), g2 = g1.clone();
            LayerReference.siluMul(g1, up, n);
            ops.siluMul(g2, up, n);
            assertArrayEquals(g1, g2, "silu n=" + n);
            float[] x1 = random(n + 5, 3, 1), y = random(n + 5, 4, 1), x2 = x1.clone();
            LayerReference.add(x1, y, n);
            ops.add(x2, y, n);
            assertArrayEquals(x1, x2, "add n=" + n);
            assertEquals(x1[n + 4], x2[n + 4], "elements past n untouched");
        }
    }

    @Test
    void ropeMatchesTheReference() {
        for (int half : new int[] {1, 4, 32, 64}) {
            for (int heads : new int[] {1, 3}) {
                int tokens = 5, n = tokens * heads * 2 * half;
                float[] x1 = random(n, half, 3), x2 = x1.clone();
                float[] angles = random(tokens * half, heads, 50);
                float[] cos = new float[angles.length], sin = new float[angles.length];
                for (int i = 0; i < angles.length; i++) {
                    cos[i] = (float) Math.cos(angles[i]);
                    sin[i] = (float) Math.sin(angles[i]);
                }
                LayerReference.rope(x1, cos, sin, tokens, heads, half);
                ops.rope(x2, cos, sin, tokens, heads, half);
                assertArrayEquals(x1, x2, "half=" + half + " heads=" + heads);
            }
        }
    }

    @Test
    void rmsNormRowsMatchesTheReference() {
        var cpu = new dev.arbor.accel.cpu.CpuBackend();
        var kernel = dev.arbor.accel.Kernel.of(LayerKernels.class, "rmsNormRows");
        for (int n : new int[] {1, 7, 13, 255, 1000}) {
            int rows = 3;
            float[] x = random(rows * n, n, 1), w = random(n, 7, 2), expected = new float[rows * n];
            LayerReference.rmsNorm(x, rows, n, w, 1e-5, expected);
            try (var xa = dev.arbor.accel.array.FloatArray.of(x); var wa = dev.arbor.accel.array.FloatArray.of(w);
                 var out = new dev.arbor.accel.array.FloatArray(rows * n)) {
                cpu.launch(kernel, dev.arbor.accel.Launch.of1D(rows, LayerKernels.NORM_GROUP), xa, wa, out, n, 1e-5);
                for (int i = 0; i < rows * n; i++) {
                    assertEquals(expected[i], out.get(i), 1e-6f * Math.max(1f, Math.abs(expected[i])), "n=" + n + " at " + i);
                }
            }
        }
    }

    /**
     * The chunked loads of rmsNormRows and FusedKernels.addRmsNormRows (run 26-gemv4) keep the bits of the plain strided
     * loop they replaced: this is that loop, written out (work-item t sums x² over i = t, t + G, ... in double, a pairwise
     * tree adds the G partial sums, then out = w · (x · inv)); {@code y}: slabs added to x first (null: none).
     */
    public static void stridedRmsNorm(float[] x, float[] y, int slices, float[] w, float[] out, int rows, int n, double eps) {
        int g = LayerKernels.NORM_GROUP;
        for (int r = 0; r < rows; r++) {
            double[] partial = new double[g];
            for (int t = 0; t < g; t++) {
                double sq = 0;
                for (int i = t; i < n; i += g) {
                    float v = x[r * n + i];
                    if (y != null) {
                        float s = y[r * n + i];
                        for (int z = 1; z < slices; z++) s += y[z * rows * n + r * n + i];
                        v = v + s;
                        x[r * n + i] = v;
                    }
                    sq += v * v;
                }
                partial[t] = sq;
            }
            for (int h = g / 2; h > 0; h >>= 1) for (int t = 0; t < h; t++) partial[t] += partial[t + h];
            float inv = (float) (1.0 / Math.sqrt(partial[0] / n + eps));
            for (int i = 0; i < n; i++) out[r * n + i] = w[i] * (x[r * n + i] * inv);
        }
    }

    @Test
    void rmsNormRowsKeepsTheStridedLoopsBits() {
        var cpu = new dev.arbor.accel.cpu.CpuBackend();
        var kernel = dev.arbor.accel.Kernel.of(LayerKernels.class, "rmsNormRows");
        for (int n : new int[] {7, 1000, 4096, 5120, 8200}) {   // one chunk a work-item, part of one, several and a ragged last
            int rows = 2;
            float[] x = random(rows * n, 3L * n, 4), w = random(n, 5L * n, 2), expected = new float[rows * n];
            stridedRmsNorm(x.clone(), null, 1, w, expected, rows, n, 1e-5);
            try (var xa = dev.arbor.accel.array.FloatArray.of(x); var wa = dev.arbor.accel.array.FloatArray.of(w)) {
                cpu.launch(kernel, dev.arbor.accel.Launch.of1D(rows, LayerKernels.NORM_GROUP), xa, wa, xa, n, 1e-5);   // in place
                for (int i = 0; i < rows * n; i++) {
                    assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(xa.get(i)), "n=" + n + " at " + i);
                }
            }
        }
    }

    /**
     * rmsNormRowsBf16Zero: the same bf16 bits as rmsNormRowsBf16 (odd widths, one chunk and several), and exactly z's first
     * {@code rows} rows of {@code zn} floats zeroed (widths under, at and past a work-group's 256), the rows after them untouched.
     */
    @Test
    void normThatZeroesTheNextProductsRowsKeepsTheNormsBits() {
        var cpu = new dev.arbor.accel.cpu.CpuBackend();
        Kernel plain = Kernel.of(LayerKernels.class, "rmsNormRowsBf16"), zeroing = Kernel.of(LayerKernels.class, "rmsNormRowsBf16Zero");
        for (int n : new int[] {7, 1000, 4101})
            for (int zn : new int[] {5, 256, 3072 + 7}) {
                int rows = 3, zRows = rows + 2;
                float[] x = random(rows * n, n + zn, 4), w = random(n, n + 1, 2), z = random(zRows * zn, zn, 3);
                try (var xa = dev.arbor.accel.array.FloatArray.of(x); var wa = dev.arbor.accel.array.FloatArray.of(w);
                     var za = dev.arbor.accel.array.FloatArray.of(z); var a = new dev.arbor.accel.array.BFloat16Array(rows * n);
                     var b = new dev.arbor.accel.array.BFloat16Array(rows * n)) {
                    cpu.toDevice(xa, wa, za, a, b);
                    cpu.launch(plain, dev.arbor.accel.Launch.of1D(rows, LayerKernels.NORM_GROUP), xa, wa, a, n, 1e-5);
                    cpu.launch(zeroing, dev.arbor.accel.Launch.of1D(rows, LayerKernels.NORM_GROUP), xa, wa, b, n, 1e-5, za, zn);
                    cpu.toHost(a, b, za);
                    for (int i = 0; i < rows * n; i++) assertEquals(a.getBits(i), b.getBits(i), "n=" + n + " zn=" + zn + " at " + i);
                    for (int i = 0; i < zRows * zn; i++)
                        assertEquals(Float.floatToRawIntBits(i < rows * zn ? 0f : z[i]), Float.floatToRawIntBits(za.get(i)), "z, zn=" + zn + " at " + i);
                }
            }
    }

    @Test
    void everyKernelAssemblesForSm90(@TempDir Path dir) throws Exception {
        Path ptxas = dev.arbor.kernels.Ptxas.require();
        record Variant(Class<?> owner, String name, Object... constants) {}
        for (Variant v : new Variant[] {new Variant(LayerKernels.class, "rmsNorm"), new Variant(LayerKernels.class, "siluMul"),
                new Variant(LayerKernels.class, "add"), new Variant(LayerKernels.class, "rope"),
                new Variant(MatvecKernels.class, "matvecBf16", 4096), new Variant(MatvecKernels.class, "matvecBf16", 13),
                new Variant(MatvecKernels.class, "matvecF16"), new Variant(MatvecKernels.class, "matvecF32"),
                new Variant(LayerKernels.class, "rmsNormRows"), new Variant(LayerKernels.class, "rmsNormRowsBf16"),
                new Variant(LayerKernels.class, "rmsNormRowsBf16Zero")}) {
            String name = v.name() + java.util.Arrays.toString(v.constants()).replaceAll("\\W", "_");
            var k = KernelCompiler.compile(Kernel.of(v.owner(), v.name()), v.constants(), 90);
            Ptxas.assemble(ptxas, dir, name, k.ptx());
        }
    }
}
