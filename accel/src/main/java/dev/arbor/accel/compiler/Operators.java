package dev.arbor.accel.compiler;

import java.lang.classfile.Opcode;
import java.lang.classfile.TypeKind;

import static dev.arbor.accel.compiler.Operand.Imm;
import static dev.arbor.accel.compiler.Operand.Reg;

/** Arithmetic, comparison and conversion bytecodes → IR, with constant folding of int/long values. */
final class Operators {
    private Operators() {}

    static void apply(Translator t, Opcode op) {
        switch (op) {
            case IADD, LADD, FADD, DADD -> binary(t, op, "add");
            case ISUB, LSUB, FSUB, DSUB -> binary(t, op, "sub");
            case IMUL, LMUL, FMUL, DMUL -> binary(t, op, "mul");
            case IDIV, LDIV, FDIV, DDIV -> binary(t, op, "div");
            case IREM, LREM -> binary(t, op, "rem");
            case IAND, LAND -> binary(t, op, "and");
            case IOR, LOR -> binary(t, op, "or");
            case IXOR, LXOR -> binary(t, op, "xor");
            case ISHL, LSHL -> shift(t, op, "shl");
            case ISHR, LSHR -> shift(t, op, "shr");
            case IUSHR, LUSHR -> shift(t, op, "ushr");
            case INEG, LNEG, FNEG, DNEG -> {
                Val a = t.pop();
                Number c = a.constant() == null ? null : switch (a.kind()) {
                    case I -> -a.constant().intValue(); case J -> -a.constant().longValue();
                    case F -> -a.constant().floatValue(); default -> -a.constant().doubleValue();
                };
                Val r = t.push(a.kind(), c);
                t.emit("neg." + a.kind().suffix, r.reg(), a.reg());
            }
            case LCMP -> compare(t, Kind.J, false);
            case FCMPL -> compare(t, Kind.F, false);
            case FCMPG -> compare(t, Kind.F, true);
            case DCMPL -> compare(t, Kind.D, false);
            case DCMPG -> compare(t, Kind.D, true);
            case ARRAYLENGTH -> arrayLength(t);
            case FREM, DREM -> throw t.unsupported("floating-point remainder (%)");
            default -> throw t.unsupported("operator " + op.name().toLowerCase());
        }
    }

    private static Kind kindOf(Opcode op) {
        return switch (op.name().charAt(0)) { case 'I' -> Kind.I; case 'L' -> Kind.J; case 'F' -> Kind.F; default -> Kind.D; };
    }

    /**
     * A value known at compile time is written as an immediate (its operands' registers may be shared stack registers with
     * several writers, which ptxas cannot see through), and an integer division or remainder by a known positive value
     * goes through {@link DivisionByConstant}.
     */
    private static void binary(Translator t, Opcode op, String name) {
        Kind k = kindOf(op);
        Val b = t.pop(k), a = t.pop(k);
        Number folded = fold(name, a, b);
        Val r = t.push(k, folded);
        boolean integer = k == Kind.I || k == Kind.J;
        if (folded != null) t.emit("mov." + k.suffix, r.reg(), immediate(k, folded));
        else if (integer && (name.equals("div") || name.equals("rem")) && b.constant() != null && b.constant().longValue() > 0)
            DivisionByConstant.emit(t, k, name.equals("rem"), r.reg(), a.reg(), b.constant().longValue());
        else t.emit(name + "." + k.suffix, r.reg(), a.reg(), integer && b.constant() != null ? immediate(k, b.constant()) : b.reg());
    }

    private static Imm immediate(Kind k, Number v) { return k == Kind.I ? Imm.i32(v.intValue()) : Imm.i64(v.longValue()); }

    /** Java masks shift counts to 5 (int) or 6 (long) bits; PTX clamps instead, so mask explicitly. */
    private static void shift(Translator t, Opcode op, String name) {
        Kind k = kindOf(op);
        Val count = t.pop(Kind.I), a = t.pop(k);
        Reg masked = t.newReg(Ty.S32);
        t.emit("and.s32", masked, count.reg(), Imm.i32(k == Kind.I ? 31 : 63));
        Val r = t.push(k, fold(name, a, count));
        t.emit(name + "." + k.suffix, r.reg(), a.reg(), masked);
    }

