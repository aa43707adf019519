package dev.arbor.kernels;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The layer kernels compiled to PTX and run on the GPU against the plain loops ({@code @Tag("gpu")}:
 * run on the GPU machine). rmsNorm, add and rope round exactly as the references do; siluMul's
 * exponential is the hardware approximation, so it is held to 2e-6 relative.
 */
@Tag("gpu")
class LayerKernelsGpuTest {
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    private static float[] random(int n, long seed, float scale) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (r.nextFloat() * 2 - 1) * scale;
        return a;
    }

    private static FloatArray device(float[] a) {
        FloatArray d = new FloatArray(a.length);
        for (int i = 0; i < a.length; i++) d.set(i, a[i]);
        cuda.toDevice(d);
        return d;
    }

    private static float[] host(FloatArray d) {
        cuda.toHost(d);
        float[] a = new float[d.length()];
        for (int i = 0; i < a.length; i++) a[i] = d.get(i);
        return a;
    }

    private static void assertBitsEqual(float[] expected, float[] got, String what) {
        for (int i = 0; i < expected.length; i++) {
            assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(got[i]), what + " at " + i + ": " + expected[i] + " vs " + got[i]);
        }
    }

    @Test
    void rmsNormAddAndRopeAreBitIdenticalToTheReference() {
        for (int n : new int[] {7, 255, 4096}) {
            int rows = 9;
            float[] x = random(rows * n, n, 4), w = random(n, n + 1, 2), expected = new float[rows * n];
            LayerReference.rmsNorm(x, rows, n, w, 1e-6, expected);
            FloatArray out = device(new float[rows * n]);
            cuda.launch(Kernel.of(LayerKernels.class, "rmsNorm"), Launch.cover(rows, 32), device(x), device(w), out, rows, n, 1e-6);
            assertBitsEqual(expected, host(out), "rmsNorm n=" + n);

            float[] a = random(rows * n, 3, 1), b = random(rows * n, 4, 1), sum = a.clone();
            LayerReference.add(sum, b, rows * n);
            FloatArray da = device(a);
            cuda.launch(Kernel.of(LayerKernels.class, "add"), Launch.cover(rows * n, 256), da, device(b), rows * n);
            assertBitsEqual(sum, host(da), "add n=" + n);
        }
        for (int half : new int[] {1, 32, 64}) {
            int tokens = 17, heads = 5;
            float[] x = random(tokens * heads * 2 * half, half, 3), rotated = x.clone();
            float[] angles = random(tokens * half, 7, 50), cos = new float[angles.length], sin = new float[angles.length];
            for (int i = 0; i < angles.length; i++) {
                cos[i] = (float) Math.cos(angles[i]);
                sin[i] = (float) Math.sin(angles[i]);
            }
            LayerReference.rope(rotated, cos, sin, tokens, heads, half);
            FloatArray dx = device(x);
            cuda.launch(Kernel.of(LayerKernels.class, "rope"), Launch.cover(tokens * heads * half, 256), dx, device(cos), device(sin), tokens, heads, half);
            assertBitsEqual(rotated, host(dx), "rope half=" + half);
        }
    }

    @Test
    void siluMulAgreesWithinTheHardwareExponentialsError() {
        int n = 100_003;
        float[] g = random(n, 5, 12), up = random(n, 6, 3), expected = g.clone();
        LayerReference.siluMul(expected, up, n);
        FloatArray dg = device(g);
        cuda.launch(Kernel.of(LayerKernels.class, "siluMul"), Launch.cover(n, 256), dg, device(up), n);
        float[] got = host(dg);
        for (int i = 0; i < n; i++) {
            assertEquals(expected[i], got[i], 2e-6 * Math.max(1e-3, Math.abs(expected[i])) + 1e-30, "siluMul at " + i + " (g " + g[i] + ")");
        }
    }
}
