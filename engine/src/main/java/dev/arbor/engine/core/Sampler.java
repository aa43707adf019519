package dev.arbor.engine.core;

import dev.arbor.engine.Logprob;
import dev.arbor.engine.SamplingParams;
import it.unimi.dsi.fastutil.ints.Int2IntOpenHashMap;
import it.unimi.dsi.fastutil.ints.IntOpenHashSet;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * Picks the next token from one row of logits, in vLLM's order: min-tokens masking, repetition /
 * frequency / presence penalties, then greedy argmax, or temperature, top-k, top-p, min-p and a
 * draw from the sequence's own random stream. Log-probabilities reported to the caller come from
 * the raw logits, before any of this.
 */
public final class Sampler {
    private final IntFunction<String> tokenText;   // for top-logprob entries
    private final int[] eosTokenIds;

    public Sampler(IntFunction<String> tokenText, int[] eosTokenIds) {
        this.tokenText = tokenText;
        this.eosTokenIds = eosTokenIds;
    }

    /**
     * @param logits     (vocab) raw logits; not modified
     * @param tokens     the sequence so far (prompt then output), first {@code numTokens} entries
     * @param numPrompt  prompt length inside {@code tokens}
     */
    public int sample(float[] logits, int[] tokens, int numTokens, int numPrompt, SamplingParams p, SplittableRandom random) {
        float[] x = logits.clone();
        int numOutput = numTokens - numPrompt;
        if (numOutput < p.minTokens()) {
            if (!p.ignoreEos()) for (int e : eosTokenIds) if (e < x.length) x[e] = Float.NEGATIVE_INFINITY;
            for (int s : p.stopTokenIds()) x[s] = Float.NEGATIVE_INFINITY;
        }
        applyPenalties(x, tokens, numTokens, numPrompt, p);
        if (p.isGreedy()) return argmax(x);

        float invT = (float) (1.0 / p.temperature());
        for (int i = 0; i < x.length; i++) x[i] *= invT;
        softmaxInPlace(x);                                     // x now holds probabilities
        if (p.topK() > 0 || p.topP() < 1.0 || p.minP() > 0) return drawTruncated(x, p, random);
        return draw(x, random);
    }

    /** Applies the three penalties in place (vLLM semantics). */
    static void applyPenalties(float[] x, int[] tokens, int numTokens, int numPrompt, SamplingParams p) {
        if (p.repetitionPenalty() != 1.0) {
            IntOpenHashSet seen = new IntOpenHashSet();
            for (int i = 0; i < numTokens; i++) seen.add(tokens[i]);
            float rp = (float) p.repetitionPenalty();
            for (int t : seen) if (t < x.length) x[t] = x[t] > 0 ? x[t] / rp : x[t] * rp;
        }
        if (p.frequencyPenalty() != 0 || p.presencePenalty() != 0) {
            Int2IntOpenHashMap counts = new Int2IntOpenHashMap();
            for (int i = numPrompt; i < numTokens; i++) counts.addTo(tokens[i], 1);
            for (var e : counts.int2IntEntrySet()) {
                int t = e.getIntKey();
                if (t < x.length) x[t] -= (float) (p.frequencyPenalty() * e.getIntValue() + p.presencePenalty());
            }
        }
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static void softmaxInPlace(float[] x) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : x) max = Math.max(max, v);
        double sum = 0;
        for (int i = 0; i < x.length; i++) { x[i] = (float) Math.exp(x[i] - max); sum += x[i]; }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < x.length; i++) x[i] *= inv;
    }

    private static int draw(float[] probs, SplittableRandom random) {
        double u = random.nextDouble(), acc = 0;
        int last = 0;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] <= 0) continue;
            acc += probs[i];
            last = i;
            if (u < acc) return i;
        }
        return last;       // rounding left u just above the total
    }

    /** Top-k, then top-p over the survivors, then min-p; renormalise and draw. */
    private static int drawTruncated(float[] probs, SamplingParams p, SplittableRandom random) {
        int[] order = byDescendingProbability(probs);
        int keep = p.topK() > 0 ? Math.min(p.topK(), probs.length) : probs.length;
        double mass = 0;
        for (int i = 0; i < keep; i++) mass += probs[order[i]];
        if (p.topP() < 1.0) {
            // keep the smallest head whose mass (renormalised over the top-k) reaches top_p
            double acc = 0;
            int k = 0;
            while (k < keep) {
                acc += probs[order[k]] / mass;
                k++;
                if (acc >= p.topP()) break;
            }
            keep = k;
        }
        if (p.minP() > 0) {
            float threshold = (float) (p.minP() * probs[order[0]]);
            int k = 1;
            while (k < keep && probs[order[k]] >= threshold) k++;
            keep = k;
        }
        double total = 0;
        for (int i = 0; i < keep; i++) total += probs[order[i]];
        double u = random.nextDouble() * total, acc = 0;
        for (int i = 0; i < keep; i++) {
            acc += probs[order[i]];
            if (u < acc) return order[i];
        }
        return order[keep - 1];
    }

    /**
     * Token ids ordered by probability, highest first, ties by lower id. Sorts primitive keys
     * (probability bits above, inverted id below: non-negative floats order like their bits), which
     * is several times faster than sorting boxed ids with a comparator over a 150k vocabulary.
     */
    static int[] byDescendingProbability(float[] probs) {
        long[] keys = new long[probs.length];
        for (int i = 0; i < probs.length; i++) keys[i] = ((long) Float.floatToRawIntBits(probs[i]) << 32) | (0xFFFFFFFFL - i);
        java.util.Arrays.sort(keys);
        int[] order = new int[probs.length];
        for (int i = 0; i < order.length; i++) order[i] = (int) (0xFFFFFFFFL - (keys[keys.length - 1 - i] & 0xFFFFFFFFL));
        return order;
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
