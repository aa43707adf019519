package dev.arbor.models.cuda;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.DeviceBuffer;
import dev.arbor.kernels.gemm.GemmKernels;
import dev.arbor.models.ModelLoadException;
import dev.arbor.models.weights.DType;
import dev.arbor.models.weights.LayerWeights;
import dev.arbor.models.weights.Matrix;
import dev.arbor.models.weights.ModelWeights;
import dev.arbor.models.weights.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.IdentityHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The device copies of a model's weights, uploaded once: every {@link Matrix} in its stored dtype
 * (bf16 and fp16 straight from the memory-mapped file, no host copy; fp32 checkpoint matrices
 * converted to bf16, named in the log; Baichuan's NormHead lm_head, derived in fp32 at load, converted to bf16 too
 * for the tensor-core GEMM, or kept in fp32 for the float32 compute mode), every norm vector in fp32. Looked up by identity of the host-side object the forward pass holds.
 */
final class DeviceWeights implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DeviceWeights.class);
    private final Map<Object, OffHeapArray> arrays = new IdentityHashMap<>();
    private final Map<LayerWeights, BFloat16Array> qkv = new IdentityHashMap<>();     // (q + 2 kv rows, hidden) per layer
    private final Map<Matrix, BFloat16Array> gateUp = new IdentityHashMap<>();        // (2 inter rows, hidden) per layer's gate
    private boolean fusedQkv, fusedGateUp;
    private boolean gateUpInterleaved;   // the stacked gate|up rows interleaved in groups of 8 (GemmKernels.interleavedGateRow)
    private boolean projectionsBf16;   // every layer's projections bf16 on the device with widths a multiple of 8 (the GEMM takes them all)
    private boolean bf16NormHead;   // the NormHead lm_head rounded to bf16 (bf16 compute) instead of kept in fp32
    private long bytes;

    /**
     * Uploads {@code w} to {@code gpu}.
     *
     * @throws ModelLoadException when the weights do not fit the device's free memory (bytes needed and free)
     */
    static DeviceWeights upload(CudaBackend gpu, ModelWeights w) {
        return upload(gpu, w, false, false);
    }

    /**
     * As {@link #upload(CudaBackend, ModelWeights)}; with {@code fuse}, where every layer's matrices allow it (bf16 in the
     * checkpoint, widths a multiple of 8, no q/k norm for the q|k|v case), each layer's q, k and v are uploaded as one
     * (q + 2 kv, hidden) matrix and gate and up as one (2 inter, hidden) matrix instead of separately (the same bytes):
     * one GEMM each instead of three and two ({@link #qkv}, {@link #gateUp}). With {@code bf16NormHead} (the bf16 compute
     * mode) Baichuan's NormHead lm_head, normalised in fp32 at load, is rounded to bf16 like any fp32 checkpoint matrix, so
     * it runs on the tensor-core GEMM: kept in fp32 it took the CUDA-core matvec, 34 of a 50.7 ms decode step at batch 107
     * on the Baichuan2-13B shape (2.6 GB of fp32 read and 138 GFLOP on CUDA cores; bench/RESULTS.md, run 26-lead). The
     * official Baichuan2 code normalises the head in the model's dtype (bf16) at its first inference, so bf16 is its own
     * inference precision too.
     */
    static DeviceWeights upload(CudaBackend gpu, ModelWeights w, boolean fuse, boolean bf16NormHead) {
        long need = deviceBytes(w, bf16NormHead);
        long free = gpu.device().memoryInfo()[0];
        if (need > free) {
            throw new ModelLoadException(String.format("the weights need %.2f GiB on %s, which has %.2f GiB free",
                    need / (double) (1L << 30), gpu.device().name(), free / (double) (1L << 30)));
        }
        DeviceWeights d = new DeviceWeights();
        d.bf16NormHead = bf16NormHead;
        d.fusedQkv = fuse && w.layers().stream().allMatch(lw -> lw.qNorm() == null && concatenable(lw.q(), lw.k(), lw.v()));
        d.fusedGateUp = fuse && w.layers().stream().allMatch(lw -> concatenable(lw.gate(), lw.up()));
        d.gateUpInterleaved = d.fusedGateUp && CudaOps.fusedSwiGluRequested()
                && w.layers().stream().allMatch(lw -> lw.gate().rows() % GemmKernels.SWIGLU_ROWS == 0);
        try {
            d.matrix(gpu, w.embed());
            for (LayerWeights lw : w.layers()) {
                if (d.fusedQkv) d.qkv.put(lw, d.concatenated(gpu, lw.q(), lw.k(), lw.v()));
                else for (Matrix m : new Matrix[] {lw.q(), lw.k(), lw.v()}) d.matrix(gpu, m);
                if (d.gateUpInterleaved) d.gateUp.put(lw.gate(), d.interleaved(gpu, lw.gate(), lw.up()));
                else if (d.fusedGateUp) d.gateUp.put(lw.gate(), d.concatenated(gpu, lw.gate(), lw.up()));
                else for (Matrix m : new Matrix[] {lw.gate(), lw.up()}) d.matrix(gpu, m);
                for (Matrix m : new Matrix[] {lw.o(), lw.down()}) d.matrix(gpu, m);
                for (float[] v : new float[][] {lw.inputNorm(), lw.postNorm(), lw.qNorm(), lw.kNorm()}) if (v != null) d.vector(gpu, v);
            }
            d.staging = null;
            d.projectionsBf16 = w.layers().stream().allMatch(lw -> java.util.stream.Stream.of(lw.q(), lw.k(), lw.v(), lw.o(), lw.gate(), lw.up(), lw.down())
                    .allMatch(m -> m.cols() % 8 == 0 && (d.arrays.get(m) instanceof BFloat16Array || d.arrays.get(m) == null)));
            d.vector(gpu, w.finalNorm());
            d.matrix(gpu, w.lmHead());
        } catch (RuntimeException e) {
            d.close();
            throw e;
        }
        LOG.info("weights on {}: {} MiB", gpu.device().name(), d.bytes >> 20);
        return d;
    }

    /** Device bytes of {@code w} once uploaded (fp32 checkpoint matrices become bf16; the NormHead too with {@code bf16NormHead}). */
    static long deviceBytes(ModelWeights w, boolean bf16NormHead) {
        IdentityHashMap<Object, Boolean> seen = new IdentityHashMap<>();
        long n = matrixBytes(w.embed(), seen, bf16NormHead) + matrixBytes(w.lmHead(), seen, bf16NormHead) + 4L * w.finalNorm().length;
        for (LayerWeights lw : w.layers()) {
            for (Matrix m : new Matrix[] {lw.q(), lw.k(), lw.v(), lw.o(), lw.gate(), lw.up(), lw.down()}) n += matrixBytes(m, seen, bf16NormHead);
            n += 4L * (lw.inputNorm().length + lw.postNorm().length);
        }
        return n;
    }

    private static long matrixBytes(Matrix m, IdentityHashMap<Object, Boolean> seen, boolean bf16NormHead) {
        if (seen.put(m, true) != null) return 0;
        boolean toBf16 = m.tensor().dtype() == DType.F32 && (bf16NormHead || !isNormHead(m));
        return (long) m.rows() * m.cols() * (toBf16 ? 2 : m.tensor().dtype().bytes());
    }

    private static boolean isNormHead(Matrix m) {
        return m.tensor().name().contains("NormHead");
    }

    private void matrix(CudaBackend gpu, Matrix m) {
        if (arrays.containsKey(m)) return;
        Tensor t = m.tensor();
        long elems = (long) m.rows() * m.cols();
        if (elems > Integer.MAX_VALUE) throw new ModelLoadException("tensor " + t.name() + " has " + elems + " elements, over one device array's 2^31-1");
        OffHeapArray a = switch (t.dtype()) {
            case BF16 -> new BFloat16Array(band(m, 2));
            case F16 -> new HalfFloatArray(band(m, 2));
            case F32 -> {
                if (isNormHead(m) && !bf16NormHead) yield new FloatArray(band(m, 4));
                LOG.info("{}: fp32 {}, converted to bf16 on the device", t.name(), isNormHead(m) ? "(derived at load)" : "in the checkpoint");
                BFloat16Array b = new BFloat16Array((int) elems);
                float[] row = new float[m.cols()];
                for (int r = 0; r < m.rows(); r++) {
                    m.loadRow(r, row, 0);
                    for (int c = 0; c < row.length; c++) b.set(r * m.cols() + c, row[c]);
                }
                yield b;
            }
        };
        gpu.toDevice(a);
        arrays.put(m, a);
        bytes += a.byteSize();
    }

    /** bf16 matrices of one width (a multiple of 8, as the tensor-core GEMM needs): their rows can be stacked into one. */
    private static boolean concatenable(Matrix... parts) {
        for (Matrix m : parts) if (m.tensor().dtype() != DType.BF16 || m.cols() % 8 != 0 || m.cols() != parts[0].cols()) return false;
        return true;
    }

    /** One device matrix of {@code parts}' rows stacked in order, copied band by band from the tensors (no host copy). */
    private BFloat16Array concatenated(CudaBackend gpu, Matrix... parts) {
        long rows = 0;
        for (Matrix m : parts) rows += m.rows();
        long elems = rows * parts[0].cols();
        if (elems > Integer.MAX_VALUE) throw new ModelLoadException("stacked " + parts[0].tensor().name() + " has " + elems + " elements, over one device array's 2^31-1");
        BFloat16Array a = BFloat16Array.deviceOnly((int) elems);
        gpu.allocateOnDevice(a);
        long at = 0;
        for (Matrix m : parts) {
            MemorySegment band = band(m, 2);
            ((DeviceBuffer) a.deviceMirror()).upload(band, at, band.byteSize());
            at += band.byteSize();
        }
        bytes += a.byteSize();
        return a;
    }

    /**
     * gate and up (bf16, inter × cols each, inter a multiple of 8) as one device matrix of 2·inter rows interleaved in groups of
     * {@link GemmKernels#SWIGLU_ROWS}: 8 rows of gate, then the same 8 rows of up ({@link GemmKernels#interleavedGateRow}), so a
     * GEMM tile's 16-row fragment holds matching gate and up rows and its epilogue writes SwiGLU ({@code Gemm.matmulSwiGlu}).
     * Assembled in a host staging copy (one layer at a time), then one upload.
     */
    private BFloat16Array interleaved(CudaBackend gpu, Matrix gate, Matrix up) {
        long rowBytes = 2L * gate.cols(), group = GemmKernels.SWIGLU_ROWS * rowBytes;
        long elems = 2L * gate.rows() * gate.cols();
        if (elems > Integer.MAX_VALUE) throw new ModelLoadException("stacked " + gate.tensor().name() + " has " + elems + " elements, over one device array's 2^31-1");
        if (staging == null || staging.byteSize() < 2 * elems) staging = java.lang.foreign.Arena.ofAuto().allocate(2 * elems, 64);
        MemorySegment g = band(gate, 2), u = band(up, 2);
        for (long r = 0, at = 0; r < gate.rows(); r += GemmKernels.SWIGLU_ROWS, at += 2 * group) {
            MemorySegment.copy(g, r * rowBytes, staging, at, group);
            MemorySegment.copy(u, r * rowBytes, staging, at + group, group);
        }
        BFloat16Array a = BFloat16Array.deviceOnly((int) elems);
        gpu.allocateOnDevice(a);
        ((DeviceBuffer) a.deviceMirror()).upload(staging, 0, 2 * elems);
        bytes += a.byteSize();
        return a;
    }

    private MemorySegment staging;   // interleaved()'s host copy of one layer's gate|up, reused

    /** Whether the stacked gate|up ({@link #gateUp}) is interleaved for the GEMM's SwiGLU epilogue ({@code -Darbor.gemm.fusedSwiGlu}). */
    boolean gateUpInterleaved() { return gateUpInterleaved; }

    /** The rows of {@code m} inside its tensor's memory, without a copy. */
    private static MemorySegment band(Matrix m, int elementBytes) {
        long row = (long) m.cols() * elementBytes;
        return m.tensor().data().asSlice(m.rowStart() * row, m.rows() * row);
    }

    private void vector(CudaBackend gpu, float[] v) {
        if (arrays.containsKey(v)) return;
        FloatArray a = new FloatArray(v.length);
        MemorySegment.copy(v, 0, a.segment(), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, v.length);
        gpu.toDevice(a);
        arrays.put(v, a);
        bytes += a.byteSize();
    }

    /** The device array of {@code m} (BFloat16Array, HalfFloatArray or FloatArray). */
    OffHeapArray of(Matrix m) {
        OffHeapArray a = arrays.get(m);
        if (a == null) throw new IllegalStateException("matrix " + m.tensor().name() + " was not uploaded");
        return a;
    }

    /**
     * Whether every layer's q, k, v, o, gate, up and down run on the bf16 tensor-core GEMM (bf16 on the device, stacked or
     * alone, widths a multiple of 8): then a norm's or SwiGLU's output is read by nothing but GEMMs ({@code CudaOps}'
     * bf16 producers).
     */
    boolean projectionsBf16() { return projectionsBf16; }

    /** Whether every layer's q, k, v (and gate, up) are on the device as one stacked matrix, {@link #qkv} ({@link #gateUp}). */
    boolean fusedQkv() { return fusedQkv; }

    boolean fusedGateUp() { return fusedGateUp; }

    /** (q + 2 kv rows, hidden): the layer's q, k and v stacked; only where {@link #fusedQkv}. */
    BFloat16Array qkv(LayerWeights lw) {
        BFloat16Array a = qkv.get(lw);
        if (a == null) throw new IllegalStateException("no stacked q|k|v for this layer (fused: " + fusedQkv + ")");
        return a;
    }

    /** (2 inter rows, hidden): a layer's gate and up stacked, by its gate matrix; only where {@link #fusedGateUp}. */
    BFloat16Array gateUp(Matrix gate) {
        BFloat16Array a = gateUp.get(gate);
        if (a == null) throw new IllegalStateException("no stacked gate|up for this layer (fused: " + fusedGateUp + ")");
        return a;
    }

    FloatArray of(float[] norm) {
        OffHeapArray a = arrays.get(norm);
        if (a == null) throw new IllegalStateException("a norm vector of " + norm.length + " was not uploaded");
        return (FloatArray) a;
    }

    long bytes() { return bytes; }

    @Override
    public void close() {
        for (OffHeapArray a : arrays.values()) a.close();
        for (OffHeapArray a : qkv.values()) a.close();
        for (OffHeapArray a : gateUp.values()) a.close();
        arrays.clear();
        qkv.clear();
        gateUp.clear();
    }
}
