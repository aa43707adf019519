package dev.arbor.engine.core;

import dev.arbor.engine.Logprob;
import dev.arbor.kernels.sampling.SamplingBatch;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Log-probabilities as the API reports them (from the raw logits, before penalties and temperature):
 * of a sampled token, from the results the backend's sampler left in a {@link SamplingBatch}; of a
 * prompt token, from a logit row copied to the host (prompt logprobs need the whole distribution).
 */
public final class Logprobs {
    private final IntFunction<String> tokenText;   // for top-logprob entries

    public Logprobs(IntFunction<String> tokenText) {
        this.tokenText = tokenText;
    }

    /** The logprob of row {@code r}'s sampled token with its rank and the top {@code k} the row asked for. */
    public Logprob fromBatch(SamplingBatch b, int r, int k) {
        List<Logprob.TopLogprob> top = new ArrayList<>(k);
        for (int j = 0; j < Math.min(k, b.numLogprobs(r)); j++) {
            int id = b.topId(r, j);
            top.add(new Logprob.TopLogprob(id, tokenText.apply(id), b.topLogprob(r, j)));
        }
        return new Logprob(b.token(r), b.logprob(r), b.rank(r), top);
    }

    /** Log-probability of {@code token} under raw {@code logits}, its rank, and the top {@code k}. */
    public Logprob logprob(float[] logits, int token, int k) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        float lse = (float) (max + Math.log(sum));
        int rank = 1;
        for (float v : logits) if (v > logits[token]) rank++;
        List<Logprob.TopLogprob> top = new ArrayList<>(k);
        if (k > 0) {
            int[] best = topK(logits, k);
            for (int id : best) top.add(new Logprob.TopLogprob(id, tokenText.apply(id), logits[id] - lse));
        }
        return new Logprob(token, logits[token] - lse, rank, top);
    }

    /** Indices of the k largest values, largest first (partial selection; k is small). */
    static int[] topK(float[] x, int k) {
        k = Math.min(k, x.length);
        int[] idx = new int[k];
        int n = 0;
        for (int i = 0; i < x.length; i++) {
            if (n < k) {
                int j = n++;
                while (j > 0 && x[idx[j - 1]] < x[i]) { idx[j] = idx[j - 1]; j--; }
                idx[j] = i;
            } else if (x[i] > x[idx[k - 1]]) {
                int j = k - 1;
                while (j > 0 && x[idx[j - 1]] < x[i]) { idx[j] = idx[j - 1]; j--; }
                idx[j] = i;
            }
        }
        return idx;
    }
}
