package dev.arbor.models;

import dev.arbor.kernels.attention.FlashPrefillAttention;
import dev.arbor.kernels.gemm.Gemm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.earlyTrigger} with {@code -Darbor.flash.splitOverlap} (issue 12; the latter on by default): the decode
 * GEMMs' early-trigger twins and the split-form attention launched overlapping (and letting o_proj in first thing) give the
 * logits of the plain launches bit for bit (the default, batch-invariant mode): the same model and steps opened once with both
 * off, once with both on — a prefill of two prompts, a prefill of
 * seven, decode steps of 1, 2, 3, 8 and 9 sequences and of one again. The twins and the overlapping split launches must have
 * been launched with the switch on and not with it off.
 */
@Tag("gpu")
class EarlyTriggerGpuTest {
    private static final String PROPERTY = "arbor.cuda.earlyTrigger", SPLIT = "arbor.flash.splitOverlap";

    @Test
    void theEarlyTriggerGivesTheSameLogits() {
        long g0 = Gemm.triggerLaunches(), s0 = FlashPrefillAttention.splitOverlapLaunches();
        List<float[][]> plain = run(false);
        long g1 = Gemm.triggerLaunches(), s1 = FlashPrefillAttention.splitOverlapLaunches();
        List<float[][]> early = run(true);
        long g2 = Gemm.triggerLaunches(), s2 = FlashPrefillAttention.splitOverlapLaunches();
        assertEquals(0, g1 - g0, "GEMM twins launched with the switch off");
        assertEquals(0, s1 - s0, "overlapping split launches with the switch off");
        assertTrue(g2 - g1 > 0, "no GEMM twin launched with the switch on");
        assertTrue(s2 - s1 > 0, "no overlapping split launch with the switch on");
        int compared = SwitchedRuns.assertSameBits(plain, early, "");
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("EarlyTriggerGpuTest: %d steps, %d logits, the same bits (%d GEMM twins, %d overlapping split launches)%n", plain.size(),
                compared, g2 - g1, s2 - s1);
    }

    private static List<float[][]> run(boolean on) {
        return SwitchedRuns.invariantSteps(Map.of(PROPERTY, Boolean.toString(on), SPLIT, Boolean.toString(on)), 1, 2, 3, 8, 9, 1, 1);
    }
}
