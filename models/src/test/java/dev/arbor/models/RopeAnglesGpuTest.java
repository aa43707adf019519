package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The RoPE angles of a long step come from the device gather of the angle table (CudaOps' RopeAngles, above 256 tokens),
 * those of short steps from its host rows: on the default (batch-invariant) CUDA path a 600-token prompt prefilled in one
 * step, in chunks of 300 (both gathered, the second at positions 300-599) and in chunks of 100 (host rows) gives the same
 * logits, bit for bit, at every position.
 */
@Tag("gpu")
class RopeAnglesGpuTest {
    @Test
    void gatheredAndHostAnglesGiveTheSameLogits() {
        int[] prompt = new int[600];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % 3001;
        float[][] whole, halves, hundreds;
        try (CausalLM m = ModelLoader.load("synthetic:100m", BackendOptions.of("cuda")); PagedRunner r = new PagedRunner(m, 128, 16)) {
            whole = r.prefill(prompt, 600);
        }
        try (CausalLM m = ModelLoader.load("synthetic:100m", BackendOptions.of("cuda")); PagedRunner r = new PagedRunner(m, 128, 16)) {
            halves = r.prefill(prompt, 300);
            hundreds = r.prefill(prompt, 100);
        }
        for (int p = 0; p < prompt.length; p++)
            for (int v = 0; v < whole[p].length; v++) {
                assertEquals(Float.floatToRawIntBits(whole[p][v]), Float.floatToRawIntBits(halves[p][v]), "chunks of 300, position " + p + ", logit " + v);
                assertEquals(Float.floatToRawIntBits(whole[p][v]), Float.floatToRawIntBits(hundreds[p][v]), "chunks of 100, position " + p + ", logit " + v);
            }
    }
}
