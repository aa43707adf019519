package dev.arbor.accel.compiler;

import dev.arbor.accel.array.*;

/**
 * What a reference value in a kernel can be, known at compile time: the context, an array parameter
 * (global memory), or a work-group local array (shared memory). References never live in registers.
 */
sealed interface Ref {
    record Context() implements Ref {}

    /** Array parameter {@code javaIndex}: {@code pointer} is its global address, {@code length} its element count. */
    record GlobalArray(int javaIndex, Class<?> type, Operand.Reg pointer, Operand.Reg length) implements Ref {
        /** Element type suffix of the ld/st ops, e.g. {@code f16}. */
        String element() {
            if (type == FloatArray.class) return "f32";
            if (type == HalfFloatArray.class) return "f16";
            if (type == BFloat16Array.class) return "bf16";
            if (type == IntArray.class) return "s32";
            if (type == LongArray.class) return "s64";
            if (type == ByteArray.class) return "s8";
            throw new IllegalStateException("no element type for " + type);
        }

        int elementBytes() {
            return switch (element()) { case "f16", "bf16" -> 2; case "s64" -> 8; case "s8" -> 1; default -> 4; };
        }
    }

    /** A shared-memory array at symbol {@code symbol}; {@code length} is -1 for dynamic shared memory. */
    record LocalArray(String symbol, String element, int elementBytes, int length, Operand.Reg base) implements Ref {}

    /**
     * A per-work-item array ({@code new float[N]}) held in registers, one per element: every access
     * must use a compile-time index. {@code site} names its allocation for the local-memory fallback.
     */
    record RegisterArray(Kind kind, String element, Operand.Reg[] regs, String site) implements Ref {
        int length() { return regs.length; }
    }

    /** A per-work-item array placed in local memory (stack frame) because some access indexes it at run time. */
    record LocalMemoryArray(String symbol, String element, int elementBytes, int length, Operand.Reg base) implements Ref {}
}
