package dev.arbor.accel.compiler;

import java.util.List;

/**
 * One IR instruction: an op name ({@code "add.f32"}, {@code "ld.global.f16"}, {@code "label"}) and its
 * operands, destination first. {@link PtxRules} maps each op to a PTX template.
 */
public record Insn(String op, List<Operand> args) {
    public Insn(String op, Operand... args) { this(op, List.of(args)); }

    @Override public String toString() { return op + " " + args.stream().map(Operand::ptx).toList(); }
}
