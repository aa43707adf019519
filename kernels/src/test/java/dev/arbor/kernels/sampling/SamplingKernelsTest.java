package dev.arbor.kernels.sampling;

import dev.arbor.accel.Kernel;
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
