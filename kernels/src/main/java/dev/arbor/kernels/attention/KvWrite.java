package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;

/** Host-side launcher of {@link KvCacheKernels}: the step's K/V rows into one layer's paged store. */
public final class KvWrite {
    private KvWrite() {}

    static final Kernel BF16 = Kernel.of(KvCacheKernels.class, "writeKvBf16");
    static final Kernel F16 = Kernel.of(KvCacheKernels.class, "writeKvF16");
    static final Kernel F32 = Kernel.of(KvCacheKernels.class, "writeKvF32");

    /**
     * @param k           (tokens, kvHeads * headDim) fp32
     * @param v           (tokens, kvHeads * headDim) fp32
     * @param kCache      (numBlocks, kvHeads, blockSize, headDim), BFloat16Array, HalfFloatArray or FloatArray; vCache alike
     * @param slotMapping (tokens) block * blockSize + offset; -1 skips a token
     * @throws IllegalArgumentException naming the array or size that does not fit
     */
    public static void launch(Backend b, FloatArray k, FloatArray v, OffHeapArray kCache, OffHeapArray vCache, IntArray slotMapping,
                              int tokens, int kvHeads, int headDim, int blockSize) {
        Shapes.positive("tokens", tokens);
        int numBlocks = Shapes.storeBlocks(kCache, vCache, kvHeads, headDim, blockSize);
        Shapes.need("k", k, (long) tokens * kvHeads * headDim);
        Shapes.need("v", v, (long) tokens * kvHeads * headDim);
        Shapes.need("slotMapping", slotMapping, tokens);
        Launch l = Launch.cover(tokens * kvHeads * headDim, 256);
        b.launch(Shapes.byStore(kCache, BF16, F16, F32), l, k, v, kCache, vCache, slotMapping, tokens, kvHeads, headDim, blockSize, numBlocks);
    }
}
