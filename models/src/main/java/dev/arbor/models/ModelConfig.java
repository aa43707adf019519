package dev.arbor.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * A model's shape and hyper-parameters, read from config.json in the styles found in the wild:
 * old Llama-2 (no head_dim, no rope_theta: defaults), Llama 3.x ({@code rope_theta} +
 * {@code rope_scaling}), transformers 5 ({@code rope_parameters}), Baichuan's own
 * ({@code model_max_length}, no {@code num_key_value_heads}).
 *
 * @param architecture          the HF class name, e.g. "LlamaForCausalLM"
 * @param family                the architecture this module runs it as
 * @param headDim               per-head width (explicit head_dim or hidden / heads)
 * @param rope                  rotary parameters; null for ALiBi models
 * @param bosTokenId            -1 if none
 * @param modelDir              null for synthetic models
 * @param dtype                 the checkpoint's dtype name ("bfloat16", "float16", "float32"); from
 *                              torch_dtype / dtype, else (ModelLoader) the embedding tensor's
 */
public record ModelConfig(String architecture, Architecture family, int vocabSize, int hiddenSize,
                          int intermediateSize, int numLayers, int numHeads, int numKvHeads, int headDim,
                          int maxPositionEmbeddings, double rmsNormEps, RopeConfig rope,
                          boolean tieWordEmbeddings, int bosTokenId, int[] eosTokenIds, Path modelDir,
                          String dtype) {

    public static final String FILE = "config.json";
    private static final Set<String> ROPE_TYPES = Set.of("default", "linear", "llama3");

    public ModelConfig {
        String where = modelDir == null ? "synthetic config" : modelDir.resolve(FILE).toString();
        if (numKvHeads <= 0 || numHeads % numKvHeads != 0) {
            throw new ModelLoadException(where + ": num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (vocabSize <= 0 || hiddenSize <= 0 || intermediateSize <= 0 || numLayers <= 0 || headDim <= 0) {
            throw new ModelLoadException(where + ": non-positive dimension (vocab " + vocabSize + ", hidden "
                    + hiddenSize + ", intermediate " + intermediateSize + ", layers " + numLayers + ", head_dim " + headDim + ")");
        }
        if (family.positionEncoding() == Architecture.PositionEncoding.ROPE && (rope == null || headDim % 2 != 0)) {
            throw new ModelLoadException(where + ": RoPE needs an even head_dim, got " + headDim);
        }
    }

    public ModelConfig withDtype(String newDtype) {
        return new ModelConfig(architecture, family, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads,
                numKvHeads, headDim, maxPositionEmbeddings, rmsNormEps, rope, tieWordEmbeddings, bosTokenId,
                eosTokenIds, modelDir, newDtype);
    }

    /** Width of all query heads together. */
    public int qDim() { return numHeads * headDim; }

    /** Width of all key (or value) heads together. */
    public int kvDim() { return numKvHeads * headDim; }

    /**
     * Weight elements a decode step reads: every layer's q, k, v, o, gate, up and down matrices and the lm_head
     * (vocab × hidden; the embedding is only gathered). Times the bytes per element over the memory bandwidth,
     * this is the floor of a decode step.
     */
    public long decodeWeightElements() {
        long h = hiddenSize;
        long perLayer = h * (qDim() + 2L * kvDim()) + (long) qDim() * h + 3L * h * intermediateSize;
        return numLayers * perLayer + (long) vocabSize * h;
    }

    /** Reads {@code modelDir/config.json}. */
    public static ModelConfig read(Path modelDir) {
        Path file = modelDir.resolve(FILE);
        if (!Files.isRegularFile(file)) throw new ModelLoadException("missing " + file);
        JsonNode c;
        try {
            c = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelLoadException("cannot parse " + file + ": " + e.getMessage(), e);
        }
        String archName = c.path("architectures").path(0).asText("");
        Architecture family = Architecture.fromHfName(archName).orElseThrow(() -> new ModelLoadException(
                file + ": unknown architecture '" + archName + "' (supported: " + Architecture.supportedNames() + ")"));
        int hidden = required(c, "hidden_size", file);
        int heads = required(c, "num_attention_heads", file);
        // Baichuan2-7B shares the class name but uses RoPE, not ALiBi: refuse it rather than run it wrongly.
        if (family == Architecture.BAICHUAN && hidden == 4096 && c.path("num_hidden_layers").asInt() == 32) {
            throw new ModelLoadException(file + ": this is a Baichuan2-7B configuration (hidden 4096, 32 layers), which uses RoPE;"
                    + " only the ALiBi Baichuan2-13B family is supported");
        }
        int kvHeads = c.path("num_key_value_heads").asInt(heads);
        int headDim;
        if (c.hasNonNull("head_dim")) {
            headDim = c.get("head_dim").asInt();
        } else if (hidden % heads == 0) {
            headDim = hidden / heads;
        } else {
            throw new ModelLoadException(file + ": no head_dim and hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        int maxPos = c.has("max_position_embeddings") ? c.get("max_position_embeddings").asInt()
                : c.path("model_max_length").asInt(2048);
        RopeConfig rope = family.positionEncoding() == Architecture.PositionEncoding.ROPE ? readRope(c, file) : null;
        String dtype = c.hasNonNull("torch_dtype") ? c.get("torch_dtype").asText() : c.path("dtype").asText(null);
        return new ModelConfig(archName, family, required(c, "vocab_size", file), hidden,
                required(c, "intermediate_size", file), required(c, "num_hidden_layers", file), heads, kvHeads,
                headDim, maxPos, c.path("rms_norm_eps").asDouble(1e-6), rope,
                c.path("tie_word_embeddings").asBoolean(false), c.path("bos_token_id").asInt(-1),
                GenerationConfig.tokenIds(c.get("eos_token_id")), modelDir, dtype);
    }

    private static int required(JsonNode c, String key, Path file) {
        JsonNode n = c.get(key);
        if (n == null || !n.canConvertToInt()) throw new ModelLoadException(file + ": missing or non-integer '" + key + "'");
        return n.asInt();
    }

    /** {@code rope_parameters} (transformers 5) or {@code rope_theta} + {@code rope_scaling} (older). */
    private static RopeConfig readRope(JsonNode c, Path file) {
        JsonNode params = c.path("rope_parameters");
        double theta;
        JsonNode scaling;
        if (params.isObject()) {
            theta = params.path("rope_theta").asDouble(c.path("rope_theta").asDouble(10000.0));
            scaling = params;
        } else {
            theta = c.path("rope_theta").asDouble(10000.0);
            scaling = c.path("rope_scaling");
        }
        if (!scaling.isObject()) return RopeConfig.plain(theta);
        String type = scaling.hasNonNull("rope_type") ? scaling.get("rope_type").asText() : scaling.path("type").asText("default");
        if (!ROPE_TYPES.contains(type)) {
            throw new ModelLoadException(file + ": unsupported rope type '" + type + "' (supported: " + ROPE_TYPES + ")");
        }
        if (type.equals("default")) return RopeConfig.plain(theta);
        return new RopeConfig(theta, type, scaling.path("factor").asDouble(1.0),
                scaling.path("low_freq_factor").asDouble(1.0), scaling.path("high_freq_factor").asDouble(4.0),
                scaling.path("original_max_position_embeddings").asInt(8192));
    }
}
