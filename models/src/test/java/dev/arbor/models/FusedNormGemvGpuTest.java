package dev.arbor.models;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code -Darbor.cuda.fusedNormGemv} (issue 12): o and down at decode steps of at most 8 tokens adding their own K slices into
 * the residual and normalising in the GEMM's epilogue give the logits of the slab GEMM followed by addRmsNormSplitRow bit for
 * bit (the default, batch-invariant mode): the same model and steps opened once each way (the property is read when a model is
 * opened) — a prefill of two prompts (unfused: 57 tokens), decode steps of 1, 2, 3 and 8 sequences (fused), a 9-sequence one
 * (past the rows: unfused) and a decode of one sequence again.
 */
@Tag("gpu")
class FusedNormGemvGpuTest {
    private static final String PROPERTY = "arbor.cuda.fusedNormGemv", ROWS = "arbor.cuda.fusedNormGemvRows";

    @Test
    void fusedNormGemvGivesTheSameLogits() {
        List<float[][]> plain = run(false), fused = run(true);
        int compared = SwitchedRuns.assertSameBits(plain, fused, "");
        assertTrue(compared > 100_000, "compared " + compared + " logits");
        System.out.printf("FusedNormGemvGpuTest: %d steps, %d logits, the same bits%n", plain.size(), compared);
    }

    private static List<float[][]> run(boolean fused) {
        // the fused path at 1-8 tokens (its default is batch 1)
        return SwitchedRuns.invariantSteps(Map.of(PROPERTY, Boolean.toString(fused), ROWS, "8"), 1, 2, 3, 8, 9, 1);
    }
}
