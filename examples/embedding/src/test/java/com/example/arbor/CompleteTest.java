package com.example.arbor;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The embedding example runs on the CPU on a synthetic model (no files, a few seconds). */
class CompleteTest {
    @Test
    void generatesOneCompletionPerPromptInOrder() {
        List<String> lines = Complete.complete("synthetic:tiny", List.of("first", "second"));
        assertEquals(2, lines.size());
        assertTrue(lines.get(0).startsWith("first -> "), lines.get(0));
        assertTrue(lines.get(1).startsWith("second -> "), lines.get(1));
        for (String l : lines) assertTrue(l.contains("finish_reason="), l);
    }
}
