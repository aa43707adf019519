package dev.arbor.models.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arbor.models.ModelLoadException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors of a Hugging Face model directory: {@code model.safetensors}, or the shards listed
 * by {@code model.safetensors.index.json} ({@code weight_map: tensor -> file}). All files are
 * mapped into one arena, released by {@link #close()}.
 */
public final class WeightFiles implements AutoCloseable {
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final String description;

    private WeightFiles(Arena arena, Map<String, Tensor> tensors, String description) {
        this.arena = arena;
        this.tensors = tensors;
        this.description = description;
    }

    public static WeightFiles open(Path modelDir) {
        Path single = modelDir.resolve(SINGLE);
        Path index = modelDir.resolve(INDEX);
        Arena arena = Arena.ofShared();
        try {
            if (Files.isRegularFile(single)) {
                return new WeightFiles(arena, SafeTensorsFile.open(single, arena).tensors(), single.toString());
            }
            if (Files.isRegularFile(index)) {
                return new WeightFiles(arena, openSharded(index, arena), index.toString());
            }
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
        arena.close();
        throw new ModelLoadException("no weights in " + modelDir + ": neither " + SINGLE + " nor " + INDEX + " exists");
    }

    private static Map<String, Tensor> openSharded(Path index, Arena arena) {
        JsonNode weightMap;
        try {
            weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
        } catch (IOException e) {
            throw new ModelLoadException("cannot parse " + index + ": " + e.getMessage(), e);
        }
        if (!weightMap.isObject()) throw new ModelLoadException(index + " has no weight_map object");
        Map<String, SafeTensorsFile> shards = new HashMap<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String shardName = e.getValue().asText();
            Path shardPath = index.resolveSibling(shardName);
            if (!Files.isRegularFile(shardPath)) {
                throw new ModelLoadException(index + " maps tensor " + e.getKey() + " to missing shard " + shardPath);
            }
            SafeTensorsFile shard = shards.computeIfAbsent(shardName, n -> SafeTensorsFile.open(shardPath, arena));
            Tensor t = shard.tensors().get(e.getKey());
            if (t == null) {
                throw new ModelLoadException("tensor " + e.getKey() + " listed in " + index + " is missing from " + shardPath);
            }
            tensors.put(e.getKey(), t);
        }
        return tensors;
    }

    public Map<String, Tensor> tensors() { return tensors; }

    /** The single file or the index, for error messages. */
    public String description() { return description; }

    @Override
    public void close() {
        arena.close();
    }
}
