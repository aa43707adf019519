package dev.arbor.accel.compiler;

/**
 * A value on the translator's operand stack: a primitive in register {@code reg} (with its value when
 * known at compile time) or a compile-time reference.
 */
record Val(Kind kind, Operand.Reg reg, Number constant, Ref ref) {
    Val withoutConstant() { return new Val(kind, reg, null, ref); }
}
