package dev.arbor.models.cpu;

import dev.arbor.models.ForwardBatch;
import dev.arbor.models.StepShape;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * CPU decode attention alone (not a timed test), {@link Attention#groupedDecode} off against on in one JVM, alternating:
 * {@code seqs} sequences whose block tables begin with the same {@code prefix / 16} physical blocks, then {@code own} tokens
 * each in its own blocks; one decode query a sequence over {@code layers} layers' caches in turn (synthetic:100m's 12 × 64
 * heads, block 16, bf16 K/V by default). Per setting the median over rounds of the calling thread's CPU µs a decode step
 * (run with {@code -Darbor.cpu.threads=1}: the calling thread does all the work). Usage:
 * {@code SharedPrefixAttentionBench [seqs] [prefix] [own] [rounds] [float32|bfloat16] [layers]}.
 */
public final class SharedPrefixAttentionBench {
    private static final ThreadMXBean TM = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int seqs = args.length > 0 ? Integer.parseInt(args[0]) : 16;
        int prefix = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int own = args.length > 2 ? Integer.parseInt(args[2]) : 48;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 15;
        boolean bf16 = args.length <= 4 || args[4].startsWith("bf");
        int layers = args.length > 5 ? Integer.parseInt(args[5]) : 12;
        int heads = 12, headDim = 64, bs = 16, shared = prefix / bs, len = prefix + own, nb = (len + bs - 1) / bs;
        int blocks = shared + seqs * (nb - shared), kvDim = heads * headDim;
        PagedKvCache cache = new PagedKvCache(layers, blocks, bs, heads, headDim, bf16);
        SplittableRandom rnd = new SplittableRandom(5);
        ForwardBatch decode = new ForwardBatch(new StepShape(blocks, bs, seqs, seqs, nb, seqs));
        int next = shared;
        float[] k = new float[len * kvDim], v = new float[len * kvDim];
        for (int s = 0; s < seqs; s++) {
            int[] table = new int[nb];
            for (int b = 0; b < nb; b++) table[b] = b < shared ? b : next++;
            for (int i = s == 0 ? 0 : prefix * kvDim; i < k.length; i++) {
                k[i] = (float) rnd.nextDouble(-1, 1);
                v[i] = (float) rnd.nextDouble(-1, 1);
            }
            for (int l = 0; l < layers; l++) for (int t = 0; t < len; t++) cache.write(l, k, v, t, table[t / bs], t % bs);
            decode.beginSequence(table, nb);
            decode.addToken(0, len - 1);
        }
        float[] q = new float[seqs * kvDim], out = new float[q.length];
        for (int i = 0; i < q.length; i++) q[i] = (float) rnd.nextDouble(-3, 3);
        Attention.Task task = new Attention.Task();
        Runnable step = () -> {
            for (int l = 0; l < layers; l++) task.run(q, decode, cache, l, heads, null, out);
        };
        System.out.printf("decode attention, %d sequences sharing %d tokens (%d blocks) + %d own, %d layers x %d heads x %d, KV %s%n",
                seqs, prefix, shared, own, layers, heads, headDim, bf16 ? "bfloat16" : "float32");
        boolean saved = Attention.groupedDecode;
        long w0 = System.nanoTime();
        for (int i = 0; System.nanoTime() - w0 < 4_000_000_000L || i < 20; i++) {   // C2 first, both settings
            Attention.groupedDecode = (i & 1) == 1;
            step.run();
        }
        double[][] cpu = new double[2][rounds];
        for (int r = 0; r < rounds; r++) {
            for (int g = 0; g < 2; g++) {
                Attention.groupedDecode = g == 1;
                long c0 = TM.getCurrentThreadCpuTime();
                for (int i = 0; i < 5; i++) step.run();
                cpu[g][r] = (TM.getCurrentThreadCpuTime() - c0) / 1e3 / 5;
            }
        }
        Attention.groupedDecode = saved;
        double[] ratio = new double[rounds];
        for (int r = 0; r < rounds; r++) ratio[r] = cpu[0][r] / cpu[1][r];
        System.out.printf("off %.0f us, on %.0f us thread CPU a step (medians of %d rounds); off/on median %.3f (min %.3f, max %.3f)%n",
                med(cpu[0]), med(cpu[1]), rounds, med(ratio), Arrays.stream(ratio).min().orElse(0), Arrays.stream(ratio).max().orElse(0));
    }

    private static double med(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
