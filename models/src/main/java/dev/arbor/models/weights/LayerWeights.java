package dev.arbor.models.weights;

/**
 * One decoder layer. Matrices are (out, in) as stored by PyTorch's Linear.
 *
 * @param inputNorm (hidden) RMSNorm before attention
 * @param q         (heads * headDim, hidden)
 * @param k         (kvHeads * headDim, hidden)
 * @param v         (kvHeads * headDim, hidden)
 * @param qNorm     (headDim) per-head RMSNorm of q (Qwen3), else null
 * @param kNorm     (headDim) per-head RMSNorm of k (Qwen3), else null
 * @param o         (hidden, heads * headDim)
 * @param postNorm  (hidden) RMSNorm before the MLP
 * @param gate      (intermediate, hidden)
 * @param up        (intermediate, hidden)
 * @param down      (hidden, intermediate)
 */
public record LayerWeights(float[] inputNorm, Matrix q, Matrix k, Matrix v, float[] qNorm, float[] kNorm,
                           Matrix o, float[] postNorm, Matrix gate, Matrix up, Matrix down) {}
