package dev.arbor.models;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed input is a ModelLoadException at load, naming the file and (where one is at fault) the tensor. */
class ModelLoadErrorsTest {
    @TempDir Path dir;

    private ModelLoadException loadFails() {
        return assertThrows(ModelLoadException.class, () -> ModelLoader.load(dir.toString()).close());
    }

    private static void assertMentions(Throwable e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message should name '" + p + "': " + e.getMessage());
    }

    @Test
    void wellFormedCheckpointLoads() {
        new TinyCheckpoint().write(dir, "BF16");
        try (CausalLM m = ModelLoader.load(dir.toString())) {
            assertTrue(m.config().numKvHeads() == 1 && m.config().headDim() == 8);
        }
    }

    @Test
    void missingDirectory() {
        Path missing = dir.resolve("nope");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelLoader.load(missing.toString()));
        assertMentions(e, missing.toString());
    }

    @Test
    void missingWeightsFile() throws IOException {
        new TinyCheckpoint().write(dir, "BF16");
        Files.delete(dir.resolve("model.safetensors"));
        assertMentions(loadFails(), "model.safetensors", dir.toString());
    }

    @Test
    void truncatedFile() throws IOException {
        new TinyCheckpoint().write(dir, "BF16");
        Path file = dir.resolve("model.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() - 10);
        }
        assertMentions(loadFails(), file.toString(), "lm_head.weight", "outside");
    }

    @Test
    void fileShorterThanItsHeader() throws IOException {
        new TinyCheckpoint().write(dir, "BF16");
        Path file = dir.resolve("model.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(100);
        }
        assertMentions(loadFails(), file.toString(), "truncated");
    }

    @Test
    void headerOffsetOutsideTheFile() throws IOException {
        new TinyCheckpoint().write(dir, "BF16");
        Path file = dir.resolve("model.safetensors");
        rewriteHeader(file, "\"data_offsets\":[0,9600]", "\"data_offsets\":[0,999999999]");
        assertMentions(loadFails(), file.toString(), "model.embed_tokens.weight", "999999999");
    }

    @Test
    void unsupportedDtype() {
        TinyCheckpoint ckpt = new TinyCheckpoint();
        ckpt.dtypeOverride.put("model.layers.1.mlp.up_proj.weight", "I16");
        ckpt.write(dir, "BF16");
        assertMentions(loadFails(), "model.safetensors", "model.layers.1.mlp.up_proj.weight", "I16");
    }

    @Test
    void missingTensor() {
        TinyCheckpoint ckpt = new TinyCheckpoint();
        ckpt.shapes.remove("model.layers.1.self_attn.v_proj.weight");
        ckpt.write(dir, "BF16");
        assertMentions(loadFails(), "model.safetensors", "model.layers.1.self_attn.v_proj.weight");
    }

    @Test
    void shapeDisagreesWithConfig() {
        TinyCheckpoint ckpt = new TinyCheckpoint();
        ckpt.shapes.put("model.layers.0.self_attn.k_proj.weight", new long[] {16, 16}); // config: 1 kv head of 8
        ckpt.write(dir, "BF16");
        assertMentions(loadFails(), "model.safetensors", "model.layers.0.self_attn.k_proj.weight", "[16, 16]", "[8, 16]");
    }

    @Test
    void unknownArchitecture() {
        new TinyCheckpoint().write(dir, "BF16");
        TinyCheckpoint.writeConfig(dir, TinyCheckpoint.config("MambaForCausalLM"));
        assertMentions(loadFails(), "config.json", "MambaForCausalLM");
    }

    @Test
    void unsupportedRopeType() {
        new TinyCheckpoint().write(dir, "BF16");
        var config = TinyCheckpoint.config("LlamaForCausalLM");
        config.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0);
        TinyCheckpoint.writeConfig(dir, config);
        assertMentions(loadFails(), "config.json", "yarn");
    }

    @Test
    void unknownSyntheticShape() {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelLoader.load("synthetic:huge"));
        assertMentions(e, "synthetic:huge");
    }

    /** Replaces the first occurrence of {@code from} in the JSON header, keeping its length fixed by padding with spaces. */
    private static void rewriteHeader(Path file, String from, String to) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long headerLen = java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) headerLen, java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(header.contains(from), header);
        String changed = header.replaceFirst(java.util.regex.Pattern.quote(from), to);
        byte[] data = java.util.Arrays.copyOfRange(bytes, 8 + (int) headerLen, bytes.length);
        TinyCheckpoint.writeRaw(file, changed, data);
    }

    @Test
    void baichuan7bWithRopeIsRefusedNotRunAsAlibi() throws IOException {
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["BaichuanForCausalLM"], "hidden_size": 4096, "num_attention_heads": 32,
                 "num_hidden_layers": 32, "intermediate_size": 11008, "vocab_size": 125696,
                 "model_max_length": 4096, "rms_norm_eps": 1e-6}
                """);
        assertMentions(loadFails(), "config.json", "Baichuan2-7B", "RoPE");
    }
}
