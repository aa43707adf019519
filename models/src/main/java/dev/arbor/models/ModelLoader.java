package dev.arbor.models;

import dev.arbor.models.backend.ModelBackend;
import dev.arbor.models.cpu.CpuModelBackend;
import dev.arbor.models.synthetic.SyntheticModels;
import dev.arbor.models.weights.ModelWeights;
import dev.arbor.models.weights.WeightFiles;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point: {@code load("path/to/hf-model-dir", "cuda")} or {@code load("synthetic:100m")} (the
 * CPU); the device is {@code cpu | cuda | cuda:N | auto} (see {@link Devices}). A directory
 * is fully validated here (config, every tensor's presence, dtype, shape and byte range), so every
 * problem surfaces as a {@link ModelLoadException} naming the file and tensor. Generation defaults
 * are on the returned model: {@link CausalLM#generationConfig()}.
 */
public final class ModelLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ModelLoader.class);

    private ModelLoader() {}

    /** Loads {@code spec} on the CPU. */
    public static CausalLM load(String spec) {
        return load(spec, "cpu");
    }

    /**
     * Loads {@code spec} (a Hugging Face model directory or {@code synthetic:SHAPE}) to run on {@code device}.
     *
     * @throws IllegalArgumentException for a malformed device name
     * @throws ModelLoadException       for a model that cannot be read
     */
    public static CausalLM load(String spec, String device) {
        return load(spec, BackendOptions.of(device));
    }

    /** As {@link #load(String, String)} with every backend option (KV dtype, matmul precision, batch invariance). */
    public static CausalLM load(String spec, BackendOptions options) {
        ModelBackend backend = Devices.open(options);
        try {
            if (spec.startsWith(SyntheticModels.PREFIX)) {
                return SyntheticModels.load(spec.substring(SyntheticModels.PREFIX.length()), backend);
            }
            return load(Path.of(spec), backend);
        } catch (RuntimeException e) {
            backend.close();
            throw e;
        }
    }

    public static CausalLM load(Path dir) {
        return load(dir, new CpuModelBackend());
    }

    public static CausalLM load(Path dir, ModelBackend backend) {
        if (!Files.isDirectory(dir)) throw new ModelLoadException("model directory " + dir + " does not exist");
        ModelConfig parsed = ModelConfig.read(dir);
        GenerationConfig generation = GenerationConfig.read(dir, parsed);
        WeightFiles files = WeightFiles.open(dir);
        Arena derived = Arena.ofShared(); // NormHead's normalised lm_head
        try {
            ModelConfig config = parsed.dtype() != null ? parsed : parsed.withDtype(embeddingDtype(files));
            // the CPU backend may keep its own copy (on 2 MiB pages: CpuModelBackend.resident), owned by `derived`
            var tensors = backend instanceof CpuModelBackend cpu ? cpu.resident(files.tensors(), derived) : files.tensors();
            ModelWeights weights = ModelWeights.bind(config, tensors, files.description(), derived);
            LOG.info("loaded {} ({}, {} layers, hidden {}) from {}", config.architecture(), config.dtype(),
                    config.numLayers(), config.hiddenSize(), files.description());
            return new DecoderModel(config, generation, () -> weights, () -> {
                derived.close();
                files.close();
            }, backend);
        } catch (RuntimeException e) {
            derived.close();
            files.close();
            throw e;
        }
    }

    private static String embeddingDtype(WeightFiles files) {
        var embed = files.tensors().get("model.embed_tokens.weight");
        if (embed == null) throw new ModelLoadException("missing tensor model.embed_tokens.weight in " + files.description());
        return embed.dtype().torchName();
    }
}
