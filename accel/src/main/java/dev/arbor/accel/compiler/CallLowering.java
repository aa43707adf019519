package dev.arbor.accel.compiler;

import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.classfile.instruction.FieldInstruction;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.constant.MethodTypeDesc;
import java.lang.reflect.AccessFlag;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.arbor.accel.compiler.Operand.Imm;
import static dev.arbor.accel.compiler.Operand.Reg;
import static dev.arbor.accel.compiler.Operand.Sym;

/**
 * Method calls and field reads: context geometry and services, array element access, math
 * intrinsics, and inlining of static helpers. Anything else is rejected by name.
 */
final class CallLowering {
    static final String CONTEXT = "dev/arbor/accel/KernelContext";
    private static final String ARRAYS = "dev/arbor/accel/array/";

    /** Static intrinsics: owner.name+descriptor → IR op over the popped arguments. */
    private static final Map<String, String> STATIC_INTRINSICS = Map.ofEntries(
            Map.entry("java/lang/Math.abs(I)I", "abs.s32"), Map.entry("java/lang/Math.abs(J)J", "abs.s64"),
            Map.entry("java/lang/Math.abs(F)F", "abs.f32"), Map.entry("java/lang/Math.abs(D)D", "abs.f64"),
            Map.entry("java/lang/Math.min(II)I", "min.s32"), Map.entry("java/lang/Math.min(JJ)J", "min.s64"),
            Map.entry("java/lang/Math.min(FF)F", "min.f32"), Map.entry("java/lang/Math.min(DD)D", "min.f64"),
            Map.entry("java/lang/Math.max(II)I", "max.s32"), Map.entry("java/lang/Math.max(JJ)J", "max.s64"),
            Map.entry("java/lang/Math.max(FF)F", "max.f32"), Map.entry("java/lang/Math.max(DD)D", "max.f64"),
            Map.entry("java/lang/Math.sqrt(D)D", "sqrt.f64"),
            Map.entry("java/lang/Math.fma(FFF)F", "fma.f32"), Map.entry("java/lang/Math.fma(DDD)D", "fma.f64"),
            Map.entry("java/lang/Float.floatToRawIntBits(F)I", "bits.s32.f32"),
            Map.entry("java/lang/Float.floatToIntBits(F)I", "canonbits.s32.f32"),
            Map.entry("java/lang/Float.intBitsToFloat(I)F", "bits.f32.s32"),
            Map.entry("java/lang/Float.float16ToFloat(S)F", "h2f"),
            Map.entry("java/lang/Float.floatToFloat16(F)S", "f2h"),
            Map.entry("java/lang/Double.doubleToRawLongBits(D)J", "bits.s64.f64"),
            Map.entry("java/lang/Double.longBitsToDouble(J)D", "bits.f64.s64"),
            Map.entry("java/lang/Integer.bitCount(I)I", "popc.s32"),
            Map.entry("java/lang/Integer.numberOfLeadingZeros(I)I", "clz.s32"),
            Map.entry("java/lang/Long.bitCount(J)I", "popc.s64"),
            Map.entry("java/lang/Long.numberOfLeadingZeros(J)I", "clz.s64"),
            Map.entry("dev/arbor/accel/KMath.exp(F)F", "exp.f32"), Map.entry("dev/arbor/accel/KMath.log(F)F", "log.f32"),
            Map.entry("dev/arbor/accel/KMath.expFtz(F)F", "exp.ftz.f32"),
            Map.entry("dev/arbor/accel/KMath.sqrt(F)F", "sqrt.f32"), Map.entry("dev/arbor/accel/KMath.rsqrt(F)F", "rsqrt.f32"),
            Map.entry("dev/arbor/accel/KMath.sin(F)F", "sin.f32"), Map.entry("dev/arbor/accel/KMath.cos(F)F", "cos.f32"),
            Map.entry("dev/arbor/accel/KMath.tanh(F)F", "tanh.f32"),
            Map.entry(CONTEXT + ".fp16ToFloat(S)F", "h2f"), Map.entry(CONTEXT + ".floatToFp16(F)S", "f2h"),
            Map.entry(CONTEXT + ".bf16ToFloat(S)F", "bf2f"), Map.entry(CONTEXT + ".floatToBf16(F)S", "f2bf"),
            Map.entry(CONTEXT + ".fp16LowToFloat(I)F", "h2f.lo"), Map.entry(CONTEXT + ".fp16HighToFloat(I)F", "h2f.hi"),
            Map.entry(CONTEXT + ".bf16LowToFloat(I)F", "bf2f.lo"), Map.entry(CONTEXT + ".bf16HighToFloat(I)F", "bf2f.hi"),
            Map.entry(CONTEXT + ".packBf16(FF)I", "pack.bf16x2"), Map.entry(CONTEXT + ".packFp16(FF)I", "pack.f16x2"));

