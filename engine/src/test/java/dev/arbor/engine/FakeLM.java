package dev.arbor.engine;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.kernels.sampling.CpuSampler;
import dev.arbor.kernels.sampling.SamplingBatch;
import dev.arbor.models.Architecture;
import dev.arbor.models.CausalLM;
import dev.arbor.models.ForwardBatch;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelExecutor;
import dev.arbor.models.RopeConfig;
import dev.arbor.models.StepShape;

import java.util.Arrays;

/**
 * A deterministic stand-in model for scheduler tests. Its "KV cache" stores the token id of every
 * position in the slot the batch gives, and the logits of a position are a function of all
 * tokens read back through the block table: a wrong table, a block overwritten while shared, or a
 * stale block after preemption changes the output. Optionally it follows a script (output i is
 * {@code script[i]}) to produce known text.
 */
final class FakeLM implements CausalLM {
    static final int EOS = 257;
    private final ModelConfig config;
    private final int[] script;                // null = hash-driven
    long forwardCalls, tokensComputed;
    /** Its forward pass says it returns before the device finishes, as CUDA's does: the engine overlaps outputs with it. */
    boolean returnsEarly = true;
    /** Cascade groups seen in forward passes: steps with a group, the most sequences and shared keys of one group. */
    long stepsWithGroups;
    int maxGroupSeqs, maxSharedKeys;

    FakeLM(int vocab, int maxLen, int[] script) {
        this.config = new ModelConfig("LlamaForCausalLM", Architecture.LLAMA, vocab, 8, 16, 1, 1, 1, 8, maxLen, 1e-5,
                RopeConfig.plain(10000), true, 256, new int[] {EOS}, null, "float32");
        this.script = script;
    }

    FakeLM() { this(300, 4096, null); }

    @Override public ModelConfig config() { return config; }

    @Override public String device() { return "fake"; }

    @Override public long kvBytesPerBlock(int blockSize) { return 4L * blockSize; }

    @Override public long defaultKvBudgetBytes(double memoryUtilization) { return 1L << 20; }

    /** What it offers as the step's token budget when the config sets none (the CPU backend's 1,024 unless a test sets it). */
    int defaultBudget = 1024;

    @Override public int defaultMaxNumBatchedTokens() { return defaultBudget; }

    @Override
    public ModelExecutor open(StepShape shape) {
        return new Executor(shape);
    }

    private final class Executor implements ModelExecutor {
        final StepShape shape;
        final ForwardBatch batch;
        final int[] slots;
        final FloatArray logits;               // (maxLogitRows, vocab)
        final SamplingBatch sampling;
        final CpuSampler sampler;

        Executor(StepShape shape) {
            this.shape = shape;
            this.batch = new ForwardBatch(shape);
            this.slots = new int[shape.numBlocks() * shape.blockSize()];
            this.logits = new FloatArray(shape.maxLogitRows() * config.vocabSize());
            this.sampling = new SamplingBatch(shape.maxSeqs(), config.vocabSize(), shape.maxSeqs() * 256, shape.maxSeqs() * 72);
            this.sampler = new CpuSampler(config.vocabSize());
            Arrays.fill(slots, -1);
        }

        @Override public StepShape shape() { return shape; }

        @Override public ForwardBatch batch() { return batch; }

        @Override public boolean forwardReturnsEarly() { return returnsEarly; }

        /** The last {@link #sampleDeferred()}'s ids as the device would hold them; the host's copy is garbage until awaitSample. */
        int[] deviceTokens = new int[0];
        boolean deferredPending;

        @Override
        public void forward() {
            // asynchronous scheduling: placeholders take the deferred step's ids "on the device" (never the host's copy)
            for (int i = 0; i < batch.numFeeds(); i++) {
                int t = batch.feedArray()[2 * i], r = batch.feedArray()[2 * i + 1];
                batch.setTokenId(t, deviceTokens[r]);
            }
            forwardCalls++;
            tokensComputed += batch.numTokens();
            for (int t = 0; t < batch.numTokens(); t++) slots[batch.slot(t)] = batch.tokenId(t);
            recordGroups();
        }

