package dev.arbor.engine;

import dev.arbor.models.CausalLM;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.testing.Fixtures;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Asynchronous scheduling on the CUDA backend: placeholders fed from the sampler's device output (TokenKernels.feedTokens),
 * ids copied back into page-locked memory behind the next step's launch; the same outputs, call by call, and block
 * accounting as the synchronous engine ({@link AsyncSchedulingModelTest#sameOutputs}).
 */
@Tag("gpu")
class AsyncSchedulingGpuTest {
    @Test
    void cudaGivesTheSynchronousOutputs() {
        try (CausalLM gpu = ModelLoader.load(Fixtures.model("tiny-llama3").toString(), dev.arbor.models.BackendOptions.of("cuda"))) {
            AsyncSchedulingModelTest.sameOutputs(gpu);
        }
    }
}
