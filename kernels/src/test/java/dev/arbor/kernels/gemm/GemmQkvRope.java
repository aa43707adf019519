package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.kernels.layer.FusedOps;

import java.util.Random;

/**
 * RoPE and the paged KV store in the q|k|v product's epilogue ({@link Gemm#matmulQkvRope}) against the composition it
 * replaces: {@link Gemm#matmulPartial} with the same plan, then {@link FusedOps#qkvRopeStore} (the wide kernel where it fits)
 * on its slabs. q and both whole stores (written and untouched slots alike) must agree bit for bit, twice on the same
 * counters (the kernel leaves them zero). Shared by the CPU and GPU tests.
 */
final class GemmQkvRope {
    private GemmQkvRope() {}

    /** The store types: 0 bf16, 1 fp16, 2 fp32. */
    static OffHeapArray store(int type, int length, Random r) {
        OffHeapArray a = switch (type) {
            case 0 -> new BFloat16Array(length);
            case 1 -> new HalfFloatArray(length);
            default -> new FloatArray(length);
        };
        for (int i = 0; i < length; i++) {
            float v = (float) r.nextGaussian();
            switch (a) {
                case BFloat16Array b -> b.set(i, v);
                case HalfFloatArray h -> h.set(i, v);
                case FloatArray f -> f.set(i, v);
                default -> throw new IllegalStateException();
            }
        }
        return a;
    }

    static int bits(OffHeapArray a, int i) {
        return switch (a) {
            case BFloat16Array b -> Float.floatToRawIntBits(b.get(i));
            case HalfFloatArray h -> Float.floatToRawIntBits(h.get(i));
            case FloatArray f -> Float.floatToRawIntBits(f.get(i));
            default -> throw new IllegalStateException();
        };
    }

    static OffHeapArray copy(OffHeapArray a) {
        OffHeapArray c = switch (a) {
            case BFloat16Array b -> new BFloat16Array(b.length());
            case HalfFloatArray h -> new HalfFloatArray(h.length());
            default -> new FloatArray(a.length());
        };
        for (int i = 0; i < a.length(); i++) {
            switch (c) {
                case BFloat16Array b -> b.set(i, ((BFloat16Array) a).get(i));
                case HalfFloatArray h -> h.set(i, ((HalfFloatArray) a).get(i));
                case FloatArray f -> f.set(i, ((FloatArray) a).get(i));
                default -> throw new IllegalStateException();
            }
        }
        return c;
    }

    /**
     * Elements of q, the K store and the V store that differ in any bit between the composition and the epilogue over two
     * rounds (positions and slots move on between them); -1 if a counter is left non-zero. Tokens at odd positions
     * ({@code pos0 + 2t + 1}), slots scattered over the store's blocks, one slot -1 (padding) where m ≥ 3.
     *
     * @param storeType 0 bf16, 1 fp16, 2 fp32
     * @param rope      false: no rotation (cos and sin null)
     */
    static int differingElements(Backend backend, Gemm gemm, Gemm.Plan plan, int m, int k, int heads, int kvHeads, int headDim, int blockSize,
                                 int numBlocks, int storeType, boolean rope) {
        return differingElements(backend, gemm, plan, m, k, heads, kvHeads, headDim, blockSize, numBlocks, storeType, rope, false);
    }

