package dev.arbor.models.cpu;

import dev.arbor.models.RopeConfig;

/**
 * Rotary position embedding in Hugging Face's rotate_half form: dimension {@code i} of a head is
 * rotated with dimension {@code i + headDim/2} by angle {@code position * invFreq[i]}.
 * Frequencies follow transformers' float32 computation, including the "linear" and "llama3" scalings.
 */
public final class Rope {
    private final int half;
    private final float[] invFreq; // (headDim / 2)

    /**
     * @param checkpointDtype the dtype name of config.json ("bfloat16", "float16", "float32")
     */
    public Rope(RopeConfig config, int headDim, String checkpointDtype) {
        this.half = headDim / 2;
        this.invFreq = inverseFrequencies(config, headDim);
        // NOTE: transformers computes inv_freq in float32 at init, then casting the model to its
        // checkpoint dtype casts this buffer too; a bf16 checkpoint thus runs with bf16-rounded
        // frequencies (also when later upcast to float32, as the fixtures' reference was). Without
        // this rounding logits drift by ~1e-2 within 10 positions of the reference.
        for (int i = 0; i < half; i++) invFreq[i] = roundTo(invFreq[i], checkpointDtype);
    }

    static float roundTo(float f, String dtype) {
        return switch (dtype) {
            case "bfloat16" -> {
                int bits = Float.floatToRawIntBits(f);
                yield Float.intBitsToFloat(((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16) << 16);
            }
            case "float16" -> Float.float16ToFloat(Float.floatToFloat16(f));
            default -> f;
        };
    }

    static float[] inverseFrequencies(RopeConfig c, int headDim) {
        int half = headDim / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            inv[i] = (float) (1.0 / Math.pow(c.theta(), (float) (2 * i) / headDim));
        }
        switch (c.type()) {
            case "linear" -> {
                for (int i = 0; i < half; i++) inv[i] = (float) (inv[i] / c.factor());
            }
            case "llama3" -> {
                // Long wavelengths are slowed down by `factor`, short ones kept, the band between interpolated.
                double lowWavelen = c.originalMaxPositions() / c.lowFreqFactor();
                double highWavelen = c.originalMaxPositions() / c.highFreqFactor();
                for (int i = 0; i < half; i++) {
                    double f = inv[i];
                    double wavelen = 2 * Math.PI / f;
                    if (wavelen > lowWavelen) {
                        f = f / c.factor();
                    } else if (wavelen >= highWavelen) {
                        double smooth = (c.originalMaxPositions() / wavelen - c.lowFreqFactor())
                                / (c.highFreqFactor() - c.lowFreqFactor());
                        f = (1 - smooth) * f / c.factor() + smooth * f;
                    }
                    inv[i] = (float) f;
                }
            }
            default -> { }
        }
        return inv;
    }

    /**
     * Writes cos and sin of token t's angles to {@code cos[t*half ..], sin[t*half ..]} for t < n
     * (computed once per step and shared by all layers; the CUDA backend uploads the same values); a step
     * reuses the two buffers.
     */
    public void fill(int[] positions, int n, float[] cos, float[] sin) {
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) positions[t] * invFreq[i];
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
    }

    public int half() { return half; }
}
