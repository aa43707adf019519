package dev.arbor.tokenizer;

import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Text to token ids and back, as the engine and server see it. Implementations are immutable
 * and safe to share between threads; per-request state lives in {@link IncrementalDetokenizer}.
 */
public interface Tokenizer {

    /** Encodes with special tokens added exactly as the tokenizer's own configuration adds them. */
    default int[] encode(String text) {
        return encode(text, true);
    }

    /**
     * Encodes {@code text}. Pass {@code addSpecialTokens=false} for text that already carries its
     * special tokens, such as a rendered chat template (which starts with BOS itself).
     */
    int[] encode(String text, boolean addSpecialTokens);

    /** Decodes, leaving special tokens out (what a user should see). */
    default String decode(int[] ids) {
        return decode(ids, true);
    }

    String decode(int[] ids, boolean skipSpecialTokens);

    /** One more than the largest id this tokenizer can produce (the model's vocabulary may be padded beyond it). */
    int vocabSize();

    OptionalInt bosTokenId();

    /** Ids that end generation: the configured eos token first, then generation_config's extras. */
    int[] eosTokenIds();

    /**
     * The text of an added token (special or user-added, transformers' {@code added_tokens_decoder}),
     * or null for an ordinary vocabulary token.
     */
    default String addedTokenText(int id) {
        return null;
    }

    /** A fresh streaming decoder for one sequence's generated tokens (special tokens skipped). */
    default IncrementalDetokenizer newDetokenizer() {
        return newDetokenizer(new int[0]);
    }

    /**
     * A streaming decoder that treats {@code promptIds} as already-printed context, so the first
     * generated word keeps its leading space (SentencePiece strips it at the start of a text).
     */
    default IncrementalDetokenizer newDetokenizer(int[] promptIds) {
        return newDetokenizer(promptIds, true, true);
    }

    /**
     * As {@link #newDetokenizer(int[])}, with vLLM's {@code skip_special_tokens} and
     * {@code spaces_between_special_tokens}.
     */
    default IncrementalDetokenizer newDetokenizer(int[] promptIds, boolean skipSpecialTokens, boolean spacesBetweenSpecialTokens) {
        return new IncrementalDetokenizer(this, promptIds, skipSpecialTokens, spacesBetweenSpecialTokens);
    }

    Optional<ChatTemplate> chatTemplate();

    /** Loads the Hugging Face tokenizer ({@code tokenizer.json} + {@code tokenizer_config.json}) of a model directory. */
    static Tokenizer load(Path modelDir) {
        return HfTokenizer.load(modelDir);
    }
}
