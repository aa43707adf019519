package dev.arbor.kernels.sampling;

import java.util.Arrays;

/**
 * The sort-based truncation the engine's sampler uses today, over e = exp((x - max)/T), with ties at a cutoff
 * kept (the threshold rule {@link CpuSampler} documents): sort ids by e descending (ties by id), keep the top k
 * (and every id equal to the k-th), then the shortest head of those whose renormalised mass reaches p (and
 * every id equal to its last), then e ≥ (float) minP.
 */
final class SortedReference {
    private SortedReference() {}

    /** The kept ids, ascending. */
    static int[] kept(float[] e, int topK, float topP, float minP) {
        int n = e.length;
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> e[a] != e[b] ? Float.compare(e[b], e[a]) : Integer.compare(a, b));
        int keep = n;
        if (topK > 0 && topK < n) {
            keep = topK;
            while (keep < n && e[order[keep]] == e[order[topK - 1]]) keep++;
        }
        if (topP < 1f) {
            double mass = 0;
            for (int i = 0; i < keep; i++) mass += e[order[i]];
            double acc = 0;
            int k = 0;
            while (k < keep) {
                acc += e[order[k]];
                k++;
                if (acc >= topP * mass) break;
            }
            while (k < keep && e[order[k]] == e[order[k - 1]]) k++;
            keep = k;
        }
        int m = 0;
        int[] out = new int[keep];
        for (int i = 0; i < keep; i++) if (e[order[i]] >= minP) out[m++] = order[i];
        out = Arrays.copyOf(out, m);
        Arrays.sort(out);
        return out;
    }

    /** Today's engine penalties (Sampler.applyPenalties) over a token history, for comparison. */
    static void enginePenalties(float[] x, int[] tokens, int numPrompt, double rpD, double freq, double pres) {
        if (rpD != 1.0) {
            java.util.Set<Integer> seen = new java.util.HashSet<>();
            for (int t : tokens) seen.add(t);
            float rp = (float) rpD;
            for (int t : seen) x[t] = x[t] > 0 ? x[t] / rp : x[t] * rp;
        }
        if (freq != 0 || pres != 0) {
            java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
            for (int i = numPrompt; i < tokens.length; i++) counts.merge(tokens[i], 1, Integer::sum);
            for (var en : counts.entrySet()) x[en.getKey()] -= (float) (freq * en.getValue() + pres);
        }
    }
}
