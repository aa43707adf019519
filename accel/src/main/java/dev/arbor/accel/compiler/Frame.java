package dev.arbor.accel.compiler;

import java.lang.classfile.Label;
import java.util.*;

/**
 * Translation state of one method body: the kernel itself, or a static helper being inlined.
 * Locals map to virtual registers per (slot, kind); PTX needs no SSA form, ptxas allocates.
 */
final class Frame {
    final String owner;       // simple class name, for messages
    final String method;
    final String sourceFile;
    /** Operand stack depth at which this body starts (the caller's stack lies below). */
    final int stackBase;
    /** Label a helper's returns jump to; null for the kernel, whose returns are {@code ret}. */
    final String returnLabel;
    final Map<Long, Operand.Reg> locals = new HashMap<>();
    final Map<Integer, Ref> refs = new HashMap<>();
    /** Compile-time values of locals in straight-line code (cleared at labels, except pinned ones). */
    final Map<Integer, Number> constants = new HashMap<>();
    /** Local slots written by exactly one store instruction (and no iinc): a constant stored there is known everywhere after. */
    final Set<Integer> singleStoreSlots = new HashSet<>();
    /** Slots holding constant-specialised parameters, known everywhere until reassigned. */
    final Set<Integer> pinned = new HashSet<>();
    final Map<Label, String> labels = new IdentityHashMap<>();
    /** Labels some jump or switch targets: the only points where control flow merges. */
    final Set<Label> branchTargets = Collections.newSetFromMap(new IdentityHashMap<>());
    /** Operand stack recorded by a jump to a label not yet reached. */
    final Map<Label, List<Val>> stackAtLabel = new IdentityHashMap<>();
    int line = -1;
    boolean reachable = true;
    /** The method carries {@code @Unroll}: constant loops are replayed per iteration, see {@link Translator}. */
    boolean unroll;
    /** The method body as a list, and where each label sits in it (for replaying unrolled loops). */
    List<java.lang.classfile.CodeElement> elements = List.of();
    final Map<Label, Integer> labelIndex = new IdentityHashMap<>();
    /** Index of the element being translated. */
    int pc;
    /** In {@code @Unroll} methods: the known local values at each jump to a label not yet reached. */
    final Map<Label, List<Map<Integer, Number>>> jumpConstants = new IdentityHashMap<>();
    /** In {@code @Unroll} methods: the known operand-stack values at each such jump (null where unknown). */
    final Map<Label, List<List<Number>>> jumpStackConstants = new IdentityHashMap<>();
    /** In {@code @Unroll} methods: how many times each loop head was replayed. */
    final Map<Label, Integer> replays = new IdentityHashMap<>();

    Frame(String owner, String method, String sourceFile, int stackBase, String returnLabel) {
        this.owner = owner;
        this.method = method;
        this.sourceFile = sourceFile;
        this.stackBase = stackBase;
        this.returnLabel = returnLabel;
    }

    void forgetConstantsAtMerge() {
        constants.keySet().retainAll(pinned);
    }
}
