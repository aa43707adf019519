package dev.arbor.models.bench;

import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.KvCache;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelLoader;

/**
 * Quick CPU throughput of a synthetic model (not a timed test): prefill tokens/s for one prompt,
 * decode tokens/s for a batch of sequences stepping one token each, with the weight-bandwidth
 * floor beside it. Usage: {@code SyntheticThroughput [spec] [promptLen] [decodeSteps] [batch]}.
 */
public final class SyntheticThroughput {
    public static void main(String[] args) {
        String spec = args.length > 0 ? args[0] : "synthetic:100m";
        int promptLen = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int steps = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        int blockSize = 16;
        try (CausalLM model = ModelLoader.load(spec)) {
            ModelConfig c = model.config();
            int blocksPerSeq = (promptLen + steps + blockSize - 1) / blockSize + 1;
            KvCache cache = model.allocateKvCache(blocksPerSeq * batch, blockSize);
            long t0 = System.nanoTime();
            model.forward(new ForwardBatch(new int[] {0}, new int[] {0}, new int[] {0, 1}, new int[] {1},
                    new int[][] {{0}}, new int[] {0}), cache); // materialise the weights, warm up
            System.out.printf("%s: weights ready + first token in %.1f s%n", spec, (System.nanoTime() - t0) / 1e9);

            // Prefill: each sequence's prompt in one forward.
            int[][] tables = new int[batch][blocksPerSeq];
            for (int s = 0; s < batch; s++) for (int b = 0; b < blocksPerSeq; b++) tables[s][b] = s * blocksPerSeq + b;
            long prefillNanos = 0;
            for (int s = 0; s < batch; s++) {
                int[] ids = new int[promptLen], pos = new int[promptLen];
                for (int i = 0; i < promptLen; i++) { ids[i] = (s * 31 + i * 7) % 259; pos[i] = i; }
                long p0 = System.nanoTime();
                model.forward(new ForwardBatch(ids, pos, new int[] {0, promptLen}, new int[] {promptLen},
                        new int[][] {tables[s]}, new int[] {promptLen - 1}), cache);
                prefillNanos += System.nanoTime() - p0;
            }
            // Decode: all sequences one token per step.
            long d0 = System.nanoTime();
            for (int step = 0; step < steps; step++) {
                int[] ids = new int[batch], pos = new int[batch], qs = new int[batch + 1], ctx = new int[batch], rows = new int[batch];
                for (int s = 0; s < batch; s++) {
                    ids[s] = (step + s) % 259; pos[s] = promptLen + step; qs[s + 1] = s + 1; ctx[s] = promptLen + step + 1; rows[s] = s;
                }
                model.forward(new ForwardBatch(ids, pos, qs, ctx, tables, rows), cache);
            }
            double decodeSec = (System.nanoTime() - d0) / 1e9;
            long params = (long) c.numLayers() * (4L * c.hiddenSize() * c.hiddenSize() + 3L * c.hiddenSize() * c.intermediateSize())
                    + (long) c.vocabSize() * c.hiddenSize();
            double prefillTps = (double) promptLen * batch / (prefillNanos / 1e9);
            double decodeTps = (double) steps * batch / decodeSec;
            System.out.printf("prefill: %d x %d tokens, %.1f tokens/s (%.1f GFLOP/s)%n", batch, promptLen, prefillTps, prefillTps * 2 * params / 1e9);
            System.out.printf("decode:  batch %d, %d steps, %.1f tokens/s, %.1f ms/step; weights read per step %.0f MB (%.1f GB/s)%n",
                    batch, steps, decodeTps, decodeSec * 1000 / steps, params * 2 / 1e6, params * 2.0 * steps / decodeSec / 1e9);
        }
    }
}
