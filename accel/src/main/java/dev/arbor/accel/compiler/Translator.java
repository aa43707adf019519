package dev.arbor.accel.compiler;

import java.lang.classfile.*;
import java.lang.classfile.attribute.SourceFileAttribute;
import java.lang.classfile.instruction.*;
import java.lang.reflect.AccessFlag;
import java.util.*;

import static dev.arbor.accel.compiler.Operand.Imm;
import static dev.arbor.accel.compiler.Operand.Reg;
import static dev.arbor.accel.compiler.Operand.Sym;

/**
 * Bytecode → IR. Walks a method's instructions once, simulating the JVM operand stack: the value at
 * stack depth d of kind k always lives in the same virtual register, so control-flow merges (loops,
 * ternaries) need no phi nodes. References are tracked at compile time ({@link Ref}) and never reach
 * a register. Static helper calls are inlined by translating the callee in a new {@link Frame}.
 */
final class Translator {
    final String kernelName;
    final ClassLoader loader;
    final List<Insn> body = new ArrayList<>();
    final Map<String, Integer> shared = new LinkedHashMap<>();
    boolean dynamicShared;
    boolean usesBarriers;
    int sm = 90;                   // target compute capability x 10; sm-specific intrinsics check it
    final List<Val> stack = new ArrayList<>();
    Frame frame;

    /** Writes so far to each local register; a value loaded from a local remembers the count. */
    private final Map<Reg, Integer> localVersions = new HashMap<>();
    /** High halves of 16-byte loads, by (array, index local, its version), for the matching getBits128High. */
    final Map<List<Object>, Reg> pairedHighs = new HashMap<>();
    private final EnumMap<Ty, Integer> registers = new EnumMap<>(Ty.class);
    private final Map<Long, Reg> stackRegisters = new HashMap<>();
    private final Deque<String> inlining = new ArrayDeque<>();
    private final CallLowering calls = new CallLowering(this);
    private int labelCount;

    Translator(String kernelName, ClassLoader loader) {
        this.kernelName = kernelName;
        this.loader = loader;
        for (Ty t : Ty.values()) registers.put(t, 0);
    }

    Map<Ty, Integer> registerCounts() { return registers; }

    // ---- registers, stack, emission -----------------------------------------------------------

    Reg newReg(Ty ty) {
        int id = registers.merge(ty, 1, Integer::sum) - 1;
        return new Reg(ty, id);
    }

    void emit(String op, Operand... args) { body.add(new Insn(op, args)); }

    String newLabel() { return "L" + labelCount++; }

    Reg local(int slot, Kind kind) {
        return frame.locals.computeIfAbsent((long) slot * 8 + kind.ordinal(), k -> newReg(kind.ty));
    }

    /** Pushes a value of {@code kind} and returns it; the caller emits the instruction writing its register. */
    Val push(Kind kind) { return push(kind, null); }

    Val push(Kind kind, Number constant) {
        long key = (long) stack.size() * 8 + kind.ordinal();
        Reg r = stackRegisters.computeIfAbsent(key, k -> newReg(kind.ty));
        Val v = new Val(kind, r, constant, null);
        stack.add(v);
        return v;
    }

    /** Pushes a known value, materialised in its stack register. */
    void pushConstant(Kind kind, Number value) {
        Val v = push(kind, value);
        emit("mov." + kind.suffix, v.reg(), immediate(kind, value));
    }

    void pushRef(Ref ref) { stack.add(new Val(Kind.A, null, null, ref)); }

    Val pop() {
        if (stack.size() <= frame.stackBase) throw new IllegalStateException("operand stack underflow in " + frame.method);
        return stack.removeLast();
    }

    Val pop(Kind expected) {
        Val v = pop();
        if (v.kind() != expected) throw new IllegalStateException("expected " + expected + " on the stack, found " + v.kind());
        return v;
    }

    Ref popRef() { return pop(Kind.A).ref(); }

    static Imm immediate(Kind kind, Number value) {
        return switch (kind) {
            case I -> Imm.i32(value.intValue());
            case J -> Imm.i64(value.longValue());
            case F -> Imm.f32(value.floatValue());
            case D -> Imm.f64(value.doubleValue());
            case A -> throw new IllegalArgumentException("no immediate references");
        };
    }

    KernelCompileException unsupported(String construct) {
        String where = (frame.sourceFile == null ? frame.owner : frame.sourceFile) + ":" + (frame.line < 0 ? "?" : frame.line);
        return new KernelCompileException("kernel '" + kernelName + "': unsupported construct '" + construct + "' in method "
                + frame.owner + "." + frame.method + " at " + where);
    }

