package dev.arbor.accel;

/**
 * Single-precision math for kernels. On the GPU these are the hardware approximations
 * ({@code ex2.approx}, {@code lg2.approx}, {@code rsqrt.approx}, {@code sin.approx}; tanh
 * through {@code ex2}; absolute errors around 1e-7 for arguments of moderate size) except {@link #sqrt}, which is correctly rounded; on the CPU they
 * are {@link Math}'s double functions rounded to float. Compare results with a tolerance.
 */
public final class KMath {
    private KMath() {}

    public static float exp(float x) { return (float) Math.exp(x); }

    /**
     * exp with subnormal results flushed to +0 ({@code ex2.approx.ftz.f32}: 2 SASS instructions where {@link #exp}'s
     * {@code ex2.approx.f32} takes 5, ptxas wrapping it in a subnormal fix-up); equal to {@link #exp} wherever the result is
     * at least {@link Float#MIN_NORMAL} (x ≥ about -87.3). For softmax weights, whose subnormal values are lost in their sums anyway.
     */
    public static float expFtz(float x) {
        float r = (float) Math.exp(x);
        return r < Float.MIN_NORMAL ? 0f : r;
    }

    public static float log(float x) { return (float) Math.log(x); }

    /** Correctly rounded ({@code sqrt.rn.f32}). */
    public static float sqrt(float x) { return (float) Math.sqrt(x); }

    /** 1 / sqrt(x). */
    public static float rsqrt(float x) { return (float) (1.0 / Math.sqrt(x)); }

    public static float sin(float x) { return (float) Math.sin(x); }

    public static float cos(float x) { return (float) Math.cos(x); }

    public static float tanh(float x) { return (float) Math.tanh(x); }
}
