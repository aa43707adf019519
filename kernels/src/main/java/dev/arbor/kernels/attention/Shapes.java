package dev.arbor.kernels.attention;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.OffHeapArray;

/** Argument checks shared by the attention launchers; each failure names the argument. */
final class Shapes {
    private Shapes() {}

    static void positive(String what, int v) {
        if (v <= 0) throw new IllegalArgumentException(what + " must be positive: " + v);
    }

    static void need(String what, OffHeapArray a, long elements) {
        if (a == null) throw new IllegalArgumentException(what + " is null");
        if (elements > Integer.MAX_VALUE) throw new IllegalArgumentException(what + " would need " + elements + " elements, over 2^31-1");
        if (a.length() < elements) throw new IllegalArgumentException(what + " holds " + a.length() + " elements, needs " + elements);
    }

    /** Blocks in the K/V store pair, after checking both have one type (bf16, fp16 or fp32), one length and whole blocks. */
    static int storeBlocks(OffHeapArray kCache, OffHeapArray vCache, int kvHeads, int headDim, int blockSize) {
        positive("kvHeads", kvHeads);
        positive("headDim", headDim);
        positive("blockSize", blockSize);
        if (kCache == null || vCache == null) throw new IllegalArgumentException("kCache and vCache are required");
        if (kCache.getClass() != vCache.getClass() || !isStore(kCache)) {
            throw new IllegalArgumentException("kCache and vCache must both be BFloat16Array, both HalfFloatArray or both FloatArray, not "
                    + kCache.getClass().getSimpleName() + " and " + vCache.getClass().getSimpleName());
        }
        if (kCache.length() != vCache.length()) throw new IllegalArgumentException("kCache holds " + kCache.length() + " elements, vCache " + vCache.length());
        long perBlock = (long) kvHeads * blockSize * headDim;
        if (kCache.length() % perBlock != 0) {
            throw new IllegalArgumentException("kCache length " + kCache.length() + " is not whole blocks of kvHeads*blockSize*headDim = " + perBlock);
        }
        return (int) (kCache.length() / perBlock);
    }

    private static boolean isStore(OffHeapArray a) {
        return a instanceof BFloat16Array || a instanceof HalfFloatArray || a instanceof FloatArray;
    }

    /** The kernel of a store's element type (after {@link #storeBlocks}); any other array is refused by its type name. */
    static Kernel byStore(OffHeapArray store, Kernel bf16, Kernel f16, Kernel f32) {
        return switch (store) {
            case BFloat16Array a -> bf16;
            case HalfFloatArray a -> f16;
            case FloatArray a -> f32;
            default -> throw new IllegalArgumentException("no KV store kernel for " + store.getClass().getSimpleName()
                    + " (BFloat16Array, HalfFloatArray or FloatArray)");
        };
    }

    /**
     * The kernel for an attention output {@code out}: {@code fp32Out} for a FloatArray; {@code bf16Out} (its bf16-output twin,
     * o_proj's X written directly) for a BFloat16Array, which those kernels take with a bf16 KV store only. Any other pairing is
     * refused, never launched into a wrong read.
     */
    static Kernel byOut(OffHeapArray out, OffHeapArray store, Kernel fp32Out, Kernel bf16Out) {
        if (out instanceof FloatArray) return fp32Out;
        if (out instanceof BFloat16Array && store instanceof BFloat16Array && bf16Out != null) return bf16Out;
        throw new IllegalArgumentException("no attention kernel writes a " + out.getClass().getSimpleName() + " output over a "
                + store.getClass().getSimpleName() + " KV store");
    }
}
