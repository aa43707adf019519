package dev.arbor.kernels.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.GraphTiming;
import dev.arbor.kernels.LayerKernels;
import dev.arbor.kernels.gemm.Gemm;
import dev.arbor.kernels.layer.FusedOps;

/**
 * The decode stage "projection + residual add + next RMSNorm" (the engine's {@code matmulAddNorm}) at llama-7b's o
 * (4096×4096) and down (4096×11008) projections, M ∈ {1, 2, 4, 8, 16}, broken into its parts, for bench/RESULTS.md run
 * 35-gemv6 (which also measured a form with the norm in the GEMM's last-arriving block, slower and removed). Each figure is µs a stage: a CUDA graph of many stages (W rotated over > 256 MiB of copies), median of 5
 * replays ({@link GraphTiming}). Every stage starts with a small producer kernel writing X (as the attention or SwiGLU
 * does in the engine) and the GEMM launched overlapping it, as the engine launches it:
 * <ul>
 *   <li>{@code gemm}: the invariant plan's GEMM alone, slices left unsummed (no producer);</li>
 *   <li>{@code norm}: {@code addRmsNormRows} alone over those slabs;</li>
 *   <li>{@code prod+gemm}: producer + GEMM;</li>
 *   <li>{@code stage}: producer + GEMM + addRmsNormRows (launched overlapping the GEMM): today's engine;</li>
 *   <li>{@code norm-split} / {@code stage-split}: as {@code norm} / {@code stage} with {@code addRmsNormSplitRow} (a row over
 *       n/256 work-groups, the last-arriving one normalising; run 64-dec16);</li>
 *   <li>{@code nbi-stage}: producer + the default plan (split-K atomics into x) + rmsNormRows, as {@code --no-batch-invariance} runs it.</li>
 * </ul>
 * With the argument {@code ncu}: each form once at M = 1 of both shapes, launched eagerly, for
 * {@code ncu --set full -k regex:...} (no graphs: one kernel a launch).
 */
public final class AddNormBench {
    private static final int TRIALS = 5;
    static final int[] MS = {1, 2, 4, 8, 16};
    static final double EPS = 1e-5;
    private static final Kernel PRODUCER = Kernel.of(GemmBench.class, "producer");
    private static final Kernel FILL_F32 = Kernel.of(GemmBench.class, "fillF32");
    private static final Kernel RMS_NORM_ROWS = Kernel.of(LayerKernels.class, "rmsNormRows");