    /**
     * As {@link #differingElements(Backend, Gemm, Gemm.Plan, int, int, int, int, int, int, int, int, boolean)}; with {@code norm},
     * X is the RMSNorm of residual rows computed in the prologue: {@link Gemm#matmulNormPartial} + qkvRopeStore against
     * {@link Gemm#matmulNormQkvRope}.
     */
    static int differingElements(Backend backend, Gemm gemm, Gemm.Plan plan, int m, int k, int heads, int kvHeads, int headDim, int blockSize,
                                 int numBlocks, int storeType, boolean rope, boolean norm) {
        if (!Gemm.qkvRopeEpilogue(plan, headDim)) throw new IllegalArgumentException("not a plan of the q|k|v epilogue: " + plan);
        if (norm && !Gemm.normPrologue(plan, m)) throw new IllegalArgumentException("not a plan of the norm prologue: " + plan);
        int n = (heads + 2 * kvHeads) * headDim, half = headDim / 2, storeLen = numBlocks * kvHeads * blockSize * headDim;
        Random r = new Random(31L * m + 7L * k + 3L * n + headDim + 101L * storeType + (rope ? 1 : 0));
        int arrivalsNeeded = Gemm.qkvRopeArrivals(plan, m, n, headDim);
        try (FloatArray x = new FloatArray(m * k); BFloat16Array w = new BFloat16Array(n * k); FloatArray c = new FloatArray(m * n);
             FloatArray cB = new FloatArray(m * n); FloatArray qA = new FloatArray(m * heads * headDim); FloatArray qB = new FloatArray(m * heads * headDim);
             FloatArray cos = new FloatArray(m * half); FloatArray sin = new FloatArray(m * half); IntArray slots = new IntArray(m);
             IntArray arrivals = new IntArray(arrivalsNeeded); FloatArray normW = new FloatArray(k); OffHeapArray kA = store(storeType, storeLen, r); OffHeapArray vA = store(storeType, storeLen, r);
             OffHeapArray kB = copy(kA); OffHeapArray vB = copy(vA)) {
            for (int i = 0; i < m * k; i++) x.set(i, norm ? (float) r.nextGaussian() : r.nextFloat() * 2 - 1);
            for (int i = 0; i < k; i++) normW.set(i, 1 + (float) r.nextGaussian() * 0.1f);
            for (int i = 0; i < n * k; i++) w.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
            backend.toDevice(x, w, normW, c, cB, qA, qB, cos, sin, slots, arrivals, kA, vA, kB, vB);
            int differ = 0;
            for (int round = 0; round < 2; round++) {
                for (int t = 0; t < m; t++) {
                    int pos = 37 * round + 2 * t + 1;   // odd positions
                    for (int i = 0; i < half; i++) {
                        double angle = pos * Math.pow(10000, -2.0 * i / headDim);
                        cos.set(t * half + i, (float) Math.cos(angle));
                        sin.set(t * half + i, (float) Math.sin(angle));
                    }
                    int slot = (t * 7 + 3 + round * 5) % (numBlocks * blockSize);
                    slots.set(t, m >= 3 && t == 1 ? -1 : slot);
                }
                if (m >= 2) slots.set(m - 1, numBlocks * blockSize + 3);   // past the store: no k / v store
                backend.toDevice(cos, sin, slots);
                Gemm.Partial p = norm ? gemm.matmulNormPartial(x, normW, 1e-5, m, w, n, k, c, plan) : gemm.matmulPartial(x, m, w, n, k, c, plan);
                FusedOps.qkvRopeStore(backend, p.sums(), p.slices(), qA, kA, vA, rope ? cos : null, rope ? sin : null, slots, m, heads, kvHeads,
                        headDim, blockSize, false);
                boolean ran = norm ? gemm.matmulNormQkvRope(x, normW, 1e-5, m, w, n, k, plan, cB, qB, kB, vB, rope ? cos : null, rope ? sin : null,
                        slots, heads, kvHeads, headDim, blockSize, arrivals)
                        : gemm.matmulQkvRope(x, m, w, n, k, plan, cB, qB, kB, vB, rope ? cos : null, rope ? sin : null, slots, heads, kvHeads, headDim,
                        blockSize, arrivals);
                if (!ran) throw new IllegalStateException("not run: " + plan);
                backend.toHost(qA, qB, kA, kB, vA, vB, arrivals);
                for (int i = 0; i < m * heads * headDim; i++)
                    if (Float.floatToRawIntBits(qA.get(i)) != Float.floatToRawIntBits(qB.get(i))) differ++;
                for (int i = 0; i < storeLen; i++) {
                    if (bits(kA, i) != bits(kB, i)) differ++;
                    if (bits(vA, i) != bits(vB, i)) differ++;
                }
                for (int i = 0; i < arrivalsNeeded; i++) if (arrivals.get(i) != 0) return -1;
            }
            return differ;
        }
    }
}