    // ---- methods --------------------------------------------------------------------------------

    /** Translates {@code method}'s body in {@code f}; locals (arguments) must already be set up. */
    void translate(ClassModel owner, MethodModel method, Frame f) {
        String id = owner.thisClass().asInternalName() + "." + method.methodName() + method.methodType();
        if (inlining.contains(id)) throw unsupported("recursion (" + f.method + " calls itself)");
        Frame saved = frame;
        frame = f;
        inlining.push(id);
        CodeModel code = method.code().orElseThrow(() -> unsupported("call of a method without bytecode (native or abstract)"));
        rejectWholeMethodConstructs(method, code);
        for (CodeElement e : code) {
            switch (e) {
                case LineNumber ln -> frame.line = ln.line();
                // labels that only delimit local-variable scopes (debug info) are not merge points
                case LabelTarget lt -> {
                    if (frame.branchTargets.contains(lt.label()) || !frame.reachable) enterLabel(lt.label());
                }
                case Instruction i -> {
                    if (frame.reachable) instruction(i);
                }
                default -> { } // local variable tables, stack maps: not needed
            }
        }
        inlining.pop();
        frame = saved;
    }

    /**
     * Collects branch targets, and reports constructs found anywhere in a method before the
     * instruction walk would trip over their parts.
     */
    private void rejectWholeMethodConstructs(MethodModel method, CodeModel code) {
        Map<Label, Integer> labelLines = new IdentityHashMap<>();
        List<Label> pending = new ArrayList<>(); // labels waiting for the line of the instruction they mark
        int line = -1;
        for (CodeElement e : code) {
            if (e instanceof LineNumber ln) {
                line = ln.line();
                for (Label l : pending) labelLines.put(l, line);
                pending.clear();
            } else if (e instanceof LabelTarget lt) pending.add(lt.label());
            else if (e instanceof Instruction) {
                for (Label l : pending) labelLines.put(l, line);
                pending.clear();
            }
            if (e instanceof BranchInstruction b) frame.branchTargets.add(b.target());
            if (e instanceof LookupSwitchInstruction sw) { frame.branchTargets.add(sw.defaultTarget()); sw.cases().forEach(c -> frame.branchTargets.add(c.target())); }
            if (e instanceof TableSwitchInstruction sw) { frame.branchTargets.add(sw.defaultTarget()); sw.cases().forEach(c -> frame.branchTargets.add(c.target())); }
            if (e instanceof ThrowInstruction) { frame.line = line; throw unsupported("exception (throw)"); }
            else if (e instanceof MonitorInstruction) { frame.line = line; throw unsupported("synchronized block"); }
        }
        if (method.flags().has(AccessFlag.SYNCHRONIZED)) {
            frame.line = firstLine(code);
            throw unsupported("synchronized method");
        }
        if (!code.exceptionHandlers().isEmpty()) {
            frame.line = labelLines.getOrDefault(code.exceptionHandlers().getFirst().tryStart(), -1);
            throw unsupported("exception handler (try/catch/finally)");
        }
    }

    private static int firstLine(CodeModel code) {
        for (CodeElement e : code) if (e instanceof LineNumber ln) return ln.line();
        return -1;
    }

    static String sourceFile(ClassModel cm) {
        return cm.findAttribute(Attributes.sourceFile()).map(SourceFileAttribute::sourceFile).map(u -> u.stringValue()).orElse(null);
    }

    // ---- control flow -------------------------------------------------------------------------

    String labelName(Label l) { return frame.labels.computeIfAbsent(l, k -> newLabel()); }

    private void enterLabel(Label l) {
        List<Val> recorded = frame.stackAtLabel.get(l);
        if (!frame.reachable) {
            stack.subList(frame.stackBase, stack.size()).clear();
            if (recorded != null) {
                stack.clear();
                stack.addAll(recorded);
            }
        }
        stack.replaceAll(Val::withoutConstant);
        frame.forgetConstantsAtMerge();
        pairedHighs.clear(); // a pairing made on one path may not hold on another
        frame.reachable = true;
        emit("label", new Sym(labelName(l)));
    }

    /** Records the operand stack for a jump to {@code target} and returns the target's PTX label. */
    private String jumpTo(Label target) {
        frame.stackAtLabel.putIfAbsent(target, List.copyOf(stack));
        return labelName(target);
    }

