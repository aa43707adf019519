package dev.arbor.models.cpu;

import dev.arbor.models.BackendOptions;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.ModelLoader;
import dev.arbor.models.StepShape;
import java.util.Arrays;

/**
 * Batched decode, an A/B in one JVM (not a timed test): {@code batch} sequences each prefilled with {@code context}
 * tokens, then rounds of {@code steps} decode steps (every sequence one token, a logits row each, as the engine's batched
 * decode), setting A then setting B, alternating; two warm-up rounds first (both settings compiled, the tied lm_head
 * packed where the panels take it). Per setting the process CPU-ms a step (all threads: the team's workers spin between
 * calls) and the wall ms a step. The switch (sixth argument):
 * <ul>
 *   <li>a number N (default 32): {@link PanelGemm#minTokens} at N (A) against its default (B);
 *   <li>{@code weightHugePages} ({@code weightHugePagesFirst}: B's model made first): two models, A's weights on 4 KiB
 *       pages, B's on 2 MiB pages ({@link HugePages#weights}), an executor each;
 *   <li>{@code kvHugePages}: two executors over the one model, A's KV cache on 4 KiB pages, B's on 2 MiB pages
 *       ({@link HugePages}), each prefilled with the same prompts; {@code kvHugePagesFirst}: the same with B's cache opened
 *       and prefilled first (the order's own effect);
 *   <li>{@code groupedDecodeAttention}: every sequence's block table begins with the same physical blocks, the
 *       {@code context} prompt tokens' whole blocks (the same token ids: a shared prefix as the prefix trie hands out), then
 *       32 own prompt tokens in its own blocks; A with {@link Attention#groupedDecode} off, B on (one executor);
 *   <li>{@code softmaxPasses}: the shared prefix of {@code groupedDecodeAttention} (grouping on), A with
 *       {@link Attention#softmaxPasses} off, B on; {@code softmaxPassesB8}: the same without a shared prefix;
 *   <li>{@code decodeDirect8}: A with {@link Matmul#decodeDirect8} off (the float32 panel GEMM), B on (one executor);
 *   <li>{@code weightAddress}: A with {@link Matmul#weightAddress} off (weights read through their own segments), B on
 *       (through the one constant segment by address); one executor, the other switches as their properties say.
 * </ul>
 * Usage: {@code DecodeSwitchBench MODEL [batch] [context] [rounds] [steps] [N|kvHugePages|kvHugePagesFirst|weightHugePages|weightHugePagesFirst|groupedDecodeAttention|decodeDirect8|weightAddress|softmaxPasses|softmaxPassesB8]} (default two threads, bf16 KV,
 * batch invariant).
 */
public final class DecodeSwitchBench {
    private static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();

