package dev.arbor.models.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates {@code ../shared/fixtures} for tests. On a user's fresh clone the folder is absent and
 * fixture tests skip with a visible message; CI sets {@code ARBOR_REQUIRE_FIXTURES=1}, which turns
 * the skip into a failure.
 */
public final class Fixtures {
    private Fixtures() {}

    /** The fixtures root, or a skipped (locally) / failed (CI) test when it is missing. */
    public static Path root() {
        String prop = System.getProperty("arbor.fixtures");
        Path p = prop != null ? Path.of(prop) : Path.of("..", "..", "shared", "fixtures");
        if (!Files.isDirectory(p)) {
            // Running from a module directory: the checkout's sibling is two levels up.
            Path alt = Path.of("").toAbsolutePath();
            while (alt != null && !Files.isDirectory(alt.resolve("../shared/fixtures"))) alt = alt.getParent();
            if (alt != null) p = alt.resolve("../shared/fixtures").normalize();
        }
        boolean present = Files.isRegularFile(p.resolve("README.md"));
        if (!present && "1".equals(System.getenv("ARBOR_REQUIRE_FIXTURES"))) {
            throw new IllegalStateException("fixtures required (ARBOR_REQUIRE_FIXTURES=1) but missing at " + p.toAbsolutePath());
        }
        if (!present) System.err.println("SKIPPED: fixture tests need ../shared/fixtures beside the checkout (not found at " + p.toAbsolutePath() + ")");
        assumeTrue(present, "fixtures not found at " + p.toAbsolutePath() + "; fixture tests skipped");
        return p;
    }

    /** A fixture model directory, e.g. {@code model("tiny-llama3")}. */
    public static Path model(String name) {
        return root().resolve("models").resolve(name);
    }

    /** A fixture tokenizer directory, e.g. {@code tokenizer("qwen3")}. */
    public static Path tokenizer(String name) {
        return root().resolve("tokenizers").resolve(name);
    }

    public static final String[] MODELS = {"tiny-llama2", "tiny-llama3", "tiny-qwen3", "tiny-baichuan2-13b"};
}
