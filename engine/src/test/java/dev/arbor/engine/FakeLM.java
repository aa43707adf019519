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

        @Override
        public void forward() {
            forwardCalls++;
            tokensComputed += batch.numTokens();
            for (int t = 0; t < batch.numTokens(); t++) slots[batch.slot(t)] = batch.tokenId(t);
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

        @Override public void sample() { sampler.sample(logits, sampling); }

        @Override
        public void close() {
            sampling.close();
            logits.close();
        }
    }
}