    /** Plain-Java double exp/log, inlined in place of Math's (see {@link DoubleMath}). */
    private static final String DOUBLE_MATH = "dev/arbor/accel/compiler/DoubleMath";

    private final Translator t;

    CallLowering(Translator t) { this.t = t; }

    void invoke(InvokeInstruction inv) {
        String owner = inv.owner().asInternalName();
        String name = inv.name().stringValue();
        MethodTypeDesc type = inv.typeSymbol();
        String key = owner + "." + name + type.descriptorString();
        String display = owner.substring(owner.lastIndexOf('/') + 1) + "." + name;
        switch (inv.opcode()) {
            case INVOKESTATIC -> {
                String op = STATIC_INTRINSICS.get(key);
                if (op != null) intrinsic(op, type);
                else if (key.equals("java/lang/Math.exp(D)D") || key.equals("java/lang/Math.log(D)D"))
                    inline(DOUBLE_MATH, name, type);     // no f64 exp/log in PTX: inline the Java version
                else if (owner.startsWith("java/") || owner.startsWith("jdk/") || owner.startsWith("sun/") || owner.startsWith("javax/"))
                    throw t.unsupported("call of library method " + display + type.descriptorString()
                            + (owner.equals("java/lang/Math") ? " (for float math use KMath)" : ""));
                else inline(owner, name, type);
            }
            case INVOKEVIRTUAL -> {
                if (owner.equals(CONTEXT)) ContextCalls.invoke(t, name, type, display);
                else if (owner.startsWith(ARRAYS)) arrayCall(name, type, display);
                else throw t.unsupported("virtual call " + display);
            }
            case INVOKEINTERFACE -> throw t.unsupported("interface call " + display);
            default -> throw t.unsupported(name.equals("<init>") ? "object construction (" + display + ")" : "instance method call " + display);
        }
    }

    /** Pops the arguments of {@code type}, emits {@code op} and pushes its result. */
    private void intrinsic(String op, MethodTypeDesc type) {
        List<Val> args = popArguments(type);
        Kind result = Kind.of(type.returnType());
        Val r = t.push(result);
        Operand[] operands = new Operand[args.size() + 1];
        operands[0] = r.reg();
        for (int i = 0; i < args.size(); i++) operands[i + 1] = args.get(i).reg();
        t.emit(op, operands);
    }

    List<Val> popArguments(MethodTypeDesc type) {
        List<Val> args = new ArrayList<>();
        for (int i = type.parameterCount() - 1; i >= 0; i--) args.addFirst(t.pop(Kind.of(type.parameterType(i))));
        return args;
    }

    // ---- off-heap arrays -------------------------------------------------------------------------

