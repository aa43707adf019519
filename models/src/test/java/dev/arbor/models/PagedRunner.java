package dev.arbor.models;

import java.util.ArrayList;
import java.util.List;

/**
 * Test driver playing the engine's model runner: sequences with block tables over a paged cache,
 * physical blocks handed out in descending order so logical and physical ids never coincide.
 */
final class PagedRunner implements AutoCloseable {
    final CausalLM model;
    final ModelExecutor executor;
    private final int blockSize;
    private int nextBlock;

    PagedRunner(CausalLM model, int numBlocks, int blockSize) {
        this(model, numBlocks, blockSize, 64);
    }

    /** A runner of at most {@code maxSeqs} sequences (and logit rows) a step, 4,096 tokens. */
    PagedRunner(CausalLM model, int numBlocks, int blockSize, int maxSeqs) {
        this.model = model;
        this.blockSize = blockSize;
        this.executor = model.open(new StepShape(numBlocks, blockSize, 4096, maxSeqs, numBlocks, maxSeqs));
        this.nextBlock = numBlocks - 1;
    }

    @Override
    public void close() {
        executor.close();
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

    /** A sequence whose table begins with {@code parent}'s first {@code blocks} blocks (as the prefix trie shares them). */
    Sequence fork(Sequence parent, int blocks) {
        Sequence s = new Sequence();
        s.blocks.addAll(parent.blocks.subList(0, blocks));
        s.length = blocks * blockSize;
        return s;
    }

    /** As {@link #step(List, List, boolean)}, with all the sequences in one cascade group sharing their first {@code sharedBlocks} blocks (0: none). */
    float[][] step(List<Sequence> seqs, List<int[]> tokens, boolean allRows, int sharedBlocks) {
        cascadeSharedBlocks = sharedBlocks;
        try {
            return step(seqs, tokens, allRows);
        } finally {
            cascadeSharedBlocks = 0;
        }
    }

    private int cascadeSharedBlocks;

    /**
     * One forward over {@code tokens[i]} appended to {@code seqs[i]}; returns the logits of every new
     * token in batch order if {@code allRows}, else of each sequence's last new token.
     */
    float[][] step(List<Sequence> seqs, List<int[]> tokens, boolean allRows) {
        ForwardBatch batch = executor.batch();
        batch.clear();
        for (int s = 0; s < seqs.size(); s++) {
            Sequence seq = seqs.get(s);
            int[] toks = tokens.get(s);
            for (int i = 0; i < toks.length; i++) {
                if ((seq.length + i) % blockSize == 0) seq.blocks.add(nextBlock--);
            }
            batch.beginSequence(seq.table(), seq.blocks.size());
            for (int tok : toks) {
                batch.addToken(tok, seq.length++);
                if (allRows) batch.addLogitRow(batch.numTokens() - 1);
            }
            if (!allRows) batch.addLogitRow(batch.numTokens() - 1);
        }
        if (cascadeSharedBlocks > 0) {
            int[] all = new int[seqs.size()];
            for (int s = 0; s < all.length; s++) all[s] = s;
            batch.addCascadeGroup(all, all.length, cascadeSharedBlocks);
        }
        executor.forward();
        float[][] out = new float[batch.numLogitRows()][];
        for (int first = 0; first < out.length; ) {
            int n = executor.computeLogits(first);
            for (int i = 0; i < n; i++) {
                out[first + i] = new float[model.config().vocabSize()];
                executor.readLogits(i, out[first + i]);
            }
            first += n;
        }
        return out;
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
