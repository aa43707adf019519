package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arbor.kernels.sampling.Philox;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

/**
 * The workspace is reused: after warm-up, a CPU step (synthetic:100m, 128-token prefill, lm_head, sampling)
 * allocates no buffer that grows with its tokens or the vocabulary. Before the workspace, the same step
 * allocated its eleven activation buffers and the logits anew, about 5 MB. What remains is small per-call
 * bookkeeping (work-team jobs, accel launch arguments), counted over every thread.
 */
class WorkspaceAllocationTest {
    private static final com.sun.management.ThreadMXBean THREADS = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private static long allocatedByAllThreads() {
        long[] ids = THREADS.getAllThreadIds();
        long sum = 0;
        for (long b : THREADS.getThreadAllocatedBytes(ids)) if (b > 0) sum += b;
        return sum;
    }

    @Test
    void aStepAllocatesNoBufferThatGrowsWithItsTokens() {
        int tokens = 128;
        int[] table = new int[16];
        for (int i = 0; i < table.length; i++) table[i] = i;
        try (CausalLM m = ModelLoader.load("synthetic:100m"); ModelExecutor e = m.open(new StepShape(64, 16, 256, 8, 32, 8))) {
            Runnable step = () -> {
                ForwardBatch b = e.batch();
                b.clear();
                b.beginSequence(table, table.length);
                for (int t = 0; t < tokens; t++) b.addToken((t * 7 + 3) % 259, t);
                b.addLogitRow(tokens - 1);
                e.forward();
                e.computeLogits(0);
                e.sampling().clear();
                e.sampling().addRow(0.8, 40, 0.9, 0, 1, 0, 0, 7L, Philox.counter(0, 0), -1);
                e.sample();
            };
            for (int i = 0; i < 5; i++) step.run();   // warm-up: JIT, per-thread scratch grown once
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                long before = allocatedByAllThreads();
                step.run();
                best = Math.min(best, allocatedByAllThreads() - before);
            }
            System.out.printf("CPU step of %d tokens: %,d bytes allocated (all threads)%n", tokens, best);
            long oneActivationBuffer = 4L * tokens * m.config().hiddenSize();
            assertTrue(best < oneActivationBuffer, best + " bytes allocated per step; one (tokens, hidden) buffer is " + oneActivationBuffer);
        }
    }
}
