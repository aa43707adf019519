package dev.arbor.engine.core;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.engine.Logprob;
import dev.arbor.engine.SamplingParams;
import dev.arbor.kernels.sampling.CpuSampler;
import dev.arbor.kernels.sampling.SamplingBatch;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Logprob entries as the API reports them, from a host row (prompt logprobs) and from the backend
 * sampler's results (sampled tokens); sampling parameters rejected by name. The sampling algorithm
 * itself is tested in the kernels module ({@code dev.arbor.kernels.sampling.SamplerTest}).
 */
class LogprobsTest {
    private final Logprobs logprobs = new Logprobs(id -> "t" + id);

    @Test
    void logprobsComeFromRawLogitsWithRankAndTopK() {
        float[] logits = {0f, 2f, 1f};
        Logprob lp = logprobs.logprob(logits, 2, 2);
        double lse = Math.log(Math.exp(0) + Math.exp(2) + Math.exp(1));
        assertEquals(1 - lse, lp.logprob(), 1e-5);
        assertEquals(2, lp.rank());
        assertEquals(1, lp.top().get(0).tokenId());
        assertEquals(2, lp.top().get(1).tokenId());
        assertEquals("t1", lp.top().get(0).token());
    }

    @Test
    void sampledRowEntryAgreesWithTheHostComputation() {
        java.util.Random r = new java.util.Random(7);
        for (int vocab : new int[] {1, 7, 13, 255, 1000}) {
            float[] row = new float[vocab];
            for (int i = 0; i < vocab; i++) row[i] = (float) r.nextGaussian() * 3;
            int k = Math.min(5, vocab);
            try (FloatArray logits = FloatArray.of(row); SamplingBatch b = new SamplingBatch(1, vocab, 0, 0)) {
                b.clear();
                b.addRow(0.9, -1, 0.95, 0, 1, 0, 0, 42L, 3L, k);
                new CpuSampler(vocab).sample(logits, b);
                Logprob fromBatch = logprobs.fromBatch(b, 0, k);
                Logprob onHost = logprobs.logprob(row, b.token(0), k);
                assertEquals(onHost.tokenId(), fromBatch.tokenId());
                assertEquals(onHost.logprob(), fromBatch.logprob(), 1e-4, "vocab " + vocab);
                assertEquals(onHost.rank(), fromBatch.rank());
                List<Integer> hostTop = new ArrayList<>(), batchTop = new ArrayList<>();
                onHost.top().forEach(t -> hostTop.add(t.tokenId()));
                fromBatch.top().forEach(t -> batchTop.add(t.tokenId()));
                assertEquals(hostTop, batchTop, "vocab " + vocab);
            }
        }
    }

    @Test
    void invalidValuesAreRejectedByName() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().temperature(-1).build().validate(100))
                .getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().topP(0).build().validate(100))
                .getMessage().contains("top_p"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().n(0).build().validate(100))
                .getMessage().contains("'n'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().stopTokenIds(java.util.List.of(100)).build().validate(100))
                .getMessage().contains("stop_token_ids"));
        List<Integer> many = new ArrayList<>();
        for (int i = 0; i <= SamplingParams.MAX_STOP_TOKEN_IDS; i++) many.add(i);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().stopTokenIds(many).build().validate(100))
                .getMessage().contains("stop_token_ids"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> SamplingParams.builder().logprobs(21).build().validate(100))
                .getMessage().contains("logprobs"));
    }
}
