package dev.arbor.kernels;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.CpuBackend;

import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Runs {@link LayerKernels} on heap float arrays through the accel CPU executor (arrays are
 * wrapped, not copied). This is how the CPU forward pass executes these stages. Not thread-safe: one instance per
 * forward pass.
 */
public final class CpuLayerOps {
    /**
     * Work-items per work-group on the CPU executor. Elementwise kernels run their work-items one after
     * another there, so large groups cost nothing, while each group costs a few small objects: 8,192 keeps a
     * step's allocations to a few KB (at 256, a 128-token step of synthetic:100m allocated ~5 MB of them).
     */
    private static final int BLOCK = 8192;
    private static final Kernel RMS_NORM = Kernel.of(LayerKernels.class, "rmsNorm");
    private static final Kernel SILU_MUL = Kernel.of(LayerKernels.class, "siluMul");
    private static final Kernel ADD = Kernel.of(LayerKernels.class, "add");
    private static final Kernel ROPE = Kernel.of(LayerKernels.class, "rope");

    private final CpuBackend cpu = new CpuBackend();
    /**
     * Views of the arrays seen so far, by identity: the forward pass passes the same workspace buffers every step,
     * so a step wraps nothing. Bounded (cleared when full) for callers that pass fresh arrays.
     */
    private final Map<float[], FloatArray> views = new IdentityHashMap<>();
    private static final int MAX_VIEWS = 64;

    /** Not thread-safe: one instance per forward pass (the backend's ops). */
    private FloatArray wrap(float[] a) {
        FloatArray v = views.get(a);
        if (v == null) {
            if (views.size() >= MAX_VIEWS) views.clear();
            v = new FloatArray(MemorySegment.ofArray(a));
            views.put(a, v);
        }
        return v;
    }

    // Per-operation launch geometry and argument arrays, refilled per call (boxed values reused while unchanged):
    // with the views above, a call allocates nothing once the shapes repeat, as they do step after step.
    private final LaunchShape rmsShape = new LaunchShape(), siluShape = new LaunchShape(), ropeShape = new LaunchShape(), addShape = new LaunchShape();
    private final Object[] rmsArgs = new Object[6], siluArgs = new Object[3], ropeArgs = new Object[6], addArgs = new Object[3];

    /** See {@link LayerKernels#rmsNorm}; x and out are (rows, n), w is (n). */
    public void rmsNorm(float[] x, int rows, int n, float[] w, double eps, float[] out) {
        FloatArray xa = wrap(x);
        Object[] a = rmsArgs;
        a[0] = xa;
        a[1] = wrap(w);
        a[2] = out == x ? xa : wrap(out);
        a[3] = box(a[3], rows);
        a[4] = box(a[4], n);
        a[5] = a[5] instanceof Double d && d == eps ? d : Double.valueOf(eps);
        // at least 8 groups (when there are rows enough) so the team's threads share the rows
        cpu.launch(RMS_NORM, rmsShape.cover(rows, Math.max(1, Math.min(BLOCK, rows / 8))), a);
    }

    public void siluMul(float[] gate, float[] up, int n) {
        Object[] a = siluArgs;
        a[0] = wrap(gate);
        a[1] = wrap(up);
        a[2] = box(a[2], n);
        cpu.launch(SILU_MUL, siluShape.cover(n, BLOCK), a);
    }

    /** See {@link LayerKernels#rope}: x (tokens, heads * 2*half) in place; cos, sin (tokens, half). */
    public void rope(float[] x, float[] cos, float[] sin, int tokens, int heads, int half) {
        Object[] a = ropeArgs;
        a[0] = wrap(x);
        a[1] = wrap(cos);
        a[2] = wrap(sin);
        a[3] = box(a[3], tokens);
        a[4] = box(a[4], heads);
        a[5] = box(a[5], half);
        cpu.launch(ROPE, ropeShape.cover(tokens * heads * half, BLOCK), a);
    }

    public void add(float[] x, float[] y, int n) {
        Object[] a = addArgs;
        a[0] = wrap(x);
        a[1] = wrap(y);
        a[2] = box(a[2], n);
        cpu.launch(ADD, addShape.cover(n, BLOCK), a);
    }

    /** {@code old} when it already boxes v, else v boxed (Integer's cache covers only -128..127). */
    private static Integer box(Object old, int v) {
        return old instanceof Integer i && i == v ? i : Integer.valueOf(v);
    }

    /**
     * The last few {@link Launch#cover}s of one operation (a step norms all its tokens, then only the logit rows),
     * made again only for a size not among them.
     */
    private static final class LaunchShape {
        private final int[] n = {-1, -1, -1, -1}, block = new int[4];
        private final Launch[] launch = new Launch[4];
        private int next;

        Launch cover(int n, int block) {
            for (int i = 0; i < launch.length; i++) if (this.n[i] == n && this.block[i] == block) return launch[i];
            int i = next;
            next = (next + 1) % launch.length;
            this.n[i] = n;
            this.block[i] = block;
            return launch[i] = Launch.cover(n, block);
        }
    }
}
