package dev.arbor.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Generation defaults from {@code generation_config.json}; fields the file lacks fall back to the
 * model config (bos/eos) or to "unset" (NaN, -1). Obtained through {@link CausalLM#generationConfig()}.
 *
 * @param eosTokenIds       stop tokens (from the file, else config.json)
 * @param temperature       NaN if unset
 * @param topP              NaN if unset
 * @param topK              -1 if unset
 * @param maxNewTokens      -1 if unset
 * @param repetitionPenalty NaN if unset
 * @param doSample          false if unset
 */
public record GenerationConfig(int bosTokenId, int[] eosTokenIds, double temperature, double topP, int topK,
                               int maxNewTokens, double repetitionPenalty, boolean doSample) {

    public static final String FILE = "generation_config.json";

    /** Only the model config's bos/eos, nothing else set. */
    public static GenerationConfig fromModel(ModelConfig config) {
        return new GenerationConfig(config.bosTokenId(), config.eosTokenIds(), Double.NaN, Double.NaN, -1, -1, Double.NaN, false);
    }

    /** Reads {@code modelDir/generation_config.json} if present, else {@link #fromModel}. */
    public static GenerationConfig read(Path modelDir, ModelConfig config) {
        Path file = modelDir.resolve(FILE);
        if (!Files.isRegularFile(file)) return fromModel(config);
        JsonNode g;
        try {
            g = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelLoadException("cannot parse " + file + ": " + e.getMessage(), e);
        }
        int[] eos = g.hasNonNull("eos_token_id") ? tokenIds(g.get("eos_token_id")) : config.eosTokenIds();
        return new GenerationConfig(g.path("bos_token_id").asInt(config.bosTokenId()), eos,
                g.path("temperature").asDouble(Double.NaN), g.path("top_p").asDouble(Double.NaN),
                g.path("top_k").asInt(-1), g.path("max_new_tokens").asInt(-1),
                g.path("repetition_penalty").asDouble(Double.NaN), g.path("do_sample").asBoolean(false));
    }

    /** An id or a list of ids (as eos_token_id comes in both forms); null gives an empty array. */
    static int[] tokenIds(JsonNode n) {
        if (n == null || n.isNull()) return new int[0];
        if (n.isArray()) {
            int[] ids = new int[n.size()];
            for (int i = 0; i < ids.length; i++) ids[i] = n.get(i).asInt();
            return ids;
        }
        return new int[] {n.asInt()};
    }
}
