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
 */
public final class ByteTokenizer implements Tokenizer {
    public static final int BOS = 256;
    public static final int EOS = 257;
    public static final int PAD = 258;
    public static final int VOCAB_SIZE = 259;

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
            if (id < 0 || id >= VOCAB_SIZE) throw new IllegalArgumentException("token id " + id + " outside ByteTokenizer's 0.." + (VOCAB_SIZE - 1));
            if (skipSpecialTokens) continue; // skipping joins the bytes on either side, as HF does
            out.append(pending.toString(StandardCharsets.UTF_8));
            pending.reset();
            out.append(id == BOS ? "<s>" : id == EOS ? "</s>" : "<pad>");
        }
        return out.append(pending.toString(StandardCharsets.UTF_8)).toString();
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
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
