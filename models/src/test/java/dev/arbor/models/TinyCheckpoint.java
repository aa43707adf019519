package dev.arbor.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a tiny Llama checkpoint (config.json + safetensors bytes built by hand) for load-error and
 * dtype tests. Values are multiples of 1/64 in [-0.5, 0.5], exact in bf16, fp16 and fp32.
 */
final class TinyCheckpoint {
    static final int VOCAB = 300, HIDDEN = 16, HEADS = 2, KV_HEADS = 1, INTER = 24, LAYERS = 2;
    static final ObjectMapper JSON = new ObjectMapper();

    /** name -> shape, in file order. */
    final Map<String, long[]> shapes = new LinkedHashMap<>();
    /** Per-tensor overrides of the header entry. */
    final Map<String, String> dtypeOverride = new LinkedHashMap<>();

    TinyCheckpoint() {
        int headDim = HIDDEN / HEADS;
        shapes.put("model.embed_tokens.weight", new long[] {VOCAB, HIDDEN});
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new long[] {HIDDEN});
            shapes.put(p + "self_attn.q_proj.weight", new long[] {HEADS * headDim, HIDDEN});
            shapes.put(p + "self_attn.k_proj.weight", new long[] {KV_HEADS * headDim, HIDDEN});
            shapes.put(p + "self_attn.v_proj.weight", new long[] {KV_HEADS * headDim, HIDDEN});
            shapes.put(p + "self_attn.o_proj.weight", new long[] {HIDDEN, HEADS * headDim});
            shapes.put(p + "post_attention_layernorm.weight", new long[] {HIDDEN});
            shapes.put(p + "mlp.gate_proj.weight", new long[] {INTER, HIDDEN});
            shapes.put(p + "mlp.up_proj.weight", new long[] {INTER, HIDDEN});
            shapes.put(p + "mlp.down_proj.weight", new long[] {HIDDEN, INTER});
        }
        shapes.put("model.norm.weight", new long[] {HIDDEN});
        shapes.put("lm_head.weight", new long[] {VOCAB, HIDDEN});
    }

    static ObjectNode config(String architecture) {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add(architecture);
        c.put("hidden_size", HIDDEN).put("num_attention_heads", HEADS).put("num_key_value_heads", KV_HEADS)
                .put("intermediate_size", INTER).put("num_hidden_layers", LAYERS).put("vocab_size", VOCAB)
                .put("rms_norm_eps", 1e-5).put("rope_theta", 10000.0).put("max_position_embeddings", 256)
                .put("bos_token_id", 1).put("eos_token_id", 2).put("tie_word_embeddings", false);
        return c;
    }

    /** Deterministic value of element i of tensor number k. */
    static float value(int k, long i, boolean norm) {
        long h = (i * 0x9E3779B97F4A7C15L + k * 0xC2B2AE3D27D4EB4FL);
        h ^= h >>> 29;
        float v = ((int) ((h * 0xBF58476D1CE4E5B9L) >>> 58) - 32) / 64f; // [-0.5, 0.5)
        return norm ? 1f + v : v;
    }

    /** Writes config.json and model.safetensors in {@code dtype} ("BF16", "F16", "F32"). */
    Path write(Path dir, String dtype) {
        writeConfig(dir, config("LlamaForCausalLM"));
        writeSafetensors(dir.resolve("model.safetensors"), List.copyOf(shapes.keySet()), dtype);
        return dir;
    }

    static void writeConfig(Path dir, ObjectNode config) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), config.toPrettyString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes the named tensors (a subset allows shards) to {@code file}. */
    void writeSafetensors(Path file, List<String> names, String dtype) {
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        List<String> all = List.copyOf(shapes.keySet());
        int elemBytes = dtype.equals("F32") ? 4 : 2;
        long offset = 0;
        for (String name : names) {
            long[] shape = shapes.get(name);
            long n = 1;
            for (long d : shape) n *= d;
            ObjectNode e = header.putObject(name);
            e.put("dtype", dtypeOverride.getOrDefault(name, dtype));
            ArrayNode s = e.putArray("shape");
            for (long d : shape) s.add(d);
            e.putArray("data_offsets").add(offset).add(offset + n * elemBytes);
            offset += n * elemBytes;
        }
        ByteBuffer data = ByteBuffer.allocate((int) offset).order(ByteOrder.LITTLE_ENDIAN);
        for (String name : names) {
            long[] shape = shapes.get(name);
            long n = 1;
            for (long d : shape) n *= d;
            int k = all.indexOf(name);
            for (long i = 0; i < n; i++) {
                float v = value(k, i, shape.length == 1);
                switch (dtype) {
                    case "F32" -> data.putFloat(v);
                    case "F16" -> data.putShort(Float.floatToFloat16(v));
                    default -> data.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                }
            }
        }
        writeRaw(file, header.toString(), data.array());
    }

    static void writeRaw(Path file, String headerJson, byte[] data) {
        byte[] h = headerJson.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(h.length).put(h).put(data);
        try {
            Files.createDirectories(file.getParent());
            Files.write(file, out.array());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
