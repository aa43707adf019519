package dev.arbor.models.cpu;

import dev.arbor.kernels.LayerReference;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SwiGLU, {@code gate = silu(gate) * up}, with {@link LayerReference#siluMul(float, float)}'s bits, a vector at a time.
 *
 * <p>The reference rounds a double {@code Math.exp(-g)} to float; here the L lanes of {@code -g} are widened to two
 * double vectors, their {@code EXP} (the Vector API's, SVML on x86) taken in double and narrowed back, then the same
 * float divide, add and multiply. A double exp within an ulp of Math.exp's rounds to the same float unless the value
 * lies within ~2^-29 relative of a float rounding midpoint: every one of the 2^32 float inputs (NaNs aside) gave
 * Math.exp's float on the dev VM (Zen 5, AVX-512; scratch {@code ExpExhaustive}, RESULTS "session 11, cpu11"), and
 * {@code SiluMulTest} checks a sample of ~17 M of them in CI. The scalar reference did one double exp per element, ~5
 * ns: ~9% of a one-thread prefill. Being the reference's bits, vector lanes and scalar tail agree, so results do not
 * depend on where a range starts (batch invariance).
 */
final class SiluMul {
    private SiluMul() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;   // half the lanes of F, same bits

    /** {@code gate[i] = silu(gate[i]) * up[i]} for i in {@code [from, to)}. */
    static void apply(float[] gate, float[] up, int from, int to) {
        int i = from;
        if (F.length() == 2 * D.length()) {
            for (int end = to - F.length(); i <= end; i += F.length()) {
                FloatVector g = FloatVector.fromArray(F, gate, i), neg = g.neg();
                DoubleVector lo = (DoubleVector) neg.convertShape(VectorOperators.F2D, D, 0);
                DoubleVector hi = (DoubleVector) neg.convertShape(VectorOperators.F2D, D, 1);
                // each half narrowed into its own lanes (zeros in the others), so the sum puts them side by side exactly
                FloatVector e = ((FloatVector) lo.lanewise(VectorOperators.EXP).convertShape(VectorOperators.D2F, F, 0))
                        .add((FloatVector) hi.lanewise(VectorOperators.EXP).convertShape(VectorOperators.D2F, F, -1));
                g.div(e.add(1f)).mul(FloatVector.fromArray(F, up, i)).intoArray(gate, i);
            }
        }
        for (; i < to; i++) gate[i] = LayerReference.siluMul(gate[i], up[i]);
    }
}
