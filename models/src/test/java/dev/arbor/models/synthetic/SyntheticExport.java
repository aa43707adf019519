package dev.arbor.models.synthetic;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.weights.Tensor;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

/**
 * Writes a synthetic model as a Hugging Face directory (config.json, one bf16 model.safetensors, and the
 * Llama-2 tokenizer files from {@code ../shared/fixtures/tokenizers/llama2}), so that a peer engine can be
 * given exactly the weights Arbor runs: {@code bench/peers/llamacpp.sh} converts this directory to GGUF.
 * Usage: {@code SyntheticExport <shape: tiny|100m|llama-7b> <dir> [tokenizer dir]}.
 */
public final class SyntheticExport {
    private SyntheticExport() {}

    public static void main(String[] args) throws IOException {
        String shape = args[0];
        Path dir = Path.of(args[1]);
        Path tokenizer = Path.of(args.length > 2 ? args[2] : "../shared/fixtures/tokenizers/llama2");
        ModelConfig c = SyntheticModels.config(shape);
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode cfg = json.createObjectNode();
        cfg.putArray("architectures").add("LlamaForCausalLM");
        cfg.put("model_type", "llama").put("hidden_act", "silu").put("hidden_size", c.hiddenSize())
                .put("intermediate_size", c.intermediateSize()).put("num_hidden_layers", c.numLayers())
                .put("num_attention_heads", c.numHeads()).put("num_key_value_heads", c.numKvHeads())
                .put("vocab_size", c.vocabSize()).put("max_position_embeddings", c.maxPositionEmbeddings())
                .put("rms_norm_eps", c.rmsNormEps()).put("rope_theta", 10000.0).put("tie_word_embeddings", c.tieWordEmbeddings())
                .put("bos_token_id", 1).put("eos_token_id", 2).put("torch_dtype", "bfloat16");
        Files.writeString(dir.resolve("config.json"), json.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
        try (Arena arena = Arena.ofShared()) {
            writeSafetensors(SyntheticModels.generate(c, arena), dir.resolve("model.safetensors"), json);
        }
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(tokenizer.resolve(f), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        System.out.println("wrote " + dir + " (" + shape + ", " + c.numLayers() + " layers, bf16)");
    }

    /** safetensors: an 8-byte little-endian header length, the JSON header (space-padded to 8 bytes), the data. */
    static void writeSafetensors(Map<String, Tensor> tensors, Path file, ObjectMapper json) throws IOException {
        ObjectNode header = json.createObjectNode();
        long offset = 0;
        for (Tensor t : tensors.values()) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", "BF16");
            var shape = e.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            e.putArray("data_offsets").add(offset).add(offset + t.data().byteSize());
            offset += t.data().byteSize();
        }
        byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        try (OutputStream out = Files.newOutputStream(file)) {
            byte[] len = new byte[8];
            for (int i = 0; i < 8; i++) len[i] = (byte) ((long) padded >>> (8 * i));
            out.write(len);
            out.write(h);
            for (int i = h.length; i < padded; i++) out.write(' ');
            byte[] buf = new byte[1 << 20];
            for (Tensor t : tensors.values()) {
                long n = t.data().byteSize();
                for (long p = 0; p < n; p += buf.length) {
                    int k = (int) Math.min(buf.length, n - p);
                    java.lang.foreign.MemorySegment.copy(t.data(), java.lang.foreign.ValueLayout.JAVA_BYTE, p, buf, 0, k);
                    out.write(buf, 0, k);
                }
            }
        }
    }
}
