package dev.arbor.kernels;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.CpuBackend;

import java.lang.foreign.MemorySegment;

/**
 * Runs {@link LayerKernels} on heap float arrays through the accel CPU executor (arrays are
 * wrapped, not copied). This is how the CPU forward pass executes these stages.
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

    private static FloatArray wrap(float[] a) { return new FloatArray(MemorySegment.ofArray(a)); }

    /** See {@link LayerKernels#rmsNorm}; x and out are (rows, n), w is (n). */
    public void rmsNorm(float[] x, int rows, int n, float[] w, double eps, float[] out) {
        FloatArray xa = wrap(x);
        // at least 8 groups (when there are rows enough) so the team's threads share the rows
        cpu.launch(RMS_NORM, Launch.cover(rows, Math.max(1, Math.min(BLOCK, rows / 8))), xa, wrap(w), out == x ? xa : wrap(out), rows, n, eps);
    }

    public void siluMul(float[] gate, float[] up, int n) {
        cpu.launch(SILU_MUL, Launch.cover(n, BLOCK), wrap(gate), wrap(up), n);
    }

    /** See {@link LayerKernels#rope}: x (tokens, heads * 2*half) in place; cos, sin (tokens, half). */
    public void rope(float[] x, float[] cos, float[] sin, int tokens, int heads, int half) {
        cpu.launch(ROPE, Launch.cover(tokens * heads * half, BLOCK), wrap(x), wrap(cos), wrap(sin), tokens, heads, half);
    }

    public void add(float[] x, float[] y, int n) {
        cpu.launch(ADD, Launch.cover(n, BLOCK), wrap(x), wrap(y), n);
    }
}
