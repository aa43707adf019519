package dev.arbor.models;

import dev.arbor.kernels.gemm.Gemm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.qkvRopeEpilogue} (issue 12): the stacked q|k|v GEMM rotating q and k and storing q and the k / v rows
 * itself gives the logits of the GEMM + qkvRopeStoreWide composition bit for bit (the default, batch-invariant mode): the same
 * model and steps opened once with it off, once on, once on with the norm prologue ({@code arbor.cuda.prologueNorm}, its own
 * bits equal to the default's), the rows at 8 — a prefill of two prompts (past the rows), decode steps of 1, 2, 3 and 8
 * sequences (the epilogue), a 9-sequence one (past the rows) and a decode of one sequence again. The epilogue kernels must
 * have been launched with the switch on and not with it off.
 */
@Tag("gpu")
class QkvRopeEpilogueGpuTest {
    private static final String PROPERTY = "arbor.cuda.qkvRopeEpilogue", ROWS = "arbor.cuda.qkvRopeEpilogueRows", PROLOGUE = "arbor.cuda.prologueNorm";

    @Test
    void theEpilogueGivesTheSameLogits() {
        long l0 = Gemm.qkvRopeLaunches();
        List<float[][]> plain = run(false, false);
        long l1 = Gemm.qkvRopeLaunches();
        List<float[][]> fused = run(true, false);
        long l2 = Gemm.qkvRopeLaunches();
        List<float[][]> both = run(true, true);
        long l3 = Gemm.qkvRopeLaunches();
        assertEquals(0, l1 - l0, "epilogue launches with the switch off");
        assertTrue(l2 - l1 > 0, "no epilogue launch with the switch on");
        assertTrue(l3 - l2 > 0, "no epilogue launch with the switch and the norm prologue on");
        int compared = SwitchedRuns.assertSameBits(plain, fused, "") + SwitchedRuns.assertSameBits(plain, both, "with the norm prologue: ");
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("QkvRopeEpilogueGpuTest: %d steps, %d logits, the same bits (%d / %d epilogue launches)%n", plain.size(), compared,
                l2 - l1, l3 - l2);
    }

    private static List<float[][]> run(boolean on, boolean prologue) {
        return SwitchedRuns.invariantSteps(Map.of(PROPERTY, Boolean.toString(on), ROWS, "8", PROLOGUE, Boolean.toString(prologue)),
                1, 2, 3, 8, 9, 1);
    }
}
