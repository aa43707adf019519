package dev.arbor.kernels.bench;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.kernels.sampling.CpuSampler;
import dev.arbor.kernels.sampling.Philox;
import dev.arbor.kernels.sampling.SamplingBatch;

import java.util.Arrays;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * µs per sequence for greedy, top-k 50 and top-p 0.9 (temperature 1) at vocab 32,000 and 151,936: "before" is the
 * engine's sampler algorithm as of 2026-11-30 (engine/core/Sampler: clone, softmax with Math.exp, sort the whole
 * vocabulary for truncation; copied here because kernels cannot import engine), "after" is {@link CpuSampler}, one
 * sequence per call and 8 sequences per call (rows in parallel). The floor beside them: one read of the row
 * (vocab × 4 bytes) at the copy bandwidth measured here. Logits: N(0, 2.5²) with 20 ids raised by 8, so top-p 0.9
 * keeps a few hundred to a few thousand ids. Minimum and median of 101 timed repetitions (51 for "before") after at least 400 ms of warm-up; on a shared, loaded machine the minimum is the better estimate.
 *
 * <pre>java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.kernels.bench.SamplerBench</pre>
 */
public final class SamplerBench {
    private SamplerBench() {}

    public static void main(String[] args) {
        // a whole silent pass first: on a loaded 2-core machine the JIT needs seconds to compile every path
        java.io.PrintStream out = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        table();
        System.setOut(out);
        table();
    }

    private static void table() {
        System.out.printf("%-8s %-10s %19s %19s %19s %9s %7s%n", "vocab", "mode", "before µs min/med", "after µs min/med",
                "after×8 µs/seq", "floor µs", "kept");
        for (int vocab : new int[] {32000, 151936}) {
            float[] x = logits(vocab, 1);
            double floorUs = copyFloorUs(x);
            String[] modes = {"greedy", "top-k 50", "top-p 0.9"};
            double[] after = new double[3];
            for (int m = 0; m < 3; m++) {
                double temperature = m == 0 ? 0 : 1;
                int topK = m == 1 ? 50 : 0;
                double topP = m == 2 ? 0.9 : 1;
                double before = medianUs(() -> Before.sample(x, temperature, topK, topP, new SplittableRandom(7)), 51), beforeMin = lastMin;
                double afterMed = afterUs(x, vocab, 1, temperature, topK, topP);
                after[m] = lastMin;
                double batched = afterUs(x, vocab, 8, temperature, topK, topP), batchedMin = lastMin;
                System.out.printf("%-8d %-10s %9.1f/%-9.1f %9.1f/%-9.1f %9.1f/%-9.1f %9.1f %7d%n", vocab, modes[m], beforeMin, before,
                        after[m], afterMed, batchedMin, batched, floorUs, keptCount(x, topK, topP, temperature));
            }
            System.out.printf("vocab %d: top-p / greedy (after, one sequence, min) = %.2f×%n", vocab, after[2] / after[0]);
        }
    }

    static float[] logits(int vocab, long seed) {
        Random r = new Random(seed);
        float[] x = new float[vocab];
        for (int i = 0; i < vocab; i++) x[i] = (float) (r.nextGaussian() * 2.5);
        for (int j = 0; j < 20; j++) x[r.nextInt(vocab)] += 8;
        return x;
    }

    private static double afterUs(float[] x, int vocab, int rows, double temperature, int topK, double topP) {
        try (SamplingBatch b = new SamplingBatch(rows, vocab, 0, 0); FloatArray l = new FloatArray(rows * vocab)) {
            for (int r = 0; r < rows; r++) l.segment().asSlice((long) r * vocab * 4).copyFrom(java.lang.foreign.MemorySegment.ofArray(x));
            CpuSampler sampler = new CpuSampler(vocab);
            int[] step = {0};
            double median = medianUs(() -> {
                b.clear();
                for (int r = 0; r < rows; r++) b.addRow(temperature, topK, topP, 0, 1, 0, 0, 5, Philox.counter(r, step[0]), -1);
                step[0]++;
                sampler.sample(l, b);
                return b.token(0);
            }, 101);
            lastMin /= rows;
            return median / rows;
        }
    }