    /** Folds int/long ops on two known values (enough for local-array sizes such as {@code TILE * TILE}). */
    private static Number fold(String name, Val a, Val b) {
        if (a.constant() == null || b.constant() == null) return null;
        if (a.kind() == Kind.I) {
            int x = a.constant().intValue(), y = b.constant().intValue();
            return switch (name) {
                case "add" -> x + y; case "sub" -> x - y; case "mul" -> x * y;
                case "div" -> y == 0 ? null : x / y; case "rem" -> y == 0 ? null : x % y;
                case "and" -> x & y; case "or" -> x | y; case "xor" -> x ^ y;
                case "shl" -> x << y; case "shr" -> x >> y; case "ushr" -> x >>> y;
                default -> null;
            };
        }
        if (a.kind() == Kind.J) {
            long x = a.constant().longValue(), y = b.constant().longValue();
            return switch (name) {
                case "add" -> x + y; case "sub" -> x - y; case "mul" -> x * y;
                case "div" -> y == 0 ? null : x / y; case "rem" -> y == 0 ? null : x % y;
                case "and" -> x & y; case "or" -> x | y; case "xor" -> x ^ y;
                case "shl" -> x << y; case "shr" -> x >> y; case "ushr" -> x >>> y;
                default -> null;
            };
        }
        return null;
    }

    /**
     * lcmp / fcmpl / fcmpg / dcmpl / dcmpg push -1, 0 or 1; with NaN, the "l" forms give -1 and the "g"
     * forms 1. Built from two selects, which ptxas folds into the following branch.
     */
    private static void compare(Translator t, Kind k, boolean nanIsGreater) {
        Val b = t.pop(k), a = t.pop(k);
        Val r = t.push(Kind.I);
        Reg eq = t.newReg(Ty.PRED), other = t.newReg(Ty.PRED);
        t.emit("setp.eq." + k.suffix, eq, a.reg(), b.reg());
        if (nanIsGreater) {
            t.emit("selp.s32", r.reg(), Imm.i32(0), Imm.i32(1), eq);
            t.emit("setp.lt." + k.suffix, other, a.reg(), b.reg());
            t.emit("selp.s32", r.reg(), Imm.i32(-1), r.reg(), other);
        } else {
            t.emit("selp.s32", r.reg(), Imm.i32(0), Imm.i32(-1), eq);
            t.emit("setp.gt." + k.suffix, other, a.reg(), b.reg());
            t.emit("selp.s32", r.reg(), Imm.i32(1), r.reg(), other);
        }
    }

    private static void arrayLength(Translator t) {
        Ref r = t.popRef();
        switch (r) {
            case Ref.GlobalArray g -> {
                Val v = t.push(Kind.I);
                t.emit("mov.s32", v.reg(), g.length());
            }
            case Ref.LocalArray l when l.length() >= 0 -> t.pushConstant(Kind.I, l.length());
            case Ref.RegisterArray a -> t.pushConstant(Kind.I, a.length());
            case Ref.LocalMemoryArray a -> t.pushConstant(Kind.I, a.length());
            default -> throw t.unsupported("length of dynamic shared memory");
        }
    }

    static void convert(Translator t, TypeKind from, TypeKind to) {
        Kind f = Kind.of(from);
        Val a = t.pop(f);
        switch (to) {
            case BYTE, SHORT, CHAR -> {
                Val r = t.push(Kind.I);
                t.emit(to == TypeKind.BYTE ? "i2b" : to == TypeKind.SHORT ? "i2s" : "i2c", r.reg(), a.reg());
            }
            default -> {
                Kind k = Kind.of(to);
                Number c = a.constant() == null ? null : switch (k) {
                    case I -> a.constant().intValue(); case J -> a.constant().longValue();
                    case F -> a.constant().floatValue(); default -> a.constant().doubleValue();
                };
                Val r = t.push(k, f == Kind.F || f == Kind.D ? null : c);
                t.emit("cvt." + k.suffix + "." + f.suffix, r.reg(), a.reg());
            }
        }
    }
}
