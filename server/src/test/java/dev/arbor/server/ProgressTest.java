package dev.arbor.server;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Progress that does not reach a terminal: plain lines, never redrawn frames. */
class ProgressTest {
    @Test
    void plainProgressPrintsAStartAnEndAndAtMostOneLinePerInterval() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        try (Progress p = Progress.plain("generating", "tokens", 1000, out, Long.MAX_VALUE)) {
            for (int i = 0; i < 1000; i++) p.stepBy(1);
        }
        String text = bytes.toString(StandardCharsets.UTF_8);
        assertFalse(text.contains("\r"), text);
        List<String> lines = text.lines().toList();
        assertEquals(List.of("generating: 0/1000 tokens"), lines.subList(0, 1));
        assertEquals(2, lines.size(), text);
        assertTrue(lines.get(1).matches("generating: 1000/1000 tokens \\(100%\\), [0-9.]+ s, done"), lines.get(1));
    }

    @Test
    void aZeroIntervalPrintsALinePerStepBeforeTheEnd() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (Progress p = Progress.plain("decode", "tokens", 4, new PrintStream(bytes, true, StandardCharsets.UTF_8), 0)) {
            for (int i = 0; i < 4; i++) p.stepBy(1);
            p.close();   // closing twice prints the last line once
        }
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        assertEquals(5, lines.size(), lines.toString());   // start, 1/4, 2/4, 3/4, done
        assertTrue(lines.get(2).startsWith("decode: 2/4 tokens (50%)"), lines.get(2));
    }

    @Test
    void demoWithoutATerminalWritesPlainProgressLinesToStderr() {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            exit = Main.commandLine().execute("demo", "--model", "synthetic:tiny", "--requests", "2", "--max-tokens", "3", "--device", "cpu");
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        String e = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, exit, e);
        assertFalse(e.contains("\r"), e);
        assertTrue(e.contains("generating: 0/6 tokens"), e);
        assertTrue(e.contains("generating: 6/6 tokens (100%)"), e);
        assertFalse(out.toString(StandardCharsets.UTF_8).contains("generating:"), "progress belongs on stderr");
    }
}
