package dev.arbor.accel.compiler;

/** PTX register classes of the IR; the prefix names the virtual registers ({@code %r7}, {@code %fd2}). */
public enum Ty {
    PRED(".pred", "%p"), B16(".b16", "%h"), S32(".b32", "%r"), S64(".b64", "%rd"), F32(".f32", "%f"), F64(".f64", "%fd");

    final String decl;
    final String prefix;

    Ty(String decl, String prefix) { this.decl = decl; this.prefix = prefix; }
}