    private void branch(Opcode op, Label target) {
        switch (op) {
            case GOTO, GOTO_W -> {
                emit("bra", new Sym(jumpTo(target)));
                frame.reachable = false;
            }
            case IFEQ, IFNE, IFLT, IFGE, IFGT, IFLE -> {
                Val a = pop(Kind.I);
                conditionalJump(cmp(op), Kind.I, a.reg(), Imm.i32(0), target);
            }
            case IF_ICMPEQ, IF_ICMPNE, IF_ICMPLT, IF_ICMPGE, IF_ICMPGT, IF_ICMPLE -> {
                Val b = pop(Kind.I), a = pop(Kind.I);
                conditionalJump(cmp(op), Kind.I, a.reg(), b.reg(), target);
            }
            default -> throw unsupported("reference comparison (" + op.name().toLowerCase() + ")");
        }
    }

    private void conditionalJump(String cmp, Kind kind, Operand a, Operand b, Label target) {
        Reg p = newReg(Ty.PRED);
        emit("setp." + cmp + "." + kind.suffix, p, a, b);
        emit("bra.if", p, new Sym(jumpTo(target)));
    }

    private static String cmp(Opcode op) {
        String n = op.name();
        return n.substring(n.length() - 2).toLowerCase();
    }

    private void switchJump(List<SwitchCase> cases, Label defaultTarget) {
        Val key = pop(Kind.I);
        for (SwitchCase c : cases) conditionalJump("eq", Kind.I, key.reg(), Imm.i32(c.caseValue()), c.target());
        emit("bra", new Sym(jumpTo(defaultTarget)));
        frame.reachable = false;
    }

    private void returnFrom(TypeKind t) {
        if (frame.returnLabel == null) {
            emit("ret");
        } else {
            if (t != TypeKind.VOID) {
                Kind k = Kind.of(t);
                if (k == Kind.A) throw unsupported("helper returning a reference");
                Val v = pop(k);
                Reg result = resultRegister(k);
                emit("mov." + k.suffix, result, v.reg());
            }
            emit("bra", new Sym(frame.returnLabel));
        }
        frame.reachable = false;
    }

    /** The register a helper's return value goes to: the caller's stack slot at this frame's base. */
    Reg resultRegister(Kind k) {
        return stackRegisters.computeIfAbsent((long) frame.stackBase * 8 + k.ordinal(), key -> newReg(k.ty));
    }

    // ---- instructions -------------------------------------------------------------------------

    private void instruction(Instruction i) {
        switch (i) {
            case LoadInstruction l -> load(Kind.of(l.typeKind()), l.slot());
            case StoreInstruction s -> store(Kind.of(s.typeKind()), s.slot());
            case IncrementInstruction inc -> {
                Reg r = local(inc.slot(), Kind.I);
                emit("add.s32", r, r, Imm.i32(inc.constant()));
                localVersions.merge(r, 1, Integer::sum);
                Number c = frame.constants.get(inc.slot());
                if (c != null) frame.constants.put(inc.slot(), c.intValue() + inc.constant());
                frame.pinned.remove(inc.slot());
            }
            case ConstantInstruction c -> {
                if (c.opcode() == Opcode.ACONST_NULL) throw unsupported("null reference");
                constant(c.constantValue());
            }
            case OperatorInstruction o -> Operators.apply(this, o.opcode());
            case ConvertInstruction c -> Operators.convert(this, c.fromType(), c.toType());
            case BranchInstruction b -> branch(b.opcode(), b.target());
            case LookupSwitchInstruction s -> switchJump(s.cases(), s.defaultTarget());
            case TableSwitchInstruction s -> switchJump(s.cases(), s.defaultTarget());
            case ReturnInstruction r -> returnFrom(r.typeKind());
            case InvokeInstruction inv -> calls.invoke(inv);
            case FieldInstruction f -> calls.field(f);
            case ArrayLoadInstruction a -> localArrayLoad(a.typeKind());
            case ArrayStoreInstruction a -> localArrayStore(a.typeKind());
            case StackInstruction s -> StackShuffles.apply(this, s.opcode());
            case NopInstruction n -> { }
            case NewObjectInstruction n -> throw unsupported("object allocation (new " + n.className().asInternalName().replace('/', '.') + ")");
            case NewPrimitiveArrayInstruction n -> throw unsupported("array allocation (new " + n.typeKind().name().toLowerCase() + "[]); use ctx.allocate...LocalArray");
            case NewReferenceArrayInstruction n -> throw unsupported("array allocation (new " + n.componentType().name() + "[])");
            case NewMultiArrayInstruction n -> throw unsupported("array allocation (multi-dimensional)");
            case TypeCheckInstruction t -> throw unsupported("type check (" + t.opcode().name().toLowerCase() + ")");
            case InvokeDynamicInstruction d -> throw unsupported("invokedynamic (lambda or string concatenation: " + d.name() + ")");
            default -> throw unsupported("bytecode " + i.opcode().name().toLowerCase());
        }
    }

