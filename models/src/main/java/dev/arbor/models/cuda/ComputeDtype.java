package dev.arbor.models.cuda;

/**
 * Precision of the CUDA backend's projections ({@code --dtype}): {@code BFLOAT16} (the default, what
 * {@code auto} means) runs them on tensor cores ({@code dev.arbor.kernels.gemm.Gemm}) with the fp32
 * activations rounded to bf16 as they are loaded and fp32 accumulation; {@code FLOAT32} keeps activations
 * in float32 through the CUDA-core matvec kernels, the float32 reference's arithmetic (slow for prefill).
 */
public enum ComputeDtype {
    BFLOAT16, FLOAT32;

    /**
     * Parses {@code auto | bfloat16 | bf16 | float32 | fp32}.
     *
     * @throws IllegalArgumentException naming the value and the choices
     */
    public static ComputeDtype parse(String s) {
        return switch (s == null ? "auto" : s.trim().toLowerCase()) {
            case "auto", "bfloat16", "bf16" -> BFLOAT16;
            case "float32", "fp32", "float" -> FLOAT32;
            default -> throw new IllegalArgumentException("--dtype must be auto, bfloat16 or float32, not '" + s + "'");
        };
    }
}
