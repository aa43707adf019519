package dev.arbor.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A file-less tokenizer for synthetic models and benchmarks: ids 0..255 are the raw UTF-8 bytes
 * of the text, followed by three specials, BOS = 256, EOS = 257, PAD = 258 (vocabulary 259).
 * {@link #encode(String)} prepends BOS, as Llama's tokenizers do. Any byte sequence round-trips;
 * a cut multi-byte character decodes to U+FFFD, like the byte-level BPE tokenizers, so the
 * {@link IncrementalDetokenizer} works unchanged.
 *
 * <p>A synthetic model's vocabulary is usually larger than 259: ids from 259 up to the model's
 * vocabulary size are ordinary "word" tokens that encode never produces and that decode as
 * {@code <t123>}, so random-weight output stays printable.
 */
public final class ByteTokenizer implements Tokenizer {
    public static final int BOS = 256;
    public static final int EOS = 257;
    public static final int PAD = 258;
    public static final int VOCAB_SIZE = 259;

    private final int vocabSize;

    /** Bytes and specials only: vocabulary 259. */
    public ByteTokenizer() { this(VOCAB_SIZE); }

    /** For a model whose vocabulary is {@code vocabSize} (at least 259); see the class comment. */
    public ByteTokenizer(int vocabSize) {
        if (vocabSize < VOCAB_SIZE) throw new IllegalArgumentException("ByteTokenizer needs a vocabulary of at least " + VOCAB_SIZE + ", got " + vocabSize);
        this.vocabSize = vocabSize;
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int offset = addSpecialTokens ? 1 : 0;
        int[] ids = new int[bytes.length + offset];
        if (addSpecialTokens) ids[0] = BOS;
        for (int i = 0; i < bytes.length; i++) ids[i + offset] = bytes[i] & 0xFF;
        return ids;
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        StringBuilder out = new StringBuilder();
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        for (int id : ids) {
            if (id >= 0 && id < 256) {
                pending.write(id);
                continue;
            }
            if (id < 0 || id >= vocabSize) throw new IllegalArgumentException("token id " + id + " outside ByteTokenizer's 0.." + (vocabSize - 1));
            if (id >= VOCAB_SIZE) {
                out.append(pending.toString(StandardCharsets.UTF_8));
                pending.reset();
                out.append("<t").append(id).append('>');
                continue;
            }
            if (skipSpecialTokens) continue; // skipping joins the bytes on either side, as HF does
            out.append(pending.toString(StandardCharsets.UTF_8));
            pending.reset();
            out.append(addedTokenText(id));
        }
        return out.append(pending.toString(StandardCharsets.UTF_8)).toString();
    }

    @Override
    public String addedTokenText(int id) {
        return id == BOS ? "<s>" : id == EOS ? "</s>" : id == PAD ? "<pad>" : null;
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public OptionalInt bosTokenId() {
        return OptionalInt.of(BOS);
    }

    @Override
    public int[] eosTokenIds() {
        return new int[] {EOS};
    }

    @Override
    public Optional<ChatTemplate> chatTemplate() {
        return Optional.empty();
    }
}
