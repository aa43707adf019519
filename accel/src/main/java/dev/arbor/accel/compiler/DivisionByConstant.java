package dev.arbor.accel.compiler;

import java.math.BigInteger;

import static dev.arbor.accel.compiler.Operand.Imm;
import static dev.arbor.accel.compiler.Operand.Reg;

/**
 * Java's signed {@code x / d} and {@code x % d} by a compile-time constant d > 0 (a literal, a {@code @Constant} parameter or
 * an expression of them), lowered to shifts or a multiply-high. ptxas does not strength-reduce {@code div.s32} / {@code rem.s32}
 * even by an immediate (sm_90: ~12 SASS instructions a division by 1, 16 or 7 alike, ~14 by a register; NVVM does this
 * before ptxas for CUDA C), and every kernel's index math divides by its shape constants (run 39-casc8's ncu findings).
 *
 * <p>All forms are exact for every x of the width, with Java's truncation toward zero (x = MIN_VALUE included):
 * <ul>
 *   <li>d = 1: x, and 0 for the remainder;
 *   <li>d = 2^k: q = (x + ((x >> (W-1)) >>> (W-k))) >> k (adds d - 1 to negative x before the arithmetic shift), r = x - (q << k)
 *       computed as x - ((x + bias) & -d);
 *   <li>other d: q = mulhi(M, x) [+ x when M < 0] >> s, plus 1 when x < 0 (Hacker's Delight 10-1, signed magic numbers; M and
 *       s from {@link #magic}); r = x - q·d.
 * </ul>
 */
final class DivisionByConstant {
    private DivisionByConstant() {}

    /** Magic multiplier M (as a signed value of the width) and post-shift s for signed division by d ≥ 2 at width 32 or 64. */
    record Magic(long multiplier, int shift) {}

    /** Hacker's Delight, 2nd ed., figure 10-1 (magic), for a positive divisor, in exact (unbounded) arithmetic. */
    static Magic magic(long d, int width) {
        if (d < 2 || (width == 32 && d > Integer.MAX_VALUE)) throw new IllegalArgumentException("divisor " + d);
        BigInteger two = BigInteger.TWO, ad = BigInteger.valueOf(d), t = two.pow(width - 1);
        BigInteger anc = t.subtract(BigInteger.ONE).subtract(t.mod(ad));   // |nc|: the largest multiple of d below 2^(W-1), minus 1
        int p = width - 1;
        BigInteger q1 = t.divide(anc), r1 = t.subtract(q1.multiply(anc));
        BigInteger q2 = t.divide(ad), r2 = t.subtract(q2.multiply(ad));
        BigInteger delta;
        do {
            p++;
            q1 = q1.shiftLeft(1); r1 = r1.shiftLeft(1);
            if (r1.compareTo(anc) >= 0) { q1 = q1.add(BigInteger.ONE); r1 = r1.subtract(anc); }
            q2 = q2.shiftLeft(1); r2 = r2.shiftLeft(1);
            if (r2.compareTo(ad) >= 0) { q2 = q2.add(BigInteger.ONE); r2 = r2.subtract(ad); }
            delta = ad.subtract(r2);
        } while (q1.compareTo(delta) < 0 || (q1.equals(delta) && r1.signum() == 0));
        long m = q2.add(BigInteger.ONE).longValue();                        // low 64 bits; at width 32 the low 32 as a signed int
        return new Magic(width == 32 ? (int) m : m, p - width);
    }

    /** Emits {@code dst = x / d} or {@code x % d} ({@code remainder}) for kind I or J and d > 0. */
    static void emit(Translator t, Kind k, boolean remainder, Reg dst, Reg x, long d) {
        Insn i = lower(k, remainder, dst, x, d);
        t.emit(i.op(), i.args().toArray(Operand[]::new));
    }

    /** The one IR instruction of {@link #emit}; its templates read x before they write dst, so dst may be x's register. */
    static Insn lower(Kind k, boolean remainder, Reg dst, Reg x, long d) {
        if (d <= 0 || (k != Kind.I && k != Kind.J) || (k == Kind.I && d > Integer.MAX_VALUE)) throw new IllegalArgumentException(k + " / " + d);
        int width = k == Kind.I ? 32 : 64;
        String s = k.suffix;
        if (d == 1) return remainder ? new Insn("mov." + s, dst, imm(k, 0)) : new Insn("mov." + s, dst, x);
        if (Long.bitCount(d) == 1) {
            int shift = Long.numberOfTrailingZeros(d);
            return remainder ? new Insn("rem.pow2." + s, dst, x, Imm.i32(width - shift), imm(k, -d))
                    : new Insn("div.pow2." + s, dst, x, Imm.i32(width - shift), Imm.i32(shift));
        }
        Magic m = magic(d, width);
        String form = (m.multiplier() < 0 ? ".add." : ".") + s;
        return remainder ? new Insn("rem.magic" + form, dst, x, imm(k, m.multiplier()), Imm.i32(m.shift()), imm(k, d))
                : new Insn("div.magic" + form, dst, x, imm(k, m.multiplier()), Imm.i32(m.shift()));
    }

    private static Imm imm(Kind k, long v) { return k == Kind.I ? Imm.i32((int) v) : Imm.i64(v); }

    /** The PTX templates of {@link #emit}: $0 = dst, $1 = x, then the immediates (see emit). */
    static void rules(java.util.function.BiConsumer<String, String> rule) {
        for (int width : new int[]{32, 64}) {
            String s = "s" + width, b = "b" + width, u = "u" + width, top = String.valueOf(width - 1);
            String bias = "shr.s" + width + " %x, $1, " + top + "; shr." + u + " %x, %x, $2; add." + s + " %x, $1, %x; ";
            // $2 = W - k, $3 = k
            rule.accept("div.pow2." + s, "{ .reg ." + b + " %x; " + bias + "shr." + s + " $0, %x, $3; }");
            // $2 = W - k, $3 = -d (the mask clearing the low k bits)
            rule.accept("rem.pow2." + s, "{ .reg ." + b + " %x; " + bias + "and." + b + " %x, %x, $3; sub." + s + " $0, $1, %x; }");
            for (boolean add : new boolean[]{false, true}) {
                String form = (add ? ".add." : ".") + s;
                // $2 = M, $3 = s; %y = 1 when x < 0
                String q = "mul.hi." + s + " %x, $1, $2; " + (add ? "add." + s + " %x, %x, $1; " : "") + "shr." + s + " %x, %x, $3; "
                        + "shr." + u + " %y, $1, " + top + "; ";
                rule.accept("div.magic" + form, "{ .reg ." + b + " %x, %y; " + q + "add." + s + " $0, %x, %y; }");
                // $4 = d
                rule.accept("rem.magic" + form, "{ .reg ." + b + " %x, %y; " + q + "add." + s + " %x, %x, %y; mul.lo." + s + " %x, %x, $4; "
                        + "sub." + s + " $0, $1, %x; }");
            }
        }
    }
}
