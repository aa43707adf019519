package dev.arbor.kernels.sampling;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** {@link SamplingMath#exp}: one ulp of Math.exp over [-87.3, 0], the SIMD lanes bit for bit equal to the scalar. */
class SamplingMathTest {
    @Test
    void expIsWithinOneUlpAndLanesMatchTheScalar() {
        var species = FloatVector.SPECIES_PREFERRED;
        int n = 151936;
        float[] x = new float[n], lanes = new float[n];
        Random r = new Random(3);
        for (int i = 0; i < n; i++) x[i] = i < 1000 ? -i * 0.0873f : -r.nextFloat() * (i % 2 == 0 ? 88f : 3f);
        x[1] = -0f;
        x[2] = Float.NEGATIVE_INFINITY;
        x[3] = -87.29f;
        x[4] = -1e-9f;
        SamplingMath.expChunk(java.lang.foreign.MemorySegment.ofArray(x), 0, lanes, 0, species.loopBound(n), 0f, 1f);
        double worst = 0;
        for (int i = 0; i < species.loopBound(n); i++) {
            float s = SamplingMath.exp(x[i]);
            assertEquals(Float.floatToRawIntBits(s), Float.floatToRawIntBits(lanes[i]), "lane vs scalar at x=" + x[i]);
            if (x[i] >= SamplingMath.LOW) worst = Math.max(worst, Math.abs(s - Math.exp(x[i])) / Math.exp(x[i]));
            else assertEquals(0f, s, "x=" + x[i]);
        }
        assertTrue(worst <= 1.2e-7, "worst relative error " + worst);
        assertEquals(1f, SamplingMath.exp(0f));
        assertEquals(1f, SamplingMath.exp(-0f));
        assertEquals(0f, SamplingMath.exp(Float.NEGATIVE_INFINITY));
    }
}
