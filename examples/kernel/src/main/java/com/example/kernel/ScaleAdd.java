package com.example.kernel;

import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.FloatArray;

/** {@code y = a·x + y}: a kernel (one thread per element) and the plain reference it is tested against. */
public final class ScaleAdd {
    private ScaleAdd() {}

    /** The kernel: a static void method whose first parameter is the context; accel compiles it to PTX. */
    public static void kernel(KernelContext ctx, FloatArray x, FloatArray y, float a, int n) {
        int i = ctx.globalIdx;
        if (i < n) y.set(i, a * x.get(i) + y.get(i));
    }

    /** The reference: plain Java over plain arrays. */
    public static float[] reference(float[] x, float[] y, float a) {
        float[] out = y.clone();
        for (int i = 0; i < x.length; i++) out[i] = a * x[i] + y[i];
        return out;
    }

    /** Bytes one launch moves over n elements: x and y read, y written. */
    public static long bytesMoved(int n) {
        return 3L * Float.BYTES * n;
    }
}
