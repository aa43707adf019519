package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.models.backend.ModelBackend;
import org.junit.jupiter.api.Test;

/** The --device choice: names checked before anything opens, a missing driver said in one sentence, auto's fallback. */
class DevicesTest {
    @Test
    void malformedDevicesAreRefusedByName() {
        for (String bad : new String[] {"gpu", "cuda:", "cuda:-1", "cuda:x", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Devices.validate(bad));
            assertTrue(e.getMessage().contains("'" + bad.replace("cuda:", "") + "'") || e.getMessage().contains(bad), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new BackendOptions("cpu", "int8", "auto", true));
        assertThrows(IllegalArgumentException.class, () -> new BackendOptions("cpu", "auto", "fp8", true));
    }

    @Test
    void cudaWithoutADriverIsOneSentenceAndAutoFallsBackToTheCpu() {
        try (ModelBackend auto = Devices.open("auto")) {
            boolean hasGpu = !auto.device().startsWith("cpu");
            if (hasGpu) {
                try (ModelBackend cuda = Devices.open("cuda")) {
                    assertTrue(cuda.device().startsWith("cuda:0"), cuda.device());
                }
            } else {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Devices.open("cuda"));
                assertTrue(e.getMessage().startsWith("--device cuda: "), e.getMessage());
                assertEquals("cpu", Devices.open("cpu").device().substring(0, 3));
            }
        }
    }

    /** --kv-cache-dtype on the CPU: auto and fp32 keep the float32 reference, bf16 halves a block's bytes, fp16 is refused by name. */
    @Test
    void cpuKvCacheDtypeFollowsTheOption() {
        ModelConfig c = dev.arbor.models.synthetic.SyntheticModels.config("tiny");
        try (ModelBackend auto = Devices.open(new BackendOptions("cpu", "auto", "auto", true));
             ModelBackend fp32 = Devices.open(new BackendOptions("cpu", "fp32", "auto", true));
             ModelBackend bf16 = Devices.open(new BackendOptions("cpu", "bf16", "auto", true))) {
            long full = auto.kvBytesPerBlock(c, 16);
            assertEquals(2L * c.numLayers() * c.numKvHeads() * 16 * c.headDim() * Float.BYTES, full);
            assertEquals(full, fp32.kvBytesPerBlock(c, 16));
            assertEquals(full / 2, bf16.kvBytesPerBlock(c, 16));
            assertTrue(bf16.device().contains("KV bf16") && !auto.device().contains("bf16"), bf16.device() + " / " + auto.device());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Devices.open(new BackendOptions("cpu", "fp16", "auto", true)));
        assertTrue(e.getMessage().contains("'fp16'") && e.getMessage().contains("bf16"), e.getMessage());
    }
}
