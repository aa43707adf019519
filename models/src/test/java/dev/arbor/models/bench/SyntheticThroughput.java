package dev.arbor.models.bench;

import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.StepShape;

/**
 * Quick throughput of a synthetic model (not a timed test): prefill tokens/s for one prompt,
 * decode tokens/s for a batch of sequences stepping one token each, with the weight-bandwidth
 * floor beside it. Usage: {@code SyntheticThroughput [spec] [promptLen] [decodeSteps] [batch] [device] [dtype] [split-k|invariant] [kv]}
 * (dtype auto|bfloat16|float32; split-k turns batch invariance off; kv: the KV cache's dtype, auto|bf16|fp32;
 * {@code -Darbor.opProfile=true} prints the timed steps' time by operation).
 */
public final class SyntheticThroughput {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    /** CPU time of the whole process (all threads), nanoseconds. */
    private static long cpuNanos() { return OS.getProcessCpuTime(); }

    public static void main(String[] args) {
        String spec = args.length > 0 ? args[0] : "synthetic:100m";
        int promptLen = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        String device = args.length > 4 ? args[4] : "cpu";
        String dtype = args.length > 5 ? args[5] : "auto";
        boolean invariant = !(args.length > 6 && args[6].equals("split-k"));
        String kv = args.length > 7 ? args[7] : "auto";
        int blockSize = 16;
        try (CausalLM model = ModelLoader.load(spec, new dev.arbor.models.BackendOptions(device, kv, dtype, invariant))) {
            ModelConfig c = model.config();
            int blocksPerSeq = (promptLen + steps + blockSize - 1) / blockSize + 1;
            long t0 = System.nanoTime();
            model.materialize();
            try (ModelExecutor exec = model.open(new StepShape(blocksPerSeq * batch, blockSize, Math.max(promptLen, batch), batch,
                    blocksPerSeq, batch))) {
                ForwardBatch b = exec.batch();
                int[][] tables = new int[batch][blocksPerSeq];
                for (int s = 0; s < batch; s++) for (int k = 0; k < blocksPerSeq; k++) tables[s][k] = s * blocksPerSeq + k;
                // Warm up: a whole prompt (so the prefill GEMM is compiled before it is timed) and a few decode steps.
                for (int round = 0; round < 2; round++) {
                    b.clear();
                    b.beginSequence(tables[0], blocksPerSeq);
                    for (int i = 0; i < promptLen; i++) b.addToken((i * 7) % 259, i);
                    b.addLogitRow(promptLen - 1);
                    exec.forward();
                    exec.computeLogits(0);
                    for (int step = 0; step < 4; step++) {
                        b.clear();
                        b.beginSequence(tables[0], blocksPerSeq);
                        b.addToken(step, promptLen + step);
                        b.addLogitRow(0);
                        exec.forward();
                        exec.computeLogits(0);
                    }
                }
                System.out.printf("%s on %s: weights ready + first token in %.1f s%n", spec, model.device(), (System.nanoTime() - t0) / 1e9);
                // -Darbor.opProfile=true: where the timed steps' time goes, by operation (the warm-up's steps left out)
                dev.arbor.models.OpProfile profile = exec.opProfile();
                if (profile != null) profile.reset();

                // Prefill: each sequence's prompt in one forward. CPU time of all the process's threads beside the wall
                // time (the team's workers spin between calls, so it counts their waits too): on a shared machine the
                // wall time moves with others' load, CPU time less.
                // ... and the calling thread's CPU time: with -Darbor.cpu.threads=1 all of the forward pass's work, at ns
                // resolution and little moved by other processes (the process figure also counts the JIT and GC threads)
                long prefillNanos = 0, c0 = cpuNanos(), tc0 = THREADS.getCurrentThreadCpuTime();
                for (int s = 0; s < batch; s++) {
                    long p0 = System.nanoTime();
                    b.clear();
                    b.beginSequence(tables[s], blocksPerSeq);
                    for (int i = 0; i < promptLen; i++) b.addToken((s * 31 + i * 7) % 259, i);
                    b.addLogitRow(promptLen - 1);
                    exec.forward();
                    exec.computeLogits(0);
                    exec.readLogits(0, new float[c.vocabSize()]);
                    prefillNanos += System.nanoTime() - p0;
                }
                long prefillCpu = cpuNanos() - c0, prefillThreadCpu = THREADS.getCurrentThreadCpuTime() - tc0;
                // Decode: all sequences one token per step.
                float[] row = new float[c.vocabSize()];
                long d0 = System.nanoTime(), dc0 = cpuNanos(), dtc0 = THREADS.getCurrentThreadCpuTime();
                for (int step = 0; step < steps; step++) {
                    b.clear();
                    for (int s = 0; s < batch; s++) {
                        b.beginSequence(tables[s], blocksPerSeq);
                        b.addToken((step + s) % 259, promptLen + step);
                        b.addLogitRow(s);
                    }
                    exec.forward();
                    exec.computeLogits(0);
                    exec.readLogits(batch - 1, row);
                }
                double decodeSec = (System.nanoTime() - d0) / 1e9, decodeCpu = (cpuNanos() - dc0) / 1e9;
                double decodeThreadCpu = (THREADS.getCurrentThreadCpuTime() - dtc0) / 1e9;
                long params = c.decodeWeightElements();
                double prefillTps = (double) promptLen * batch / (prefillNanos / 1e9);
                double decodeTps = (double) steps * batch / decodeSec;
                System.out.printf("prefill: %d x %d tokens, %.1f tokens/s (%.1f GFLOP/s); %.2f CPU-s, %.1f tokens per CPU-second;"
                                + " calling thread %.3f CPU-s, %.1f tokens per its CPU-second%n", batch, promptLen,
                        prefillTps, prefillTps * 2 * params / 1e9, prefillCpu / 1e9, promptLen * batch / (prefillCpu / 1e9),
                        prefillThreadCpu / 1e9, promptLen * batch / (prefillThreadCpu / 1e9));
                System.out.printf("decode:  batch %d, %d steps, %.1f tokens/s, %.2f ms/step; weights read per step %.0f MB (%.1f GB/s); %.2f CPU-ms/step;"
                                + " calling thread %.2f CPU-ms/step%n",
                        batch, steps, decodeTps, decodeSec * 1000 / steps, params * 2 / 1e6, params * 2.0 * steps / decodeSec / 1e9,
                        decodeCpu * 1000 / steps, decodeThreadCpu * 1000 / steps);
                if (profile != null) System.out.print(profile.report());
            }
        }
    }
}
