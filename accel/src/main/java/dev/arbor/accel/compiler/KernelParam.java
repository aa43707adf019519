package dev.arbor.accel.compiler;

/**
 * How one Java kernel parameter (index {@code javaIndex}, the context being 0) appears in the PTX
 * entry. An array becomes two PTX parameters, its global pointer (u64) and length (u32); a
 * primitive becomes one; a constant-specialised primitive none.
 */
public record KernelParam(int javaIndex, Kind kind, boolean constant) {
    public enum Kind { ARRAY, INT, LONG, FLOAT, DOUBLE }

    /** Kind of a Java parameter type; null for the KernelContext. */
    static Kind of(Class<?> type) {
        if (type == int.class || type == short.class || type == byte.class || type == char.class || type == boolean.class) return Kind.INT;
        if (type == long.class) return Kind.LONG;
        if (type == float.class) return Kind.FLOAT;
        if (type == double.class) return Kind.DOUBLE;
        if (dev.arbor.accel.array.OffHeapArray.class.isAssignableFrom(type)) return Kind.ARRAY;
        return null;
    }
}
