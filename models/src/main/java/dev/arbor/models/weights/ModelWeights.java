package dev.arbor.models.weights;

import dev.arbor.models.Architecture;
import dev.arbor.models.ModelConfig;
import dev.arbor.models.ModelLoadException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * All weights of a decoder-only transformer, bound by Hugging Face tensor name and checked against
 * the config (presence and shape) at load.
 *
 * @param embed     (vocab, hidden) token embedding
 * @param finalNorm (hidden)
 * @param lmHead    (vocab, hidden): the embedding when tied; for Baichuan's NormHead a derived fp32
 *                  copy with L2-normalised rows
 */
public record ModelWeights(Matrix embed, List<LayerWeights> layers, float[] finalNorm, Matrix lmHead) {

    /**
     * Binds {@code tensors} to the layout of {@code config.family()}.
     *
     * @param source what holds the tensors, named in errors when a tensor is missing
     * @param arena  where derived tensors (NormHead) are allocated
     */
    public static ModelWeights bind(ModelConfig config, Map<String, Tensor> tensors, String source, Arena arena) {
        Binder b = new Binder(tensors, source);
        int hidden = config.hiddenSize(), inter = config.intermediateSize(), vocab = config.vocabSize();
        int qDim = config.qDim(), kvDim = config.kvDim(), headDim = config.headDim();
        Architecture family = config.family();

        Matrix embed = b.matrix("model.embed_tokens.weight", vocab, hidden);
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < config.numLayers(); l++) {
            String p = "model.layers." + l + ".";
            Matrix q, k, v;
            if (family == Architecture.BAICHUAN) {
                // W_pack: q, k and v stacked along the output rows.
                Matrix pack = b.matrix(p + "self_attn.W_pack.weight", qDim + 2 * kvDim, hidden);
                q = pack.band(0, qDim);
                k = pack.band(qDim, kvDim);
                v = pack.band(qDim + kvDim, kvDim);
            } else {
                q = b.matrix(p + "self_attn.q_proj.weight", qDim, hidden);
                k = b.matrix(p + "self_attn.k_proj.weight", kvDim, hidden);
                v = b.matrix(p + "self_attn.v_proj.weight", kvDim, hidden);
            }
            float[] qNorm = family.qkNorm() ? b.vector(p + "self_attn.q_norm.weight", headDim) : null;
            float[] kNorm = family.qkNorm() ? b.vector(p + "self_attn.k_norm.weight", headDim) : null;
            layers.add(new LayerWeights(
                    b.vector(p + "input_layernorm.weight", hidden), q, k, v, qNorm, kNorm,
                    b.matrix(p + "self_attn.o_proj.weight", hidden, qDim),
                    b.vector(p + "post_attention_layernorm.weight", hidden),
                    b.matrix(p + "mlp.gate_proj.weight", inter, hidden),
                    b.matrix(p + "mlp.up_proj.weight", inter, hidden),
                    b.matrix(p + "mlp.down_proj.weight", hidden, inter)));
        }
        float[] finalNorm = b.vector("model.norm.weight", hidden);
        Matrix lmHead = config.tieWordEmbeddings() ? embed : b.matrix("lm_head.weight", vocab, hidden);
        if (family == Architecture.BAICHUAN) lmHead = normalizedRows(lmHead, arena);
        return new ModelWeights(embed, List.copyOf(layers), finalNorm, lmHead);
    }

    /** NormHead: each row divided by its L2 norm (torch.nn.functional.normalize, eps 1e-12), kept in fp32. */
    private static Matrix normalizedRows(Matrix m, Arena arena) {
        MemorySegment out = arena.allocate((long) m.rows() * m.cols() * 4, 64);
        float[] row = new float[m.cols()];
        for (int r = 0; r < m.rows(); r++) {
            m.loadRow(r, row, 0);
            double sq = 0;
            for (float x : row) sq += (double) x * x;
            float inv = (float) (1.0 / Math.max(Math.sqrt(sq), 1e-12));
            for (int i = 0; i < row.length; i++) row[i] *= inv;
            MemorySegment.copy(row, 0, out, Tensor.FLOAT_LE, (long) r * m.cols() * 4, row.length);
        }
        Tensor t = new Tensor(m.tensor().name() + " (NormHead, L2-normalised rows)", m.tensor().source(),
                DType.F32, new long[] {m.rows(), m.cols()}, out);
        return Matrix.of(t);
    }

    /** Looks tensors up and checks their shapes, naming tensor and file on failure. */
    private record Binder(Map<String, Tensor> tensors, String source) {
        Tensor get(String name, long... shape) {
            Tensor t = tensors.get(name);
            if (t == null) throw new ModelLoadException("missing tensor " + name + " in " + source);
            if (!Arrays.equals(t.shape(), shape)) {
                throw new ModelLoadException("tensor " + name + " in " + t.source() + " has shape " + t.shapeString()
                        + " but the config implies " + Arrays.toString(shape));
            }
            return t;
        }

        Matrix matrix(String name, int rows, int cols) {
            return Matrix.of(get(name, rows, cols));
        }

        float[] vector(String name, int n) {
            return get(name, n).toFloatArray();
        }
    }
}
