package dev.arbor.kernels.sampling;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.WorkTeam;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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
 *   <li>else e_i = exp((x_i - max)·(1/T)) in float by {@link SamplingMath#exp} (1 at the max, 0 below e^-87.3), and one
 *       cutoff c on e:
 *       top-k: the k-th largest e (ties at it kept); top-p: the largest e value t such that the e-mass of ids with
 *       e ≥ t, within the top-k set, reaches topP × the top-k set's mass; min-p: (float) minP (e is p/p_max).
 *       c = the largest of the three; the kept set is {i : e_i ≥ c}; it always holds the max.</li>
 *   <li>u = {@link Philox#uniform}(seed, counter); the token is the first id, in id order, whose running sum of
 *       kept e exceeds u × (sum of kept e), or the last kept id if rounding left u above the total.</li>
 * </ol>
 * Thresholds are found without sorting, by a quickselect (by rank for top-k, by mass for top-p) whose
 * partitioning runs in SIMD lanes ({@link #select}). Sums of e are taken in float lanes per block and carried in double.
 * A sampled row without masks or penalties (vocabulary above {@link #IN_PLACE_MIN_VOCAB}) takes a shorter road with
 * the same result: the logits are read in place (no copy), the max by integer compares ({@link #maxOf}), the exp
 * pass from the logits ({@link #expFromLogits}); with top-p and no top-k, the threshold by {@link #topPThreshold}
 * (exact masses above sampled thresholds, then a compress of the bracket, repeated) and a draw that stops at the
 * crossing ({@link #drawWithTotal}): top-p costs about twice greedy (SamplerBench), where it cost 3-5 times.
 *
 * <p>Logprobs come from the raw logits (before masks, penalties and temperature), as the engine's sampler reports
 * them: ln softmax of the sampled id, its rank, and the top n ids (ties: lower id first).
 *
 * <p>One instance serves one caller at a time (it owns per-thread scratch, {@code 4 × vocab} floats per thread,
 * allocated once). A call allocates nothing itself; {@link WorkTeam#run} makes one small job object per call.
 */
public final class CpuSampler {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private final int vocab;
    private final WorkTeam team = WorkTeam.shared();
    private final Scratch[] scratch;
    /** The call in progress, read by {@link #part} on the team's threads (published by {@link WorkTeam#run}). */
    private FloatArray callLogits;
    private SamplingBatch callBatch;
    private int callParts;
    private final java.util.function.IntConsumer part = this::part;

    /** Per-thread working memory. */
    static final class Scratch {
        final float[] e, tmp, tmp2, tmp3;   // (vocab + one SIMD width: compress stores a whole vector)
        final float[] sample = new float[32], bigSample = new float[256];
        final float[] thresholds = new float[4];                 // descending, of one level of narrowByMass
        final double[] thresholdMass = new double[4];            // Σ values ≥ thresholds[k]
        float bracketHi;                                         // results of bracket()
        double bracketAbove, bracketTarget;
        double keptMass;                                         // set by narrowByMass
        final double[] blockSums;

        Scratch(int vocab) {
            int n = vocab + F.length();
            blockSums = new double[vocab / BLOCK + 1];
            e = new float[n];
            tmp = new float[n];
            tmp2 = new float[n];
            tmp3 = new float[n];
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
        callLogits = logits;
        callBatch = batch;
        callParts = parts;
        try {
            team.run(parts, part);
        } finally {
            callLogits = null;
            callBatch = null;
        }
    }

    /** Rows c, c + parts, ... of the call in progress, with thread slot c's scratch. */
    private void part(int c) {
        for (int r = c, rows = callBatch.rows(); r < rows; r += callParts) sampleRow(callLogits.segment(), callBatch, r, scratch[c]);
    }

    private void sampleRow(MemorySegment logits, SamplingBatch b, int r, Scratch s) {
        float[] e = s.e;
        long base = (long) r * vocab * Float.BYTES;
        float temperature = b.temperature.get(r), topP = b.topP.get(r), minP = b.minP.get(r);
        int topK = b.topK.get(r), token = -1;
        boolean plain = b.maskStart.get(r) == b.maskStart.get(r + 1) && b.penaltyStart.get(r) == b.penaltyStart.get(r + 1);
        if (plain && temperature != 0 && vocab > IN_PLACE_MIN_VOCAB) {
            // (a method of its own, which keeps sampleRow's compiled size small; SamplingMath.expChunk says why no
            // vector crosses a call on these paths)
            token = sampleInPlace(logits, base, vocab, temperature, topK, topP, minP, Philox.uniform(b.seed.get(r), b.counter.get(r)), s);
        }
        if (token < 0) {
            MemorySegment.copy(logits, ValueLayout.JAVA_FLOAT, base, e, 0, vocab);
            applyPenalties(e, b, r);
            token = drawFromPenalized(e, vocab, temperature, topK, topP, minP, b.seed.get(r), b.counter.get(r), s);
        }
        b.tokens.set(r, token);
        int n = b.numLogprobs.get(r);
        if (n >= 0) logprobs(logits, base, b, r, token, n, s);
    }

    /**
     * Steps 2-4 for a row without masks or penalties, reading its logits in place (no copy, no argmax): the max by
     * {@link #maxOf}, e by {@link #expFromLogits}, then top-p alone by {@link #topPThreshold} and
     * {@link #drawWithTotal}, anything else by {@link #cutoff} and {@link #draw}.
     *
     * @return the token, or -1 for a row whose max is NaN or -inf (the general path decides those)
     */
    private static int sampleInPlace(MemorySegment logits, long base, int vocab, float temperature, int topK, float topP, float minP,
                                     double u, Scratch s) {
        float[] e = s.e;
        float max = maxOf(logits, base, vocab);
        if (!(max > Float.NEGATIVE_INFINITY)) return -1;
        double sum = expFromLogits(logits, base, e, vocab, max, 1f / temperature);
        if (topP < 1f && !(topK > 0 && topK < vocab)) {
            float tp = topPThreshold(e, vocab, topP * sum, topP, s);
            return minP > tp ? draw(e, vocab, minP, u, -1, s.blockSums) : drawWithTotal(e, vocab, tp, u, s.keptMass);
        }
        return draw(e, vocab, cutoff(e, vocab, sum, topK, topP, minP, s), u, -1, s.blockSums);
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
        double sum = expInPlace(e, n, max, 1f / temperature);
        float cut = cutoff(e, n, sum, topK, topP, minP, s);
        return draw(e, n, cut, Philox.uniform(seed, counter), best, s.blockSums);
    }

    /**
     * Inverse CDF in id order over {e_i ≥ cut, e_i > 0}: the first id whose running sum exceeds u × total. Sums are
     * taken per block of {@link #BLOCK} ids in float SIMD lanes and carried in double; only the block holding the
     * crossing is scanned id by id.
     *
     * @param fallback  returned if nothing is kept (cannot happen when the max, e = 1, is kept)
     * @param blockSums scratch, at least n / {@link #BLOCK} + 1 entries
     */
    static int draw(float[] e, int n, float cut, double u, int fallback, double[] blockSums) {
        float floor = Math.max(cut, Float.MIN_VALUE);
        int blocks = (n + BLOCK - 1) / BLOCK;
        double total = 0;
        for (int blk = 0; blk < blocks; blk++) total += blockSums[blk] = keptSum(e, blk * BLOCK, Math.min(n, blk * BLOCK + BLOCK), floor);
        double target = u * total, acc = 0;
        int last = fallback;
        for (int blk = 0; blk < blocks; blk++) {
            int from = blk * BLOCK;
            double sum = blockSums[blk];
            if (acc + sum <= target && blk < blocks - 1) {
                acc += sum;
                continue;
            }
            for (int i = from; i < n; i++) {          // the crossing block (rounding may carry it into the next ones)
                float v = e[i];
                if (v >= floor) {
                    acc += v;
                    last = i;
                    if (acc > target) return i;
                }
            }
            return last;
        }
        return last;
    }

    /**
     * {@link #draw} when the kept mass is already known (from {@link #narrowByMass}): blocks are summed only up to
     * the crossing, half the row on average instead of all of it. The total is summed in another order than the
     * running sum, so near u = 1 rounding may leave the target above the running sum: then the last kept id, as in
     * {@link #draw}.
     */
    static int drawWithTotal(float[] e, int n, float cut, double u, double total) {
        float floor = Math.max(cut, Float.MIN_VALUE);
        double target = u * total, acc = 0;
        for (int from = 0; from < n; from += BLOCK) {
            int to = Math.min(n, from + BLOCK);
            double sum = keptSum(e, from, to, floor);
            if (acc + sum <= target) {
                acc += sum;
                continue;
            }
            for (int i = from; i < to; i++) {
                float v = e[i];
                if (v >= floor && (acc += v) > target) return i;
            }
        }
        for (int i = n - 1; i >= 0; i--) if (e[i] >= floor) return i;
        return -1;
    }

    /** Ids per block of the draw's running sum. */
    static final int BLOCK = 256;

    /** Σ e[i] ≥ floor over [from, to), in float lanes. */
    private static double keptSum(float[] e, int from, int to, float floor) {
        FloatVector acc = FloatVector.zero(F);
        int i = from;
        for (int upper = from + ((to - from) / F.length()) * F.length(); i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, e, i);
            acc = acc.add(v, v.compare(VectorOperators.GE, floor));
        }
        double sum = acc.reduceLanes(VectorOperators.ADD);
        for (; i < to; i++) if (e[i] >= floor) sum += e[i];
        return sum;
    }

    /** Index of the largest value, lowest index on ties (-inf rows: 0; NaN: unspecified). */
    static int argmax(float[] x, int n) {
        int upper = F.loopBound(n);
        float m = Float.NEGATIVE_INFINITY;
        for (int from = 0; from < upper; from += CHUNK) m = Math.max(m, maxChunk(x, from, Math.min(upper, from + CHUNK)));
        for (int i = upper; i < n; i++) if (x[i] > m) m = x[i];
        for (int from = 0; from < upper; from += CHUNK) {
            int hit = firstEqualChunk(x, from, Math.min(upper, from + CHUNK), m);
            if (hit >= 0) return hit;
        }
        for (int i = upper; i < n; i++) if (x[i] == m) return i;
        return 0;
    }

    /**
     * Floats per call of a row loop's chunk method: 64 vectors (the grouping of the float-lane sums, so chunking
     * changes no bit). The engine samples once per step, so a loop over the whole row would be called once per step,
     * and C2 compiles a method only after about 600 calls: until then it runs as C1 code, where the Vector API is its
     * boxed Java fallback, dozens of times slower. Measured before the chunks (JFR, batch-1 decode of synthetic:100m,
     * 400 steps): the greedy argmax alone took 17% of every step, in the fallback's {@code lanewiseTemplate}. In
     * chunks a row is dozens of calls, and C2 compiles them within the first steps, on the real rows' profile.
     */
    static final int CHUNK = 64 * F.length();

    /** max of x[from, to) (to - from a multiple of the species length), two chains: max has a latency of several cycles. */
    private static float maxChunk(float[] x, int from, int to) {
        FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY), m1 = m0;
        int i = from;
        for (int pairs = to - (to - from) % (2 * F.length()); i < pairs; i += 2 * F.length()) {
            m0 = m0.max(FloatVector.fromArray(F, x, i));
            m1 = m1.max(FloatVector.fromArray(F, x, i + F.length()));
        }
        for (; i < to; i += F.length()) m0 = m0.max(FloatVector.fromArray(F, x, i));
        return m0.max(m1).reduceLanes(VectorOperators.MAX);
    }

    /** The first index in [from, to) (a multiple of the species length long) where x equals m, or -1. */
    private static int firstEqualChunk(float[] x, int from, int to, float m) {
        for (int i = from; i < to; i += F.length()) {
            var hit = FloatVector.fromArray(F, x, i).compare(VectorOperators.EQ, m);
            if (hit.anyTrue()) return i + hit.firstTrue();
        }
        return -1;
    }

    /**
     * {@code e[i] = exp((e[i] - max) * invT)} in float by {@link SamplingMath#exp}, the kernels' bits.
     *
     * @return Σ e, summed in float lanes per 1024 values and carried in double
     */
    static double expInPlace(float[] e, int n, float max, float invT) {
        int upper = F.loopBound(n);
        double sum = 0;
        MemorySegment row = MemorySegment.ofArray(e);
        for (int from = 0; from < upper; from += CHUNK) sum += SamplingMath.expChunk(row, 0, e, from, Math.min(upper, from + CHUNK), max, invT);
        for (int i = upper; i < n; i++) sum += e[i] = SamplingMath.exp((e[i] - max) * invT);
        return sum;
    }

    /**
     * The combined cutoff of top-k, top-p and min-p over e (see the class comment).
     *
     * @param e   (n) values in [0, 1] with max 1; not modified
     * @param sum Σ e (from {@link #expInPlace})
     */
    static float cutoff(float[] e, int n, double sum, int topK, float topP, float minP, Scratch s) {
        boolean useK = topK > 0 && topK < n, useP = topP < 1f;
        float cut = minP > 0 ? minP : 0f;
        float tk = useK ? select(e, n, 0f, topK, false, Double.NaN, s) : 0f;
        if (!useP) return Math.max(cut, tk);
        double massK = 0;
        if (useK) {
            int blocks = (n + BLOCK - 1) / BLOCK;
            for (int blk = 0; blk < blocks; blk++) massK += keptSum(e, blk * BLOCK, Math.min(n, blk * BLOCK + BLOCK), tk);
        } else {
            massK = sum;
        }
        float tp = select(e, n, tk, topP * massK, true, massK, s);
        return Math.max(cut, Math.max(tk, tp));
    }

    /**
     * Selection without sorting over the values of {@code e[0, n)} that are ≥ {@code floor} (e is not modified):
     * by count, the {@code target}-th largest value; by mass, the largest value t whose values ≥ t sum to at least
     * {@code target} (the smallest value if even all of them fall short: rounding). A quickselect with SIMD
     * partitioning: the first round brackets the answer between two values of a 256-value sample (at the target's
     * rank or mass share, ± about three standard deviations), adds up what lies above and below without writing it
     * and keeps only the bracket ({@code compress}); a miss (rare) narrows the range and goes on. Later rounds take a
     * pivot from a 32-value sample and keep the side holding the answer; at most 64 candidates finish in
     * {@link #kthLargest} / {@link #largestWithMass}.
     *
     * @param mass the mass of the candidates if known (for the first pivot by mass), else NaN
     */
    static float select(float[] e, int n, float floor, double target, boolean byMass, double mass, Scratch s) {
        float[] cur = e;
        int len = n;
        float ceil = Float.POSITIVE_INFINITY;   // candidates: floor <= v < ceil (the bounds matter while cur == e)
        double curMass = mass;
        float smallestSeen = Float.POSITIVE_INFINITY;
        if (n > 4096) {
            float[] sample = s.bigSample;
            int m = 0;
            for (int j = 0; j < sample.length; j++) {
                float v = e[(int) ((long) j * n / sample.length)];
                if (v >= floor) sample[m++] = v;
            }
            if (m >= 64 && (byMass ? !Double.isNaN(mass) : true)) {
                sortAscending(sample, 0, m);                            // rank q from the top is sample[m-1-q]
                int q;
                if (!byMass) {
                    q = (int) Math.min(m - 1, (long) (target * m / n));
                } else {
                    q = rankReachingShare(sample, m, false, target / mass);
                }
                int margin = margin(q);
                float hi = q - margin < 0 ? Float.POSITIVE_INFINITY : sample[m - 1 - (q - margin)];
                float lo = q + margin >= m ? floor : sample[m - 1 - (q + margin)];
                float[] mid = s.tmp;
                int nm = 0, na = 0;
                double massAbove = 0, massMid = 0;
                int i = 0;
                for (int upper = F.loopBound(n); i < upper; ) {
                    FloatVector acA = FloatVector.zero(F), acM = FloatVector.zero(F);
                    for (int end = Math.min(upper, i + 64 * F.length()); i < end; i += F.length()) {
                        FloatVector v = FloatVector.fromArray(F, e, i);
                        var above = v.compare(VectorOperators.GT, hi);
                        var in = v.compare(VectorOperators.GE, lo).and(v.compare(VectorOperators.GE, floor)).andNot(above);
                        na += above.trueCount();
                        acA = acA.add(v, above);
                        if (in.anyTrue()) {
                            v.compress(in).intoArray(mid, nm);
                            nm += in.trueCount();
                            acM = acM.add(v, in);
                        }
                    }
                    massAbove += acA.reduceLanes(VectorOperators.ADD);
                    massMid += acM.reduceLanes(VectorOperators.ADD);
                }
                for (; i < n; i++) {
                    float v = e[i];
                    if (v > hi) { na++; massAbove += v; }
                    else if (v >= lo && v >= floor) { mid[nm++] = v; massMid += v; }
                }
                double have = byMass ? massAbove : na, withMid = byMass ? massAbove + massMid : na + nm;
                if (have >= target) {                 // above the bracket: candidates > hi
                    floor = Math.nextUp(hi);
                    curMass = massAbove;
                } else if (withMid >= target) {       // inside: the usual case
                    target -= have;
                    cur = mid;
                    len = nm;
                    curMass = massMid;
                } else {                              // below: candidates < lo
                    target -= withMid;
                    ceil = lo;
                    smallestSeen = lo;
                    curMass = Double.NaN;
                }
            }
        }
        return refine(cur, len, floor, ceil, target, byMass, curMass, smallestSeen, s);
    }

    /**
     * The rounds of {@link #select} after its first bracket: candidates are the values of {@code cur[0, len)} in
     * [floor, ceil); {@code smallestSeen} is the smallest value known above them (the answer if rounding leaves their
     * mass short of the target), +inf if none.
     */
    static float refine(float[] cur, int len, float floor, float ceil, double target, boolean byMass, double curMass,
                        float smallestSeen, Scratch s) {
        float[] e = cur;
        for (int round = 0; ; round++) {
            if (len <= 64 || round == 48) {
                if (cur == e) {
                    int m = 0;
                    for (int i = 0; i < len; i++) if (e[i] >= floor && e[i] < ceil) s.tmp[m++] = e[i];
                    cur = s.tmp;
                    len = m;
                }
                if (len == 0) return smallestSeen == Float.POSITIVE_INFINITY ? floor : smallestSeen;
                if (!byMass) return kthLargest(cur, len, (int) target);
                return largestWithMass(cur, len, target);
            }
            float pivot = pivot(cur, len, floor, ceil, target, byMass, curMass, s.sample);
            // outputs: the two scratch buffers that do not hold the candidates
            float[] above = cur != s.tmp ? s.tmp : s.tmp2;
            float[] below = cur != s.tmp3 && above != s.tmp3 ? s.tmp3 : (above != s.tmp2 && cur != s.tmp2 ? s.tmp2 : s.tmp);
            int na = 0, nb = 0, eqCount = 0;
            double massAbove = 0, massBelow = 0, massEq = 0;
            int i = 0;
            for (int upper = F.loopBound(len); i < upper; ) {
                FloatVector acA = FloatVector.zero(F), acB = FloatVector.zero(F), acE = FloatVector.zero(F);
                for (int end = Math.min(upper, i + 64 * F.length()); i < end; i += F.length()) {
                    FloatVector v = FloatVector.fromArray(F, cur, i);
                    var valid = v.compare(VectorOperators.GE, floor).and(v.compare(VectorOperators.LT, ceil));
                    var gt = v.compare(VectorOperators.GT, pivot).and(valid);
                    var lt = v.compare(VectorOperators.LT, pivot).and(valid);
                    var eq = v.compare(VectorOperators.EQ, pivot);
                    v.compress(gt).intoArray(above, na);
                    na += gt.trueCount();
                    v.compress(lt).intoArray(below, nb);
                    nb += lt.trueCount();
                    eqCount += eq.trueCount();
                    acA = acA.add(v, gt);
                    acB = acB.add(v, lt);
                    acE = acE.add(v, eq);
                }
                massAbove += acA.reduceLanes(VectorOperators.ADD);
                massBelow += acB.reduceLanes(VectorOperators.ADD);
                massEq += acE.reduceLanes(VectorOperators.ADD);
            }
            for (; i < len; i++) {
                float v = cur[i];
                if (!(v >= floor && v < ceil)) continue;
                if (v > pivot) { above[na++] = v; massAbove += v; }
                else if (v == pivot) { eqCount++; massEq += v; }
                else { below[nb++] = v; massBelow += v; }
            }
            double have = byMass ? massAbove : na, withEq = byMass ? massAbove + massEq : na + eqCount;
            if (have >= target) {
                cur = above;
                len = na;
                curMass = massAbove;
            } else if (withEq >= target) {
                return pivot;
            } else {
                target -= withEq;
                smallestSeen = pivot;
                cur = below;
                len = nb;
                curMass = massBelow;
            }
        }
    }

    /** Above this vocabulary size a plain sampled row is read in place and top-p takes {@link #topPThreshold}; below it the samples would be most of the row. */
    static final int IN_PLACE_MIN_VOCAB = 4096;

    /**
     * The largest of the {@code n} floats at byte offset {@code base} of {@code src}; NaN (of either sign bit) and
     * -0.0 &lt; +0.0 ordered as {@link #sortableBits} orders them. Integer max over those bits: four times faster in
     * AVX-512 lanes than {@code FloatVector.max}, whose Java semantics cost a compare and blends per vector.
     */
    static float maxOf(MemorySegment src, long base, int n) {
        int upper = F.loopBound(n), m = Integer.MIN_VALUE;
        for (int from = 0; from < upper; from += CHUNK) m = Math.max(m, maxBitsChunk(src, base, from, Math.min(upper, from + CHUNK)));
        for (int i = upper; i < n; i++) {
            int bits = Float.floatToRawIntBits(src.get(ValueLayout.JAVA_FLOAT, base + (long) i * Float.BYTES));
            m = Math.max(m, bits ^ ((bits >> 31) & 0x7fffffff));
        }
        return Float.intBitsToFloat(m ^ ((m >> 31) & 0x7fffffff));
    }

    private static final VectorSpecies<Integer> I = F.vectorShape().withLanes(int.class);

    /** The largest {@link #sortableBits} of the floats [from, to) (a multiple of the species length) at {@code base}. */
    private static int maxBitsChunk(MemorySegment src, long base, int from, int to) {
        IntVector acc = IntVector.broadcast(I, Integer.MIN_VALUE);
        for (int i = from; i < to; i += F.length()) {
            acc = acc.max(sortableBits(FloatVector.fromMemorySegment(F, src, base + (long) i * Float.BYTES, ORDER).reinterpretAsInts()));
        }
        return acc.reduceLanes(VectorOperators.MAX);
    }

    /** Float bits as ints whose signed order is the floats' order: negative floats' magnitude bits flipped. */
    private static IntVector sortableBits(IntVector bits) {
        return bits.lanewise(VectorOperators.XOR, bits.lanewise(VectorOperators.ASHR, 31).lanewise(VectorOperators.AND, 0x7fffffff));
    }

    private static final java.nio.ByteOrder ORDER = java.nio.ByteOrder.nativeOrder();

    /**
     * Step 3's exp pass over logits read in place: {@code e[i] = exp((x_i - max)·invT)} for the n floats x at byte
     * offset {@code base} of {@code src}, the bits of {@link #expInPlace}.
     *
     * @param e (n + one SIMD width) output
     * @return Σ e, summed as {@link #expInPlace} sums
     */
    static double expFromLogits(MemorySegment src, long base, float[] e, int n, float max, float invT) {
        int upper = F.loopBound(n);
        double sum = 0;
        for (int from = 0; from < upper; from += CHUNK) sum += SamplingMath.expChunk(src, base, e, from, Math.min(upper, from + CHUNK), max, invT);
        for (int i = upper; i < n; i++) sum += e[i] = SamplingMath.exp((src.get(ValueLayout.JAVA_FLOAT, base + (long) i * Float.BYTES) - max) * invT);
        return sum;
    }

    /**
     * The top-p threshold of {@link #cutoff} (no top-k) over e, exactly: the largest e value t such that the e ≥ t
     * hold at least {@code target} = topP × Σe; {@code s.keptMass} is left with their mass (for
     * {@link #drawWithTotal}). e is only read.
     */
    static float topPThreshold(float[] e, int n, double target, float topP, Scratch s) {
        // Four thresholds from 128 evenly spaced e values, sorted: the values of rank 1, 4 and 16 (about the top
        // 0.8%, 3% and 12.5% of the row by count) and a floor the answer very likely clears (the rank at which the
        // sample's own mass reaches topP, plus about three standard deviations; a sample misses the few heavy ids of
        // a peaked row, which only lowers it). One pass sums the e ≥ each; the highest threshold whose mass reaches
        // the target, and the one above it, bracket the answer, exactly whatever the sample missed.
        float[] sample = s.bigSample, t = s.thresholds;
        double[] mass = s.thresholdMass;
        int m = 128;
        for (int j = 0; j < m; j++) sample[j] = e[(int) ((long) j * n / m)];
        sortAscending(sample, 0, m);
        int q = rankReachingShare(sample, m, false, topP), below = q + margin(q);
        t[0] = sample[m - 1];
        t[1] = sample[m - 4];
        t[2] = sample[m - 16];
        t[3] = below >= m ? 0f : sample[m - 1 - below];
        for (int k = 3; k > 0 && t[k] > t[k - 1]; k--) { float x = t[k]; t[k] = t[k - 1]; t[k - 1] = x; }   // keep them descending
        int len = bracket(e, n, target, s.tmp3, s);
        return narrowByMass(s.tmp3, len, s.bracketTarget, s.bracketHi, s.bracketAbove, s);
    }

    /** Candidates at or below which {@link #narrowByMass} finishes by quickselect. */
    static final int NARROW_MIN = 256;
    /** Ranks, in {@link #narrowByMass}'s sorted sample of 64, of its thresholds (the last one low: flat rows need much of the mass). */
    private static final int[] NARROW_RANKS = {1, 4, 16, 40};

    /**
     * The top-p threshold among candidates {@code cur[0, len)} (any order; reordered): the largest candidate t whose
     * candidates ≥ t sum to at least {@code target}, given that every value above the candidates is ≥
     * {@code smallestAbove} (+inf if none) and sums to {@code aboveMass}; {@code smallestAbove} if the candidates
     * cannot reach the target (rounding), the smallest candidate if their whole mass falls short by rounding. While
     * more than {@link #NARROW_MIN} remain: 64 evenly spaced candidates, sorted, give 8 thresholds
     * ({@link #NARROW_RANKS}); one pass sums the candidates ≥ each; the first that reaches the target brackets the
     * answer, and a compress keeps the bracket (about len/8 of the candidates or fewer, by count, whatever the
     * masses). Sets {@code s.keptMass} to the mass of every value ≥ the answer (aboveMass included), which
     * {@link #drawWithTotal} uses. {@code cur} may be the row of e values itself: it is then only read.
     */
    static float narrowByMass(float[] cur, int len, double target, float smallestAbove, double aboveMass, Scratch s) {
        float[] sample = s.bigSample, t = s.thresholds;
        while (len > NARROW_MIN) {
            for (int j = 0; j < 64; j++) sample[j] = cur[(int) ((long) j * len / 64)];
            sortAscending(sample, 0, 64);
            for (int k = 0; k < t.length; k++) t[k] = sample[64 - NARROW_RANKS[k]];
            int before = len;
            float[] out = cur == s.tmp ? s.tmp2 : s.tmp;
            len = bracket(cur, len, target, out, s);
            target = s.bracketTarget;
            if (s.bracketAbove > 0 || s.bracketHi != Float.POSITIVE_INFINITY) {
                aboveMass += s.bracketAbove;
                smallestAbove = Math.min(smallestAbove, s.bracketHi);
            }
            if (len == before) {                     // no progress (all candidates equal): quickselect finishes
                len = before;
                break;
            }
            cur = out;
            if (len == 0) break;
        }
        if (len == 0) {
            s.keptMass = aboveMass;
            return smallestAbove;
        }
        if (cur == s.e) {                            // never reorder the row
            System.arraycopy(cur, 0, s.tmp, 0, len);
            cur = s.tmp;
        }
        float answer = largestWithMass(cur, len, target);
        s.keptMass = aboveMass + keptSum(cur, 0, len, answer);
        return answer;
    }

    /**
     * One level of the narrowing: sums the values of {@code a[0, n)} at or above each of the descending thresholds
     * {@code s.thresholds} in one pass, takes the highest whose sum reaches {@code target} (the answer is ≥ it) and
     * the one above it (the answer is below it), and compresses the values between them into {@code out}. Leaves the
     * bracket's upper end in {@code s.bracketHi} (+inf for the top one), the mass above it in {@code s.bracketAbove}
     * and the target within the bracket in {@code s.bracketTarget}.
     *
     * @return how many values the bracket holds
     */
    private static int bracket(float[] a, int n, double target, float[] out, Scratch s) {
        float[] t = s.thresholds;
        double[] mass = s.thresholdMass;
        massAtOrAbove(a, n, t, mass);
        int k = 0;
        while (k < t.length && mass[k] < target) k++;
        float lo = k < t.length ? t[k] : Float.NEGATIVE_INFINITY, hi = k == 0 ? Float.POSITIVE_INFINITY : t[k - 1];
        double above = k == 0 ? 0 : mass[k - 1];
        s.bracketHi = hi;
        s.bracketAbove = above;
        s.bracketTarget = target - above;
        return compressRange(a, n, lo, hi, out);
    }

    /** {@code mass[k] = Σ a[i] ≥ t[k]} over {@code a[0, n)}, for the 4 thresholds t, in one pass of float lanes. */
    private static void massAtOrAbove(float[] a, int n, float[] t, double[] mass) {
        FloatVector t0 = FloatVector.broadcast(F, t[0]), t1 = FloatVector.broadcast(F, t[1]), t2 = FloatVector.broadcast(F, t[2]),
                t3 = FloatVector.broadcast(F, t[3]);
        java.util.Arrays.fill(mass, 0);
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; ) {
            FloatVector m0 = FloatVector.zero(F), m1 = m0, m2 = m0, m3 = m0;
            for (int end = Math.min(upper, i + 64 * F.length()); i < end; i += F.length()) {
                FloatVector v = FloatVector.fromArray(F, a, i);
                m0 = m0.add(v.blend(0f, v.compare(VectorOperators.LT, t0)));   // (a blend measured faster than a masked add)
                m1 = m1.add(v.blend(0f, v.compare(VectorOperators.LT, t1)));
                m2 = m2.add(v.blend(0f, v.compare(VectorOperators.LT, t2)));
                m3 = m3.add(v.blend(0f, v.compare(VectorOperators.LT, t3)));
            }
            mass[0] += m0.reduceLanes(VectorOperators.ADD);
            mass[1] += m1.reduceLanes(VectorOperators.ADD);
            mass[2] += m2.reduceLanes(VectorOperators.ADD);
            mass[3] += m3.reduceLanes(VectorOperators.ADD);
        }
        for (; i < n; i++) for (int k = 0; k < 4; k++) if (a[i] >= t[k]) mass[k] += a[i];
    }

    /** Copies the values of {@code a[0, n)} in [lo, hi) to {@code out}, in order; returns how many. */
    private static int compressRange(float[] a, int n, float lo, float hi, float[] out) {
        int m = 0, upper = F.loopBound(n);
        for (int from = 0; from < upper; from += CHUNK) m = compressChunk(a, from, Math.min(upper, from + CHUNK), lo, hi, out, m);
        for (int i = upper; i < n; i++) if (a[i] >= lo && a[i] < hi) out[m++] = a[i];
        return m;
    }

    /** {@link #compressRange} over a[from, to), a multiple of the species length, appended at out[m]; returns the new m. */
    private static int compressChunk(float[] a, int from, int to, float lo, float hi, float[] out, int m) {
        for (int i = from; i < to; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, a, i);
            var in = v.compare(VectorOperators.GE, lo).and(v.compare(VectorOperators.LT, hi));
            if (in.anyTrue()) {
                v.compress(in).intoArray(out, m);
                m += in.trueCount();
            }
        }
        return m;
    }

    /** A pivot from 32 evenly spaced candidates ≥ floor, at the sample position matching the target's rank or mass share. */
    private static float pivot(float[] cur, int len, float floor, float ceil, double target, boolean byMass, double curMass, float[] sample) {
        int m = 0;
        for (int j = 0; j < 32; j++) {
            float v = cur[(int) ((long) j * len / 32)];
            if (v >= floor && v < ceil) sample[m++] = v;
        }
        if (m == 0) {                                   // no sampled candidate: any candidate will do
            for (int j = 0; j < len; j++) if (cur[j] >= floor && cur[j] < ceil) return cur[j];
            return floor;
        }
        for (int j = 1; j < m; j++) {                  // descending insertion sort
            float v = sample[j];
            int q = j;
            while (q > 0 && sample[q - 1] < v) { sample[q] = sample[q - 1]; q--; }
            sample[q] = v;
        }
        int pos;
        if (!byMass) {
            pos = (int) Math.min(m - 1, (long) (target * m / len));
        } else {
            pos = rankReachingShare(sample, m, true, Double.isNaN(curMass) || curMass <= 0 ? 0.5 : target / curMass);
        }
        return sample[pos];
    }

    /**
     * In a sorted sample {@code a[0, m)} (ascending, or descending if so told), the rank from the top (0 = the largest)
     * at which the values taken from the top first sum to {@code share} of the sample's mass; m - 1 if they never do
     * (rounding). The mass-share estimate of the selection's brackets and pivots.
     */
    private static int rankReachingShare(float[] a, int m, boolean descending, double share) {
        double sampleMass = 0, acc = 0;
        for (int j = 0; j < m; j++) sampleMass += a[j];
        for (int j = 0; j < m; j++) {
            acc += a[descending ? j : m - 1 - j];
            if (acc >= share * sampleMass) return j;
        }
        return m - 1;
    }

    /** Ranks of slack kept around a rank q estimated from a sample: about three standard deviations of its count. */
    private static int margin(int q) {
        return 6 + (int) (3 * Math.sqrt(q + 1));
    }

    /**
     * Sorts {@code a[from, to)} ascending in place without allocating (Arrays.sort's dual-pivot quicksort allocates a
     * work array at these sizes): quicksort with median-of-three pivots, insertion sort below 16 values, recursing
     * into the smaller side. Only the bracketing sample is sorted, so the order of equal values does not matter.
     */
    static void sortAscending(float[] a, int from, int to) {
        while (to - from > 16) {
            float p = median3(a[from], a[from + (to - from) / 2], a[to - 1]);
            int i = from, j = to - 1;
            while (i <= j) {
                while (a[i] < p) i++;
                while (a[j] > p) j--;
                if (i <= j) {
                    float t = a[i]; a[i] = a[j]; a[j] = t;
                    i++;
                    j--;
                }
            }
            if (j - from < to - i) {
                sortAscending(a, from, j + 1);
                from = i;
            } else {
                sortAscending(a, i, to);
                to = j + 1;
            }
        }
        for (int i = from + 1; i < to; i++) {
            float v = a[i];
            int k = i;
            while (k > from && a[k - 1] > v) { a[k] = a[k - 1]; k--; }
            a[k] = v;
        }
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
        int upper = F.loopBound(n);
        MemorySegment row = MemorySegment.ofArray(x);
        for (int from = 0; from < upper; from += 4 * CHUNK) sum += SamplingMath.expChunk(row, 0, null, from, Math.min(upper, from + 4 * CHUNK), max, 1f);
        for (int i = upper; i < n; i++) sum += SamplingMath.exp(x[i] - max);
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
