package dev.arbor.models.synthetic;

import dev.arbor.models.Architecture;
import dev.arbor.models.GenerationConfig;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelLoadException;
import dev.arbor.models.RopeConfig;
import dev.arbor.models.DecoderModel;
import dev.arbor.models.backend.ModelBackend;
import dev.arbor.models.cpu.CpuModelBackend;
import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.ModelWeights;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Llama-architecture models with seeded random bf16 weights, for benchmarks and engine tests:
 * {@code synthetic:tiny}, {@code synthetic:100m}, {@code synthetic:llama-7b}, {@code synthetic:llama3.2-1b}, and the
 * Baichuan2 layout (ALiBi, W_pack, NormHead): {@code synthetic:baichuan2-13b}, {@code synthetic:tiny-baichuan}. Parsing a shape only
 * builds the config; the weights (off-heap) are generated in parallel on the first forward.
 * Linear weights are ~N(0, 0.02), norm weights ~1 ± 0.1; bos is -1 and there is no eos (the
 * engine pairs these models with a byte-level tokenizer, ids below 259 &lt; vocab).
 */
public final class SyntheticModels {
    private SyntheticModels() {}

    public static final String PREFIX = "synthetic:";
    public static final List<String> SHAPES = List.of("tiny", "100m", "llama-7b", "llama3.2-1b", "baichuan2-13b", "tiny-baichuan");
    private static final long SEED = 0x5EED_A4B0L;
    private static final float STD = 0.02f;

    /** The config of a shape; cheap, allocates no weights. */
    public static ModelConfig config(String shape) {
        return switch (shape) {
            case "tiny" -> llama(512, 64, 176, 2, 4, 2, false, 2048);
            case "100m" -> llama(32000, 768, 2048, 12, 12, 12, true, 4096);
            case "llama-7b" -> llama(32000, 4096, 11008, 32, 32, 32, false, 4096);
            // Llama-3.2-1B's shape (GQA 32/8, head_dim 64, tied embeddings, 128k vocabulary); context cut to 8k for the KV budget
            case "llama3.2-1b" -> llama(128256, 2048, 8192, 16, 32, 8, true, 8192);
            // Baichuan2-13B's shape (ALiBi, W_pack, NormHead lm_head, 40 heads of 128, 125,696 tokens); tiny-baichuan: the layout in small
            case "baichuan2-13b" -> baichuan(125696, 5120, 13696, 40, 40, 4096);
            case "tiny-baichuan" -> baichuan(512, 64, 176, 2, 4, 2048);
            default -> throw new ModelLoadException("unknown synthetic model '" + PREFIX + shape + "' (known: " + SHAPES + ")");
        };
    }

    private static ModelConfig llama(int vocab, int hidden, int inter, int layers, int heads, int kvHeads, boolean tied, int maxPos) {
        return new ModelConfig(Architecture.LLAMA.hfName(), Architecture.LLAMA, vocab, hidden, inter, layers, heads, kvHeads,
                hidden / heads, maxPos, 1e-5, RopeConfig.plain(10000.0), tied, -1, new int[0], null, DType.BF16.torchName());
    }

    private static ModelConfig baichuan(int vocab, int hidden, int inter, int layers, int heads, int maxPos) {
        return new ModelConfig(Architecture.BAICHUAN.hfName(), Architecture.BAICHUAN, vocab, hidden, inter, layers, heads, heads,
                hidden / heads, maxPos, 1e-6, null, false, -1, new int[0], null, DType.BF16.torchName());
    }

    /** A model of {@code shape} on the CPU whose weights are generated on first use. */
    public static DecoderModel load(String shape) {
        return load(shape, new CpuModelBackend());
    }

