package dev.arbor.kernels;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** One random bf16 matvec checked against {@link LayerReference#matvec} on a given backend. */
record MatvecCase(int rows, int cols, int tokens) {
    static final Kernel MATVEC = Kernel.of(MatvecKernels.class, "matvecBf16");

    void check(Backend backend) {
        Random r = new Random(31L * rows + cols + tokens);
        float[] w = new float[rows * cols], x = new float[tokens * cols];
        try (BFloat16Array wb = new BFloat16Array(w.length); FloatArray xa = new FloatArray(x.length); FloatArray out = new FloatArray(tokens * rows)) {
            for (int i = 0; i < w.length; i++) {
                wb.set(i, r.nextFloat() * 2 - 1);
                w[i] = wb.get(i);   // the bf16-rounded weight the kernel sees
            }
            for (int i = 0; i < x.length; i++) xa.set(i, x[i] = r.nextFloat() * 2 - 1);
            for (int i = 0; i < tokens * rows; i++) out.set(i, Float.NaN);   // every output must be written
            backend.toDevice(wb, xa, out);
            backend.launch(MATVEC, Launch.cover(32 * rows * tokens, MatvecKernels.BLOCK), wb, xa, out, rows, cols, tokens);
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
