package dev.arbor.accel.compiler;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The shift / multiply-high lowering of x / d and x % d by a positive constant: the PTX each division renders to, run by a
 * small interpreter of the integer instructions it uses, equals Java's / and % for edge and random x and many d, int and long.
 * (The GPU conformance case {@code divideByConstants} runs the same forms through ptxas on the device.)
 */
class DivisionByConstantTest {
    private static final int[] INT_DIVISORS = {1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 23, 24, 25, 48, 64, 100, 125, 128, 641, 1000,
            4096, 6700417, 1 << 29, (1 << 30) - 1, 1 << 30, (1 << 30) + 1, Integer.MAX_VALUE - 1, Integer.MAX_VALUE};
    private static final long[] LONG_DIVISORS = {1, 2, 3, 7, 12, 64, 641, 1000, 1_000_000_007L, 1L << 32, (1L << 32) + 1, 1L << 40,
            274177, 6700417L * 641, 1L << 62, (1L << 62) + 1, Long.MAX_VALUE - 1, Long.MAX_VALUE};

    /** Runs the rendered PTX of one lowered division on x at the kind's width. */
    private static long run(Kind k, boolean remainder, long d, long x) {
        Operand.Reg dst = new Operand.Reg(k.ty, 1), src = new Operand.Reg(k.ty, 2);
        String ptx = PtxEmitter.render(DivisionByConstant.lower(k, remainder, dst, src, d));
        int width = k == Kind.I ? 32 : 64;
        Map<String, Long> regs = new HashMap<>();
        regs.put(src.ptx(), x);
        for (String stmt : ptx.replace("{", "").replace("}", "").split(";")) {
            stmt = stmt.trim();
            if (stmt.isEmpty() || stmt.startsWith(".reg")) continue;
            String op = stmt.substring(0, stmt.indexOf(' '));
            String[] a = stmt.substring(op.length()).trim().split(",\\s*");
            long[] v = new long[a.length];
            for (int i = 1; i < a.length; i++) v[i] = a[i].startsWith("%") ? regs.get(a[i]) : Long.parseLong(a[i]);
            long r = switch (op.replaceAll("\\d+$", "")) {
                case "mov.b" -> v[1];
                case "add.s" -> v[1] + v[2];
                case "sub.s" -> v[1] - v[2];
                case "and.b" -> v[1] & v[2];
                case "mul.lo.s" -> v[1] * v[2];
                case "mul.hi.s" -> width == 32 ? ((long) (int) v[1] * (int) v[2]) >> 32 : Math.multiplyHigh(v[1], v[2]);
                case "shr.s" -> width == 32 ? (int) v[1] >> v[2] : v[1] >> v[2];
                case "shr.u" -> width == 32 ? (int) v[1] >>> v[2] : v[1] >>> v[2];
                default -> throw new AssertionError("no interpretation of " + op + " in " + ptx);
            };
            if (!op.endsWith(String.valueOf(width))) throw new AssertionError(op + " is not " + width + "-bit in " + ptx);
            regs.put(a[0], width == 32 ? (int) r : r);
        }
        return regs.get(dst.ptx());
    }

    @Test
    void intDivisionAndRemainderMatchJava() {
        SplittableRandom r = new SplittableRandom(7);
        for (int d : INT_DIVISORS) {
            int[] xs = new int[4_000];
            int[] edges = {Integer.MIN_VALUE, Integer.MIN_VALUE + 1, -1, 0, 1, Integer.MAX_VALUE, Integer.MAX_VALUE - 1, d, -d, d - 1, 1 - d,
                    d + 1, -d - 1, Integer.MIN_VALUE + d, Integer.MAX_VALUE - d};
            System.arraycopy(edges, 0, xs, 0, edges.length);
            for (int i = edges.length; i < xs.length; i++) xs[i] = i % 3 == 0 ? (int) Math.clamp(r.nextLong(-5L * d, 5L * d), Integer.MIN_VALUE, Integer.MAX_VALUE) : r.nextInt();
            for (int x : xs) {
                assertEquals(x / d, (int) run(Kind.I, false, d, x), x + " / " + d);
                assertEquals(x % d, (int) run(Kind.I, true, d, x), x + " % " + d);
            }
        }
    }

    @Test
    void longDivisionAndRemainderMatchJava() {
        SplittableRandom r = new SplittableRandom(8);
        for (long d : LONG_DIVISORS) {
            long[] xs = new long[3_000];
            long[] edges = {Long.MIN_VALUE, Long.MIN_VALUE + 1, -1, 0, 1, Long.MAX_VALUE, Long.MAX_VALUE - 1, d, -d, d - 1, 1 - d, d + 1,
                    -d - 1, Long.MIN_VALUE + d, Long.MAX_VALUE - d, Integer.MIN_VALUE, Integer.MAX_VALUE};
            System.arraycopy(edges, 0, xs, 0, edges.length);
            for (int i = edges.length; i < xs.length; i++) xs[i] = i % 3 == 0 ? r.nextLong() % (5 * d) : i % 3 == 1 ? r.nextInt() : r.nextLong();
            for (long x : xs) {
                assertEquals(x / d, run(Kind.J, false, d, x), x + " / " + d);
                assertEquals(x % d, run(Kind.J, true, d, x), x + " % " + d);
            }
        }
    }

    @Test
    void powersOfTwoAreShiftsAndOthersOneMultiplyHigh() {
        Operand.Reg a = new Operand.Reg(Ty.S32, 1), b = new Operand.Reg(Ty.S32, 2);
        String p2 = PtxEmitter.render(DivisionByConstant.lower(Kind.I, false, a, b, 16));
        assertFalse(p2.contains("div") || p2.contains("mul"), p2);
        assertTrue(p2.contains("shr.s32 %r1, %x, 4;"), p2);
        String seven = PtxEmitter.render(DivisionByConstant.lower(Kind.I, true, a, b, 7));
        assertFalse(seven.contains("div") || seven.contains("rem"), seven);
        assertEquals(1, seven.split("mul.hi").length - 1, seven);
        // Hacker's Delight table 10-1: d = 7 → M = 0x92492493 (negative: the add form), s = 2; d = 3 → 0x55555556, s = 0
        assertEquals(new DivisionByConstant.Magic(0x92492493, 2), DivisionByConstant.magic(7, 32));
        assertEquals(new DivisionByConstant.Magic(0x55555556, 0), DivisionByConstant.magic(3, 32));
        assertEquals(new DivisionByConstant.Magic(0x5555555555555556L, 0), DivisionByConstant.magic(3, 64));
        assertThrows(IllegalArgumentException.class, () -> DivisionByConstant.lower(Kind.I, false, a, b, 0));
        assertThrows(IllegalArgumentException.class, () -> DivisionByConstant.lower(Kind.I, false, a, b, -4));
    }
}
