package dev.arbor.models;

import dev.arbor.kernels.gemm.Gemm;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.prologueNorm} (issue 12): o and down adding their own slabs into the residual and the next projection
 * (q|k|v, gate|up) computing the RMSNorm in its prologue give the logits of the slab GEMM, addRmsNormSplitRow and the plain
 * projection bit for bit (the default, batch-invariant mode): the same model and steps opened once each way (the property is
 * read when a model is opened), the rows at 8 — a prefill of two prompts (past the rows), decode steps of 1, 2, 3 and 8
 * sequences (the prologue), a 9-sequence one (past the rows) and a decode of one sequence again. The prologue kernels must
 * have been launched with the switch on and not with it off.
 */
@Tag("gpu")
class PrologueNormGpuTest {
    private static final String PROPERTY = "arbor.cuda.prologueNorm", ROWS = "arbor.cuda.prologueNormRows";

    @Test
    void prologueNormGivesTheSameLogits() {
        long l0 = Gemm.normPrologueLaunches();
        List<float[][]> plain = run(false);
        long l1 = Gemm.normPrologueLaunches();
        List<float[][]> fused = run(true);
        long l2 = Gemm.normPrologueLaunches();
        assertEquals(0, l1 - l0, "prologue launches with the switch off");
        assertTrue(l2 - l1 > 0, "no prologue launch with the switch on");
        int compared = SwitchedRuns.assertSameBits(plain, fused, "");
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("PrologueNormGpuTest: %d steps, %d logits, the same bits (%d prologue launches)%n", plain.size(), compared, l2 - l1);
    }

    private static List<float[][]> run(boolean on) {
        return SwitchedRuns.invariantSteps(Map.of(PROPERTY, Boolean.toString(on), ROWS, "8"), 1, 2, 3, 8, 9, 1);
    }
}
