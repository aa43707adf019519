package dev.arbor.models.backend;

import dev.arbor.models.BackendOptions;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.OpProfile;
import dev.arbor.models.StepShape;
import dev.arbor.models.testing.Fixtures;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code -Darbor.opProfile=true} on CUDA: the profiled pass (eager launches behind the spin kernel, an event after each
 * operation) gives the same logits and tokens, bit for bit, as the plain eager pass, every operation gets a positive
 * device time, and a fixture model's steps are enqueued well within the spin (no step reported late).
 */
@Tag("gpu")
class OpProfileGpuTest {
    @Test
    void profiledCudaPassEqualsThePlainOneWithDeviceTimes() {
        String before = System.getProperty(OpProfile.PROPERTY);
        String dir = Fixtures.model("tiny-llama3").toString();
        StepShape shape = new StepShape(64, 16, 256, 8, 32, 8);
        try (CausalLM m = ModelLoader.load(dir, new BackendOptions("cuda", "auto", "auto", true, false))) {
            int vocab = m.config().vocabSize();
            float[][] plain, profiled;
            System.clearProperty(OpProfile.PROPERTY);
            try (ModelExecutor e = m.open(shape)) {
                plain = ProfiledOpsTest.run(e, vocab);
            }
            System.setProperty(OpProfile.PROPERTY, "true");
            OpProfile profile;
            try (ModelExecutor e = m.open(shape)) {
                profiled = ProfiledOpsTest.run(e, vocab);
                profile = e.opProfile();
            }
            for (int s = 0; s < 2; s++) assertArrayEquals(plain[s], profiled[s], "step " + s + ": logits and token");
            assertEquals(1, profile.steps(true));
            assertEquals(1, profile.steps(false));
            for (boolean decode : new boolean[]{true, false}) {
                for (OpProfile.Row r : profile.rows(decode)) assertTrue(r.millisPerStep() > 0, "device time of " + r);
            }
            String report = profile.report();
            System.out.print(report);
            assertFalse(report.contains("include host gaps"), report);
        } finally {
            if (before == null) System.clearProperty(OpProfile.PROPERTY);
            else System.setProperty(OpProfile.PROPERTY, before);
        }
    }
}