    /** A model of {@code shape} on {@code backend} whose weights are generated on first use. */
    public static DecoderModel load(String shape, ModelBackend backend) {
        ModelConfig config = config(shape);
        Arena arena = Arena.ofShared();
        return new DecoderModel(config, GenerationConfig.fromModel(config),
                () -> ModelWeights.bind(config, generate(config, arena, backend instanceof dev.arbor.models.cpu.CpuModelBackend cpu
                        ? n -> cpu.allocateWeights(arena, n) : n -> arena.allocate(n, 64)), PREFIX + shape, arena), arena::close, backend);
    }

    /** All tensors of {@code config}'s Llama layout under their Hugging Face names. */
    static Map<String, Tensor> generate(ModelConfig c, Arena arena) { return generate(c, arena, n -> arena.allocate(n, 64)); }

    /** {@link #generate(ModelConfig, Arena)} with each tensor's bytes from {@code allocate} (the CPU backend's pages). */
    static Map<String, Tensor> generate(ModelConfig c, Arena arena, java.util.function.LongFunction<MemorySegment> allocate) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        int h = c.hiddenSize(), inter = c.intermediateSize();
        shapes.put("model.embed_tokens.weight", new long[] {c.vocabSize(), h});
        for (int l = 0; l < c.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new long[] {h});
            if (c.family() == Architecture.BAICHUAN) {
                shapes.put(p + "self_attn.W_pack.weight", new long[] {c.qDim() + 2L * c.kvDim(), h});
            } else {
                shapes.put(p + "self_attn.q_proj.weight", new long[] {c.qDim(), h});
                shapes.put(p + "self_attn.k_proj.weight", new long[] {c.kvDim(), h});
                shapes.put(p + "self_attn.v_proj.weight", new long[] {c.kvDim(), h});
            }
            shapes.put(p + "self_attn.o_proj.weight", new long[] {h, c.qDim()});
            shapes.put(p + "post_attention_layernorm.weight", new long[] {h});
            shapes.put(p + "mlp.gate_proj.weight", new long[] {inter, h});
            shapes.put(p + "mlp.up_proj.weight", new long[] {inter, h});
            shapes.put(p + "mlp.down_proj.weight", new long[] {h, inter});
        }
        shapes.put("model.norm.weight", new long[] {h});
        if (!c.tieWordEmbeddings()) shapes.put("lm_head.weight", new long[] {c.vocabSize(), h});

        Map<String, Tensor> tensors = new LinkedHashMap<>();
        long index = 0;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] shape = e.getValue();
            long n = shape.length == 1 ? shape[0] : shape[0] * shape[1];
            MemorySegment seg = allocate.apply(n * 2);
            boolean norm = shape.length == 1;
            fill(seg, n, SEED * 31 + index++, norm ? 1f : 0f, norm ? 0.1f : STD);
            tensors.put(e.getKey(), new Tensor(e.getKey(), "synthetic", DType.BF16, shape, seg));
        }
        return tensors;
    }

    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int CHUNK = 1 << 16;

    /** Fills {@code n} bf16 values ~ mean + std·N(0,1) (Irwin–Hall of 4 uniforms), in parallel chunks seeded by index. */
    private static void fill(MemorySegment seg, long n, long seed, float mean, float std) {
        int chunks = (int) ((n + CHUNK - 1) / CHUNK);
        float scale = std / (float) Math.sqrt(4.0 / 12.0);
        IntStream.range(0, chunks).parallel().forEach(chunk -> {
            long state = mix(seed ^ mix(chunk + 0x9E3779B97F4A7C15L));
            long from = (long) chunk * CHUNK, to = Math.min(n, from + CHUNK);
            for (long i = from; i < to; i++) {
                state += 0x9E3779B97F4A7C15L;
                long r = mix(state);
                // Four 16-bit uniforms summed: mean 2, variance 4/12.
                float u = ((r & 0xFFFF) + ((r >>> 16) & 0xFFFF) + ((r >>> 32) & 0xFFFF) + (r >>> 48)) / 65536f;
                seg.setAtIndex(BF16, i, toBf16(mean + (u - 2f) * scale));
            }
        });
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Round to nearest even. */
    private static short toBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}