    private void arrayCall(String name, MethodTypeDesc type, String display) {
        List<Val> args = popArguments(type);
        if (!(t.popRef() instanceof Ref.GlobalArray a)) throw t.unsupported("array method on a non-parameter array");
        switch (name + type.descriptorString()) {
            case "length()I" -> {
                Val v = t.push(Kind.I);
                t.emit("mov.s32", v.reg(), a.length());
            }
            case "get(I)F", "get(I)I", "get(I)J", "get(I)B" -> {
                Reg address = t.globalAddress(a, args.get(0).reg());
                Val v = t.push(Kind.of(type.returnType()));
                t.emit("ld.global." + a.element(), v.reg(), address);
            }
            case "set(IF)V", "set(II)V", "set(IJ)V", "set(IB)V" ->
                    t.emit("st.global." + a.element(), t.globalAddress(a, args.get(0).reg()), args.get(1).reg());
            case "setFloat(IF)V" -> {   // OffHeapArray.setFloat: the element type of the parameter the helper was given
                if (!a.element().startsWith("f") && !a.element().equals("bf16")) throw t.unsupported("setFloat on an integer array");
                t.emit("st.global." + a.element(), t.globalAddress(a, args.get(0).reg()), args.get(1).reg());
            }
            case "getBits64(I)J" -> {
                Reg address = t.globalAddress(a, args.get(0).reg());
                Val v = t.push(Kind.J);
                t.emit("ld.global.b64", v.reg(), address);
            }
            case "getBits128Low(I)J" -> {
                // one 16-byte load; the high half waits in a register for getBits128High of the same index variable
                Val index = args.get(0);
                Reg address = t.globalAddress(a, index.reg()), high = t.newReg(Ty.S64);
                Val v = t.push(Kind.J);
                t.emit("ld.global.v2.b64", v.reg(), high, address);
                if (index.origin() != null) t.pairedHighs.put(List.of(a, index.origin(), index.originVersion()), high);
            }
            case "getBits128High(I)J" -> {
                Val index = args.get(0);
                Reg paired = index.origin() == null ? null : t.pairedHighs.get(List.of(a, index.origin(), index.originVersion()));
                if (paired != null) {
                    Val v = t.push(Kind.J);
                    t.emit("mov.s64", v.reg(), paired);
                } else {
                    Reg low = t.globalAddress(a, index.reg()), high = t.newReg(Ty.S64);
                    t.emit("add.s64", high, low, Imm.i64(8));
                    Val v = t.push(Kind.J);
                    t.emit("ld.global.b64", v.reg(), high);
                }
            }
            default -> throw t.unsupported("array method " + display + type.descriptorString());
        }
    }

    // ---- fields -------------------------------------------------------------------------------

    void field(FieldInstruction f) {
        String owner = f.owner().asInternalName(), name = f.name().stringValue();
        String display = owner.substring(owner.lastIndexOf('/') + 1) + "." + name;
        switch (f.opcode()) {
            case GETFIELD -> {
                if (!owner.equals(CONTEXT) || !(t.popRef() instanceof Ref.Context))
                    throw t.unsupported("object field read " + display);
                ContextCalls.geometry(t, name);
            }
            case GETSTATIC -> throw t.unsupported("static field read " + display + " (only compile-time constants are allowed)");
            default -> throw t.unsupported("field write " + display);
        }
    }

    // ---- inlining -----------------------------------------------------------------------------

    /** Translates the static helper {@code owner.name} in place: arguments become its locals, returns jump to a label. */
    private void inline(String owner, String name, MethodTypeDesc type) {
        ClassModel cm = t.classModel(owner);
        MethodModel mm = cm.methods().stream()
                .filter(m -> m.methodName().equalsString(name) && m.methodType().equalsString(type.descriptorString()))
                .findFirst().orElseThrow(() -> t.unsupported("call of unknown method " + owner + "." + name));
        if (!mm.flags().has(AccessFlag.STATIC)) throw t.unsupported("instance method call " + name);
        List<Val> args = popArguments(type);
        Frame f = new Frame(owner.substring(owner.lastIndexOf('/') + 1), name, Translator.sourceFile(cm), t.stack.size(), t.newLabel());
        int slot = 0;
        for (Val a : args) {
            if (a.kind() == Kind.A) f.refs.put(slot, a.ref());
            else {
                Reg local = t.newReg(a.kind().ty);
                f.locals.put((long) slot * 8 + a.kind().ordinal(), local);
                t.emit("mov." + a.kind().suffix, local, a.reg());
                if (a.constant() != null) { f.constants.put(slot, a.constant()); f.pinned.add(slot); }
            }
            slot += a.kind().slots();
        }
        t.translate(cm, mm, f);
        t.emit("label", new Sym(f.returnLabel));
        t.stack.subList(f.stackBase, t.stack.size()).clear();
        if (!type.returnType().descriptorString().equals("V")) {
            Kind k = Kind.of(type.returnType());
            if (k == Kind.A) throw t.unsupported("helper " + name + " returning a reference");
            t.push(k);
        }
    }
}
