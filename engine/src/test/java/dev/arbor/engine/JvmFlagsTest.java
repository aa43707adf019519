package dev.arbor.engine;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** A JVM without the Vector API module gets one sentence naming the flag, not a NoClassDefFoundError. */
class JvmFlagsTest {
    /** Run in a JVM started without --add-modules: loads a model as a library user would. */
    public static void main(String[] args) {
        try (LLM llm = new LLM("synthetic:tiny")) {
            System.out.println("loaded " + llm);
        } catch (IllegalStateException e) {
            System.out.println("message: " + e.getMessage());
        }
    }

    @Test
    void thisJvmHasTheFlags() {
        assertNull(JvmFlags.problem());
    }

    @Test
    void aJvmWithoutTheVectorModuleIsToldWhichFlagToAdd() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                JvmFlagsTest.class.getName())).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertTrue(out.contains("message: Arbor needs the Vector API module: start the JVM with --add-modules jdk.incubator.vector"), out);
        assertFalse(out.contains("NoClassDefFoundError"), out);
    }
}