    public static void main(String[] args) {
        boolean ncu = args.length > 0 && args[0].equals("ncu");
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda)) {
            System.out.println("device: " + cuda.device());
            gemm.reserve(16, 11008);
            for (int[] nk : new int[][]{{4096, 4096}, {4096, 11008}}) {
                try (GemmBench.Operands o = new GemmBench.Operands(cuda, 16, nk[0], nk[1]); Stage s = new Stage(cuda, gemm, o)) {
                    gemm.reserveSlabs(16, o.n, o.k);
                    if (ncu) {
                        s.normSlabs = s.slabs(1);
                        for (Form f : Form.values()) s.run(f, 1, 0, false);
                        cuda.synchronize();
                        continue;
                    }
                    for (int m : MS) {
                        StringBuilder line = new StringBuilder(String.format("%dx%d M=%-2d", o.n, o.k, m));
                        for (Form f : Form.values()) {
                            double us = s.time(f, m);
                            line.append(String.format("  %s %.1f", f.label, us));
                            System.out.println("CSV,addnorm," + o.n + "," + o.k + "," + m + "," + f.name() + "," + us);
                        }
                        System.out.println(line);
                    }
                }
            }
        }
    }

    enum Form {
        GEMM("gemm"), NORM("norm"), NORM_SPLIT("norm-split"), PROD_GEMM("prod+gemm"), STAGE("stage"), STAGE_SPLIT("stage-split"), NBI_STAGE("nbi-stage");
        final String label;

        Form(String label) { this.label = label; }
    }

    /** The stage's buffers: the residual x, the norm weight, the normalised output. */
    static final class Stage implements AutoCloseable {
        final CudaBackend cuda;
        final Gemm gemm;
        final GemmBench.Operands o;
        final FloatArray x, normW, out;
        final IntArray arrivals;
        /** The slabs the NORM form reads: those of the last {@link #slabs} call. */
        FloatArray normSlabs;

        Stage(CudaBackend cuda, Gemm gemm, GemmBench.Operands o) {
            this.cuda = cuda;
            this.gemm = gemm;
            this.o = o;
            x = new FloatArray(16 * o.n);
            normW = new FloatArray(o.n);
            out = new FloatArray(16 * o.n);
            cuda.allocateOnDevice(x);
            cuda.allocateOnDevice(normW);
            cuda.allocateOnDevice(out);
            arrivals = new IntArray(16);
            cuda.toDevice(arrivals);
            cuda.launch(FILL_F32, Launch.cover(16 * o.n, 256), x, 16 * o.n, 3, 2f);
            cuda.launch(FILL_F32, Launch.cover(o.n, 256), normW, o.n, 4, 2f);
        }

        /** One stage of this form at m tokens with W copy i; {@code overlapProducer}: the producer overlaps the launch before it. */
        void run(Form f, int m, int i, boolean overlapProducer) {
            int n = o.n, k = o.k;
            var w = o.w[i % o.w.length];
            Gemm.Plan inv = gemm.invariantPlan(m, n, k, true), def = gemm.plan(m, n, k, true, true);
            boolean normOnly = f == Form.NORM || f == Form.NORM_SPLIT;
            if (f != Form.GEMM && !normOnly) {
                Launch l = Launch.cover(m * k, 256);
                cuda.launch(PRODUCER, overlapProducer ? l.overlappingPrevious() : l, o.x, m * k, i);
            }
            gemm.overlapPrevious(f != Form.GEMM && !normOnly);
            try {
                switch (f) {
                    case GEMM, PROD_GEMM -> gemm.matmulPartial(o.x, m, w, n, k, o.c, inv);
                    case NORM -> FusedOps.addRmsNorm(cuda, x, normSlabs, inv.splits(), normW, out, m, n, EPS, false);
                    case NORM_SPLIT -> FusedOps.addRmsNormSplitRow(cuda, x, normSlabs, inv.splits(), normW, out, arrivals, m, n, EPS, false);
                    case STAGE -> {
                        Gemm.Partial p = gemm.matmulPartial(o.x, m, w, n, k, o.c, inv);
                        FusedOps.addRmsNorm(cuda, x, p.sums(), p.slices(), normW, out, m, n, EPS, true);
                    }
                    case STAGE_SPLIT -> {
                        Gemm.Partial p = gemm.matmulPartial(o.x, m, w, n, k, o.c, inv);
                        FusedOps.addRmsNormSplitRow(cuda, x, p.sums(), p.slices(), normW, out, arrivals, m, n, EPS, true);
                    }
                    case NBI_STAGE -> {
                        gemm.matmul(o.x, m, w, n, k, x, true, def);
                        cuda.launch(RMS_NORM_ROWS, Launch.of1D(m, LayerKernels.NORM_GROUP), x, normW, out, n, EPS);
                    }
                }
            } finally {
                gemm.overlapPrevious(false);
            }
        }

        /** The invariant plan's slab scratch (the partial sums of the last GEMM). */
        private FloatArray slabs(int m) {
            return gemm.matmulPartial(o.x, m, o.w[0], o.n, o.k, o.c, gemm.invariantPlan(m, o.n, o.k, true)).sums();
        }

        /** µs a stage: a graph of stages, median of replays. */
        double time(Form f, int m) {
            int copies = o.w.length;
            int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / (2.0 * o.n * o.k / 3.5e12))));
            if (f == Form.NORM || f == Form.NORM_SPLIT) normSlabs = slabs(m);
            for (int i = 0; i < Math.min(launches, copies); i++) run(f, m, i, false);
            try (AccelStream stream = cuda.newStream();
                 Recording g = cuda.record(stream, () -> { for (int i = 0; i < launches; i++) run(f, m, i, i > 0); })) {
                return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
            }
        }

        @Override public void close() {
            x.close();
            normW.close();
            out.close();
            arrivals.close();
        }
    }
}
