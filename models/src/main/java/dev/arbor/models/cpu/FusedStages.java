package dev.arbor.models.cpu;

import dev.arbor.kernels.LayerReference;

import dev.arbor.models.weights.Matrix;

/**
 * A layer's stages as one parallel region each, for {@link CpuOps}: the q, k and v projections with the q/k norm and
 * RoPE of each head ({@link Qkv}), gate and up with SwiGLU ({@link GateUp}), and a projection with its residual add
 * ({@link Residual}). A decode step of a 12-layer model made ~100 hand-offs to the work team (seven matmuls and
 * attention per layer, each a region that ends with both threads waiting for the slower); this makes it five per
 * layer, and the element-wise passes run on rows still in L1/L2 instead of as separate launches.
 *
 * <p>Same bits as the separate calls ({@code Ops}' default compositions): every matmul result comes from
 * {@link Matmul#tiles}, and the element-wise tails repeat {@code LayerKernels}' arithmetic operation for operation
 * (rmsNorm, rope, siluMul, add: {@link LayerReference}'s row and element forms; siluMul through {@link SiluMul}, its bits a
 * vector at a time) on the rows the range produced. {@code FusedStagesTest} asserts it.
 * Each task is reused across calls, so a step allocates nothing; not thread-safe (one per {@link CpuOps}).
 */
final class FusedStages {
    private FusedStages() {}

    /**
     * {@code q (tokens, heads * headDim)}, {@code k, v (tokens, kvHeads * headDim)} = xn · Wᵀ, one work unit per head
     * (q's heads, then k's, then v's): a unit's rows, then that head's RMSNorm (Qwen3's q/k norm) and rotation for
     * every token. Needs headDim a multiple of {@link Matmul#TILE} ({@link #fits}).
     */
    static final class Qkv implements Parallel.Range {
        private final PanelGemm.Activations activations = new PanelGemm.Activations();
        private float[] xn, xr, q, k, v, qNorm, kNorm, cos, sin;
        private Matrix wq, wk, wv;
        private int tokens, heads, kvHeads, headDim;
        private double eps;

        static boolean fits(int headDim) { return headDim % Matmul.TILE == 0; }

        /**
         * @param cos, sin (tokens, headDim / 2) this step's rotation, or null (ALiBi: no rotation)
         * @param qNorm, kNorm (headDim) per-head norms, or null
         */
        void apply(float[] xn, int tokens, Matrix wq, Matrix wk, Matrix wv, int heads, int kvHeads, int headDim,
                   float[] qNorm, float[] kNorm, double eps, float[] cos, float[] sin, float[] q, float[] k, float[] v) {
            this.xn = xn;
            this.tokens = tokens;
            this.wq = wq;
            this.wk = wk;
            this.wv = wv;
            this.heads = heads;
            this.kvHeads = kvHeads;
            this.headDim = headDim;
            this.qNorm = qNorm;
            this.kNorm = kNorm;
            this.eps = eps;
            this.cos = cos;
            this.sin = sin;
            this.q = q;
            this.k = k;
            this.v = v;
            try {
                // q, k and v read the same xn (the same cols): one residue-major copy, ignored by a matrix PanelGemm doesn't take
                this.xr = activations.prepare(xn, tokens, wq);
                int units = heads + 2 * kvHeads;
                Parallel.forRange(units, Matmul.grain(wq, tokens, units, headDim), this);
            } finally {
                this.xn = this.xr = this.q = this.k = this.v = null;
                this.wq = this.wk = this.wv = null;
            }
        }

