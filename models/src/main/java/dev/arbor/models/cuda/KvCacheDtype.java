package dev.arbor.models.cuda;

/**
 * Element type of the device's paged KV store ({@code --kv-cache-dtype}): bf16 (the default, and what
 * {@code auto} means), fp16 (more mantissa, less range: K/V beyond ±65,504 overflow) or fp32 (the
 * float32-accuracy mode: with it the GPU forward pass matches the float32 reference within ~1e-3).
 */
public enum KvCacheDtype {
    BF16(2), FP16(2), FP32(4);

    private final int bytes;

    KvCacheDtype(int bytes) { this.bytes = bytes; }

    public int bytes() { return bytes; }

    /**
     * Parses {@code auto | bf16 | fp16 | fp32} (also {@code bfloat16}, {@code float16}, {@code float32}).
     *
     * @throws IllegalArgumentException naming the value and the choices
     */
    public static KvCacheDtype parse(String s) {
        return switch (s == null ? "auto" : s.trim().toLowerCase()) {
            case "auto", "bf16", "bfloat16" -> BF16;
            case "fp32", "float32", "float" -> FP32;
            case "fp16", "float16", "half" -> FP16;
            default -> throw new IllegalArgumentException("--kv-cache-dtype must be auto, bf16, fp16 or fp32, not '" + s + "'");
        };
    }
}
