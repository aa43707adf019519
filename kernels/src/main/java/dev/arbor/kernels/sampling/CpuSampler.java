package dev.arbor.kernels.sampling;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.WorkTeam;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Samples every row of a {@link SamplingBatch} on the CPU in O(vocab) per row, rows in parallel on the shared
 * {@link WorkTeam}. The algorithm, shared with {@link SamplingKernels}:
 * <ol>
 *   <li>x = the raw logits; masked ids → -inf; repetition penalty on listed ids ({@code x>0 ? x/rp : x*rp});
 *       then {@code x -= f·count + p} for ids with an output count > 0 (vLLM order).</li>
 *   <li>temperature 0: the argmax of x, lowest id on ties. A row whose logits are all -inf also gives its argmax (id 0).</li>
 *   <li>else e_i = exp((x_i - max)·(1/T)) in float (1 at the max), and one cutoff c on e:
 *       top-k: the k-th largest e (ties at it kept); top-p: the largest e value t such that the e-mass of ids with
 *       e ≥ t, within the top-k set, reaches topP × the top-k set's mass; min-p: (float) minP (e is p/p_max).
 *       c = the largest of the three; the kept set is {i : e_i ≥ c}; it always holds the max.</li>
 *   <li>u = {@link Philox#uniform}(seed, counter); the token is the first id, in id order, whose running sum of
 *       kept e exceeds u × (sum of kept e), or the last kept id if rounding left u above the total.</li>
 * </ol>
 * Thresholds are found without sorting: a histogram of e over its top 12 float bits (e ≥ 0 orders like its bits)
 * locates the bucket holding the cutoff; a quickselect (by rank for top-k, by mass for top-p) inside that bucket
 * finds it exactly. Sums of e are taken in double.
 *
 * <p>Logprobs come from the raw logits (before masks, penalties and temperature), as the engine's sampler reports
 * them: ln softmax of the sampled id, its rank, and the top n ids (ties: lower id first).
 *
 * <p>One instance serves one caller at a time (it owns per-thread scratch, {@code 3 × vocab} floats per thread,
 * allocated once).
 */
public final class CpuSampler {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** e ≥ 0 is bucketed by its float bits {@code >>> SHIFT}: 8 exponent bits and 3 mantissa bits. */
    private static final int SHIFT = 20, BUCKETS = (0x3F800000 >>> SHIFT) + 1;

    private final int vocab;
    private final WorkTeam team = WorkTeam.shared();
    private final Scratch[] scratch;

    /** Per-thread working memory. */
    static final class Scratch {
        final float[] e, tmp;
        final int[] count = new int[BUCKETS];
        final double[] mass = new double[BUCKETS];

        Scratch(int vocab) {
            e = new float[vocab];
            tmp = new float[vocab];
        }
    }

    /** @param vocab the logit row length of every batch this sampler sees */
    public CpuSampler(int vocab) {
        this.vocab = vocab;
        scratch = new Scratch[team.threads()];
        for (int i = 0; i < scratch.length; i++) scratch[i] = new Scratch(vocab);
    }

    /**
     * Samples rows {@code [0, batch.rows())} and writes their tokens (and requested logprobs) into the batch.
     *
     * @param logits (rows ≥ batch.rows(), vocab) row-major, row r for batch row r; not modified
     * @throws IllegalArgumentException if the batch's or the logits' vocabulary differs from this sampler's
     */
    public void sample(FloatArray logits, SamplingBatch batch) {
        if (batch.vocab() != vocab) throw new IllegalArgumentException("batch vocab " + batch.vocab() + " != sampler vocab " + vocab);
        int rows = batch.rows();
        if ((long) rows * vocab > logits.length()) {
            throw new IllegalArgumentException("logits hold " + logits.length() + " floats, need " + rows + " rows × " + vocab);
        }
        int parts = Math.min(rows, scratch.length);
        if (parts <= 1) {
            for (int r = 0; r < rows; r++) sampleRow(logits.segment(), batch, r, scratch[0]);
            return;
        }
        team.run(parts, c -> {
            for (int r = c; r < rows; r += parts) sampleRow(logits.segment(), batch, r, scratch[c]);
        });
    }

    private void sampleRow(MemorySegment logits, SamplingBatch b, int r, Scratch s) {
        float[] e = s.e;
        long base = (long) r * vocab * Float.BYTES;
        MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, base, e, 0, vocab);
        applyPenalties(e, b, r);
        int token = drawFromPenalized(e, vocab, b.temperature.get(r), b.topK.get(r), b.topP.get(r), b.minP.get(r),
                b.seed.get(r), b.counter.get(r), s);
        b.tokens.set(r, token);
        int n = b.numLogprobs.get(r);
        if (n >= 0) logprobs(logits, base, b, r, token, n, s);
    }

    /** Step 1 on a copy of the row: masks, repetition, then frequency and presence penalties. */
    static void applyPenalties(float[] x, SamplingBatch b, int r) {
        for (int i = b.maskStart.get(r), end = b.maskStart.get(r + 1); i < end; i++) x[b.maskIds.get(i)] = Float.NEGATIVE_INFINITY;
        float rp = b.repetitionPenalty.get(r), f = b.frequencyPenalty.get(r), p = b.presencePenalty.get(r);
        for (int i = b.penaltyStart.get(r), end = b.penaltyStart.get(r + 1); i < end; i++) {
            int t = b.penaltyIds.get(i), count = b.penaltyCounts.get(i);
            x[t] = penalize(x[t], rp, f, p, count);
        }
    }

    /** One listed id's penalties (shared with the kernel). */
    static float penalize(float x, float rp, float f, float p, int outputCount) {
        float y = x > 0 ? x / rp : x * rp;
        return outputCount > 0 ? y - (float) ((double) f * outputCount + p) : y;
    }

    /**
     * Steps 2-4 over penalised logits {@code e[0, n)}, which are overwritten with e.
     *
     * @return the sampled id
     */
    static int drawFromPenalized(float[] e, int n, float temperature, int topK, float topP, float minP, long seed, long counter, Scratch s) {
        int best = argmax(e, n);
        float max = e[best];
        if (temperature == 0 || max == Float.NEGATIVE_INFINITY) return best;
        expInPlace(e, n, max, 1f / temperature);
        float cut = cutoff(e, n, topK, topP, minP, s);
        double total = 0;
        for (int i = 0; i < n; i++) if (e[i] >= cut) total += e[i];
        double target = Philox.uniform(seed, counter) * total, acc = 0;
        int last = best;
        for (int i = 0; i < n; i++) {
            float v = e[i];
            if (v >= cut && v > 0) {
                acc += v;
                last = i;
                if (acc > target) return i;
            }
        }
        return last;
    }

    /** Index of the largest value, lowest index on ties (-inf rows: 0; NaN ignored). */
    static int argmax(float[] x, int n) {
        int best = 0;
        float m = x[0];
        for (int i = 1; i < n; i++) if (x[i] > m) { m = x[i]; best = i; }
        return best;
    }

    /** {@code e[i] = exp((e[i] - max) * invT)} in float (SIMD where the platform has it). */
    static void expInPlace(float[] e, int n, float max, float invT) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += F.length()) {
            FloatVector.fromArray(F, e, i).sub(max).mul(invT).lanewise(VectorOperators.EXP).intoArray(e, i);
        }
        for (; i < n; i++) e[i] = (float) Math.exp((e[i] - max) * invT);
    }

    /**
     * The combined cutoff of top-k, top-p and min-p over e (see the class comment).
     *
     * @param e (n) values in [0, 1] with max 1; not modified
     */
    static float cutoff(float[] e, int n, int topK, float topP, float minP, Scratch s) {
        boolean useK = topK > 0 && topK < n, useP = topP < 1f;
        float cut = minP > 0 ? minP : 0f;
        if (!useK && !useP) return cut;
        int[] count = s.count;
        double[] mass = s.mass;
        java.util.Arrays.fill(count, 0);
        java.util.Arrays.fill(mass, 0);
        for (int i = 0; i < n; i++) {
            float v = e[i];
            int bucket = Float.floatToRawIntBits(v) >>> SHIFT;
            count[bucket]++;
            mass[bucket] += v;
        }
        float tk = 0f;
        double massK;           // e-mass of the top-k set
        int bk = 0;             // bucket holding the k-th largest
        if (useK) {
            int above = 0;
            bk = BUCKETS - 1;
            while (above + count[bk] < topK) above += count[bk--];
            int m = collect(e, n, bk, s.tmp, 0f);
            tk = kthLargest(s.tmp, m, topK - above);
            massK = 0;
            for (int b = BUCKETS - 1; b > bk; b--) massK += mass[b];
            for (int i = 0; i < m; i++) if (s.tmp[i] >= tk) massK += s.tmp[i];
            // bucket bk now counts only its members >= tk
            mass[bk] = 0;
            for (int i = 0; i < m; i++) if (s.tmp[i] >= tk) mass[bk] += s.tmp[i];
        } else {
            massK = 0;
            for (int b = BUCKETS - 1; b >= 0; b--) massK += mass[b];
        }
        float tp = 0f;
        if (useP) {
            double need = topP * massK, above = 0;
            int bp = BUCKETS - 1;
            while (bp > bk && above + mass[bp] < need) above += mass[bp--];
            int m = collect(e, n, bp, s.tmp, tk);
            tp = largestWithMass(s.tmp, m, need - above);
        }
        return Math.max(cut, Math.max(tk, tp));
    }

    /** Copies the members of {@code bucket} that are ≥ {@code floor} into {@code out}; returns how many. */
    private static int collect(float[] e, int n, int bucket, float[] out, float floor) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            float v = e[i];
            if ((Float.floatToRawIntBits(v) >>> SHIFT) == bucket && v >= floor) out[m++] = v;
        }
        return m;
    }

    /** The k-th largest (1-based) of {@code a[0, n)}, reordering it (quickselect, three-way partition). */
    static float kthLargest(float[] a, int n, int k) {
        int lo = 0, hi = n;          // answer is the (k)-th largest within [lo, hi)
        while (true) {
            float pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
            // [lo, gt): > pivot, [gt, lt): == pivot, [lt, hi): < pivot
            int gt = lo, i = lo, lt = hi;
            while (i < lt) {
                float v = a[i];
                if (v > pivot) { a[i++] = a[gt]; a[gt++] = v; }
                else if (v < pivot) { a[i] = a[--lt]; a[lt] = v; }
                else i++;
            }
            int greater = gt - lo, equal = lt - gt;
            if (k <= greater) hi = gt;
            else if (k <= greater + equal) return pivot;
            else { k -= greater + equal; lo = lt; }
        }
    }

    /**
     * The largest value t among {@code a[0, n)} (reordered) such that the sum of the values ≥ t reaches
     * {@code need}; the smallest value if even the whole sum falls short (rounding).
     */
    static float largestWithMass(float[] a, int n, double need) {
        int lo = 0, hi = n;
        float smallest = Float.POSITIVE_INFINITY;
        while (lo < hi) {
            float pivot = median3(a[lo], a[lo + (hi - lo) / 2], a[hi - 1]);
            int gt = lo, i = lo, lt = hi;
            double greater = 0, equal = 0;
            while (i < lt) {
                float v = a[i];
                if (v > pivot) { greater += v; a[i++] = a[gt]; a[gt++] = v; }
                else if (v < pivot) { a[i] = a[--lt]; a[lt] = v; }
                else { equal += v; i++; }
            }
            if (greater >= need) hi = gt;
            else if (greater + equal >= need) return pivot;
            else { need -= greater + equal; smallest = pivot; lo = lt; }
        }
        return smallest == Float.POSITIVE_INFINITY ? 0f : smallest;
    }

    private static float median3(float a, float b, float c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }

    /** Logprob, rank and top-n of {@code token} under the raw row at byte offset {@code base}. */
    private void logprobs(MemorySegment logits, long base, SamplingBatch b, int r, int token, int n, Scratch s) {
        float[] x = s.e;
        MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, base, x, 0, vocab);
        float lse = logSumExp(x, vocab);
        float xt = x[token];
        int rank = 1;
        for (int i = 0; i < vocab; i++) if (x[i] > xt) rank++;
        b.logprobs.set(r, xt - lse);
        b.ranks.set(r, rank);
        if (n > 0) topN(x, vocab, n, b, r, lse);
    }

    /** ln Σ exp(x_i) for x (n): max, then float exps summed in double per SIMD chunk. */
    static float logSumExp(float[] x, int n) {
        float max = x[argmax(x, n)];
        if (max == Float.NEGATIVE_INFINITY) return max;
        double sum = 0;
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; ) {
            FloatVector acc = FloatVector.zero(F);
            for (int end = Math.min(upper, i + 256 * F.length()); i < end; i += F.length()) {
                acc = acc.add(FloatVector.fromArray(F, x, i).sub(max).lanewise(VectorOperators.EXP));
            }
            sum += acc.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) sum += Math.exp(x[i] - max);
        return (float) (max + Math.log(sum));
    }

    /**
     * The min(n, size) largest of x (ties: lower id first) with their logprobs, into the batch's row r
     * (insertion into a sorted list of at most 20; most ids fail the first comparison).
     */
    private static void topN(float[] x, int size, int n, SamplingBatch b, int r, float lse) {
        int base = r * SamplingBatch.MAX_TOP_LOGPROBS;
        int k = Math.min(n, size), have = 0;
        var ids = b.topIds;
        for (int i = 0; i < size; i++) {
            float v = x[i];
            if (have == k && !(v > x[ids.get(base + k - 1)])) continue;
            int j = have < k ? have++ : k - 1;
            while (j > 0 && x[ids.get(base + j - 1)] < v) { ids.set(base + j, ids.get(base + j - 1)); j--; }
            ids.set(base + j, i);
        }
        for (int j = 0; j < k; j++) b.topLogprobs.set(base + j, x[ids.get(base + j)] - lse);
    }
}
