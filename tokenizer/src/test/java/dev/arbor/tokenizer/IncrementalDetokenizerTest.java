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

    @Test
    void specialTokensAppearWhenNotSkipped() {
        // Issue 13, fault 3: a sampled <|eot_id|> (ignore_eos) must be in the text with skip_special_tokens=false.
        Tokenizer tok = FixtureData.tokenizer("tokenizers/llama3");
        int[] ids = concat(concat(tok.encode("Hi there", false), new int[] {128009, 128009}), tok.encode(" Bye", false));
        String joined = String.join("", stream(tok.newDetokenizer(new int[0], false, true), ids));
        assertEquals("Hi there<|eot_id|><|eot_id|> Bye", joined);
        assertEquals(tok.decode(ids, false), joined);
        // The same after a chat prompt that ends in special tokens.
        int[] prompt = tok.encode("<|start_header_id|>assistant<|end_header_id|>\n\n", false);
        assertEquals("Hi there<|eot_id|><|eot_id|> Bye", String.join("", stream(tok.newDetokenizer(prompt, false, false), ids)));
        assertEquals("Hi there Bye", String.join("", stream(tok.newDetokenizer(prompt), ids)));
    }

    @Test
    void spacesBetweenSpecialTokensFalseDropsTheSpaceADecoderPutsBetweenThem() {
        // The fixtures' decoders never put spaces between special tokens; this one does, as WordPiece and
        // slow tokenizers do: "a <s> <s> b".
        ByteTokenizer plain = new ByteTokenizer();
        Tokenizer spaced = new Tokenizer() {
            @Override public String decode(int[] ids, boolean skipSpecialTokens) {
                StringBuilder out = new StringBuilder();
                for (int id : ids) {
                    if (id < 256) { out.append(plain.decode(new int[] {id}, true)); continue; }
                    if (skipSpecialTokens) continue;
                    if (!out.isEmpty()) out.append(' ');
                    out.append(addedTokenText(id));
                }
                return out.toString();
            }
            @Override public String addedTokenText(int id) { return plain.addedTokenText(id); }
            @Override public int[] encode(String text, boolean addSpecialTokens) { return plain.encode(text, addSpecialTokens); }
            @Override public int vocabSize() { return plain.vocabSize(); }
            @Override public java.util.OptionalInt bosTokenId() { return plain.bosTokenId(); }
            @Override public int[] eosTokenIds() { return plain.eosTokenIds(); }
            @Override public java.util.Optional<ChatTemplate> chatTemplate() { return java.util.Optional.empty(); }
        };
        int[] ids = {'a', ByteTokenizer.BOS, ByteTokenizer.EOS, ByteTokenizer.BOS, 'b'};
        assertEquals("a <s> </s> <s>b", String.join("", stream(spaced.newDetokenizer(new int[0], false, true), ids)));
        assertEquals("a <s></s><s>b", String.join("", stream(spaced.newDetokenizer(new int[0], false, false), ids)));
        assertEquals("ab", String.join("", stream(spaced.newDetokenizer(new int[0], true, false), ids)));
    }

    @Test
    void aCharacterSplitBetweenPromptAndOutputIsEmittedWithTheOutput() {
        // Issue 13, fault 4: the prompt ends with the first byte of "€" (E2), the output brings 82 AC.
        Tokenizer bytes = new ByteTokenizer();
        int[] prompt = concat(bytes.encode("price: "), new int[] {0xE2});
        assertEquals("€5", String.join("", stream(bytes.newDetokenizer(prompt), new int[] {0x82, 0xAC, '5'})));
    }

    @ParameterizedTest
    @FieldSource("TOKENIZERS")
    void everySplitInsideACharacterKeepsTheCharacter(String dir) {
        Tokenizer tok = FixtureData.tokenizer(dir);
        int[] ids = tok.encode("Hi 𓀀 and 🎉 ok", true);
        int splits = 0;
        for (int k = 1; k < ids.length; k++) {
            int[] prompt = Arrays.copyOf(ids, k), gen = Arrays.copyOfRange(ids, k, ids.length);
            String promptText = tok.decode(prompt);
            if (!promptText.endsWith("\uFFFD")) continue;   // the split is between characters
            splits++;
            // The prompt's text up to its last token that ended on a whole character counts as
            // printed; the pending tokens' text (e.g. byte-level "Ġð", a space and a first byte)
            // comes out with the output, as vLLM's DecodeStream gives it.
            int j = k;
            while (j > 0 && tok.decode(Arrays.copyOf(ids, j)).endsWith("\uFFFD")) j--;
            String complete = tok.decode(Arrays.copyOf(ids, j));
            String all = tok.decode(ids);
            assertTrue(all.startsWith(complete), dir + " k=" + k);
            List<String> pieces = stream(tok.newDetokenizer(prompt), gen);
            for (String p : pieces) assertFalse(p.contains("\uFFFD"), dir + " k=" + k + ": " + p);
            assertEquals(all.substring(complete.length()), String.join("", pieces), dir + " split at " + k);
        }
        assertTrue(splits >= 2, dir + ": the text should split inside a character at least twice, got " + splits);
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
