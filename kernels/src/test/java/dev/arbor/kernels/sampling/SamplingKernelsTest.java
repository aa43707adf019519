package dev.arbor.kernels.sampling;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The sampling kernels on the accel CPU executor against {@link CpuSampler}, and their PTX through ptxas. */
class SamplingKernelsTest {
    @Test
    void kernelsOnTheCpuExecutorMatchCpuSampler() {
        try (CpuBackend cpu = new CpuBackend()) {
            int rows = 0;
            for (int vocab : new int[] {1, 7, 13, 255, 1000}) rows += SamplingCheck.compare(cpu, vocab, 16, vocab, 32, 1e-5f);
            rows += SamplingCheck.compare(cpu, 32000, 8, 3, 64, 1e-5f);
            assertEquals(5 * 16 + 8, rows);
        }
    }

    @Test
    void chunkedLoadsGiveTheStridedKernelsTokens() {
        try (CpuBackend cpu = new CpuBackend()) {
            int rows = 0;
            for (int vocab : new int[] {1, 7, 300, 5000}) rows += SamplingCheck.compareWithStrided(cpu, vocab, 16, vocab + 30, 32);
            rows += SamplingCheck.compareWithStrided(cpu, 32000, 8, 30, 64);
            assertEquals(4 * 16 + 8, rows);
        }
    }

    /**
     * The one packed upload: after each of three steps on one batch (2 rows; 16 rows with penalty and mask lists, which grows
     * the staging; 1 row) every packed word is the used part of its input array, in the layout the kernels read.
     */
    @Test
    void packedInputsHoldEachArraysUsedPart() {
        try (CpuBackend cpu = new CpuBackend(); SamplingBatch b = new SamplingBatch(16, 1000, 16 * 40, 16 * 4)) {
            for (int rows : new int[] {2, 16, 1}) {
                b.clear();
                java.util.Random r = new java.util.Random(rows);
                for (int row = 0; row < rows; row++) {
                    b.addRow(r.nextDouble(), r.nextInt(50), 0.5 + r.nextDouble() / 2, r.nextDouble() / 10, 1 + r.nextDouble(), r.nextDouble(),
                            r.nextDouble(), r.nextLong(), Philox.counter(row, r.nextInt(1000)), row % 3 - 1);
                    if (rows == 16) {
                        for (int j = 0; j < row; j++) b.addPenaltyToken(j * 7 + row, j % 3);
                        for (int j = 0; j < row % 4; j++) b.addMaskedToken(999 - j);
                    }
                }
                b.upload(cpu);
                IntArray p = b.packed;
                assertTrue(p.length() >= b.packedWords());
                int lists = SamplingBatch.listsStart(rows), pen = b.penaltyEntries();
                for (int row = 0; row < rows; row++) {
                    assertEquals(b.temperature.get(row), SamplingBatch.floatAt(p, SamplingBatch.TEMPERATURE * rows + row));
                    assertEquals(b.topK.get(row), p.get(SamplingBatch.TOP_K * rows + row));
                    assertEquals(b.topP.get(row), SamplingBatch.floatAt(p, SamplingBatch.TOP_P * rows + row));
                    assertEquals(b.minP.get(row), SamplingBatch.floatAt(p, SamplingBatch.MIN_P * rows + row));
                    assertEquals(b.repetitionPenalty.get(row), SamplingBatch.floatAt(p, SamplingBatch.REPETITION_PENALTY * rows + row));
                    assertEquals(b.frequencyPenalty.get(row), SamplingBatch.floatAt(p, SamplingBatch.FREQUENCY_PENALTY * rows + row));
                    assertEquals(b.presencePenalty.get(row), SamplingBatch.floatAt(p, SamplingBatch.PRESENCE_PENALTY * rows + row));
                    assertEquals(b.numLogprobs.get(row), p.get(SamplingBatch.NUM_LOGPROBS * rows + row));
                    assertEquals(b.seed.get(row), SamplingBatch.longAt(p, SamplingBatch.SEED * rows + 2 * row));
                    assertEquals(b.counter.get(row), SamplingBatch.longAt(p, SamplingBatch.COUNTER * rows + 2 * row));
                }
                for (int row = 0; row <= rows; row++) {
                    assertEquals(b.penaltyStart.get(row), p.get(SamplingBatch.PENALTY_START * rows + row));
                    assertEquals(b.maskStart.get(row), p.get(SamplingBatch.MASK_START * rows + 1 + row));
                }
                assertEquals(rows == 16 ? 120 : 0, pen);
                for (int i = 0; i < pen; i++) {
                    assertEquals(b.penaltyIds.get(i), p.get(lists + i));
                    assertEquals(b.penaltyCounts.get(i), p.get(lists + pen + i));
                }
                for (int i = 0; i < b.maskStart.get(rows); i++) assertEquals(b.maskIds.get(i), p.get(lists + 2 * pen + i));
            }
        }
    }

    @Test
    void kernelsAssembleForSm90(@TempDir Path dir) throws Exception {
        Path ptxas = dev.arbor.kernels.Ptxas.require();
        for (String name : new String[] {"sample", "logprobs"}) {
            var k = KernelCompiler.compile(Kernel.of(SamplingKernels.class, name), new Object[] {DeviceSampler.GPU_BLOCK}, 90);
            Path file = dir.resolve(name + ".ptx");
            Files.writeString(file, k.ptx());
            Process p = new ProcessBuilder(ptxas.toString(), "-arch=sm_90", file.toString(), "-o", dir.resolve(name + ".cubin").toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), name + ":\n" + log);
        }
    }
}
