package dev.arbor.kernels.sampling;

import dev.arbor.accel.array.FloatArray;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** {@link CpuSampler}: the selection against the sorted reference, greedy, penalties, seeded draws, the distribution, logprobs. */
class SamplerTest {
    static final int[] VOCABS = {1, 7, 13, 255, 1000, 32000};

    /** Gaussian logits; with {@code ties}, rounded to halves so equal values are common. */
    static float[] logits(int n, long seed, float scale, boolean ties) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * scale);
            if (ties) x[i] = Math.round(x[i] * 2) / 2f;
        }
        return x;
    }

    static float[] exps(float[] x, float temperature) {
        float[] e = x.clone();
        CpuSampler.expInPlace(e, e.length, e[CpuSampler.argmax(e, e.length)], 1f / temperature);
        return e;
    }

    static int[] keptByCutoff(float[] e, float cut) {
        return java.util.stream.IntStream.range(0, e.length).filter(i -> e[i] >= cut).toArray();
    }

    @Test
    void theBracketSampleSortOrdersLikeArraysSort() {
        Random r = new Random(23);
        for (int n : new int[] {0, 1, 2, 15, 16, 17, 64, 255, 256, 1000}) {
            for (int round = 0; round < 20; round++) {
                float[] a = new float[n + 3];
                // few distinct values in some rounds: runs of equal keys are where partitioning goes wrong
                for (int i = 0; i < a.length; i++) a[i] = round % 2 == 0 ? r.nextFloat() : r.nextInt(4) / 4f;
                float[] expected = a.clone();
                Arrays.sort(expected, 1, n + 1);
                CpuSampler.sortAscending(a, 1, n + 1);
                assertArrayEquals(expected, a, "n " + n + " round " + round);
            }
        }
    }

    @Test
    void partialSelectionKeepsExactlyTheSortedSetAndProbabilities() {
        int cases = 0;
        for (int vocab : VOCABS) {
            CpuSampler.Scratch s = new CpuSampler.Scratch(vocab);
            Random r = new Random(vocab);
            int trials = vocab >= 32000 ? 12 : 60;
            for (int trial = 0; trial < trials; trial++) {
                float[] e = exps(logits(vocab, r.nextLong(), 1 + r.nextInt(4), trial % 3 == 0), 0.3f + r.nextFloat() * 1.5f);
                int topK = switch (trial % 4) { case 0 -> 0; case 1 -> 1 + r.nextInt(Math.max(1, vocab)); case 2 -> 1 + r.nextInt(50); default -> vocab + 3; };
                float topP = trial % 5 == 0 ? 1f : 0.05f + 0.94f * r.nextFloat();
                float minP = trial % 3 == 1 ? r.nextFloat() * 0.2f : 0f;
                double sum = 0;
                for (float v : e) sum += v;
                float cut = CpuSampler.cutoff(e.clone(), vocab, sum, topK, topP, minP, s);
                int[] got = keptByCutoff(e, cut), want = SortedReference.kept(e, topK, topP, minP);
                String what = "vocab " + vocab + " trial " + trial + " k=" + topK + " p=" + topP + " minP=" + minP;
                assertArrayEquals(want, got, what);
                double total = 0, refTotal = 0;
                for (int i : got) total += e[i];
                for (int i : want) refTotal += e[i];
                for (int j = 0; j < got.length; j++) assertEquals(e[want[j]] / refTotal, e[got[j]] / total, 1e-12, what);
                cases++;
            }
        }
        assertTrue(cases > 300);
    }

    @Test
    void selectionHelpersAgreeWithSortingOnTies() {
        Random r = new Random(5);
        for (int n : new int[] {1, 2, 7, 13, 255, 1000}) {
            for (int trial = 0; trial < 40; trial++) {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) a[i] = r.nextInt(trial % 2 == 0 ? 5 : 1_000_000) / 7f;
                float[] sorted = a.clone();
                Arrays.sort(sorted);
                int k = 1 + r.nextInt(n);
                assertEquals(sorted[n - k], CpuSampler.kthLargest(a.clone(), n, k), "n=" + n + " k=" + k);
                double total = 0;
                for (float v : a) total += v;
                double need = r.nextDouble() * total;
                double acc = 0;
                float want = sorted[0];
                for (int i = n - 1; i >= 0; i--) {
                    acc += sorted[i];
                    if (acc >= need && (i == 0 || sorted[i - 1] != sorted[i])) { want = sorted[i]; break; }
                }
                assertEquals(want, CpuSampler.largestWithMass(a.clone(), n, need), "n=" + n + " need=" + need);
            }
        }
    }

    @Test
    void selectIsExactWhereverTheFirstBracketFalls() {
        // a wrong mass hint moves the first bracket above or below the answer: the result must not change
        Random r = new Random(17);
        int misses = 0;
        for (int trial = 0; trial < 120; trial++) {
            int n = 4097 + r.nextInt(30000);
            float[] e = new float[n + 16];
            for (int i = 0; i < n; i++) e[i] = trial % 4 == 0 ? r.nextInt(50) / 64f : (float) Math.exp(-Math.abs(r.nextGaussian() * (1 + trial % 7)));
            float[] sorted = Arrays.copyOf(e, n);
            Arrays.sort(sorted);
            CpuSampler.Scratch s = new CpuSampler.Scratch(n);
            float floor = trial % 3 == 0 ? sorted[n / 2] : 0f;
            int valid = 0;
            double total = 0;
            for (int i = 0; i < n; i++) if (sorted[i] >= floor) { valid++; total += sorted[i]; }
            int k = 1 + r.nextInt(valid);
            if (floor == 0f) assertEquals(sorted[n - k], CpuSampler.select(e, n, floor, k, false, Double.NaN, s), "trial " + trial + " k=" + k);
            double need = total * (trial % 5 == 0 ? r.nextDouble() * 0.01 : r.nextDouble());
            double acc = 0;
            float want = floor;
            for (int i = n - 1; i >= 0 && sorted[i] >= floor; i--) {
                acc += sorted[i];
                if (acc >= need && (i == 0 || sorted[i - 1] != sorted[i])) { want = sorted[i]; break; }
            }
            double hint = total * new double[] {1, 0.05, 20}[trial % 3];
            if (trial % 3 != 0) misses++;
            assertEquals(want, CpuSampler.select(e, n, floor, need, true, hint, s), "trial " + trial + " need=" + need + " hint " + hint);
        }
        assertTrue(misses > 50);
    }

    /** A batch of one row per entry of {@code rows}, sampled on the CPU. */
    static SamplingBatch batch(int capacity, int vocab) {
        return new SamplingBatch(capacity, vocab, 4096, 256);
    }

    static FloatArray offHeap(float[] values) {
        FloatArray a = new FloatArray(values.length);
        for (int i = 0; i < values.length; i++) a.set(i, values[i]);
        return a;
    }

    @Test
    void greedyIsTheArgmaxWithLowestIdOnTies() {
        for (int vocab : VOCABS) {
            float[] x = logits(vocab, vocab, 2, true);
            int want = 0;
            for (int i = 1; i < vocab; i++) if (x[i] > x[want]) want = i;
            float[] allMasked = new float[vocab];
            Arrays.fill(allMasked, Float.NEGATIVE_INFINITY);
            float[] both = Arrays.copyOf(x, 2 * vocab);
            System.arraycopy(allMasked, 0, both, vocab, vocab);
            try (SamplingBatch b = batch(2, vocab); FloatArray l = offHeap(both)) {
                b.addRow(0, 0, 1, 0, 1, 0, 0, 1, 0, -1);
                b.addRow(0.8, 0, 1, 0, 1, 0, 0, 1, 0, -1);
                new CpuSampler(vocab).sample(l, b);
                assertEquals(want, b.token(0), "vocab " + vocab);
                assertEquals(0, b.token(1), "all -inf: the lowest id");
            }
        }
    }

    @Test
    void penaltiesAndMasksMatchTheEngineSampler() {
        Random r = new Random(11);
        for (int vocab : new int[] {7, 13, 255, 1000}) {
            for (int trial = 0; trial < 20; trial++) {
                int numPrompt = 1 + r.nextInt(20), numOut = r.nextInt(20);
                int[] tokens = new int[numPrompt + numOut];
                for (int i = 0; i < tokens.length; i++) tokens[i] = r.nextInt(Math.min(vocab, 30));
                float[] values = {0.5f, 1f, 1.25f, 1.7f, 2f};
                double rp = values[r.nextInt(5)], freq = r.nextInt(9) * 0.25 - 1, pres = r.nextInt(9) * 0.25 - 1;
                float[] want = logits(vocab, trial, 3, false);
                float[] x = want.clone();
                SortedReference.enginePenalties(want, tokens, numPrompt, rp, freq, pres);
                int masked = r.nextInt(vocab);
                want[masked] = Float.NEGATIVE_INFINITY;
                try (SamplingBatch b = batch(1, vocab)) {
                    b.addRow(1, 0, 1, 0, rp, freq, pres, 0, 0, -1);
                    fillPenalties(b, tokens, numPrompt);
                    b.addMaskedToken(masked);
                    CpuSampler.applyPenalties(x, b, 0);
                }
                assertArrayEquals(want, x, "vocab " + vocab + " trial " + trial);
            }
        }
    }

    /** Lists every distinct token of the history with its output count, as the engine will. */
    static void fillPenalties(SamplingBatch b, int[] tokens, int numPrompt) {
        java.util.Map<Integer, Integer> counts = new java.util.LinkedHashMap<>();
        for (int i = 0; i < tokens.length; i++) counts.merge(tokens[i], i >= numPrompt ? 1 : 0, Integer::sum);
        counts.forEach(b::addPenaltyToken);
    }

    @Test
    void seededDrawsAreReproducibleAndIndependentOfTheBatch() {
        int vocab = 1000;
        float[] x = logits(vocab, 3, 2, false);
        float[] rows = new float[8 * vocab];
        for (int r = 0; r < 8; r++) System.arraycopy(x, 0, rows, r * vocab, vocab);
        try (SamplingBatch alone = batch(1, vocab); SamplingBatch many = batch(8, vocab); FloatArray one = offHeap(x); FloatArray eight = offHeap(rows)) {
            CpuSampler sampler = new CpuSampler(vocab);
            int distinct = 0, previous = -1;
            for (int step = 0; step < 50; step++) {
                alone.clear();
                alone.addRow(1.0, 40, 0.95, 0, 1, 0, 0, 1234, Philox.counter(2, step), -1);
                sampler.sample(one, alone);
                many.clear();
                for (int r = 0; r < 8; r++) {
                    many.addRow(1.0, r == 5 ? 40 : 3, r == 5 ? 0.95 : 0.5, 0, 1, 0, 0, r == 5 ? 1234 : r, Philox.counter(r == 5 ? 2 : 0, step), -1);
                }
                sampler.sample(eight, many);
                assertEquals(alone.token(0), many.token(5), "step " + step);
                alone.clear();
                alone.addRow(1.0, 40, 0.95, 0, 1, 0, 0, 1234, Philox.counter(2, step), -1);
                sampler.sample(one, alone);
                assertEquals(many.token(5), alone.token(0), "again, step " + step);
                if (alone.token(0) != previous) distinct++;
                previous = alone.token(0);
            }
            assertTrue(distinct > 10, "draws move with the counter: " + distinct);
        }
    }

    @Test
    void drawsFollowTheTruncatedDistribution() {
        record Case(int vocab, float temperature, int topK, float topP, float minP) {}
        for (Case c : new Case[] {new Case(13, 1f, 0, 1f, 0f), new Case(50, 0.7f, 8, 1f, 0f), new Case(255, 1.3f, 0, 0.6f, 0f),
                new Case(1000, 0.9f, 30, 0.9f, 0.05f), new Case(7, 2f, 0, 1f, 0.3f),
                // above IN_PLACE_MIN_VOCAB: plain rows read the logits in place (top-p: topPThreshold, drawWithTotal)
                new Case(5000, 0.4f, 0, 0.5f, 0f), new Case(6001, 0.5f, 0, 0.3f, 0.01f), new Case(4099, 0.8f, 40, 0.9f, 0f),
                new Case(4500, 0.6f, 0, 1f, 0.2f)}) {
            float[] x = logits(c.vocab, c.vocab * 31L, 1.5f, false);
            float[] e = exps(x, c.temperature);
            int[] kept = SortedReference.kept(e, c.topK, c.topP, c.minP);
            double total = 0;
            for (int i : kept) total += e[i];
            int draws = 40_000;
            int[] hist = new int[c.vocab];
            try (SamplingBatch b = batch(64, c.vocab); FloatArray l = offHeap(tile(x, 64))) {
                CpuSampler sampler = new CpuSampler(c.vocab);
                for (int d = 0; d < draws; d += 64) {
                    b.clear();
                    for (int r = 0; r < 64; r++) b.addRow(c.temperature, c.topK, c.topP, c.minP, 1, 0, 0, 99, d + r, -1);
                    sampler.sample(l, b);
                    for (int r = 0; r < 64; r++) hist[b.token(r)]++;
                }
            }
            int n = draws / 64 * 64;
            double chi2 = 0;
            int inKept = 0;
            for (int i : kept) {
                double expected = n * e[i] / total;
                chi2 += (hist[i] - expected) * (hist[i] - expected) / expected;
                inKept += hist[i];
            }
            assertEquals(n, inKept, c + ": every draw is in the kept set " + Arrays.toString(kept));
            int df = kept.length - 1;
            if (df == 0) continue;
            double z = 3.719, crit = df * Math.pow(1 - 2.0 / (9 * df) + z * Math.sqrt(2.0 / (9 * df)), 3);   // Wilson-Hilferty, p = 1e-4
            assertTrue(chi2 < crit, c + ": chi-square " + chi2 + " over " + df + " degrees of freedom, critical " + crit);
        }
    }

    @Test
    void topPRowsReadInPlaceKeepExactlyTheSortedSet() {
        Random r = new Random(41);
        int cases = 0;
        for (int vocab : new int[] {4097, 9001, 32000, 151936}) {
            CpuSampler.Scratch s = new CpuSampler.Scratch(vocab);
            for (int trial = 0; trial < (vocab > 100_000 ? 4 : 14); trial++) {
                float[] x = switch (trial % 5) {
                    case 0 -> logits(vocab, r.nextLong(), 1 + 3 * r.nextFloat(), false);
                    case 1 -> logits(vocab, r.nextLong(), 0.05f, false);                 // nearly flat: most of the row is kept
                    case 2 -> logits(vocab, r.nextLong(), 2, true);                      // ties everywhere
                    default -> {                                                          // a few heavy ids the sample misses
                        float[] y = logits(vocab, r.nextLong(), 2.5f, false);
                        for (int j = 0; j < 1 + r.nextInt(40); j++) y[r.nextInt(vocab)] += 4 + 6 * r.nextFloat();
                        yield y;
                    }
                };
                float temperature = 0.3f + 1.5f * r.nextFloat(), topP = 0.02f + 0.97f * r.nextFloat();
                float max = CpuSampler.maxOf(java.lang.foreign.MemorySegment.ofArray(x), 0, vocab);
                float want = Float.NEGATIVE_INFINITY;
                for (float v : x) want = Math.max(want, v);
                assertEquals(want, max);
                double sum = CpuSampler.expFromLogits(java.lang.foreign.MemorySegment.ofArray(x), 0, s.e, vocab, max, 1f / temperature);
                float cut = CpuSampler.topPThreshold(s.e, vocab, topP * sum, topP, s);
                float[] e = exps(x, temperature);
                double expSum = 0;
                for (float v : e) expSum += v;
                assertEquals(expSum, sum, 2e-6 * expSum);
                String what = "vocab " + vocab + " trial " + trial + " T=" + temperature + " p=" + topP;
                assertArrayEquals(e, Arrays.copyOf(s.e, vocab), what + ": e in place == expInPlace");
                int[] kept = keptByCutoff(e, cut);
                assertArrayEquals(SortedReference.kept(e, 0, topP, 0), kept, what);
                double total = 0;
                for (int i : kept) total += e[i];
                assertEquals(total, s.keptMass, 2e-6 * total, what + ": kept mass (float lanes per block)");
                double[] blockSums = new double[vocab / CpuSampler.BLOCK + 1];
                for (int d = 0; d < 50; d++) {
                    double u = r.nextDouble();
                    assertEquals(CpuSampler.draw(e, vocab, cut, u, -1, blockSums), CpuSampler.drawWithTotal(e, vocab, cut, u, s.keptMass), what + " u=" + u);
                }
                cases++;
            }
        }
        assertTrue(cases >= 46);
    }

    static float[] tile(float[] x, int times) {
        float[] out = new float[x.length * times];
        for (int r = 0; r < times; r++) System.arraycopy(x, 0, out, r * x.length, x.length);
        return out;
    }

    @Test
    void logprobsComeFromTheRawLogits() {
        for (int vocab : VOCABS) {
            float[] x = logits(vocab, vocab + 7, 3, true);
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (float v : x) max = Math.max(max, v);
            for (float v : x) sum += Math.exp(v - max);
            double lse = max + Math.log(sum);
            try (SamplingBatch b = batch(1, vocab); FloatArray l = offHeap(x)) {
                b.addRow(1.0, 0, 1, 0, 1.5, 0.5, 0.5, 7, 0, 20);
                b.addPenaltyToken(0, 3);
                new CpuSampler(vocab).sample(l, b);
                int t = b.token(0);
                assertEquals(x[t] - lse, b.logprob(0), 1e-5, "vocab " + vocab);
                int rank = 1;
                for (float v : x) if (v > x[t]) rank++;
                assertEquals(rank, b.rank(0));
                Integer[] order = new Integer[vocab];
                for (int i = 0; i < vocab; i++) order[i] = i;
                Arrays.sort(order, (p, q) -> x[p] != x[q] ? Float.compare(x[q], x[p]) : Integer.compare(p, q));
                for (int j = 0; j < Math.min(20, vocab); j++) {
                    assertEquals(order[j], b.topId(0, j), "vocab " + vocab + " top " + j);
                    assertEquals(x[order[j]] - lse, b.topLogprob(0, j), 1e-5);
                }
            }
        }
    }

    @Test
    void batchRejectsBadInput() {
        try (SamplingBatch b = batch(1, 10)) {
            assertThrows(IllegalStateException.class, () -> b.addPenaltyToken(1, 0), "no row yet");
            assertThrows(IllegalArgumentException.class, () -> b.addRow(-1, 0, 1, 0, 1, 0, 0, 0, 0, -1));
            assertThrows(IllegalArgumentException.class, () -> b.addRow(1, 0, 0, 0, 1, 0, 0, 0, 0, -1));
            assertThrows(IllegalArgumentException.class, () -> b.addRow(1, 0, 1, 0, 1, 0, 0, 0, 0, 21));
            b.addRow(1, 0, 1, 0, 1, 0, 0, 0, 0, -1);
            b.addPenaltyToken(3, 1);
            assertThrows(IllegalArgumentException.class, () -> b.addPenaltyToken(3, 0), "listed twice");
            assertThrows(IllegalArgumentException.class, () -> b.addMaskedToken(10), "outside the vocabulary");
            assertThrows(IllegalStateException.class, () -> b.addRow(1, 0, 1, 0, 1, 0, 0, 0, 0, -1), "full");
            b.clear();
            b.addRow(1, 0, 1, 0, 1, 0, 0, 0, 0, -1);
            b.addPenaltyToken(3, 0);   // a new step lists it afresh
            assertEquals(1, b.rows());
        }
    }
}
