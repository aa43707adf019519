package dev.arbor.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

class IncrementalDetokenizerTest {
    static final List<String> TOKENIZERS = FixtureData.ALL_TOKENIZERS;

    /** Valid text only: none of these may ever show U+FFFD while streaming. */
    static final List<String> TEXTS = List.of(
            "héllo wörld 你好 🎉🎉 ∑x²",
            "The quick brown fox jumps over the lazy dog.",
            " leading space, double  space and a trailing one ",
            "Ελληνικά, русский, עברית, العربية, हिन्दी, 日本語のテキスト, 한국어",
            "emoji: 👩‍👩‍👧‍👦 🏳️‍🌈 🇫🇷 ✔️ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
            "code:\n\tfor (int i = 0; i < n; i++) { x[i] = 0x7F; }\n",
            "€100 ≠ £90 ≈ ¥15000 — “quoted” … ½");

    @ParameterizedTest
    @FieldSource("TOKENIZERS")
    void streamedTextEqualsWholeDecodeAndNeverSplitsACharacter(String dir) {
        Tokenizer tok = FixtureData.tokenizer(dir);
        for (String text : TEXTS) {
            int[] ids = tok.encode(text, false);
            List<String> pieces = stream(tok.newDetokenizer(), ids);
            for (String p : pieces) assertFalse(p.contains("\uFFFD"), dir + ": piece '" + p + "' of '" + text + "' has U+FFFD");
            assertEquals(tok.decode(ids), String.join("", pieces), dir + ": joined pieces of '" + text + "'");
            assertEquals(text, String.join("", pieces), dir + ": streamed text should round-trip");
        }
    }

    @ParameterizedTest
    @FieldSource("TOKENIZERS")
    void streamedTextAfterAPromptKeepsTheFirstWordsSpace(String dir) {
        Tokenizer tok = FixtureData.tokenizer(dir);
        int[] prompt = tok.encode("Translate to French:");
        for (String text : TEXTS) {
            int[] gen = tok.encode(text, false);
            String all = tok.decode(concat(prompt, gen));
            String before = tok.decode(prompt);
            assertTrue(all.startsWith(before), dir);
            String joined = String.join("", stream(tok.newDetokenizer(prompt), gen));
            assertEquals(all.substring(before.length()), joined, dir + ": '" + text + "' after a prompt");
        }
    }

    /** Random-weight greedy ids: arbitrary token sequences, some with stray bytes that never form a character. */
    @ParameterizedTest
    @FieldSource("dev.arbor.tokenizer.HfTokenizerTest#MODELS")
    void streamsReferenceGreedyIds(String model) {
        Tokenizer tok = FixtureData.tokenizer("models/" + model);
        for (JsonNode c : FixtureData.referenceCases(model)) {
            int[] gen = FixtureData.ints(c.path("greedy_ids"));
            assertEquals(tok.decode(gen), String.join("", stream(tok.newDetokenizer(), gen)), model + "/" + c.path("name").asText());
            int[] prompt = FixtureData.ints(c.path("input_ids"));
            String before = tok.decode(prompt);
            assertEquals(tok.decode(concat(prompt, gen)).substring(before.length()),
                    String.join("", stream(tok.newDetokenizer(prompt), gen)), model + "/" + c.path("name").asText() + " with prompt");
        }
    }

    @Test
    void holdsBackAByteFallbackCharacterUntilItsLastByte() {
        Tokenizer tok = FixtureData.tokenizer("tokenizers/llama2");
        int[] ids = tok.encode("𓀀", false); // not in the vocabulary: ▁ then <0xF0><0x93><0x80><0x80>
        assertEquals(5, ids.length, Arrays.toString(ids));
        IncrementalDetokenizer d = tok.newDetokenizer();
        StringBuilder seen = new StringBuilder();
        for (int i = 0; i < ids.length - 1; i++) seen.append(d.add(ids[i]));
        assertEquals("", seen.toString().strip(), "nothing but the space may appear before the last byte");
        assertEquals("𓀀", (seen + d.add(ids[ids.length - 1])).strip());
        assertEquals("", d.flush());
    }

    @Test
    void flushEmitsAStrayByteThatNeverCompletes() {
        Tokenizer tok = new ByteTokenizer();
        IncrementalDetokenizer d = tok.newDetokenizer();
        assertEquals("a", d.add('a'));
        assertEquals("", d.add(0xE2)); // first byte of a three-byte character
        assertEquals("\uFFFD", d.flush());
    }

    @Test
    void byteTokenizerStreamsMultilingualText() {
        Tokenizer tok = new ByteTokenizer();
        for (String text : TEXTS) {
            List<String> pieces = stream(tok.newDetokenizer(), tok.encode(text));
            assertEquals(text, String.join("", pieces));
            pieces.forEach(p -> assertFalse(p.contains("\uFFFD"), p));
        }
    }

    @Test
    void specialTokensAreSkipped() {
        Tokenizer tok = FixtureData.tokenizer("tokenizers/qwen3");
        int[] ids = concat(tok.encode("Hi there", false), tok.eosTokenIds());
        assertEquals("Hi there", String.join("", stream(tok.newDetokenizer(), ids)));
    }

    private static List<String> stream(IncrementalDetokenizer d, int[] ids) {
        List<String> pieces = new ArrayList<>();
        for (int id : ids) pieces.add(d.add(id));
        pieces.add(d.flush());
        return pieces;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
