package dev.arbor.models.cpu;

import dev.arbor.models.ForwardBatch;
import dev.arbor.models.StepShape;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Decode attention alone under several switch settings in one JVM (not a timed test): {@code batch} sequences at position
 * {@code ctx}, each with its own contiguous blocks (or, with {@code shared} > 0, all sharing their first {@code shared}
 * tokens' blocks, a prompt prefix), synthetic:100m's heads (12 × 64, block 16, bfloat16 K/V), one decode step = every
 * layer's attention in turn (K/V from memory as in the engine's step). Each round runs {@code reps} steps under every
 * setting, the order rotated by one each round, after two warm-up rounds; per setting the median wall and calling-thread
 * CPU µs a step, and per round the first setting's time over each setting's (median, min, max, rounds ahead). Run with
 * {@code -Darbor.cpu.threads=1} for CPU times that are all of the work. A setting is a name of letters: {@code g} ({@link Attention#groupedDecode}), {@code s} ({@link Attention#softmaxPasses});
 * {@code -} none. Usage: {@code DecodeAttentionSettingsBench [ctx] [batch] [layers] [rounds] [reps] [settings] [shared]}
 * (defaults 576 8 12 10 5 -,s 0). {@code -Dbench.prefill=true}: a step is instead the {@code ctx}-token prefill of sequence 0.
 */
public final class DecodeAttentionSettingsBench {
    private static final ThreadMXBean TM = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int ctx = args.length > 0 ? Integer.parseInt(args[0]) : 576;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int layers = args.length > 2 ? Integer.parseInt(args[2]) : 12;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        int reps = args.length > 4 ? Integer.parseInt(args[4]) : 5;
        String[] settings = (args.length > 5 ? args[5] : "-,s").split(",");
        int shared = args.length > 6 ? Integer.parseInt(args[6]) : 0;
        int heads = 12, headDim = 64, bs = 16, perSeq = (ctx + 1 + bs - 1) / bs, qDim = heads * headDim;
        int sharedBlocks = shared / bs, n = settings.length;
        PagedKvCache cache = new PagedKvCache(layers, perSeq * batch, bs, heads, headDim, true);
        SplittableRandom rnd = new SplittableRandom(5);
        float[] k = new float[qDim], v = new float[qDim];
        for (int i = 0; i < qDim; i++) {
            k[i] = (float) rnd.nextDouble(-1, 1);
            v[i] = (float) rnd.nextDouble(-1, 1);
        }
        ForwardBatch decode = new ForwardBatch(new StepShape(perSeq * batch, bs, batch, batch, perSeq, batch));
        for (int s = 0; s < batch; s++) {
            int[] table = new int[perSeq];
            for (int i = 0; i < perSeq; i++) table[i] = i < sharedBlocks ? i : s * perSeq + i;
            for (int l = 0; l < layers; l++)
                for (int t = s == 0 ? 0 : sharedBlocks * bs; t <= ctx; t++) cache.write(l, k, v, 0, table[t / bs], t % bs);
            decode.beginSequence(table, perSeq);
            decode.addToken(s, ctx - (s % 3));   // positions differ a little: partial last blocks of different lengths
        }
        boolean prefill = Boolean.getBoolean("bench.prefill");   // a step: sequence 0's ctx-token prefill instead
        if (prefill) {
            decode = new ForwardBatch(new StepShape(perSeq * batch, bs, ctx, 1, perSeq, 1));
            int[] table = new int[perSeq];
            for (int i = 0; i < perSeq; i++) table[i] = i;
            decode.beginSequence(table, perSeq);
            for (int i = 0; i < ctx; i++) decode.addToken(0, i);
        }
        int rows = prefill ? ctx : batch;
        float[] q = new float[rows * qDim], out = new float[rows * qDim];
        for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextDouble(-1, 1);
        Attention.Task task = new Attention.Task();
        boolean s0 = Attention.softmaxPasses, g0 = Attention.groupedDecode;
        double[][] wall = new double[n][rounds], cpu = new double[n][rounds];
        System.out.printf("decode attention: batch %d at %d (shared %d), %d layers, %d rounds x %d steps, settings %s, load %.2f%n",
                batch, ctx, shared, layers, rounds, reps, String.join(",", settings), load());
        try {
            for (int r = -2; r < rounds; r++) {
                for (int j = 0; j < n; j++) {
                    int s = Math.floorMod(j + r, n);
                    Attention.groupedDecode = settings[s].contains("g");
                    Attention.softmaxPasses = settings[s].contains("s");
                    long w0 = System.nanoTime(), t0 = TM.getCurrentThreadCpuTime();
                    for (int i = 0; i < reps; i++)
                        for (int l = 0; l < layers; l++) task.run(q, decode, cache, l, heads, null, out);
                    if (r >= 0) {
                        wall[s][r] = (System.nanoTime() - w0) / 1e3 / reps;
                        cpu[s][r] = (TM.getCurrentThreadCpuTime() - t0) / 1e3 / reps;
                    }
                }
            }
        } finally {
            Attention.groupedDecode = g0;
            Attention.softmaxPasses = s0;
        }
        for (int s = 0; s < n; s++) {
            double[] rw = new double[rounds], rc = new double[rounds];
            int aw = 0, ac = 0;
            for (int r = 0; r < rounds; r++) {
                rw[r] = wall[0][r] / wall[s][r];
                rc[r] = cpu[0][r] / cpu[s][r];
                if (rw[r] > 1) aw++;
                if (rc[r] > 1) ac++;
            }
            System.out.printf("%-4s wall %.1f us, thread CPU %.1f us a step; %s/%s wall median %.3f (min %.3f, max %.3f, ahead %d of %d), CPU median %.3f (min %.3f, max %.3f, ahead %d)%n",
                    settings[s], med(wall[s]), med(cpu[s]), settings[0], settings[s], med(rw), min(rw), max(rw), aw, rounds,
                    med(rc), min(rc), max(rc), ac);
        }
        System.out.printf("load %.2f%n", load());
    }

    private static double load() { return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(); }
    private static double min(double[] a) { return Arrays.stream(a).min().orElse(0); }
    private static double max(double[] a) { return Arrays.stream(a).max().orElse(0); }
    private static double med(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