    public static void main(String[] args) {
        String spec = args[0];
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int context = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 8;
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : 8;
        String mode = args.length > 5 ? args[5] : "32";
        boolean weightAb = mode.startsWith("weightHugePages");   // two models: weights on 4 KiB / 2 MiB pages
        boolean hugeFirst = mode.equals("kvHugePagesFirst") || mode.equals("weightHugePagesFirst");   // the 2 MiB one opened first
        boolean hugeAb = mode.startsWith("kvHugePages") || weightAb;
        boolean groupedAb = mode.equals("groupedDecodeAttention");   // a shared prefix; Attention.groupedDecode off / on
        boolean directAb = mode.equals("decodeDirect8");   // Matmul.decodeDirect8 off / on
        boolean addressAb = mode.equals("weightAddress");   // Matmul.weightAddress off / on
        boolean passesAb = mode.startsWith("softmaxPasses");   // Attention.softmaxPasses off / on
        boolean sharedPrefix = groupedAb || mode.equals("softmaxPasses");   // softmaxPassesB8: no shared prefix
        boolean savedPasses = Attention.softmaxPasses;
        boolean savedAddress = Matmul.weightAddress, savedDirect = Matmul.decodeDirect8;
        int own = sharedPrefix ? 32 : 0;   // own prompt tokens after the shared prefix
        int offTokens = !hugeAb && !groupedAb && !directAb && !addressAb && !passesAb ? Integer.parseInt(mode) : PanelGemm.minTokens;
        int onTokens = PanelGemm.minTokens;
        int blockSize = 16, total = context + own + 2 * (rounds + 2) * steps + 1,   // both settings step the one cache (two executors: half used)
                shared = sharedPrefix ? context / blockSize : 0;
        int perSeq = (total + blockSize - 1) / blockSize + 1;
        if (groupedAb) System.out.printf("A/B of Attention.groupedDecode: off / on; batch %d sharing %d prompt tokens (%d blocks), %d own, %d rounds x %d steps%n",
                batch, context, shared, own, rounds, steps);
        else if (passesAb) System.out.printf("A/B of Attention.softmaxPasses: off / on; batch %d, %d prompt tokens (shared: %s), %d own, %d rounds x %d steps%n",
                batch, context, sharedPrefix, own, rounds, steps);
        else if (directAb) System.out.printf("A/B of Matmul.decodeDirect8: off / on; batch %d, context %d, %d rounds x %d steps%n",
                batch, context, rounds, steps);
        else if (addressAb) System.out.printf("A/B of Matmul.weightAddress: off / on (decodeDirect8 %s); batch %d, context %d, %d rounds x %d steps%n",
                Matmul.decodeDirect8, batch, context, rounds, steps);
        else if (hugeAb) System.out.printf("A/B of the " + (weightAb ? "weights'" : "KV cache's") + " pages: 4 KiB / 2 MiB (" + (hugeFirst ? "2 MiB" : "4 KiB") + " opened first); batch %d, context %d, %d rounds x %d steps%n", batch, context, rounds, steps);
        else System.out.printf("A/B of PanelGemm.minTokens: off %d, on %d; batch %d, context %d, %d rounds x %d steps%n",
                offTokens, onTokens, batch, context, rounds, steps);
        CausalLM[] models = new CausalLM[2];
        boolean savedWeights = HugePages.weights;
        try {
            for (int v = 0; v < (weightAb ? 2 : 1); v++) {   // weightHugePages: a model each way (weights made by materialize)
                HugePages.weights = weightAb ? (v == 1) != hugeFirst : savedWeights;
                models[v] = ModelLoader.load(spec, new BackendOptions("cpu", "bf16", "auto", true));
                models[v].materialize();
            }
            HugePages.weights = savedWeights;
            StepShape shape = new StepShape(perSeq * batch, blockSize, Math.max(context + own, batch), batch, perSeq, batch);
            ModelExecutor[] exec = new ModelExecutor[2];
            try {
                for (int v = 0; v < 2; v++) {
                    if (hugeAb && !weightAb) HugePages.kv = (v == 1) != hugeFirst;
                    exec[v] = v == 0 || hugeAb ? models[weightAb ? v : 0].open(shape) : exec[0];
                }
                int[][] tables = new int[batch][perSeq];
                for (int s = 0; s < batch; s++) for (int k = 0; k < perSeq; k++) tables[s][k] = k < shared ? k : s * perSeq + k;
                for (int v = 0; v < (hugeAb ? 2 : 1); v++) {
                    ForwardBatch b = exec[v].batch();
                    for (int s = 0; s < batch; s++) {
                        b.clear();
                        b.beginSequence(tables[s], perSeq);
                        for (int i = 0; i < context + own; i++) b.addToken(((i < shared * blockSize ? 0 : s * 31) + i * 7) % 259, i);
                        b.addLogitRow(context + own - 1);
                        exec[v].forward();
                        exec[v].computeLogits(0);
                    }
                }
                int[] pos = {context + own, context + own};   // each executor's next position (one shared cache without kvHugePages)
                double[][] cpu = new double[2][rounds], wall = new double[2][rounds];
                for (int r = -2; r < rounds; r++) {
                    for (int v = 0; v < 2; v++) {
                        if (groupedAb) Attention.groupedDecode = v == 1;
                        else if (directAb) Matmul.decodeDirect8 = v == 1;
                        else if (passesAb) Attention.softmaxPasses = v == 1;
                        else if (addressAb) Matmul.weightAddress = v == 1;
                        else if (!hugeAb) PanelGemm.minTokens = v == 1 ? onTokens : offTokens;
                        int e = !hugeAb ? 0 : hugeFirst ? 1 - v : v;
                        ForwardBatch b = exec[e].batch();
                        long c0 = OS.getProcessCpuTime(), w0 = System.nanoTime();
                        for (int step = 0; step < steps; step++, pos[e]++) {
                            b.clear();
                            for (int s = 0; s < batch; s++) {
                                b.beginSequence(tables[s], perSeq);
                                b.addToken((pos[e] + s) % 259, pos[e]);
                                b.addLogitRow(s);
                            }
                            exec[e].forward();
                            exec[e].computeLogits(0);
                        }
                        if (r >= 0) {
                            cpu[v][r] = (OS.getProcessCpuTime() - c0) / 1e6 / steps;
                            wall[v][r] = (System.nanoTime() - w0) / 1e6 / steps;
                        }
                    }
                    if (r >= 0) System.out.printf("round %d: off %.2f CPU-ms %.2f ms, on %.2f CPU-ms %.2f ms a step (off/on CPU %.3f, wall %.3f)%n",
                            r, cpu[0][r], wall[0][r], cpu[1][r], wall[1][r], cpu[0][r] / cpu[1][r], wall[0][r] / wall[1][r]);
                }
                PanelGemm.minTokens = onTokens;
                Attention.groupedDecode = true;
                Attention.softmaxPasses = savedPasses;
                Matmul.decodeDirect8 = savedDirect;
                Matmul.weightAddress = savedAddress;
                double[] ratio = new double[rounds], wr = new double[rounds];
                int ahead = 0, aheadWall = 0;
                for (int r = 0; r < rounds; r++) {
                    ratio[r] = cpu[0][r] / cpu[1][r];
                    wr[r] = wall[0][r] / wall[1][r];
                    if (ratio[r] > 1) ahead++;
                    if (wr[r] > 1) aheadWall++;
                }
                for (int v = 0; v < 2; v++) {
                    System.out.printf("%s: batch %d decode, median %.2f CPU-ms a step, %.2f ms wall = %.1f tok/s%n", v == 1 ? "on " : "off",
                            batch, med(cpu[v]), med(wall[v]), batch * 1000 / med(wall[v]));
                }
                System.out.printf("off/on CPU per round: median %.3f (min %.3f, max %.3f), on ahead in %d of %d; wall median %.3f (min %.3f, max %.3f), on ahead in %d%n",
                        med(ratio), Arrays.stream(ratio).min().orElse(0), Arrays.stream(ratio).max().orElse(0), ahead, rounds,
                        med(wr), Arrays.stream(wr).min().orElse(0), Arrays.stream(wr).max().orElse(0), aheadWall);
            } finally {
                for (int v = 1; v >= 0; v--) if (exec[v] != null && (v == 0 || exec[v] != exec[0])) exec[v].close();
            }
        } finally {
            for (CausalLM m : models) if (m != null) m.close();
        }
    }

    private static double med(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