        @Override public void run(int from, int to) {
            // the range's heads of q, then of k, then of v: each matrix's part in one call (long weight streams), then
            // the q/k heads' norm and rotation
            project(from, to, 0, heads, wq, q);
            project(from, to, heads, kvHeads, wk, k);
            project(from, to, heads + kvHeads, kvHeads, wv, v);
            for (int u = Math.max(from, 0), end = Math.min(to, heads + kvHeads); u < end; u++) {
                boolean isQ = u < heads;
                int h = isQ ? u : u - heads, n = isQ ? heads : kvHeads;   // n: heads per token row
                float[] out = isQ ? q : k, norm = isQ ? qNorm : kNorm;
                for (int t = 0; t < tokens; t++) {
                    int o = (t * n + h) * headDim;
                    if (norm != null) LayerReference.rmsNormRow(out, o, headDim, norm, eps, out);
                    if (cos != null) LayerReference.ropeHead(out, o, cos, sin, t * (headDim / 2), headDim / 2);
                }
            }
        }

        /** The heads of units {@code [from, to)} that fall in {@code [first, first + count)}: of {@code w} into {@code out}. */
        private void project(int from, int to, int first, int count, Matrix w, float[] out) {
            int h0 = Math.max(from, first) - first, h1 = Math.min(to, first + count) - first;
            int tilesPerHead = headDim / Matmul.TILE;
            if (h0 < h1) Matmul.tiles(xn, xr, tokens, w, out, h0 * tilesPerHead, h1 * tilesPerHead);
        }
    }

    /** {@code gate (tokens, inter) = silu(xn · Gᵀ) * (xn · Uᵀ)}, one unit per tile of rows; {@code up}: (tokens, inter) scratch. */
    static final class GateUp implements Parallel.Range {
        private final PanelGemm.Activations activations = new PanelGemm.Activations();
        private float[] xn, xr, gate, up;
        private Matrix wg, wu;
        private int tokens;

        void apply(float[] xn, int tokens, Matrix wg, Matrix wu, float[] gate, float[] up) {
            this.xn = xn;
            this.tokens = tokens;
            this.wg = wg;
            this.wu = wu;
            this.gate = gate;
            this.up = up;
            try {
                this.xr = activations.prepare(xn, tokens, wg);   // one copy for gate and up (the same shape)
                int tiles = Matmul.tiles(wg.rows());
                Parallel.forRange(tiles, Matmul.grain(wg, tokens, tiles, 2 * Matmul.TILE), this);
            } finally {
                this.xn = this.xr = this.gate = this.up = null;
                this.wg = this.wu = null;
            }
        }

        @Override public void run(int from, int to) {
            Matmul.tiles(xn, xr, tokens, wg, gate, from, to);
            Matmul.tiles(xn, xr, tokens, wu, up, from, to);
            int rows = wg.rows(), r0 = from * Matmul.TILE, r1 = Math.min(rows, to * Matmul.TILE);
            for (int t = 0; t < tokens; t++) {
                SiluMul.apply(gate, up, t * rows + r0, t * rows + r1);
            }
        }
    }

    /** {@code x (tokens, rows) += in · Wᵀ} through {@code proj (tokens, rows)}, one unit per tile of rows. */
    static final class Residual implements Parallel.Range {
        private final PanelGemm.Activations activations = new PanelGemm.Activations();
        private float[] in, xr, proj, x;
        private Matrix w;
        private int tokens;

        void apply(float[] in, int tokens, Matrix w, float[] proj, float[] x) {
            this.in = in;
            this.tokens = tokens;
            this.w = w;
            this.proj = proj;
            this.x = x;
            try {
                this.xr = activations.prepare(in, tokens, w);
                int tiles = Matmul.tiles(w.rows());
                Parallel.forRange(tiles, Matmul.grain(w, tokens, tiles, Matmul.TILE), this);
            } finally {
                this.in = this.xr = this.proj = this.x = null;
                this.w = null;
            }
        }

        @Override public void run(int from, int to) {
            Matmul.tiles(in, xr, tokens, w, proj, from, to);
            int rows = w.rows(), r0 = from * Matmul.TILE, r1 = Math.min(rows, to * Matmul.TILE);
            for (int t = 0; t < tokens; t++) {
                for (int i = t * rows + r0, end = t * rows + r1; i < end; i++) x[i] = x[i] + proj[i];
            }
        }
    }
}
