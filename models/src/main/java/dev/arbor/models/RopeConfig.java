package dev.arbor.models;

/**
 * Rotary embedding parameters, from {@code rope_theta} + {@code rope_scaling} (Llama 3.x) or the
 * transformers-5 {@code rope_parameters} object.
 *
 * @param type                 "default", "linear" or "llama3"
 * @param factor               frequency divisor for "linear" and "llama3" (1 for "default")
 * @param originalMaxPositions llama3: the pre-scaling context length
 */
public record RopeConfig(double theta, String type, double factor, double lowFreqFactor,
                         double highFreqFactor, int originalMaxPositions) {

    public static RopeConfig plain(double theta) {
        return new RopeConfig(theta, "default", 1, 1, 1, 0);
    }
}
