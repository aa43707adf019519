package com.example.kernel;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The kernel on accel's CPU executor agrees with the reference, over sizes that leave partial blocks. */
class ScaleAddTest {
    static final Backend CPU = new CpuBackend();

    @ParameterizedTest
    @ValueSource(ints = {1, 7, 13, 255, 1000})
    void kernelMatchesTheReference(int n) {
        SplittableRandom rnd = new SplittableRandom(n);
        float[] x = new float[n], y = new float[n];
        for (int i = 0; i < n; i++) { x[i] = (float) rnd.nextDouble(-1, 1); y[i] = (float) rnd.nextDouble(-1, 1); }
        try (FloatArray dx = FloatArray.of(x); FloatArray dy = FloatArray.of(y)) {
            CPU.launch(Kernel.of(ScaleAdd.class, "kernel"), Launch.cover(n, 64), dx, dy, 0.5f, n);
            CPU.toHost(dy);
            assertArrayEquals(ScaleAdd.reference(x, y, 0.5f), dy.toArray(), 0f);
        }
    }
}
