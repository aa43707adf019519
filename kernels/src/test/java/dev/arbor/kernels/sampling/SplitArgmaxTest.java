package dev.arbor.kernels.sampling;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.kernels.Ptxas;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The split argmax ({@link SplitArgmaxKernels}) gives {@link SamplingKernels#sample}'s greedy tokens: the same sampler, the same
 * logits, on and off ({@link DeviceSampler#splitArgmax}), over rows built to make the order of a scan matter — ties of the
 * maximum across slices and inside one, -0.0 beside +0.0 as the maximum, +inf, all -inf, NaN at a row's first id, in its
 * middle and last — and plain random rows, at vocabularies that do and do not divide into the slices. The CPU executor here
 * (block 32); SplitArgmaxGpuTest on the GPU (block 256).
 */
class SplitArgmaxTest {
    /** The rows' kinds, one a row (row r takes kind r % KINDS). */
    static final int KINDS = 10;

    /** Logits of row r of kind r % KINDS (see the class comment); a random gaussian row otherwise. */
    static void fill(FloatArray logits, int rows, int vocab, long seed) {
        Random rnd = new Random(seed);
        for (int r = 0; r < rows; r++) {
            int o = r * vocab;
            for (int i = 0; i < vocab; i++) logits.set(o + i, (float) (rnd.nextGaussian() * 3));
            int a = rnd.nextInt(vocab), b = rnd.nextInt(vocab);
            switch (r % KINDS) {
                case 1 -> { logits.set(o + a, 50f); logits.set(o + b, 50f); }                       // a tie of the maximum, anywhere
                case 2 -> { logits.set(o + vocab - 1, 60f); logits.set(o + 1, 60f); logits.set(o + vocab / 2, 60f); }
                case 3 -> { for (int i = 0; i < vocab; i++) logits.set(o + i, -1f); logits.set(o + a, -0f); logits.set(o + b, 0f); }
                case 4 -> logits.set(o + a, Float.POSITIVE_INFINITY);
                case 5 -> { for (int i = 0; i < vocab; i++) logits.set(o + i, Float.NEGATIVE_INFINITY); }
                case 6 -> logits.set(o, Float.NaN);                                                 // NaN at the first id
                case 7 -> { logits.set(o + vocab / 2, Float.NaN); logits.set(o + a, 70f); }
                case 8 -> logits.set(o + vocab - 1, Float.NaN);
                default -> { }
            }
        }
    }

    /** Greedy tokens of every row by {@code sampler} with the split argmax {@code on} or off. */
    static int[] tokens(Backend backend, DeviceSampler sampler, FloatArray logits, int rows, int vocab, boolean on) {
        try (SamplingBatch batch = new SamplingBatch(rows, vocab, 0, 0)) {
            for (int r = 0; r < rows; r++) batch.addRow(0, 0, 1, 0, 1, 0, 0, 7, Philox.counter(r, 1), -1);
            assertTrue(batch.allGreedyUnedited());
            sampler.splitArgmax(on);
            sampler.sample(logits, batch);
            int[] t = new int[rows];
            for (int r = 0; r < rows; r++) t[r] = batch.token(r);
            return t;
        }
    }

    /** On and off agree on every row at each vocabulary and row count (rows ≥ the rule's minimum, so the split runs). */
    static void cases(Backend backend, int[] vocabs, int rows) {
        for (int vocab : vocabs) {
            try (FloatArray logits = new FloatArray(rows * vocab); DeviceSampler sampler = new DeviceSampler(backend, rows, vocab)) {
                fill(logits, rows, vocab, vocab);
                backend.toDevice(logits);
                int[] off = tokens(backend, sampler, logits, rows, vocab, false);
                int[] on = tokens(backend, sampler, logits, rows, vocab, true);
                for (int r = 0; r < rows; r++) assertEquals(off[r], on[r], "vocab " + vocab + " row " + r + " (kind " + r % KINDS + ")");
                assertEquals(0, off[5], "an all -inf row takes id 0");
            }
        }
    }

    @Test
    void splitArgmaxGivesSamplesTokens() {
        cases(new CpuBackend(), new int[] {1000, 4099}, DeviceSampler.SPLIT_ARGMAX_MIN_ROWS);
    }

    @Test
    void slicesAndTheRule() {
        assertEquals(8, DeviceSampler.argmaxSlices(128, 128256));
        assertEquals(DeviceSampler.SPLIT_ARGMAX_MAX_SLICES, DeviceSampler.argmaxSlices(1, 128256));
        assertEquals(2, DeviceSampler.argmaxSlices(4096, 128256));
        assertEquals(1, DeviceSampler.argmaxSlices(32, 1));
        try (SamplingBatch b = new SamplingBatch(4, 100, 4, 4)) {
            b.addRow(0, 0, 1, 0, 1, 0, 0, 7, 0, -1);
            assertTrue(b.allGreedyUnedited());
            b.addMaskedToken(3);
            assertFalse(b.allGreedyUnedited(), "a masked id edits the row");
            b.clear();
            b.addRow(0, 0, 1, 0, 1.1, 0, 0, 7, 0, -1);
            b.addPenaltyToken(5, 1);
            assertFalse(b.allGreedyUnedited(), "a penalty list edits the row");
            b.clear();
            b.addRow(0, 0, 1, 0, 1, 0, 0, 7, 0, -1);
            b.addRow(0.7, 0, 1, 0, 1, 0, 0, 7, 0, -1);
            assertFalse(b.allGreedyUnedited(), "a sampled row");
        }
    }

    @Test
    void kernelsAssembleForSm90(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        for (String name : new String[] {"argmaxSlices", "argmaxFinish"}) {
            Ptxas.assemble(ptxas, dir, name, KernelCompiler.compile(Kernel.of(SplitArgmaxKernels.class, name), new Object[] {256}, 90).ptx());
        }
    }
}
