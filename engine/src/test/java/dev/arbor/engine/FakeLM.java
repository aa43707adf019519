package dev.arbor.engine;

import dev.arbor.models.Architecture;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.KvCache;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.RopeConfig;

import java.util.Arrays;

/**
 * A deterministic stand-in model for scheduler tests. Its "KV cache" stores the token id of every
 * position in the slot the block table gives, and the logits of a position are a function of all
 * tokens read back through the block table: a wrong table, a block overwritten while shared, or a
 * stale block after preemption changes the output. Optionally it follows a script (output i is
 * {@code script[i]}) to produce known text.
 */
final class FakeLM implements CausalLM {
    static final int EOS = 257;
    private final ModelConfig config;
    private final int[] script;                // null = hash-driven
    long forwardCalls, tokensComputed;

    FakeLM(int vocab, int maxLen, int[] script) {
        this.config = new ModelConfig("LlamaForCausalLM", Architecture.LLAMA, vocab, 8, 16, 1, 1, 1, 8, maxLen, 1e-5,
                RopeConfig.plain(10000), true, 256, new int[] {EOS}, null, "float32");
        this.script = script;
    }

    FakeLM() { this(300, 4096, null); }

    static final class Store implements KvCache {
        final int[] slots;
        final int numBlocks, blockSize;

        Store(int numBlocks, int blockSize) {
            this.numBlocks = numBlocks;
            this.blockSize = blockSize;
            this.slots = new int[numBlocks * blockSize];
            Arrays.fill(slots, -1);
        }

        public int numBlocks() { return numBlocks; }

        public int blockSize() { return blockSize; }
    }

    @Override public ModelConfig config() { return config; }

    @Override public KvCache allocateKvCache(int numBlocks, int blockSize) { return new Store(numBlocks, blockSize); }

    @Override public long kvBytesPerBlock(int blockSize) { return 4L * blockSize; }

    @Override
    public float[][] forward(ForwardBatch b, KvCache cache) {
        Store st = (Store) cache;
        int bs = st.blockSize;
        forwardCalls++;
        tokensComputed += b.numTokens();
        int[] seqOf = new int[b.numTokens()];
        for (int s = 0; s < b.numSeqs(); s++) {
            for (int t = b.queryStart()[s]; t < b.queryStart()[s + 1]; t++) {
                seqOf[t] = s;
                int pos = b.positions()[t];
                st.slots[b.blockTables()[s][pos / bs] * bs + pos % bs] = b.tokenIds()[t];
            }
        }
        float[][] out = new float[b.logitRows().length][];
        for (int r = 0; r < out.length; r++) {
            int t = b.logitRows()[r], s = seqOf[t], pos = b.positions()[t];
            long h = 1469598103934665603L;
            for (int p = 0; p <= pos; p++) {
                int tok = st.slots[b.blockTables()[s][p / bs] * bs + p % bs];
                if (tok < 0) throw new IllegalStateException("position " + p + " of sequence " + s + " was never written");
                h = (h ^ tok) * 1099511628211L;
            }
            float[] logits = new float[config.vocabSize()];
            for (int v = 0; v < logits.length; v++) logits[v] = (float) (((h >>> 17) + v * 0x9E3779B9L) % 1000) / 500f;
            // scripted: a one-token prompt makes position p produce output p
            int target = script != null ? script[Math.min(pos, script.length - 1)] : (int) Math.floorMod(h, 256L);
            logits[target] += 5f;
            out[r] = logits;
        }
        return out;
    }

    @Override public void copyBlock(KvCache cache, int src, int dst) {
        Store st = (Store) cache;
        System.arraycopy(st.slots, src * st.blockSize, st.slots, dst * st.blockSize, st.blockSize);
    }
}
