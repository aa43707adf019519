package dev.arbor.models;

import dev.arbor.models.cpu.TransformerCpu;
import dev.arbor.models.synthetic.SyntheticModels;
import dev.arbor.models.weights.ModelWeights;
import dev.arbor.models.weights.WeightFiles;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Entry point: {@code load("path/to/hf-model-dir")} or {@code load("synthetic:100m")}. A directory
 * is fully validated here (config, every tensor's presence, dtype, shape and byte range), so every
 * problem surfaces as a {@link ModelLoadException} naming the file and tensor. Generation defaults
 * are on the returned model: {@link CausalLM#generationConfig()}.
 */
public final class ModelLoader {
    private static final Logger LOG = LoggerFactory.getLogger(ModelLoader.class);

    private ModelLoader() {}

    public static CausalLM load(String spec) {
        if (spec.startsWith(SyntheticModels.PREFIX)) {
            return SyntheticModels.load(spec.substring(SyntheticModels.PREFIX.length()));
        }
        return load(Path.of(spec));
    }

    public static CausalLM load(Path dir) {
        if (!Files.isDirectory(dir)) throw new ModelLoadException("model directory " + dir + " does not exist");
        ModelConfig parsed = ModelConfig.read(dir);
        GenerationConfig generation = GenerationConfig.read(dir, parsed);
        WeightFiles files = WeightFiles.open(dir);
        Arena derived = Arena.ofShared(); // NormHead's normalised lm_head
        try {
            ModelConfig config = parsed.dtype() != null ? parsed : parsed.withDtype(embeddingDtype(files));
            ModelWeights weights = ModelWeights.bind(config, files.tensors(), files.description(), derived);
            LOG.info("loaded {} ({}, {} layers, hidden {}) from {}", config.architecture(), config.dtype(),
                    config.numLayers(), config.hiddenSize(), files.description());
            return new TransformerCpu(config, generation, () -> weights, () -> {
                derived.close();
                files.close();
            });
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
