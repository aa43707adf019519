package dev.arbor.accel.compiler;

import java.lang.constant.ClassDesc;
import java.lang.classfile.TypeKind;

/** Java value categories on the translator's operand stack; sub-int types travel as I, as in the JVM. */
enum Kind {
    I(Ty.S32, "s32"), J(Ty.S64, "s64"), F(Ty.F32, "f32"), D(Ty.F64, "f64"), A(null, "ref");

    final Ty ty;
    /** Suffix of the IR ops on this kind, e.g. {@code add.s32}. */
    final String suffix;

    Kind(Ty ty, String suffix) { this.ty = ty; this.suffix = suffix; }

    /** Slots a value of this kind takes in the local variable table. */
    int slots() { return this == J || this == D ? 2 : 1; }

    static Kind of(TypeKind t) {
        return switch (t) {
            case INT, SHORT, BYTE, CHAR, BOOLEAN -> I;
            case LONG -> J;
            case FLOAT -> F;
            case DOUBLE -> D;
            case REFERENCE -> A;
            case VOID -> throw new IllegalArgumentException("void has no kind");
        };
    }

    static Kind of(ClassDesc d) { return of(TypeKind.from(d)); }
}
