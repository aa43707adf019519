package dev.arbor.models.cpu;

import dev.arbor.models.weights.Matrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@code out (tokens, rows) = x (tokens, cols) · Wᵀ} for a (rows, cols) weight in bf16/fp16/fp32.
 * Parallel over tiles of 4 weight rows; each tile is converted to float once per call and dotted
 * with every token's activation, so a step reads each weight row once whatever the batch size.
 * A (token, row) result does not depend on the batch it is computed in (same tile, same order),
 * which keeps chunked prefill bit-identical to unchunked.
 */
public final class Matmul {
    private Matmul() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int TILE = 4;

    public static void apply(float[] x, int tokens, Matrix w, float[] out) {
        new Task().apply(x, tokens, w, out);
    }

    /**
     * {@link Matmul#apply} as a reusable object: the forward pass keeps one, so a call allocates nothing (a lambda
     * capturing the arguments would be a new object per call). Not thread-safe.
     */
    static final class Task implements Parallel.Range {
        private float[] x, out;
        private int tokens;
        private Matrix w;

        void apply(float[] x, int tokens, Matrix w, float[] out) {
            int rows = w.rows(), cols = w.cols();
            int tiles = (rows + TILE - 1) / TILE;
            // ~64K multiply-adds per range at least, so tiny matrices don't pay for the fork.
            int grain = Math.max(1, 65536 / Math.max(1, cols * TILE * tokens));
            this.x = x;
            this.tokens = tokens;
            this.w = w;
            this.out = out;
            try {
                Parallel.forRange(tiles, grain, this);
            } finally {
                this.x = null;
                this.w = null;
                this.out = null;
            }
        }

        @Override public void run(int from, int to) {
            int rows = w.rows(), cols = w.cols();
            float[] wt = tileScratch(TILE * cols); // (TILE, cols) converted weight rows
            for (int tile = from; tile < to; tile++) {
                int r0 = tile * TILE, nr = Math.min(TILE, rows - r0);
                for (int i = 0; i < nr; i++) w.loadRow(r0 + i, wt, i * cols);
                for (int t = 0; t < tokens; t++) {
                    int o = t * rows + r0;
                    if (nr == TILE) {
                        dot4(wt, cols, x, t * cols, out, o);
                    } else {
                        for (int i = 0; i < nr; i++) out[o + i] = dot(wt, i * cols, x, t * cols, cols);
                    }
                }
            }
        }
    }

    private static final ThreadLocal<float[][]> TILE_SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);

    /** This thread's weight-tile buffer, at least n floats (grown to the widest matrix, then reused). */
    private static float[] tileScratch(int n) {
        float[][] s = TILE_SCRATCH.get();
        if (s[0].length < n) s[0] = new float[n];
        return s[0];
    }

    /** {@code out[o + i] = w[i*n ..] · x[xo ..]} for four consecutive rows, sharing the loads of x. */
    static void dot4(float[] w, int n, float[] x, int xo, float[] out, int o) {
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
        out[o + 1] = s1;
        out[o + 2] = s2;
        out[o + 3] = s3;
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
}
