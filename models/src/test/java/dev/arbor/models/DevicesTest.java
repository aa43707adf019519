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
}
