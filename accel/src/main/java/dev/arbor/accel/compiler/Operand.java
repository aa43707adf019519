package dev.arbor.accel.compiler;

/** An operand of an IR instruction: a virtual register, an immediate, or a named symbol / label. */
public sealed interface Operand {
    String ptx();

    /** Virtual register {@code id} of class {@code ty}. */
    record Reg(Ty ty, int id) implements Operand {
        @Override public String ptx() { return ty.prefix + id; }
    }

    /** Immediate; {@code bits} holds the int/long value or the raw IEEE bits of a float/double. */
    record Imm(Ty ty, long bits) implements Operand {
        static Imm i32(int v) { return new Imm(Ty.S32, v); }
        static Imm i64(long v) { return new Imm(Ty.S64, v); }
        static Imm f32(float v) { return new Imm(Ty.F32, Float.floatToRawIntBits(v) & 0xFFFFFFFFL); }
        static Imm f64(double v) { return new Imm(Ty.F64, Double.doubleToRawLongBits(v)); }

        @Override public String ptx() {
            return switch (ty) {
                case F32 -> String.format("0f%08X", bits);
                case F64 -> String.format("0d%016X", bits);
                default -> Long.toString(bits);
            };
        }
    }

    /** A parameter, shared-memory symbol, special register or label, printed as is. */
    record Sym(String name) implements Operand {
        @Override public String ptx() { return name; }
    }
}
