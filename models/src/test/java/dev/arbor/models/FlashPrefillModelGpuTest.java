package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The tensor-core prefill attention inside a model as the non-invariant mode takes it (bf16 KV,
 * headDim 64 here; the default mode's use: {@link InvariantFlashAttentionGpuTest}): synthetic:100m (12 heads × 64) prefilled in chunks of 64 and in a mixed step (one
 * sequence's decode token beside another's prefill chunk, the decode going through the CUDA-core kernel).
 * Its logits must be closer to the invariant CUDA path with CUDA-core attention ({@code arbor.cuda.flashBelow=0}) than that path is to the
 * CPU float32 reference: the attention's 16-bit rounding of Q and P is small beside the bf16 matmuls'.
 */
@Tag("gpu")
class FlashPrefillModelGpuTest {
    static double maxDiff(float[][] a, float[][] b) {
        double m = 0;
        for (int p = 0; p < a.length; p++) for (int v = 0; v < a[p].length; v++) m = Math.max(m, Math.abs(a[p][v] - b[p][v]));
        return m;
    }

    @Test
    void tensorCorePrefillStaysWithinTheBf16PathsError() {
        int[] prompt = new int[200];
        for (int i = 0; i < prompt.length; i++) prompt[i] = (i * 37 + 11) % 3001;
        float[][] cpu, invariant, flash, mixedDecode, aloneDecode;
        float[][] mixedPrefill;
        try (CausalLM m = ModelLoader.load("synthetic:100m", "cpu"); PagedRunner r = new PagedRunner(m, 64, 16)) {
            cpu = r.prefill(prompt, prompt.length);
        }
        // the invariant path with its attention on the CUDA-core kernel (arbor.cuda.flashBelow 0; the default until session 8)
        try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", true));
             PagedRunner r = InvariantFlashAttentionGpuTest.runner(m, 0, 64)) {
            invariant = r.prefill(prompt, 64);
        }
        try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", false)); PagedRunner r = new PagedRunner(m, 64, 16)) {
            flash = r.prefill(prompt, 64);
            // a mixed step: sequence a (100 tokens cached) decodes one token while b prefills 50
            PagedRunner.Sequence a = r.newSequence(), b = r.newSequence();
            r.step(List.of(a), List.of(java.util.Arrays.copyOf(prompt, 100)), false);
            float[][] mixed = r.step(List.of(a, b), List.of(new int[] {prompt[100]}, java.util.Arrays.copyOf(prompt, 50)), true);
            mixedDecode = new float[][] {mixed[0]};
            mixedPrefill = java.util.Arrays.copyOfRange(mixed, 1, 51);
        }
        try (CausalLM m = ModelLoader.load("synthetic:100m", new BackendOptions("cuda", "bf16", "bfloat16", false)); PagedRunner r = new PagedRunner(m, 64, 16)) {
            PagedRunner.Sequence a = r.newSequence();
            r.step(List.of(a), List.of(java.util.Arrays.copyOf(prompt, 100)), false);
            aloneDecode = r.step(List.of(a), List.of(new int[] {prompt[100]}), true);
        }
        double bf16Error = maxDiff(invariant, cpu), flashVsInvariant = maxDiff(flash, invariant), flashError = maxDiff(flash, cpu);
        double mixedPrefillDiff = maxDiff(mixedPrefill, java.util.Arrays.copyOf(flash, 50)), mixedDecodeDiff = maxDiff(mixedDecode, aloneDecode);
        System.out.printf("synthetic:100m, 200 tokens in chunks of 64: max |logit diff| invariant(CUDA-core attention) vs CPU %.3e, "
                        + "tensor-core prefill vs CPU %.3e, tensor-core vs CUDA-core %.3e; mixed step: prefill rows vs alone %.3e, decode row vs alone %.3e%n",
                bf16Error, flashError, flashVsInvariant, mixedPrefillDiff, mixedDecodeDiff);
        assertTrue(flashVsInvariant <= bf16Error, "tensor-core vs CUDA-core attention " + flashVsInvariant + " over the bf16 path's own error " + bf16Error);
        assertTrue(mixedPrefillDiff <= bf16Error, "mixed step prefill rows differ by " + mixedPrefillDiff);
        assertTrue(mixedDecodeDiff <= bf16Error, "mixed step decode row differs by " + mixedDecodeDiff);
    }
}
