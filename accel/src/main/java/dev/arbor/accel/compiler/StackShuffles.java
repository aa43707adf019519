package dev.arbor.accel.compiler;

import java.lang.classfile.Opcode;
import java.util.ArrayList;
import java.util.List;

/**
 * pop / dup / swap families. Values are first copied to fresh registers, then written to the stack
 * registers of their new depths, so overlapping moves cannot clobber each other.
 */
final class StackShuffles {
    private StackShuffles() {}

    static void apply(Translator t, Opcode op) {
        switch (op) {
            case POP -> take(t, 1);
            case POP2 -> take(t, 2);
            case DUP -> rearrange(t, 1, 0);
            case DUP_X1 -> rearrange(t, 1, 1);
            case DUP_X2 -> rearrange(t, 1, 2);
            case DUP2 -> rearrange(t, 2, 0);
            case DUP2_X1 -> rearrange(t, 2, 1);
            case DUP2_X2 -> rearrange(t, 2, 2);
            case SWAP -> {
                List<Val> top = take(t, 2);
                push(t, List.of(top.get(1), top.get(0)));
            }
            default -> throw t.unsupported("stack operation " + op.name().toLowerCase());
        }
    }

    /** Pops values totalling {@code words} JVM stack words (long/double are two); returns them bottom-first. */
    private static List<Val> take(Translator t, int words) {
        List<Val> out = new ArrayList<>();
        while (words > 0) {
            Val v = t.pop();
            words -= v.kind().slots();
            out.addFirst(v);
        }
        if (words < 0) throw new IllegalStateException("stack operation splits a long or double");
        return out;
    }

    /** dup{words}_x{under}: copies the top {@code words} words below the {@code under} words beneath them. */
    private static void rearrange(Translator t, int words, int under) {
        List<Val> top = take(t, words);
        List<Val> below = take(t, under);
        List<Val> result = new ArrayList<>(top);
        result.addAll(below);
        result.addAll(top);
        push(t, result);
    }

    private static void push(Translator t, List<Val> values) {
        List<Operand.Reg> copies = new ArrayList<>();
        for (Val v : values) {
            if (v.kind() == Kind.A) { copies.add(null); continue; }
            Operand.Reg c = t.newReg(v.kind().ty);
            t.emit("mov." + v.kind().suffix, c, v.reg());
            copies.add(c);
        }
        for (int i = 0; i < values.size(); i++) {
            Val v = values.get(i);
            if (v.kind() == Kind.A) { t.pushRef(v.ref()); continue; }
            Val moved = t.push(v.kind(), v.constant());
            t.emit("mov." + v.kind().suffix, moved.reg(), copies.get(i));
        }
    }
}
