package dev.arbor.models;

import java.util.ArrayList;
import java.util.List;

/**
 * Test driver playing the engine's model runner: sequences with block tables over a paged cache,
 * physical blocks handed out in descending order so logical and physical ids never coincide.
 */
final class PagedRunner {
    final CausalLM model;
    final KvCache cache;
    private int nextBlock;

    PagedRunner(CausalLM model, int numBlocks, int blockSize) {
        this.model = model;
        this.cache = model.allocateKvCache(numBlocks, blockSize);
        this.nextBlock = numBlocks - 1;
    }

    final class Sequence {
        final List<Integer> blocks = new ArrayList<>();
        int length;

        int[] table() {
            return blocks.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    Sequence newSequence() {
        return new Sequence();
    }

    /**
     * One forward over {@code tokens[i]} appended to {@code seqs[i]}; returns the logits of every new
     * token in batch order if {@code allRows}, else of each sequence's last new token.
     */
    float[][] step(List<Sequence> seqs, List<int[]> tokens, boolean allRows) {
        int n = tokens.stream().mapToInt(t -> t.length).sum();
        int[] ids = new int[n], positions = new int[n], queryStart = new int[seqs.size() + 1], contextLen = new int[seqs.size()];
        int[][] tables = new int[seqs.size()][];
        List<Integer> rows = new ArrayList<>();
        int t = 0;
        for (int s = 0; s < seqs.size(); s++) {
            Sequence seq = seqs.get(s);
            int[] toks = tokens.get(s);
            queryStart[s] = t;
            for (int tok : toks) {
                if (seq.length % cache.blockSize() == 0) seq.blocks.add(nextBlock--);
                ids[t] = tok;
                positions[t] = seq.length++;
                if (allRows) rows.add(t);
                t++;
            }
            if (!allRows) rows.add(t - 1);
            contextLen[s] = seq.length;
            tables[s] = seq.table();
        }
        queryStart[seqs.size()] = n;
        ForwardBatch batch = new ForwardBatch(ids, positions, queryStart, contextLen, tables,
                rows.stream().mapToInt(Integer::intValue).toArray());
        return model.forward(batch, cache);
    }

    /** Runs {@code tokens} as one sequence in chunks of {@code chunk}; logits of every position. */
    float[][] prefill(int[] tokens, int chunk) {
        Sequence seq = newSequence();
        float[][] out = new float[tokens.length][];
        for (int from = 0; from < tokens.length; from += chunk) {
            int[] part = java.util.Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + chunk));
            float[][] logits = step(List.of(seq), List.of(part), true);
            System.arraycopy(logits, 0, out, from, logits.length);
        }
        return out;
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    static double logSumExp(float[] x) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : x) max = Math.max(max, v);
        double s = 0;
        for (float v : x) s += Math.exp(v - max);
        return max + Math.log(s);
    }
}
