package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.models.testing.Fixtures;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The CUDA backend beside the CPU reference: synthetic:100m logits agree within float32 summation-order
 * noise; with the default bf16 KV store the fixture models' argmax agrees with the reference at every prompt
 * position except documented near-ties (top-2 gap under 0.05); memory that does not fit and bad devices are
 * refused with messages naming the sizes.
 */
@Tag("gpu")
class CudaBackendGpuTest {

    @Test
    void synthetic100mAgreesWithTheCpuBackend() {
        int[] prompt = new int[48];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % 259;
        float[][] cpu, gpu;
        try (CausalLM m = ModelLoader.load("synthetic:100m", "cpu"); PagedRunner r = new PagedRunner(m, 16, 16)) {
            cpu = r.prefill(prompt, prompt.length);
        }
        try (CausalLM m = ModelLoader.load("synthetic:100m", "cuda", "fp32"); PagedRunner r = new PagedRunner(m, 16, 16)) {
            gpu = r.prefill(prompt, prompt.length);
        }
        double worst = 0;
        for (int p = 0; p < prompt.length; p++) {
            assertEquals(PagedRunner.argmax(cpu[p]), PagedRunner.argmax(gpu[p]), "argmax at " + p);
            for (int v = 0; v < cpu[p].length; v++) worst = Math.max(worst, Math.abs(cpu[p][v] - gpu[p][v]));
        }
        System.out.printf("synthetic:100m CPU vs CUDA (fp32 KV): max |logit difference| %.2e over %d positions%n", worst, prompt.length);
        assertTrue(worst < 2e-3, "max logit difference " + worst);
    }

    @Test
    void bf16KvKeepsTheReferenceArgmaxExceptNearTies() throws Exception {
        int positions = 0, nearTies = 0;
        List<String> misses = new ArrayList<>();
        for (String name : Fixtures.MODELS) {
            JsonNode ref = new ObjectMapper().readTree(Fixtures.model(name).resolve("reference.json").toFile());
            try (CausalLM m = ModelLoader.load(Fixtures.model(name).toString(), "cuda", "bf16"); PagedRunner r = new PagedRunner(m, 256, 16)) {
                for (JsonNode c : ref.get("cases")) {
                    int[] ids = ReferenceLogitsTest.ints(c.get("input_ids"));
                    float[][] logits = r.prefill(ids, ids.length);
                    for (int p = 0; p < ids.length; p++) {
                        positions++;
                        int want = c.get("argmax").get(p).asInt(), got = PagedRunner.argmax(logits[p]);
                        if (want == got) continue;
                        double gap = logits[p][got] - logits[p][want];
                        if (gap < 0.05) nearTies++;
                        else misses.add(name + "/" + c.get("name").asText() + " at " + p + ": gap " + gap);
                    }
                }
            }
        }
        System.out.printf("bf16 KV: argmax agrees at %d of %d prompt positions; %d near-ties (gap < 0.05)%n",
                positions - nearTies - misses.size(), positions, nearTies);
        assertTrue(misses.isEmpty(), "argmax differs beyond a near-tie: " + misses);
    }

    @Test
    void aKvStoreThatDoesNotFitIsRefusedWithTheSizes() {
        try (CausalLM m = ModelLoader.load("synthetic:tiny", "cuda")) {
            long perBlock = m.kvBytesPerBlock(16);
            int blocks = (int) Math.min(Integer.MAX_VALUE / 4, (512L << 30) / perBlock);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.open(new StepShape(blocks, 16, 64, 8, 64, 8)));
            assertTrue(e.getMessage().contains("GiB free"), e.getMessage());
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> ModelLoader.load("synthetic:tiny", "cuda:x"));
        assertTrue(bad.getMessage().contains("cuda:x"), bad.getMessage());
        RuntimeException missing = assertThrows(RuntimeException.class, () -> ModelLoader.load("synthetic:tiny", "cuda:99"));
        assertTrue(missing.getMessage().contains("99"), missing.getMessage());
    }
}
