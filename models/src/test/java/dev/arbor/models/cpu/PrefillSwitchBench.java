package dev.arbor.models.cpu;

import dev.arbor.models.BackendOptions;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.StepShape;
import java.util.Arrays;

/**
 * The engine's prefill of one prompt, A/B of {@link PanelGemm#vectorCopy} in one JVM (not a timed test): the model
 * loaded once, then off/on alternating, {@code reps} prompts a setting a round, {@code rounds} rounds after two
 * warm-up rounds; per setting the process CPU-s (all threads: the team's workers spin between calls, so their waits
 * count too; the JIT's threads are idle after the warm-up) and the wall time. Usage:
 * {@code PrefillSwitchBench MODEL_DIR [promptLen] [rounds] [reps]} (cpu15b's {@code widen} variant, which flipped a
 * since-dropped {@code PanelGemm.widenOnce}, is in commit 5eaa092; default two threads, bf16 KV, batch invariant).
 */
public final class PrefillSwitchBench {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    public static void main(String[] args) {
        String spec = args[0];
        int promptLen = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        int blockSize = 16, blocks = (promptLen + blockSize - 1) / blockSize + 1;
        System.out.println("A/B of vectorCopy");
        try (CausalLM model = ModelLoader.load(spec, new BackendOptions("cpu", "bf16", "auto", true))) {
            model.materialize();
            try (ModelExecutor exec = model.open(new StepShape(blocks, blockSize, promptLen, 1, blocks, 1))) {
                ForwardBatch b = exec.batch();
                int[] table = new int[blocks];
                for (int k = 0; k < blocks; k++) table[k] = k;
                double[][] cpu = new double[2][rounds], wall = new double[2][rounds];
                for (int r = -2; r < rounds; r++) {
                    for (int v = 0; v < 2; v++) {
                        PanelGemm.vectorCopy = v == 1;
                        long c0 = OS.getProcessCpuTime(), w0 = System.nanoTime();
                        for (int rep = 0; rep < reps; rep++) {
                            b.clear();
                            b.beginSequence(table, blocks);
                            for (int i = 0; i < promptLen; i++) b.addToken((rep * 31 + i * 7) % 259, i);
                            b.addLogitRow(promptLen - 1);
                            exec.forward();
                            exec.computeLogits(0);
                        }
                        if (r >= 0) {
                            cpu[v][r] = (OS.getProcessCpuTime() - c0) / 1e9 / reps;
                            wall[v][r] = (System.nanoTime() - w0) / 1e9 / reps;
                        }
                    }
                    if (r >= 0) System.out.printf("round %d: off %.3f CPU-s %.3f s, on %.3f CPU-s %.3f s (off/on CPU %.3f)%n", r,
                            cpu[0][r], wall[0][r], cpu[1][r], wall[1][r], cpu[0][r] / cpu[1][r]);
                }
                double[] ratio = new double[rounds], wr = new double[rounds];
                int ahead = 0;
                for (int r = 0; r < rounds; r++) {
                    ratio[r] = cpu[0][r] / cpu[1][r];
                    wr[r] = wall[0][r] / wall[1][r];
                    if (ratio[r] > 1) ahead++;
                }
                for (int v = 0; v < 2; v++) {
                    System.out.printf("%s: prefill 1 x %d, median %.3f CPU-s = %.1f tokens per CPU-s, wall %.1f tok/s%n",
                            v == 1 ? "on " : "off", promptLen, med(cpu[v]), promptLen / med(cpu[v]), promptLen / med(wall[v]));
                }
                System.out.printf("off/on CPU per round: median %.3f (min %.3f, max %.3f), on ahead in %d of %d; wall median %.3f%n",
                        med(ratio), Arrays.stream(ratio).min().orElse(0), Arrays.stream(ratio).max().orElse(0), ahead, rounds, med(wr));
            }
        }
    }

    private static double med(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
