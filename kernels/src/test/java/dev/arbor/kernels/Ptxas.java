package dev.arbor.kernels;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The kernels' PTX through {@code ptxas -arch=sm_90}: one place to find the tool and to assemble. */
public final class Ptxas {
    private Ptxas() {}

    /** ptxas on the PATH; without it the test is skipped with a message, or fails when ARBOR_REQUIRE_PTXAS=1 (CI). */
    public static Path require() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, "ptxas"))) return Path.of(d, "ptxas");
        }
        assertNotEquals("1", System.getenv("ARBOR_REQUIRE_PTXAS"), "ptxas is not on the PATH but ARBOR_REQUIRE_PTXAS=1");
        Assumptions.abort("ptxas not on the PATH: PTX assembly not checked");
        throw new AssertionError("unreachable");
    }

    /** Assembles {@code ptx} (written to {@code dir/name.ptx}) for sm_90 with {@code extra} flags; fails with ptxas's log; returns the log. */
    public static String assemble(Path ptxas, Path dir, String name, String ptx, String... extra) throws Exception {
        Path file = dir.resolve(name + ".ptx");
        Files.writeString(file, ptx);
        String[] cmd = new String[5 + extra.length];
        cmd[0] = ptxas.toString();
        cmd[1] = "-arch=sm_90";
        System.arraycopy(extra, 0, cmd, 2, extra.length);
        cmd[2 + extra.length] = file.toString();
        cmd[3 + extra.length] = "-o";
        cmd[4 + extra.length] = dir.resolve(name + ".cubin").toString();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "ptxas timed out on " + name);
        assertEquals(0, p.exitValue(), () -> name + ":\n" + log);
        return log;
    }
}