        /** Checks each cascade group's invariant (its members' tables begin with the same blocks) and records its size. */
        private void recordGroups() {
            if (batch.numCascadeGroups() == 0) return;
            stepsWithGroups++;
            int[] start = batch.groupTokenStartArray(), toks = batch.groupTokenArray();
            for (int g = 0; g < batch.numCascadeGroups(); g++) {
                int lead = batch.seqOfToken(toks[start[g]]), shared = batch.keyStart(lead), seqs = 0, last = -1;
                if (shared <= 0 || shared % shape.blockSize() != 0) throw new IllegalStateException("group " + g + " shares " + shared + " keys");
                for (int i = start[g]; i < start[g + 1]; i++) {
                    int s = batch.seqOfToken(toks[i]);
                    if (s != last) seqs++;
                    last = s;
                    if (batch.keyStart(s) != shared) throw new IllegalStateException("sequence " + s + " of group " + g + " has another keyStart");
                    for (int b = 0; b < shared / shape.blockSize(); b++) {
                        if (batch.block(s, b) != batch.block(lead, b)) throw new IllegalStateException("group " + g + " differs at block " + b);
                    }
                }
                maxGroupSeqs = Math.max(maxGroupSeqs, seqs);
                maxSharedKeys = Math.max(maxSharedKeys, shared);
            }
        }

        @Override
        public int computeLogits(int first) {
            int n = Math.min(shape.maxLogitRows(), batch.numLogitRows() - first);
            int bs = shape.blockSize();
            for (int r = 0; r < n; r++) {
                int t = batch.logitRow(first + r), s = batch.seqOfToken(t), pos = batch.position(t);
                long h = 1469598103934665603L;
                for (int p = 0; p <= pos; p++) {
                    int tok = slots[batch.block(s, p / bs) * bs + p % bs];
                    if (tok < 0) throw new IllegalStateException("position " + p + " of sequence " + s + " was never written");
                    h = (h ^ tok) * 1099511628211L;
                }
                int vocab = config.vocabSize(), o = r * vocab;
                for (int v = 0; v < vocab; v++) logits.set(o + v, (float) (((h >>> 17) + v * 0x9E3779B9L) % 1000) / 500f);
                // scripted: a one-token prompt makes position p produce output p
                int target = script != null ? script[Math.min(pos, script.length - 1)] : (int) Math.floorMod(h, 256L);
                logits.set(o + target, logits.get(o + target) + 5f);
            }
            return n;
        }

        @Override
        public void readLogits(int i, float[] dst) {
            for (int v = 0; v < dst.length; v++) dst[v] = logits.get(i * dst.length + v);
        }

        @Override public SamplingBatch sampling() { return sampling; }

        @Override
        public void sample() {
            if (deferredPending) throw new IllegalStateException("sample() before the deferred step's ids were awaited");
            sampler.sample(logits, sampling);
            deviceTokens = new int[sampling.rows()];
            for (int r = 0; r < deviceTokens.length; r++) deviceTokens[r] = sampling.token(r);
        }

        /** Samples, then hides the ids from the host (a stray read before {@link #awaitSample()} sees -3, an invalid id). */
        @Override
        public void sampleDeferred() {
            sample();
            for (int r = 0; r < deviceTokens.length; r++) sampling.tokenArray().set(r, -3);
            deferredPending = true;
        }

        @Override
        public void awaitSample() {
            if (!deferredPending) return;
            for (int r = 0; r < deviceTokens.length; r++) sampling.tokenArray().set(r, deviceTokens[r]);
            deferredPending = false;
        }

        @Override
        public void close() {
            sampling.close();
            logits.close();
        }
    }
}