    private void load(Kind kind, int slot) {
        if (kind == Kind.A) {
            Ref r = frame.refs.get(slot);
            if (r == null) throw unsupported("reference that is not the context, a kernel array or a local array");
            pushRef(r);
            return;
        }
        Reg local = local(slot, kind);
        Val v = push(kind, frame.constants.get(slot));
        stack.set(stack.size() - 1, new Val(kind, v.reg(), v.constant(), null, local, localVersions.getOrDefault(local, 0)));
        emit("mov." + kind.suffix, v.reg(), local);
    }

    private void store(Kind kind, int slot) {
        Val v = pop(kind);
        frame.pinned.remove(slot);
        if (kind == Kind.A) {
            Ref prior = frame.refs.get(slot);
            if (prior != null && !prior.equals(v.ref())) throw unsupported("reassigning an array variable");
            frame.refs.put(slot, v.ref());
            return;
        }
        Reg local = local(slot, kind);
        emit("mov." + kind.suffix, local, v.reg());
        localVersions.merge(local, 1, Integer::sum);
        if (v.constant() != null) frame.constants.put(slot, v.constant());
        else frame.constants.remove(slot);
    }

    private void constant(Object value) {
        switch (value) {
            case Integer v -> pushConstant(Kind.I, v);
            case Long v -> pushConstant(Kind.J, v);
            case Float v -> pushConstant(Kind.F, v);
            case Double v -> pushConstant(Kind.D, v);
            case null -> throw unsupported("null reference");
            default -> throw unsupported("constant of type " + value.getClass().getSimpleName());
        }
    }

    // ---- local (shared-memory) arrays ----------------------------------------------------------

    private static String elementOf(TypeKind t) {
        return switch (t) {
            case FLOAT -> "f32"; case INT -> "s32"; case LONG -> "s64"; case DOUBLE -> "f64";
            case SHORT -> "s16"; case CHAR -> "u16"; case BYTE, BOOLEAN -> "s8";
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    private Ref.LocalArray localArray(Ref r, String what) {
        if (r instanceof Ref.LocalArray a) return a;
        throw unsupported(what + " on something that is not a local array");
    }

    /** Shared-memory address of element {@code index} of {@code a}. */
    Reg sharedAddress(Ref.LocalArray a, Reg index) {
        Reg offset = newReg(Ty.S64), address = newReg(Ty.S64);
        emit("mul.wide.s32", offset, index, Imm.i32(a.elementBytes()));
        emit("add.s64", address, a.base(), offset);
        return address;
    }

    /** Global address of element {@code index} of array parameter {@code a}. */
    Reg globalAddress(Ref.GlobalArray a, Reg index) {
        Reg offset = newReg(Ty.S64), address = newReg(Ty.S64);
        emit("mul.wide.s32", offset, index, Imm.i32(a.elementBytes()));
        emit("add.s64", address, a.pointer(), offset);
        return address;
    }

    private void localArrayLoad(TypeKind t) {
        Val index = pop(Kind.I);
        Ref.LocalArray a = localArray(popRef(), "array load");
        Reg address = sharedAddress(a, index.reg());
        Val v = push(Kind.of(t));
        emit("ld.shared." + elementOf(t), v.reg(), address);
    }

    private void localArrayStore(TypeKind t) {
        Val value = pop(Kind.of(t));
        Val index = pop(Kind.I);
        Ref.LocalArray a = localArray(popRef(), "array store");
        emit("st.shared." + elementOf(t), sharedAddress(a, index.reg()), value.reg());
    }

    /** Declares a shared array of {@code length} elements and pushes its reference. */
    void allocateShared(String element, int elementBytes, int length) {
        String symbol = "smem" + shared.size();
        shared.put(symbol, Math.max(16, length * elementBytes));
        Reg base = newReg(Ty.S64);
        emit("addr.shared", base, new Sym(symbol));
        pushRef(new Ref.LocalArray(symbol, element, elementBytes, length, base));
    }

    void dynamicShared(String element, int elementBytes) {
        dynamicShared = true;
        Reg base = newReg(Ty.S64);
        emit("addr.shared", base, new Sym("dsmem"));
        pushRef(new Ref.LocalArray("dsmem", element, elementBytes, -1, base));
    }

    ClassModel classModel(String internalName) { return ClassModels.load(loader, internalName); }
}
