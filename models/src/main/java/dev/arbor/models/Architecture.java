package dev.arbor.models;

import java.util.Arrays;
import java.util.Optional;

/** The model families this module runs, keyed by the {@code architectures[0]} name in config.json. */
public enum Architecture {
    /** Llama 1/2/3: RoPE (optionally llama3-scaled), MHA or GQA, tied or untied lm_head. */
    LLAMA("LlamaForCausalLM", PositionEncoding.ROPE, false),
    /** Qwen3 dense: Llama plus a per-head RMSNorm of q and k over head_dim, before RoPE. */
    QWEN3("Qwen3ForCausalLM", PositionEncoding.ROPE, true),
    /** Baichuan2-13B family: ALiBi, fused W_pack (q;k;v rows), NormHead (lm_head rows L2-normalised). */
    BAICHUAN("BaichuanForCausalLM", PositionEncoding.ALIBI, false);

    public enum PositionEncoding { ROPE, ALIBI }

    private final String hfName;
    private final PositionEncoding positionEncoding;
    private final boolean qkNorm;

    Architecture(String hfName, PositionEncoding positionEncoding, boolean qkNorm) {
        this.hfName = hfName;
        this.positionEncoding = positionEncoding;
        this.qkNorm = qkNorm;
    }

    public String hfName() { return hfName; }

    public PositionEncoding positionEncoding() { return positionEncoding; }

    public boolean qkNorm() { return qkNorm; }

    public static Optional<Architecture> fromHfName(String name) {
        return Arrays.stream(values()).filter(a -> a.hfName.equals(name)).findFirst();
    }

    public static String supportedNames() {
        return Arrays.toString(Arrays.stream(values()).map(Architecture::hfName).toArray());
    }
}
