package dev.arbor.models.cpu;

import dev.arbor.models.ForwardBatch;
import dev.arbor.models.StepShape;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * CPU attention alone (not a timed test): the prefill of one {@code context}-token prompt (every query over its
 * causal prefix) and one decode query at position {@code context}, synthetic:100m's heads (12 × 64, block 16).
 * Prints the median of 9 repetitions in wall time and in the calling thread's CPU time: run it with
 * {@code -Darbor.cpu.threads=1} so the calling thread does all the work and its CPU time is the kernel's,
 * whatever else the machine runs. Usage: {@code AttentionBench [context] [heads] [headDim] [float32|bfloat16] [layers]}
 * (the cache's K/V dtype; layers: the decode query also runs over that many layers' caches in turn, 12 by default as
 * synthetic:100m has, so its K/V come from memory as in the engine's step rather than from the caches of one layer).
 */
public final class AttentionBench {
    private static final ThreadMXBean TM = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int ctx = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int heads = args.length > 1 ? Integer.parseInt(args[1]) : 12;
        int headDim = args.length > 2 ? Integer.parseInt(args[2]) : 64;
        boolean bf16 = args.length > 3 && args[3].startsWith("bf");
        int layers = args.length > 4 ? Integer.parseInt(args[4]) : 12;
        int bs = 16, blocks = (ctx + 1 + bs - 1) / bs, qDim = heads * headDim;
        SplittableRandom rnd = new SplittableRandom(3);
        PagedKvCache cache = new PagedKvCache(layers, blocks, bs, heads, headDim, bf16);
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) table[i] = i;
        ForwardBatch prefill = new ForwardBatch(new StepShape(blocks, bs, ctx + 1, 1, blocks, 1));
        prefill.beginSequence(table, blocks);
        for (int i = 0; i <= ctx; i++) prefill.addToken(0, i);
        float[] k = random(rnd, (ctx + 1) * qDim), v = random(rnd, (ctx + 1) * qDim);
        for (int l = 0; l < layers; l++)
            for (int t = 0; t <= ctx; t++) cache.write(l, k, v, t, prefill.slot(t) / bs, prefill.slot(t) % bs);
        ForwardBatch prompt = new ForwardBatch(new StepShape(blocks, bs, ctx, 1, blocks, 1));
        prompt.beginSequence(table, blocks);
        for (int i = 0; i < ctx; i++) prompt.addToken(0, i);
        ForwardBatch decode = new ForwardBatch(new StepShape(blocks, bs, 1, 1, blocks, 1));
        decode.beginSequence(table, blocks);
        decode.addToken(0, ctx);
        float[] q = random(rnd, ctx * qDim), out = new float[ctx * qDim];
        Attention.Task task = new Attention.Task();
        System.out.println("KV cache " + (bf16 ? "bfloat16" : "float32") + ", " + heads + " heads x " + headDim + ", block " + bs);
        report("prefill " + ctx + " tokens", () -> task.run(q, prompt, cache, 0, heads, null, out), 2.0 * 2 * heads * headDim * ctx * (ctx + 1) / 2);
        report("decode at " + ctx, () -> task.run(q, decode, cache, 0, heads, null, out), 2.0 * 2 * heads * headDim * (ctx + 1));
        double kvBytes = 2.0 * layers * (ctx + 1) * qDim * (bf16 ? 2 : 4);
        double us = report("decode x " + layers + " layers", () -> {
            for (int l = 0; l < layers; l++) task.run(q, decode, cache, l, heads, null, out);
        }, 2.0 * 2 * layers * heads * headDim * (ctx + 1));
        System.out.printf("  %.1f MB of K/V read per decode step: %.1f GB/s of wall time%n", kvBytes / 1e6, kvBytes / us / 1e3);
        int batch = args.length > 5 ? Integer.parseInt(args[5]) : 1;
        if (batch > 1) batchedDecode(ctx, heads, headDim, bf16, layers, batch);
    }

    /** One decode step of {@code batch} sequences at position {@code ctx}, each with its own contiguous blocks, over every layer. */
    private static void batchedDecode(int ctx, int heads, int headDim, boolean bf16, int layers, int batch) {
        int bs = 16, perSeq = (ctx + 1 + bs - 1) / bs, qDim = heads * headDim;
        PagedKvCache cache = new PagedKvCache(layers, perSeq * batch, bs, heads, headDim, bf16);
        SplittableRandom rnd = new SplittableRandom(5);
        float[] k = random(rnd, qDim), v = random(rnd, qDim);
        ForwardBatch decode = new ForwardBatch(new StepShape(perSeq * batch, bs, batch, batch, perSeq, batch));
        for (int s = 0; s < batch; s++) {
            int[] table = new int[perSeq];
            for (int i = 0; i < perSeq; i++) table[i] = s * perSeq + i;
            for (int l = 0; l < layers; l++)
                for (int t = 0; t <= ctx; t++) cache.write(l, k, v, 0, table[t / bs], t % bs);
            decode.beginSequence(table, perSeq);
            decode.addToken(s, ctx);
        }
        float[] q = random(rnd, batch * qDim), out = new float[batch * qDim];
        Attention.Task task = new Attention.Task();
        double us = report("decode b" + batch + " x " + layers + " layers", () -> {
            for (int l = 0; l < layers; l++) task.run(q, decode, cache, l, heads, null, out);
        }, 2.0 * 2 * batch * layers * heads * headDim * (ctx + 1));
        double kvBytes = 2.0 * batch * layers * (ctx + 1) * qDim * (bf16 ? 2 : 4);
        System.out.printf("  %.1f MB of K/V read per batch-%d decode step: %.1f GB/s of wall time%n", kvBytes / 1e6, batch, kvBytes / us / 1e3);
    }

    /** Prints the medians; returns the median wall time in microseconds. */
    private static double report(String what, Runnable call, double flops) {
        long w0 = System.nanoTime();
        int reps = 0;
        while (System.nanoTime() - w0 < 3_000_000_000L || reps < 20) { call.run(); reps++; }   // C2 first
        int inner = Math.max(1, reps / 10);
        double[] wall = new double[9], cpu = new double[9];
        for (int r = 0; r < wall.length; r++) {
            long t0 = System.nanoTime(), c0 = TM.getCurrentThreadCpuTime();
            for (int i = 0; i < inner; i++) call.run();
            wall[r] = (System.nanoTime() - t0) / 1e3 / inner;
            cpu[r] = (TM.getCurrentThreadCpuTime() - c0) / 1e3 / inner;
        }
        Arrays.sort(wall);
        Arrays.sort(cpu);
        System.out.printf("%-22s %9.1f us wall, %9.1f us thread CPU (min %.1f), %.1f GFLOP per thread-CPU-second%n",
                what, wall[4], cpu[4], cpu[0], flops / cpu[4] / 1e3);
        return wall[4];
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rnd.nextDouble(-1, 1);
        return a;
    }
}
