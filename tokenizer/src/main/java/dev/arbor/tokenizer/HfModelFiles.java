package dev.arbor.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * What Arbor needs from a Hugging Face model directory besides the tokenizer pipeline itself:
 * the vocabulary size, BOS/EOS ids and the chat template. DJL does not expose these, so they are
 * read here from {@code tokenizer.json}, {@code tokenizer_config.json} and
 * {@code generation_config.json}.
 *
 * @param addedTokenTexts {@code added_tokens[]} by id (special and user-added tokens, as transformers'
 *                        {@code added_tokens_decoder})
 */
record HfModelFiles(int vocabSize, OptionalInt bosId, int[] eosIds, String bosToken, String eosToken, String chatTemplate,
                    Map<Integer, String> addedTokenTexts) {

    private static final ObjectMapper JSON = new ObjectMapper();

    static Path tokenizerJson(Path dir) {
        Path file = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no tokenizer.json in model directory " + dir.toAbsolutePath()
                    + " (Arbor needs the Hugging Face fast-tokenizer file; tokenizer.model alone is not supported)");
        }
        return file;
    }

    static HfModelFiles read(Path dir) {
        JsonNode tokenizer = readJson(tokenizerJson(dir));
        JsonNode config = readOptional(dir.resolve("tokenizer_config.json"));
        JsonNode generation = readOptional(dir.resolve("generation_config.json"));
        Map<String, Integer> added = addedTokens(tokenizer);
        JsonNode vocab = tokenizer.path("model").path("vocab");

        String bos = tokenText(config.get("bos_token"));
        String eos = tokenText(config.get("eos_token"));
        OptionalInt bosId = bos == null ? OptionalInt.empty() : idOf(bos, added, vocab, dir);

        Set<Integer> eosIds = new LinkedHashSet<>();
        if (eos != null) idOf(eos, added, vocab, dir).ifPresent(eosIds::add);
        // generation_config lists every id that stops generation (Llama 3: end_of_text, eom, eot);
        // transformers' generate() stops on all of them, so the engine should too.
        JsonNode genEos = generation.get("eos_token_id");
        if (genEos != null && genEos.isArray()) genEos.forEach(n -> eosIds.add(n.asInt()));
        else if (genEos != null && genEos.isNumber()) eosIds.add(genEos.asInt());

        int size = Math.max(vocab.size(), added.values().stream().mapToInt(i -> i + 1).max().orElse(0));
        return new HfModelFiles(size, bosId, eosIds.stream().mapToInt(Integer::intValue).toArray(), bos, eos,
                chatTemplate(dir, config), addedById(added));
    }

    private static Map<Integer, String> addedById(Map<String, Integer> added) {
        Map<Integer, String> byId = new java.util.HashMap<>();
        added.forEach((text, id) -> byId.put(id, text));
        return Map.copyOf(byId);
    }

    /** {@code added_tokens[]}: the special and user-added tokens with their ids. */
    private static Map<String, Integer> addedTokens(JsonNode tokenizer) {
        Map<String, Integer> added = new java.util.HashMap<>();
        for (JsonNode t : tokenizer.path("added_tokens")) added.put(t.path("content").asText(), t.path("id").asInt());
        return added;
    }

    private static OptionalInt idOf(String token, Map<String, Integer> added, JsonNode vocab, Path dir) {
        if (added.containsKey(token)) return OptionalInt.of(added.get(token));
        if (vocab.isObject() && vocab.has(token)) return OptionalInt.of(vocab.get(token).asInt());
        if (vocab.isArray()) { // Unigram: a list of [piece, score], the id is the index
            for (int i = 0; i < vocab.size(); i++) if (token.equals(vocab.get(i).path(0).asText())) return OptionalInt.of(i);
        }
        throw new IllegalArgumentException("tokenizer_config.json names token '" + token + "', which is not in "
                + dir.resolve("tokenizer.json"));
    }

    /** A special token is written either as a string or as an AddedToken object {"content": ...}. */
    private static String tokenText(JsonNode node) {
        if (node == null || node.isNull()) return null;
        return node.isObject() ? node.path("content").asText(null) : node.asText();
    }

    /**
     * The default chat template: {@code chat_template} as a string, or the entry named "default"
     * when it is a list of named templates, or a {@code chat_template.jinja} file (transformers >= 4.43
     * writes it there instead).
     */
    private static String chatTemplate(Path dir, JsonNode config) {
        JsonNode t = config.get("chat_template");
        if (t != null && t.isTextual()) return t.asText();
        if (t != null && t.isArray()) {
            for (Iterator<JsonNode> it = t.elements(); it.hasNext(); ) {
                JsonNode named = it.next();
                if ("default".equals(named.path("name").asText())) return named.path("template").asText();
            }
        }
        Path jinja = dir.resolve("chat_template.jinja");
        try {
            return Files.isRegularFile(jinja) ? Files.readString(jinja) : null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + jinja, e);
        }
    }

    private static JsonNode readOptional(Path file) {
        return Files.isRegularFile(file) ? readJson(file) : JSON.createObjectNode();
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot parse " + file, e);
        }
    }
}
