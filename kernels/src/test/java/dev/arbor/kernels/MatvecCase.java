package dev.arbor.kernels;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.OffHeapArray;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** One random matvec (weights bf16, fp16 or fp32) checked against {@link LayerReference#matvec} on a given backend. */
record MatvecCase(int rows, int cols, int tokens, String dtype) {
    static final Kernel MATVEC = Kernel.of(MatvecKernels.class, "matvecBf16");
    static final Kernel MATVEC_F16 = Kernel.of(MatvecKernels.class, "matvecF16");
    static final Kernel MATVEC_F32 = Kernel.of(MatvecKernels.class, "matvecF32");

    MatvecCase(int rows, int cols, int tokens) {
        this(rows, cols, tokens, "bf16");
    }

    /** The weights in this case's dtype; {@code w} receives the values the kernel sees. */
    private OffHeapArray weights(Random r, float[] w) {
        switch (dtype) {
            case "f16" -> {
                HalfFloatArray a = new HalfFloatArray(w.length);
                for (int i = 0; i < w.length; i++) { a.set(i, r.nextFloat() * 2 - 1); w[i] = a.get(i); }
                return a;
            }
            case "f32" -> {
                FloatArray a = new FloatArray(w.length);
                for (int i = 0; i < w.length; i++) a.set(i, w[i] = r.nextFloat() * 2 - 1);
                return a;
            }
            default -> {
                BFloat16Array a = new BFloat16Array(w.length);
                for (int i = 0; i < w.length; i++) { a.set(i, r.nextFloat() * 2 - 1); w[i] = a.get(i); }
                return a;
            }
        }
    }

    void check(Backend backend) {
        Random r = new Random(31L * rows + cols + tokens);
        float[] w = new float[rows * cols], x = new float[tokens * cols];
        try (OffHeapArray wb = weights(r, w); FloatArray xa = new FloatArray(x.length); FloatArray out = new FloatArray(tokens * rows)) {
            for (int i = 0; i < x.length; i++) xa.set(i, x[i] = r.nextFloat() * 2 - 1);
            for (int i = 0; i < tokens * rows; i++) out.set(i, Float.NaN);   // every output must be written
            backend.toDevice(wb, xa, out);
            Kernel k = switch (dtype) { case "f16" -> MATVEC_F16; case "f32" -> MATVEC_F32; default -> MATVEC; };
            backend.launch(k, Launch.cover(32 * rows * tokens, MatvecKernels.BLOCK), wb, xa, out, rows, cols, tokens);
            backend.toHost(out);
            float[] expected = new float[tokens * rows];
            LayerReference.matvec(w, x, expected, rows, cols, tokens);
            for (int t = 0; t < tokens; t++) {
                for (int row = 0; row < rows; row++) {
                    double scale = 0;
                    for (int c = 0; c < cols; c++) scale += Math.abs((double) w[row * cols + c] * x[t * cols + c]);
                    assertEquals(expected[t * rows + row], out.get(t * rows + row), 1e-6 * scale + 1e-6,
                            this + " token " + t + " row " + row);
                }
            }
        }
    }
}
