package dev.arbor.models.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Lane sums in one fixed order. {@code reduceLanes(ADD)} leaves the order of a float reduction
 * unspecified, and HotSpot's interpreted fallback and its C2 intrinsic do add in different orders,
 * so the same call could round differently before and after JIT compilation. Halving the vector by
 * lane-wise adds of swapped halves uses only exact rearranges and IEEE lane adds: the same bits at
 * every compilation tier.
 */
final class Lanes {
    private Lanes() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /**
     * SWAPS[k] exchanges lanes i and i ^ (length >> (k + 1)): the halving tree's pairs, also walked in place by
     * {@code Attention} (its block max and exp sum), where a call here could box the vector when C2 does not inline it.
     * Never written after the class initialiser.
     */
    @SuppressWarnings("unchecked")
    static final VectorShuffle<Float>[] SWAPS = new VectorShuffle[Integer.numberOfTrailingZeros(F.length())];

    static {
        for (int k = 0; k < SWAPS.length; k++) {
            int d = F.length() >> (k + 1);
            SWAPS[k] = VectorShuffle.fromOp(F, i -> i ^ d);
        }
    }

    /** Sum of the lanes of {@code v} (a {@link FloatVector#SPECIES_PREFERRED} vector), tier-independent. */
    static float sum(FloatVector v) {
        for (VectorShuffle<Float> s : SWAPS) v = v.add(v.rearrange(s));
        return v.lane(0);
    }
}
