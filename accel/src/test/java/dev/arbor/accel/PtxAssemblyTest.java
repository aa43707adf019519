package dev.arbor.accel;

import dev.arbor.accel.compiler.CompiledKernel;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.kernels.KernelCase;
import dev.arbor.accel.kernels.KernelCases;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The PTX of every suite kernel goes through {@code ptxas -arch=sm_90} (sm_90a for the wgmma kernels). Without ptxas on the PATH the
 * tests skip with a message, unless ARBOR_REQUIRE_PTXAS=1, where they fail.
 */
class PtxAssemblyTest {
    @TempDir Path dir;

    static Path ptxas() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(d, "ptxas");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    @TestFactory
    Stream<DynamicTest> everyKernelAssembles() {
        Path ptxas = ptxas();
        if (ptxas == null) {
            assertTrue(!"1".equals(System.getenv("ARBOR_REQUIRE_PTXAS")), "ptxas is not on the PATH but ARBOR_REQUIRE_PTXAS=1");
            Assumptions.abort("ptxas not on the PATH: PTX assembly not checked (set ARBOR_REQUIRE_PTXAS=1 to make this fail)");
        }
        return KernelCases.all().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> assemble(ptxas, c)));
    }

    private void assemble(Path ptxas, KernelCase c) throws IOException, InterruptedException {
        Object[] args = c.prepare().apply(13).args();
        CompiledKernel k = KernelCompiler.compile(c.kernel(), c.kernel().constantValues(args), 90);
        Path file = dir.resolve(k.entryName() + ".ptx");
        Files.writeString(file, k.ptx());
        String arch = k.ptx().contains(".target sm_90a") ? "-arch=sm_90a" : "-arch=sm_90";   // wgmma kernels target sm_90a
        Process p = new ProcessBuilder(ptxas.toString(), arch, file.toString(), "-o", dir.resolve(k.entryName() + ".cubin").toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "ptxas timed out");
        assertEquals(0, p.exitValue(), () -> "ptxas rejected " + c.name() + ":\n" + log + "\n" + k.ptx());
        // C7508: ptxas ignored a setmaxnreg (no register cap at entry, or the warpgroups' roles not one if/else)
        assertTrue(!log.contains("C7508"), () -> "ptxas ignored setmaxnreg in " + c.name() + ":\n" + log);
    }
}
