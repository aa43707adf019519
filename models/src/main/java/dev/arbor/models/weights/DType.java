package dev.arbor.models.weights;

import java.util.Optional;

/** Element types of safetensors tensors that the CPU matmuls read directly. */
public enum DType {
    BF16(2, "bfloat16"),
    F16(2, "float16"),
    F32(4, "float32");

    private final int bytes;
    private final String torchName;

    DType(int bytes, String torchName) {
        this.bytes = bytes;
        this.torchName = torchName;
    }

    public int bytes() { return bytes; }

    /** The name transformers uses for it in {@code config.json} ("bfloat16"). */
    public String torchName() { return torchName; }

    /** The type for a safetensors header's {@code dtype} string, empty if unsupported (I8, F64, F8_E4M3...). */
    public static Optional<DType> fromSafetensors(String name) {
        return switch (name) {
            case "BF16" -> Optional.of(BF16);
            case "F16" -> Optional.of(F16);
            case "F32" -> Optional.of(F32);
            default -> Optional.empty();
        };
    }
}