    private static int keptCount(float[] x, int topK, double topP, double temperature) {
        if (temperature == 0) return 1;
        float[] p = x.clone();
        Before.softmaxInPlace(p, (float) (1 / temperature));
        int[] order = Before.byDescendingProbability(p);
        int keep = topK > 0 ? topK : p.length;
        double mass = 0, acc = 0;
        for (int i = 0; i < keep; i++) mass += p[order[i]];
        if (topP < 1) {
            int k = 0;
            while (k < keep) { acc += p[order[k]] / mass; k++; if (acc >= topP) break; }
            keep = k;
        }
        return keep;
    }

    private static double copyFloorUs(float[] x) {
        float[] y = new float[x.length];
        return medianUs(() -> { System.arraycopy(x, 0, y, 0, x.length); return (int) y[7]; }, 201) / 2;   // read + write counted, the floor reads once
    }

    interface Body { int run(); }

    static int sink;
    /** The fastest repetition of the last {@link #medianUs} call: on a shared, loaded machine the better estimate of the cost. */
    static double lastMin;

    private static double medianUs(Body body, int reps) {
        long warm = System.nanoTime() + 400_000_000L;                    // warm-up: at least 400 ms and 20 runs
        for (int i = 0; i < 20 || System.nanoTime() < warm; i++) sink += body.run();
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            sink += body.run();
            t[i] = (System.nanoTime() - t0) / 1e3;
        }
        Arrays.sort(t);
        lastMin = t[0];
        return t[reps / 2];
    }

    /** The engine's sampler as of 2026-11-30 (no penalties in this benchmark): the "before" figures. */
    static final class Before {
        static int sample(float[] logits, double temperature, int topK, double topP, SplittableRandom random) {
            float[] x = logits.clone();
            if (temperature == 0) return argmax(x);
            softmaxInPlace(x, (float) (1.0 / temperature));
            int[] order = byDescendingProbability(x);
            int keep = topK > 0 ? Math.min(topK, x.length) : x.length;
            double mass = 0;
            for (int i = 0; i < keep; i++) mass += x[order[i]];
            if (topP < 1.0) {
                double acc = 0;
                int k = 0;
                while (k < keep) { acc += x[order[k]] / mass; k++; if (acc >= topP) break; }
                keep = k;
            }
            double total = 0;
            for (int i = 0; i < keep; i++) total += x[order[i]];
            double u = random.nextDouble() * total, acc = 0;
            for (int i = 0; i < keep; i++) { acc += x[order[i]]; if (u < acc) return order[i]; }
            return order[keep - 1];
        }

        static int argmax(float[] x) {
            int best = 0;
            for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
            return best;
        }

        static void softmaxInPlace(float[] x, float invT) {
            for (int i = 0; i < x.length; i++) x[i] *= invT;
            float max = Float.NEGATIVE_INFINITY;
            for (float v : x) max = Math.max(max, v);
            double sum = 0;
            for (int i = 0; i < x.length; i++) { x[i] = (float) Math.exp(x[i] - max); sum += x[i]; }
            float inv = (float) (1.0 / sum);
            for (int i = 0; i < x.length; i++) x[i] *= inv;
        }

        static int[] byDescendingProbability(float[] probs) {
            long[] keys = new long[probs.length];
            for (int i = 0; i < probs.length; i++) keys[i] = ((long) Float.floatToRawIntBits(probs[i]) << 32) | (0xFFFFFFFFL - i);
            Arrays.sort(keys);
            int[] order = new int[probs.length];
            for (int i = 0; i < order.length; i++) order[i] = (int) (0xFFFFFFFFL - (keys[keys.length - 1 - i] & 0xFFFFFFFFL));
            return order;
        }
    }
}
