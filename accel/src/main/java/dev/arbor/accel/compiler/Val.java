package dev.arbor.accel.compiler;

/**
 * A value on the translator's operand stack: a primitive in register {@code reg} (with its value when
 * known at compile time) or a compile-time reference. {@code origin} is the local variable register it
 * was loaded from, at {@code originVersion} of that local (used to pair 16-byte loads), or null.
 */
record Val(Kind kind, Operand.Reg reg, Number constant, Ref ref, Operand.Reg origin, int originVersion) {
    Val(Kind kind, Operand.Reg reg, Number constant, Ref ref) { this(kind, reg, constant, ref, null, 0); }

    Val withoutConstant() { return new Val(kind, reg, null, ref, origin, originVersion); }
}
