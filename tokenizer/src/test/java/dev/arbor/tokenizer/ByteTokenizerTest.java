package dev.arbor.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

class ByteTokenizerTest {
    private final ByteTokenizer tok = new ByteTokenizer();

    @Test
    void idsAreUtf8BytesAfterBos() {
        assertArrayEquals(new int[] {256, 'h', 'i', 0xC3, 0xA9}, tok.encode("hié"));
        assertArrayEquals(new int[] {'h', 'i'}, tok.encode("hi", false));
    }

    @Test
    void roundTripsMultilingualText() {
        String text = "héllo wörld 你好 🎉🎉 ∑x²";
        assertEquals(text, tok.decode(tok.encode(text)));
    }

    @Test
    void specialsAreSkippedOrSpelledOut() {
        int[] ids = {ByteTokenizer.BOS, 'a', ByteTokenizer.EOS, ByteTokenizer.PAD};
        assertEquals("a", tok.decode(ids));
        assertEquals("<s>a</s><pad>", tok.decode(ids, false));
    }

    @Test
    void reportsItsVocabularyAndSpecials() {
        assertEquals(259, tok.vocabSize());
        assertEquals(OptionalInt.of(256), tok.bosTokenId());
        assertArrayEquals(new int[] {257}, tok.eosTokenIds());
        assertEquals(true, tok.chatTemplate().isEmpty());
    }

    @Test
    void rejectsIdsOutsideTheVocabulary() {
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {259}));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-1}));
    }
}
