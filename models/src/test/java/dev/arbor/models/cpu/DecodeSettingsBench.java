package dev.arbor.models.cpu;

import dev.arbor.models.BackendOptions;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.StepShape;
import java.util.Arrays;

/**
 * Batched decode under several switch settings in one JVM (not a timed test): {@code batch} sequences prefilled with
 * {@code context} tokens, then rounds; each round runs {@code steps} decode steps (every sequence one token, a logits row
 * each) under every setting (wall, process CPU time in 10 ms ticks: the team's workers spin between calls; the main thread's CPU
 * time in ns: all of the work with {@code -Darbor.cpu.threads=1}), the order rotated by one each round; two warm-up rounds first. A setting is a name made of
 * the letters {@code d} ({@link Matmul#decodeDirect8} on, else off) and {@code a} ({@link Matmul#weightAddress} on, else
 * off) {@code s} ({@link Attention#softmaxPasses} on, else off) and {@code pN} ({@link PanelGemm#minTokens} = N for that setting, else as started), e.g. {@code -,d,a,da} or {@code a,ap8}. Per setting the median wall ms a step; per round each setting's wall against the first
 * setting's (median, min, max, rounds ahead).
 * With {@code -Dbench.prefill=true} a step is instead the prefill of sequence 0's {@code context}-token prompt (again,
 * into the same blocks: a 1 × context prefill, its last logits row).
 * {@code -Dbench.kv=fp32|bf16|auto} sets the KV cache's dtype (default bf16, as the peer script's runs).
 * Usage: {@code DecodeSettingsBench MODEL [batch] [context] [rounds] [steps] [settings]} (default {@code -,d,a,da}).
 */
public final class DecodeSettingsBench {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    private static final java.lang.management.ThreadMXBean TM = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final boolean PREFILL = Boolean.getBoolean("bench.prefill");

    public static void main(String[] args) {
        String spec = args[0];
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int context = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 10;
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : 6;
        String[] settings = (args.length > 5 ? args[5] : "-,d,a,da").split(",");
        int n = settings.length, blockSize = 16;
        int total = context + n * (rounds + 2) * steps + 1, perSeq = (total + blockSize - 1) / blockSize + 1;
        System.out.printf("settings %s (d: decodeDirect8, a: weightAddress); " + (PREFILL ? "prefill 1 x context, " : "") + "batch %d, context %d, %d rounds x %d steps, load %s%n",
                String.join(",", settings), batch, context, rounds, steps, load());
        boolean savedD = Matmul.decodeDirect8, savedA = Matmul.weightAddress;
        int savedP = PanelGemm.minTokens;
        boolean savedS = Attention.softmaxPasses;
        try (CausalLM model = ModelLoader.load(spec, new BackendOptions("cpu", System.getProperty("bench.kv", "bf16"), "auto", true))) {
            model.materialize();
            StepShape shape = new StepShape(perSeq * batch, blockSize, Math.max(context, batch), batch, perSeq, batch);
            try (ModelExecutor exec = model.open(shape)) {
                int[][] tables = new int[batch][perSeq];
                for (int s = 0; s < batch; s++) for (int k = 0; k < perSeq; k++) tables[s][k] = s * perSeq + k;
                ForwardBatch b = exec.batch();
                for (int s = 0; s < batch; s++) {
                    b.clear();
                    b.beginSequence(tables[s], perSeq);
                    for (int i = 0; i < context; i++) b.addToken((s * 31 + i * 7) % 259, i);
                    b.addLogitRow(context - 1);
                    exec.forward();
                    exec.computeLogits(0);
                }
                int pos = context;
                double[][] wall = new double[n][rounds], cpu = new double[n][rounds], tcpu = new double[n][rounds];
                for (int r = -2; r < rounds; r++) {
                    for (int j = 0; j < n; j++) {
                        int v = Math.floorMod(j + r, n);
                        Matmul.decodeDirect8 = settings[v].contains("d");
                        Matmul.weightAddress = settings[v].contains("a");
                        Attention.softmaxPasses = settings[v].contains("s");
                        java.util.regex.Matcher pm = java.util.regex.Pattern.compile("p(\\d+)").matcher(settings[v]);
                        PanelGemm.minTokens = pm.find() ? Math.max(PanelGemm.MT, Integer.parseInt(pm.group(1))) : savedP;
                        long c0 = OS.getProcessCpuTime(), w0 = System.nanoTime(), t0 = TM.getCurrentThreadCpuTime();
                        for (int step = 0; step < steps && PREFILL; step++) {   // a prefill of sequence 0's prompt again
                            b.clear();
                            b.beginSequence(tables[0], perSeq);
                            for (int i = 0; i < context; i++) b.addToken((i * 7) % 259, i);
                            b.addLogitRow(context - 1);
                            exec.forward();
                            exec.computeLogits(0);
                        }
                        for (int step = 0; step < steps && !PREFILL; step++, pos++) {
                            b.clear();
                            for (int s = 0; s < batch; s++) {
                                b.beginSequence(tables[s], perSeq);
                                b.addToken((pos + s) % 259, pos);
                                b.addLogitRow(s);
                            }
                            exec.forward();
                            exec.computeLogits(0);
                        }
                        if (r >= 0) {
                            wall[v][r] = (System.nanoTime() - w0) / 1e6 / steps;
                            cpu[v][r] = (OS.getProcessCpuTime() - c0) / 1e6 / steps;
                            tcpu[v][r] = (TM.getCurrentThreadCpuTime() - t0) / 1e6 / steps;
                        }
                    }
                    if (r >= 0) {
                        StringBuilder line = new StringBuilder("round " + r + ":");
                        for (int v = 0; v < n; v++) line.append(String.format(" %s %.2f", settings[v], wall[v][r]));
                        System.out.println(line.append(" ms a step"));
                    }
                }
                for (int v = 0; v < n; v++) {
                    double[] ratio = new double[rounds], cr = new double[rounds], tr = new double[rounds];
                    int ahead = 0, cahead = 0, tahead = 0;
                    for (int r = 0; r < rounds; r++) {
                        ratio[r] = wall[0][r] / wall[v][r];
                        cr[r] = cpu[0][r] / cpu[v][r];
                        if (ratio[r] > 1) ahead++;
                        if (cr[r] > 1) cahead++;
                        tr[r] = tcpu[0][r] / tcpu[v][r];
                        if (tr[r] > 1) tahead++;
                    }
                    int perStep = PREFILL ? context : batch;
                    System.out.printf("%-3s median %.2f ms a step = %.1f tok/s, %.2f CPU-ms; %s/%s per round: wall median %.3f (min %.3f, max %.3f), ahead in %d of %d; CPU median %.3f, ahead in %d; main thread CPU %.2f ms, median %.3f (min %.3f, max %.3f), ahead in %d%n",
                            settings[v], med(wall[v]), perStep * 1000 / med(wall[v]), med(cpu[v]), settings[0], settings[v], med(ratio),
                            Arrays.stream(ratio).min().orElse(0), Arrays.stream(ratio).max().orElse(0), ahead, rounds, med(cr), cahead,
                            med(tcpu[v]), med(tr), Arrays.stream(tr).min().orElse(0), Arrays.stream(tr).max().orElse(0), tahead);
                }
                System.out.printf("load %s%n", load());
            }
        } finally {
            Matmul.decodeDirect8 = savedD;
            Matmul.weightAddress = savedA;
            PanelGemm.minTokens = savedP;
            Attention.softmaxPasses = savedS;
        }
    }

    static String load() {
        return String.format("%.2f", java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }

    static double med(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
