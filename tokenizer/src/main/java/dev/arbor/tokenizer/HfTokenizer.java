package dev.arbor.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * A Hugging Face fast tokenizer ({@code tokenizer.json}) run by DJL's binding of the Rust
 * {@code tokenizers} library, so normalisation, pre-tokenisation, BPE merges, byte fallback and
 * the post-processor (which adds BOS) behave exactly as in transformers.
 */
public final class HfTokenizer implements Tokenizer {

    private final HuggingFaceTokenizer djl;
    private final HfModelFiles files;
    private final Optional<ChatTemplate> chatTemplate;

    private HfTokenizer(HuggingFaceTokenizer djl, HfModelFiles files) {
        this.djl = djl;
        this.files = files;
        this.chatTemplate = Optional.ofNullable(files.chatTemplate())
                .map(t -> new ChatTemplate(t, files.bosToken(), files.eosToken()));
    }

    public static HfTokenizer load(Path modelDir) {
        Path json = HfModelFiles.tokenizerJson(modelDir);
        HfModelFiles files = HfModelFiles.read(modelDir);
        DjlNative.configure();
        // Truncation and padding off: DJL otherwise cuts prompts at 512 tokens. Special tokens are
        // added by tokenizer.json's post-processor, the same one transformers uses.
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false");
        try {
            return new HfTokenizer(HuggingFaceTokenizer.newInstance(json, options), files);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load tokenizer from " + modelDir.toAbsolutePath(), e);
        }
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        long[] ids = djl.encode(text, addSpecialTokens, false).getIds();
        return Arrays.stream(ids).mapToInt(Math::toIntExact).toArray();
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        // NOTE: no clean_up_tokenization_spaces (" ." -> "."): it would break decode(encode(s)) == s
        // and make streamed text differ from the whole; vLLM streams without it too.
        return djl.decode(Arrays.stream(ids).asLongStream().toArray(), skipSpecialTokens);
    }

    @Override
    public String addedTokenText(int id) {
        return files.addedTokenTexts().get(id);
    }

    @Override
    public int vocabSize() {
        return files.vocabSize();
    }

    @Override
    public OptionalInt bosTokenId() {
        return files.bosId();
    }

    @Override
    public int[] eosTokenIds() {
        return files.eosIds().clone();
    }

    @Override
    public Optional<ChatTemplate> chatTemplate() {
        return chatTemplate;
    }
}
