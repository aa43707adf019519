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
    /** The kernel uses wgmma: it targets sm_90a (PTX 8.0) and its dynamic shared array is 1024-byte aligned. */
    boolean usesWgmma;
    /** From {@code KernelContext.launchBounds}: the most work-items a block of this kernel has (.maxntid), 0 if not given. */
    int maxThreads;
    /** From {@code KernelContext.launchBounds(threads, blocks)}: the blocks a multiprocessor must fit (.minnctapersm), 1 by default. */
    int minBlocksPerSm = 1;
    /** The kernel calls {@code KernelContext.setMaxRegistersInc/Dec}: it needs launch bounds (a register cap at entry). */
    boolean usesSetMaxRegisters;
    /** From {@code KernelContext.clusterDims}: blocks a cluster along x, y, z (.reqnctapercluster), null if not declared. */
    int[] clusterDims;
    /** The kernel calls a cluster operation (rank, cluster barrier, a peer's mbarrier, multicast): it must declare clusterDims. */
    boolean usesClusterOps;
    /** The kernel uses a vector reduction ({@code red.global.add.v4.f32}): PTX ISA 8.1, sm_90. */
    boolean usesVectorRed;
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
        f.unroll = hasAnnotation(method, UNROLL);
        List<CodeElement> elements = new ArrayList<>();
        for (CodeElement e : code) {
            if (e instanceof LabelTarget lt) f.labelIndex.put(lt.label(), elements.size());
            elements.add(e);
        }
        f.elements = elements;
        Map<Integer, Integer> stores = new HashMap<>();
        for (CodeElement e : elements) {
            if (e instanceof StoreInstruction st) stores.merge(st.slot(), 1, Integer::sum);
            else if (e instanceof IncrementInstruction inc) stores.merge(inc.slot(), 2, Integer::sum);
        }
        // a parameter has a value before any store, so one store need not dominate its loads: only true locals qualify
        int parameterSlots = 0;
        for (var p : method.methodTypeSymbol().parameterList()) parameterSlots += Kind.of(p).slots();
        int firstLocal = parameterSlots;
        stores.forEach((slot, count) -> { if (count == 1 && slot >= firstLocal) f.singleStoreSlots.add(slot); });
        // a known argument (a @Constant parameter, a constant passed to a helper) stays known across merges only if the method
        // never writes its slot: a store inside a loop comes after the loop's head, which this single pass has already left
        // with the constant (Philox.block's counter words, 0 on entry, rewritten every round)
        f.pinned.removeIf(stores::containsKey);
        for (f.pc = 0; f.pc < elements.size(); f.pc++) {
            switch (elements.get(f.pc)) {
                case LineNumber ln -> frame.line = ln.line();
                // labels that only delimit local-variable scopes (debug info) are not merge points
                case LabelTarget lt -> {
                    if (frame.unroll) {
                        // in an unrolled body, code after a jump is live only if something jumped to its label
                        if (frame.reachable ? frame.branchTargets.contains(lt.label()) : frame.jumpConstants.containsKey(lt.label()))
                            enterLabel(lt.label());
                    } else if (frame.branchTargets.contains(lt.label()) || !frame.reachable) enterLabel(lt.label());
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

    private static final String UNROLL = "Ldev/arbor/accel/Unroll;";

    static boolean hasAnnotation(MethodModel method, String descriptor) {
        return method.findAttribute(Attributes.runtimeVisibleAnnotations())
                .map(a -> a.annotations().stream().anyMatch(x -> x.className().equalsString(descriptor))).orElse(false);
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
        if (frame.unroll) {
            // a stack value stays known where every way in agrees on it (e.g. an array index pushed before a ternary)
            List<Number> known = frame.reachable ? stackConstants() : null;
            for (List<Number> in : frame.jumpStackConstants.getOrDefault(l, List.of())) {
                if (known == null) { known = new ArrayList<>(in); continue; }
                for (int i = 0; i < known.size(); i++)
                    if (i >= in.size() || known.get(i) == null || !known.get(i).equals(in.get(i))) known.set(i, null);
            }
            for (int i = frame.stackBase; i < stack.size(); i++) {
                Val v = stack.get(i);
                Number c = known != null && i < known.size() ? known.get(i) : null;
                stack.set(i, new Val(v.kind(), v.reg(), c, v.ref(), v.origin(), v.originVersion()));
            }
        } else {
            // values below this frame's base belong to the caller of an inlined helper: no merge here touches them
            for (int i = frame.stackBase; i < stack.size(); i++) stack.set(i, stack.get(i).withoutConstant());
        }
        if (frame.unroll) {
            // constants survive a merge where every way in agrees on them (all jumps here are forward: loops replay)
            Map<Integer, Number> merged = frame.reachable ? new HashMap<>(frame.constants) : null;
            for (Map<Integer, Number> in : frame.jumpConstants.getOrDefault(l, List.of())) {
                if (merged == null) merged = new HashMap<>(in);
                else merged.entrySet().removeIf(e -> !e.getValue().equals(in.get(e.getKey())));
            }
            frame.constants.clear();
            if (merged != null) frame.constants.putAll(merged);
        } else frame.forgetConstantsAtMerge();
        pairedHighs.clear(); // a pairing made on one path may not hold on another
        frame.reachable = true;
        emit("label", new Sym(labelName(l)));
    }

    /** Records the operand stack for a jump to {@code target} and returns the target's PTX label. */
    private String jumpTo(Label target) {
        frame.stackAtLabel.putIfAbsent(target, List.copyOf(stack));
        if (frame.unroll) {
            frame.jumpConstants.computeIfAbsent(target, k -> new ArrayList<>()).add(Map.copyOf(frame.constants));
            frame.jumpStackConstants.computeIfAbsent(target, k -> new ArrayList<>()).add(stackConstants());
        }
        return labelName(target);
    }

    private List<Number> stackConstants() {
        List<Number> out = new ArrayList<>(stack.size());
        for (Val v : stack) out.add(v.constant());
        return out;
    }

    private boolean backward(Label target) { return frame.labelIndex.get(target) <= frame.pc; }

    private void branch(Opcode op, Label target) {
        switch (op) {
            case GOTO, GOTO_W -> {
                if (frame.unroll && backward(target)) { replayLoop(target); return; }
                emit("bra", new Sym(jumpTo(target)));
                frame.reachable = false;
            }
            case IFEQ, IFNE, IFLT, IFGE, IFGT, IFLE -> {
                Val a = pop(Kind.I);
                if (frame.unroll && a.constant() != null) foldedJump(compare(cmp(op), a.constant().intValue(), 0), target);
                else conditionalJump(cmp(op), Kind.I, a.reg(), Imm.i32(0), target);
            }
            case IF_ICMPEQ, IF_ICMPNE, IF_ICMPLT, IF_ICMPGE, IF_ICMPGT, IF_ICMPLE -> {
                Val b = pop(Kind.I), a = pop(Kind.I);
                if (frame.unroll && a.constant() != null && b.constant() != null)
                    foldedJump(compare(cmp(op), a.constant().intValue(), b.constant().intValue()), target);
                else conditionalJump(cmp(op), Kind.I, a.reg(), b.reg(), target);
            }
            default -> throw unsupported("reference comparison (" + op.name().toLowerCase() + ")");
        }
    }

    private static boolean compare(String cmp, int a, int b) {
        return switch (cmp) {
            case "eq" -> a == b; case "ne" -> a != b; case "lt" -> a < b;
            case "ge" -> a >= b; case "gt" -> a > b; default -> a <= b;
        };
    }

    /** A branch decided at compile time in an {@code @Unroll} method: nothing to emit unless it is taken. */
    private void foldedJump(boolean taken, Label target) {
        if (!taken) return;
        if (backward(target)) { replayLoop(target); return; }
        emit("bra", new Sym(jumpTo(target)));
        frame.reachable = false;
    }

    /**
     * Unrolling: a backward jump in an {@code @Unroll} method translates the loop again from its head
     * with the current (constant) loop variables, giving the labels inside it fresh names.
     */
    private void replayLoop(Label head) {
        if (frame.replays.merge(head, 1, Integer::sum) > dev.arbor.accel.Unroll.MAX_ITERATIONS)
            throw unsupported("loop without a compile-time trip count (or over " + dev.arbor.accel.Unroll.MAX_ITERATIONS
                    + " iterations) in @Unroll method");
        int from = frame.labelIndex.get(head);
        for (int i = from; i <= frame.pc; i++) {
            if (frame.elements.get(i) instanceof LabelTarget lt) {
                frame.labels.remove(lt.label());
                frame.jumpConstants.remove(lt.label());
                frame.jumpStackConstants.remove(lt.label());
                frame.stackAtLabel.remove(lt.label());
            }
        }
        frame.pc = from - 1;  // the walk continues at the head's label, entered by fall-through
    }

    private void conditionalJump(String cmp, Kind kind, Operand a, Operand b, Label target) {
        if (frame.unroll && backward(target)) throw unsupported("loop without a compile-time trip count in @Unroll method");
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
            case NewPrimitiveArrayInstruction n -> newRegisterArray(n.typeKind());
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
            boolean perItem = prior instanceof Ref.RegisterArray || prior instanceof Ref.LocalMemoryArray;
            if (prior != null && !prior.equals(v.ref()) && !perItem) throw unsupported("reassigning an array variable");
            frame.refs.put(slot, v.ref());
            return;
        }
        Reg local = local(slot, kind);
        emit("mov." + kind.suffix, local, v.reg());
        localVersions.merge(local, 1, Integer::sum);
        if (v.constant() != null) {
            frame.constants.put(slot, v.constant());
            // an effectively final local holding a constant (e.g. a tile size computed from @Constant
            // parameters) stays known across loops and merges, like the parameters it came from
            if (frame.singleStoreSlots.contains(slot) && !frame.unroll) frame.pinned.add(slot);
        } else frame.constants.remove(slot);
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
        Ref r = popRef();
        if (r instanceof Ref.RegisterArray a) {
            Reg source = registerElement(a, index);
            Val v = push(Kind.of(t));
            emit("mov." + v.kind().suffix, v.reg(), source);
            return;
        }
        if (r instanceof Ref.LocalMemoryArray a) {
            Val v = push(Kind.of(t));
            emit("ld.local." + elementOf(t), v.reg(), localMemoryAddress(a, index.reg()));
            return;
        }
        Ref.LocalArray a = localArray(r, "array load");
        Reg address = sharedAddress(a, index.reg());
        Val v = push(Kind.of(t));
        emit("ld.shared." + elementOf(t), v.reg(), address);
    }

    private void localArrayStore(TypeKind t) {
        Val value = pop(Kind.of(t));
        Val index = pop(Kind.I);
        Ref r = popRef();
        if (r instanceof Ref.RegisterArray a) {
            Reg target = registerElement(a, index);
            // sastore / bastore / castore narrow the int as Java does
            switch (t) {
                case SHORT -> emit("i2s", target, value.reg());
                case BYTE, BOOLEAN -> emit("i2b", target, value.reg());
                case CHAR -> emit("i2c", target, value.reg());
                default -> emit("mov." + value.kind().suffix, target, value.reg());
            }
            return;
        }
        if (r instanceof Ref.LocalMemoryArray a) {
            emit("st.local." + elementOf(t), localMemoryAddress(a, index.reg()), value.reg());
            return;
        }
        Ref.LocalArray a = localArray(r, "array store");
        emit("st.shared." + elementOf(t), sharedAddress(a, index.reg()), value.reg());
    }

    // ---- per-work-item arrays: registers, or local memory when indexed at run time ---------------

    /** Allocation sites the compiler must place in local memory (found by an earlier attempt), and what it reports. */
    Set<String> localMemorySites = Set.of();
    final List<String> localMemoryReport = new ArrayList<>();
    final Map<String, Integer> localMemory = new LinkedHashMap<>();

    /** Thrown when a register array is indexed at run time: the compiler retries with its site in local memory. */
    static final class DynamicIndex extends RuntimeException {
        final String site, message;
        DynamicIndex(String site, String message) { super(message, null, false, false); this.site = site; this.message = message; }
    }

    private String where() { return (frame.sourceFile == null ? frame.owner : frame.sourceFile) + ":" + (frame.line < 0 ? "?" : frame.line); }

    private void newRegisterArray(TypeKind t) {
        Val n = pop(Kind.I);
        if (n.constant() == null) throw unsupported("array allocation of a length that is not a compile-time constant (new " + t.name().toLowerCase() + "[n])");
        int length = n.constant().intValue();
        if (length < 0 || length > 4096) throw unsupported("register array of length " + length);
        Kind kind = switch (t) {
            case FLOAT -> Kind.F; case INT, SHORT, BYTE, CHAR, BOOLEAN -> Kind.I; case LONG -> Kind.J; case DOUBLE -> Kind.D;
            default -> throw unsupported("array allocation (new " + t.name().toLowerCase() + "[])");
        };
        String site = frame.owner + "." + frame.method + "@" + frame.pc;
        if (localMemorySites.contains(site)) {
            String symbol = "lmem" + localMemory.size();
            int elementBytes = switch (t) { case SHORT, CHAR -> 2; case BYTE, BOOLEAN -> 1; case LONG, DOUBLE -> 8; default -> 4; };
            int bytes = Math.max(16, length * elementBytes);
            localMemory.put(symbol, bytes);
            Reg base = newReg(Ty.S64);
            emit("addr.local", base, new Sym(symbol));
            // Java zero-fills new arrays
            Reg zero = newReg(kind.ty);
            emit("mov." + kind.suffix, zero, immediate(kind, 0));
            for (int i = 0; i < length; i++) {
                Reg address = newReg(Ty.S64);
                emit("add.s64", address, base, Imm.i64((long) i * elementBytes));
                emit("st.local." + elementOf(t), address, zero);
            }
            pushRef(new Ref.LocalMemoryArray(symbol, elementOf(t), elementBytes, length, base));
            return;
        }
        Reg[] regs = new Reg[length];
        for (int i = 0; i < length; i++) {
            regs[i] = newReg(kind.ty);
            emit("mov." + kind.suffix, regs[i], immediate(kind, 0));
        }
        pushRef(new Ref.RegisterArray(kind, elementOf(t), regs, site + " (" + t.name().toLowerCase() + "[" + length + "] at " + where() + ")"));
    }

    /** The register of element {@code index}; a run-time index sends the array to local memory (by a retry). */
    Reg registerElement(Ref.RegisterArray a, Val index) {
        if (index.constant() == null) {
            String site = a.site().substring(0, a.site().indexOf(' '));
            throw new DynamicIndex(site, "kernel '" + kernelName + "': register array " + a.site().substring(a.site().indexOf(' ') + 1)
                    + " is indexed at run time at " + where() + "; it goes to local memory (unroll the loop with @Unroll to keep it in registers)");
        }
        int i = index.constant().intValue();
        if (i < 0 || i >= a.length()) throw unsupported("register array index " + i + " out of bounds for length " + a.length());
        return a.regs()[i];
    }

    /** Registers {@code from .. from+count-1} of a register array, for intrinsics that take fragments. */
    Reg[] registerRange(Ref r, Val from, int count, String what) {
        if (!(r instanceof Ref.RegisterArray a)) throw unsupported(what + " on something that is not a register array (new int[N] / new float[N] in the kernel)");
        if (from.constant() == null) throw unsupported(what + " with an offset that is not a compile-time constant");
        int o = from.constant().intValue();
        if (o < 0 || o + count > a.length()) throw unsupported(what + ": elements " + o + ".." + (o + count - 1) + " out of bounds for length " + a.length());
        Reg[] out = new Reg[count];
        System.arraycopy(a.regs(), o, out, 0, count);
        return out;
    }

    private Reg localMemoryAddress(Ref.LocalMemoryArray a, Reg index) {
        Reg offset = newReg(Ty.S64), address = newReg(Ty.S64);
        emit("mul.wide.s32", offset, index, Imm.i32(a.elementBytes()));
        emit("add.s64", address, a.base(), offset);
        return address;
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
