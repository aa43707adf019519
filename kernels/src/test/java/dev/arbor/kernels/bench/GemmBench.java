package dev.arbor.kernels.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaModule;
import dev.arbor.accel.cuda.GraphTiming;
import dev.arbor.kernels.gemm.Gemm;
import dev.arbor.kernels.gemm.GemmKernels;

import java.util.Arrays;

/**
 * GPU benchmark of {@link Gemm#matmul(FloatArray, int, BFloat16Array, int, int, FloatArray, boolean)}
 * (fp32 activations, bf16 weights, fp32 output) at the projection shapes of Llama-2-7B, Llama-3-8B and
 * Qwen3-8B, M (tokens) ∈ {1, 8, ..., 8192}, for bench/RESULTS.md. Beside each figure: TFLOP/s
 * (2·M·N·K / time) and, for M ≤ 64, the weight-read floor (N·K·2 bytes / copy bandwidth, the copy
 * measured in the same run as cuMemcpyDtoD of 1 GiB, read + write bytes / time). W is rotated over
 * copies filling more than 256 MiB so the L2 cannot serve it; launches are captured in a CUDA graph
 * and replayed, median of 5 replays. Inputs are filled on the device with hashed values in
 * [-0.5, 0.5) (never zeros) and one M per shape is spot-checked against a double dot product.
 * Prints "CSV,..." lines that bench/peers/gemm_torch.py joins with torch.matmul's figures.
 * Run: java --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.kernels.bench.GemmBench [quick]
 */
public final class GemmBench {
    private static final int TRIALS = 5;
    static final int[] MS = {1, 8, 16, 32, 64, 128, 256, 512, 2048, 8192};
    /** name, N (output features), K (input features): the distinct projection shapes of the three models. */
    static final Object[][] SHAPES = {
            {"q/o_proj (all three)", 4096, 4096},
            {"k/v_proj (Llama-3-8B, Qwen3-8B)", 1024, 4096},
            {"gate/up (Llama-2-7B)", 11008, 4096},
            {"down (Llama-2-7B)", 4096, 11008},
            {"gate/up (Llama-3-8B)", 14336, 4096},
            {"down (Llama-3-8B)", 4096, 14336},
            {"gate/up (Qwen3-8B); q|k|v (Llama-2-7B)", 12288, 4096},
            {"down (Qwen3-8B)", 4096, 12288},
            // the stacked projections the engine runs as one GEMM each (q|k|v, gate|up)
            {"q|k|v (Llama-3-8B, Qwen3-8B)", 6144, 4096},
            {"gate|up (Llama-2-7B)", 22016, 4096},
            {"gate|up (Qwen3-8B)", 24576, 4096},
            {"gate|up (Llama-3-8B)", 28672, 4096}};

    /** The engine's products for synthetic:llama-7b (stacked q|k|v and gate|up, as DeviceWeights uploads them), run by {@code engine}. */
    static final Object[][] ENGINE_SHAPES = {
            {"llama-7b q|k|v (stacked)", 12288, 4096},
            {"llama-7b o_proj", 4096, 4096},
            {"llama-7b gate|up (stacked)", 22016, 4096},
            {"llama-7b down", 4096, 11008},
            {"llama-7b lm_head", 32000, 4096}};
    static final int[] ENGINE_MS = {1, 2, 4, 8, 16, 32, 64};

    /**
     * A stand-in for the fused kernel before a projection in the engine (addRmsNormRows, siluMulRows): lets the next grid
     * launch, waits for the previous one, then writes X (the GEMM's input), {@code n} elements.
     */
    public static void producer(KernelContext ctx, FloatArray x, int n, int seed) {
        ctx.allowDependentLaunch();
        ctx.gridDependencyWait();
        int i = ctx.globalIdx;
        if (i < n) x.set(i, hashed(i, seed) * 2f);
    }

    private static final Kernel PRODUCER = Kernel.of(GemmBench.class, "producer");

    /**
     * The window before a batch-1 decode GEMM in the engine (the attention before o, a norm before gate|up and q|k|v, SwiGLU
     * before down: kernels that move almost no DRAM bytes) with the GEMM's weights prefetched into the L2 meanwhile: lets the
     * next grid launch, then every work-item asks for the first {@code bytes} of rows r = globalIdx, globalIdx + grid, … of
     * W (bytes 0: none), then work-item 0 waits for the previous grid and runs {@code iterations} rounds of
     * {@link dev.arbor.kernels.layer.TimingKernels#spin}'s step (~4-8 cycles each) standing in for the window's work.
     */
    public static void windowPrefetch(KernelContext ctx, BFloat16Array w, int rows, int k, int bytes, IntArray out, int iterations) {
        ctx.allowDependentLaunch();
        if (bytes > 0)
            for (int r = ctx.globalIdx; r < rows; r += ctx.globalGroupSizeX) ctx.prefetchL2(w, r * k, bytes);
        ctx.gridDependencyWait();
        if (ctx.globalIdx != 0) return;
        int s = rows;
        for (int i = 0; i < iterations; i++) s = s * 1664525 + 1013904223;
        out.set(0, s);
    }

    private static final Kernel WINDOW_PREFETCH = Kernel.of(GemmBench.class, "windowPrefetch");

    /**
     * Run 64-dec16's L2 experiment at M = 1 (issue 12; measurement only): a window kernel of about {@code windowMicros}
     * ({@link #windowPrefetch}), then the invariant plan's GEMM (slices unsummed) launched overlapping it, as the engine's
     * fused stages run; the window prefetching none, a quarter, half or all of each W row's bytes (from k = 0: a partial
     * prefetch covers the first K slices of a slab plan, the first K tiles of a one-slice plan) into the L2. µs a (window +
     * GEMM), CUDA-graph medians over W copies rotated past the L2; the window alone for reference. The saving a stage is
     * (window + GEMM without prefetch) − (with); the values the GEMM reads are the same, so are its bits.
     */
    static void l2Shape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy, int windowIterations) {
        try (Operands o = new Operands(cuda, 1, n, k); IntArray sink = new IntArray(1)) {
            cuda.toDevice(sink);
            gemm.reserveSlabs(1, n, k);
            Gemm.Plan inv = gemm.invariantPlan(1, n, k, true);
            double floorUs = 2.0 * n * k / copy * 1e6;
            StringBuilder line = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=1 window %d rounds:", name, n, k, windowIterations));
            for (int quarter : new int[]{-1, 0, 1, 2, 4}) {   // -1: the window alone (no GEMM)
                int bytes = Math.max(0, quarter) * (2 * k / 4) / 16 * 16;
                int copies = o.w.length, launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / (2.0 * n * k / 3.5e12))));
                Launch wl = new Launch(new int[]{16, 1, 1}, new int[]{256, 1, 1}, 0, null);
                Runnable stages = () -> {
                    for (int i = 0; i < launches; i++) {
                        var w = o.w[i % copies];
                        cuda.launch(WINDOW_PREFETCH, i > 0 ? wl.overlappingPrevious() : wl, w, n, k, bytes, sink, windowIterations);
                        if (quarter >= 0) gemm.matmulPartial(o.x, 1, w, n, k, o.c, inv);
                    }
                };
                gemm.overlapPrevious(true);
                try {
                    stages.run();   // eagerly first: every kernel loaded before the capture
                    cuda.synchronize();
                    try (AccelStream stream = cuda.newStream(); Recording g = cuda.record(stream, stages)) {
                        double us = GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
                        line.append(quarter < 0 ? String.format("  window alone %.1fus", us) : String.format("  prefetch %d/4: %.1fus", quarter, us));
                        System.out.println("CSV,l2," + name + "," + n + "," + k + "," + windowIterations + "," + quarter + "," + us + "," + floorUs);
                    }
                } finally {
                    gemm.overlapPrevious(false);
                }
            }
            System.out.println(line);
        }
    }

    /**
     * A stand-in for a latency-bound kernel of the batch-1 decode chain between two GEMMs (the attention, a norm, qkvRopeStore):
     * with {@code early} 1 lets the next grid launch first thing (as the norms do, and the split attention under
     * {@code -Darbor.cuda.earlyTrigger}), with 0 not at all (the next grid launches when this one's last block exits: the split
     * attention before); waits for the previous grid; then work-item 0 runs {@code iterations} rounds of a dependent
     * multiply-add chain (no DRAM bytes) and stores the result.
     */
    public static void window(KernelContext ctx, IntArray out, int seed, int early, int iterations) {
        if (early != 0) ctx.allowDependentLaunch();
        ctx.gridDependencyWait();
        if (ctx.globalIdx != 0) return;
        int s = seed;
        for (int i = 0; i < iterations; i++) s = s * 1664525 + 1013904223;
        out.set(0, s);
    }

    private static final Kernel WINDOW = Kernel.of(GemmBench.class, "window");

    /**
     * Session 23 (run 93-gemv23): the early trigger at M = 1 on one shape. Pairs of (window kernel of {@code windowIterations}
     * rounds on {@code windowBlocks} work-groups, the invariant plan's GEMM as the engine runs it: slices unsummed, gate|up with
     * its SwiGLU epilogue) launched back to back, each overlapping the one before, in a CUDA graph over W copies rotated past the
     * L2, µs a pair (median): (a) neither triggers early (the chain before: the window's successor launches at its exit, the
     * GEMM's at its exit), (b) only the window triggers, (c) only the GEMM (its twin, {@code Gemm#earlyTrigger}), (d) both
     * ({@code -Darbor.cuda.earlyTrigger}); the window alone and the GEMM alone for reference. The same sums in every form.
     * (Run 93b-gemv23 also timed a form holding 2 more W tiles in registers before the wait: slower, removed.)
     */
    static void triggerShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy, int[][] windows) {
        try (Operands o = new Operands(cuda, 1, n, k); IntArray sink = new IntArray(1)) {
            cuda.toDevice(sink);
            gemm.reserveSlabs(1, n, k);
            for (int[] wdw : windows) triggerWindow(cuda, gemm, o, sink, name, n, k, copy, wdw[0], wdw[1]);
        }
    }

    private static void triggerWindow(CudaBackend cuda, Gemm gemm, Operands o, IntArray sink, String name, int n, int k, double copy,
                                      int windowBlocks, int windowIterations) {
        {
            Gemm.Plan inv = gemm.invariantPlan(1, n, k, true);
            boolean swiGlu = name.contains("gate|up") && Gemm.swiGluEpilogue(inv, false);
            double floorUs = 2.0 * n * k / copy * 1e6;
            StringBuilder line = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=1 window %dx%d:", name, n, k, windowBlocks, windowIterations));
            String[] forms = {"window alone", "gemm alone", "neither", "window early", "gemm early", "both early"};
            for (int f = 0; f < forms.length; f++) {
                boolean window = f != 1, product = f != 0, windowEarly = f == 3 || f == 5, gemmEarly = f == 4 || f == 5;
                int copies = o.w.length, launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / (2.0 * n * k / 3.5e12))));
                Launch wl = new Launch(new int[]{windowBlocks, 1, 1}, new int[]{128, 1, 1}, 0, null);
                Runnable stages = () -> {
                    for (int i = 0; i < launches; i++) {
                        var w = o.w[i % copies];
                        if (window) cuda.launch(WINDOW, i > 0 ? wl.overlappingPrevious() : wl, sink, i, windowEarly ? 1 : 0, windowIterations);
                        if (product) {
                            if (swiGlu) gemm.matmulSwiGlu(o.x, 1, w, n, k, o.c, inv);
                            else gemm.matmulPartial(o.x, 1, w, n, k, o.c, inv);
                        }
                    }
                };
                gemm.overlapPrevious(window);   // the GEMM alone: plain launches (the first of a graph overlaps nothing)
                gemm.earlyTrigger(gemmEarly);
                try {
                    stages.run();   // eagerly first: every kernel loaded before the capture
                    cuda.synchronize();
                    try (AccelStream stream = cuda.newStream(); Recording g = cuda.record(stream, stages)) {
                        double us = GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
                        line.append(String.format("  %s %.2fus", forms[f], us));
                        System.out.println("CSV,trigger," + name + "," + n + "," + k + "," + windowBlocks + "," + windowIterations + "," + forms[f]
                                + "," + us + "," + floorUs);
                    }
                } finally {
                    gemm.overlapPrevious(false);
                    gemm.earlyTrigger(false);
                }
            }
            System.out.println(line);
        }
    }

    /**
     * The engine's shapes at M ≤ 64: the default plan, the invariant plan as the engine runs it (slices left for the fused
     * consumer: matmulPartial, no sum launch) and with its sum launch, and at M ∈ {1, 16} the invariant plan's K slices 1-8;
     * then at M = 1 a small producer kernel writing X before each product, launched plainly or overlapping (the GEMM
     * streaming its first W tiles before it waits: {@link Gemm#overlapPrevious}), against the product alone.
     */
    private static void engineShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy) {
        int maxM = Arrays.stream(ENGINE_MS).max().orElseThrow();
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            gemm.reserveSlabs(maxM, n, k);
            double floorUs = 2.0 * n * k / copy * 1e6;
            for (int m : ENGINE_MS) {
                try {
                    Gemm.Plan p = gemm.plan(m, n, k, true, true);
                    double us = time(cuda, gemm, p, o, m, m == 1 || m == 16);
                    System.out.printf("%-28s N=%-5d K=%-5d M=%-3d default   %7.1f us %5.1f%% of floor (%.1f us)  [%s]%n", name, n, k, m, us, 100 * floorUs / us, floorUs, p);
                    System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + us + "," + 2.0 * m * n * k / (us * 1e-6) / 1e12 + "," + 100 * floorUs / us
                            + "," + p.tiles().name() + "," + p.splits());
                    Gemm.Plan inv = gemm.invariantPlan(m, n, k, true);
                    double invUs = time(cuda, gemm, inv, o, m, false);
                    double partUs = inv.slabs() ? timePartial(cuda, gemm, inv, o, m) : invUs;
                    System.out.printf("%-28s N=%-5d K=%-5d M=%-3d invariant %7.1f us %5.1f%% of floor; slices left unsummed (engine) %7.1f us %5.1f%%  [%s]%n",
                            name, n, k, m, invUs, 100 * floorUs / invUs, partUs, 100 * floorUs / partUs, inv);
                    System.out.println("CSV,inv," + name + "," + n + "," + k + "," + m + "," + invUs + "," + inv.splits());
                    System.out.println("CSV,invpart," + name + "," + n + "," + k + "," + m + "," + partUs + "," + inv.splits());
                    if (m == 1 || m == 16) {
                        StringBuilder line = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=%-3d invariant slices (unsummed):", name, n, k, m));
                        for (int slices = 1; slices <= 8; slices++) {
                            Gemm.Plan q = gemm.plan(m, n, k, Gemm.tilesFor(m), slices, true);
                            if (q.splits() != slices) continue;
                            q = new Gemm.Plan(q.tiles(), q.splits(), q.kTilesPerSplit(), q.launch(), q.convertFirst(), q.splits() > 1);
                            double qUs = q.slabs() ? timePartial(cuda, gemm, q, o, m) : time(cuda, gemm, q, o, m, false);
                            line.append(String.format("  s=%d%s %.1fus (%.0f%%)", slices, slices == inv.splits() ? "*" : "", qUs, 100 * floorUs / qUs));
                            System.out.println("CSV,invsweep," + name + "," + n + "," + k + "," + m + "," + slices + "," + qUs);
                        }
                        System.out.println(line);
                    }
                    if (m == 1) {
                        double plain = timeAfterProducer(cuda, gemm, inv, o, m, false), overlapped = timeAfterProducer(cuda, gemm, inv, o, m, true);
                        System.out.printf("%-28s N=%-5d K=%-5d M=%-3d producer + invariant GEMM: %7.1f us plain, %7.1f us overlapping (GEMM alone %7.1f)%n",
                                name, n, k, m, plain, overlapped, partUs);
                        System.out.println("CSV,pdl," + name + "," + n + "," + k + "," + m + "," + plain + "," + overlapped + "," + partUs);
                    }
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /** As {@link #time} through {@link Gemm#matmulPartial} (a slab plan's slices left unsummed, as the engine's fused stages take them). */
    static double timePartial(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m) {
        int n = o.n, k = o.k, copies = o.w.length;
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / (2.0 * n * k / 3.5e12))));
        for (int i = 0; i < Math.min(launches, copies); i++) gemm.matmulPartial(o.x, m, o.w[i], n, k, o.c, p);
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < launches; i++) gemm.matmulPartial(o.x, m, o.w[i % copies], n, k, o.c, p); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
        }
    }

    /**
     * Microseconds per (producer of X, then the product with slices unsummed), the producer launched overlapping the
     * product before it and the product overlapping the producer when {@code overlap}, as the engine's fused stages do.
     */
    static double timeAfterProducer(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m, boolean overlap) {
        int n = o.n, k = o.k, copies = o.w.length;
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / (2.0 * n * k / 3.5e12))));
        Launch l = Launch.cover(m * k, 256);
        gemm.overlapPrevious(overlap);
        try {
            for (int i = 0; i < Math.min(launches, copies); i++) gemm.matmulPartial(o.x, m, o.w[i], n, k, o.c, p);
            try (AccelStream stream = cuda.newStream();
                 Recording g = cuda.record(stream, () -> {
                     for (int i = 0; i < launches; i++) {
                         cuda.launch(PRODUCER, overlap && i > 0 ? l.overlappingPrevious() : l, o.x, m * k, i);
                         gemm.matmulPartial(o.x, m, o.w[i % copies], n, k, o.c, p);
                     }
                 })) {
                return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
            }
        } finally {
            gemm.overlapPrevious(false);
        }
    }

    /** Fills a with hashed values in [-0.5, 0.5)·scale, different per seed. */
    public static void fillBf16(KernelContext ctx, BFloat16Array a, int n, int seed, float scale) {
        int i = ctx.globalIdx;
        if (i < n) a.set(i, hashed(i, seed) * scale);
    }

    public static void fillF32(KernelContext ctx, FloatArray a, int n, int seed, float scale) {
        int i = ctx.globalIdx;
        if (i < n) a.set(i, hashed(i, seed) * scale);
    }

    static float hashed(int i, int seed) {
        int h = i * 0x9E3779B1 ^ seed;
        h ^= h >>> 15;
        h *= 0x85EBCA77;
        h ^= h >>> 13;
        return (h & 0xFFFF) / 65536f - 0.5f;
    }

    private static final Kernel FILL_BF16 = Kernel.of(GemmBench.class, "fillBf16");
    private static final Kernel FILL_F32 = Kernel.of(GemmBench.class, "fillF32");

    public static void main(String[] args) {
        boolean quick = args.length > 0 && args[0].equals("quick");
        boolean sweep = args.length > 0 && args[0].equals("sweep");
        try (CudaBackend cuda = CudaBackend.open(0); Gemm gemm = new Gemm(cuda); Gemm mma = new Gemm(cuda, false)) {
            System.out.println("device: " + cuda.device());
            double copy = copyBandwidth(cuda, 1L << 30);
            System.out.printf("cuMemcpyDtoD 1 GiB (read+write): %.1f GB/s%n", copy / 1e9);
            System.out.println("CSV,copy," + copy);
            gemm.reserve(8192, 14336);
            mma.reserve(8192, 14336);
            System.out.println("wgmma tiles in the default plan above 64 tokens: " + gemm.wgmma());
            if (args.length > 0 && args[0].equals("sliced")) {   // the invariant plan's forms at the engine's shapes and token counts
                slicedResources(cuda, gemm);
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) slicedShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], SLICED_MS);
                return;
            }
            if (args.length > 0 && args[0].equals("slices")) {   // the invariant plan by the slice rule before and now, 1-2048 tokens
                for (Object[] s : ENGINE_SHAPES) slicesShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy);
                for (Object[] s : ENGINE_SHAPES) xFormsShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy);
                return;
            }
            if (args.length > 0 && args[0].equals("gemm24")) {   // run 99-gemm24: the sliced kernel's balanced token tiles off / on, interleaved
                int[] ms = Arrays.stream(System.getProperty("gemm.m24", "434,500").split(",")).mapToInt(Integer::parseInt).toArray();
                for (Object[] s : GEMM24_SHAPES) gemm24Shape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], (Boolean) s[3], ms);
                return;
            }
            if (args.length > 0 && args[0].equals("gemm24-ncu")) {   // eager launches for Nsight Compute: o and down (-Dgemm.ncuM, 500), balanced tiles off then on
                for (Object[] s : GEMM24_SHAPES)
                    if ((Boolean) s[3]) gemm24Ncu(cuda, gemm, (Integer) s[1], (Integer) s[2], Integer.getInteger("gemm.ncuM", 500));
                return;
            }
            if (args.length > 0 && args[0].equals("small")) {   // M <= 32: the SMALL / MEDIUM rings' depth, both plans
                for (Object[] s : SMALL_SHAPES) smallShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy);
                return;
            }
            if (args.length > 0 && args[0].equals("ncu")) {   // eager launches for Nsight Compute (no graph), 512 tokens
                ncuLaunches(cuda, gemm);
                return;
            }
            if (args.length > 0 && args[0].equals("ncu-ws")) {   // eager launches for Nsight Compute: the large-M tiles (run 39-gemm8)
                ncuWarpSpecialized(cuda, gemm);
                return;
            }
            if (args.length > 0 && args[0].equals("pp")) {   // M >= 512: the ping-pong tiles beside the default plan; k/v's splits; the invariant plan at 434/512
                ppResources(cuda, gemm);
                for (Object[] s : SHAPES) ppShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], new int[]{512, 2048, 8192});
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) ppShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], new int[]{16384});
                kvShape(cuda, gemm, 1024, 4096, new int[]{512, 2048, 8192});
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) invariantPoints(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], new int[]{434, 512});
                return;
            }
            if (args.length > 0 && args[0].equals("cluster")) {   // run 88-small22: split-K by atomics (C zeroed first) against the cluster-reduced form, off / on / off / on
                int[] ms = Arrays.stream(System.getProperty("gemm.clusterM", "128,107,64,48,256").split(",")).mapToInt(Integer::parseInt).toArray();
                for (int m : ms)
                    for (Object[] s : CLUSTER_SHAPES) clusterPoint(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], m, (Boolean) s[3]);
                return;
            }
            if (args.length > 0 && args[0].equals("b128g")) {   // run 94-b128g: every tile form x K slices (atomics or none) at 65-256 tokens; prints TUNED entries
                int[] ms = Arrays.stream(System.getProperty("gemm.b128gM", "128,256").split(",")).mapToInt(Integer::parseInt).toArray();
                java.util.List<String> only = Arrays.asList(System.getProperty("gemm.b128gShapes", "1b,7b").split(","));
                double minGain = Double.parseDouble(System.getProperty("gemm.b128gMinGain", "0.02"));
                for (Object[] s : B128G_SHAPES)
                    if (only.contains(((String) s[0]).substring(0, 2)))
                        for (int m : ms) b128gPoint(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], m, (String) s[3], minGain);
                return;
            }
            if (args.length > 0 && args[0].equals("few")) {   // run 61-gemm15: stream-K and the smaller tiles at the few-tile points; then the lean issue-10 table
                for (int[] pt : FEW_POINTS) fewTiles(cuda, gemm, pt[0], pt[1], pt[2]);
                leanTable(cuda, gemm, copy);
                return;
            }
            if (args.length > 0 && args[0].equals("bf16x")) {   // run 64-gemm16: issue 10's table with fp32 X (converted first) and bf16 X (the bf16 producers' feed) in the same plan
                bf16xTable(cuda, gemm, copy);
                return;
            }
            if (args.length > 0 && args[0].equals("slab-groups")) {   // run 66-gemm17: the invariant plan's slab groups off / on / off / on (slices unsummed, as the engine)
                int[] ms = Arrays.stream(System.getProperty("gemm.slabGroupsM", "65,107,128,256").split(",")).mapToInt(Integer::parseInt).toArray();
                for (int[] nk : new int[][]{{4096, 4096}, {4096, 11008}, {5120, 5120}, {5120, 13824}, {2048, 8192}})
                    for (int m : ms) slabGroups(cuda, gemm, nk[0], nk[1], m);
                gemm.slabGroups(true);
                return;
            }
            if (args.length > 0 && args[0].equals("pp-mid")) {   // run 61-gemm15 call 2: the mid-range ping-pong rule off / on / off / on
                for (int[] pt : PP_MID_POINTS) ppMid(cuda, gemm, pt[0], pt[1], pt[2]);
                return;
            }
            if (args.length > 0 && args[0].equals("pp-rule")) {   // M in -Dgemm.ppM (default 512,2048,8192): the plan with and without the ping-pong rule, interleaved (run 49-pp10); -Dgemm.residual=true: C +=
                int[] ms = java.util.Arrays.stream(System.getProperty("gemm.ppM", "512,2048,8192").split(",")).mapToInt(Integer::parseInt).toArray();
                String only = System.getProperty("gemm.ppShapes", "");   // e.g. 4096x4096,4096x11008: those N×K only
                for (Object[] s : SHAPES)
                    if (only.isEmpty() || java.util.Arrays.asList(only.split(",")).contains(s[1] + "x" + s[2]))
                        ppRuleShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], ms);
                return;
            }
            if (args.length > 0 && args[0].equals("residual")) {   // run 57-ores12: the residual-adding stage taken apart; the epilogue by tile
                int[] ms = Arrays.stream(System.getProperty("gemm.resM", "107,1852,16384").split(",")).mapToInt(Integer::parseInt).toArray();
                if (!Boolean.getBoolean("gemm.epilogueOnly")) {
                    residualStage(cuda, gemm, "llama-7b o_proj", 4096, 4096, ms);
                    residualStage(cuda, gemm, "llama-7b down", 4096, 11008, ms);
                }
                residualEpilogue(cuda, gemm);
                return;
            }
            if (args.length > 0 && args[0].equals("ncu-pp")) {   // eager launches for Nsight Compute: TMA_256 and the ping-pong tiles, 4096² at 2048
                ncuPingPong(cuda, gemm);
                return;
            }
            if (args.length > 0 && args[0].equals("deep")) {   // run 59-gemm14: the deep plan against main's at 65-256 tokens, interleaved
                int[] ms = Arrays.stream(System.getProperty("gemm.deepM", "64,107,128,192,256,500").split(",")).mapToInt(Integer::parseInt).toArray();
                for (Object[] s : ENGINE_SHAPES) deepShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy, ms);
                for (Object[] s : LLAMA1B_SHAPES) deepShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy, ms);
                return;
            }
            if (args.length > 0 && args[0].equals("inv11")) {   // run 53-inv11: the invariant plan before / after at llama-7b's shapes, 434-2048 tokens
                int[] ms = Arrays.stream(System.getProperty("gemm.inv11M", "434,512,1024,2048").split(",")).mapToInt(Integer::parseInt).toArray();
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) inv11Shape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], ms);
                return;
            }
            if (args.length > 0 && args[0].equals("ws")) {   // M >= 512: the TMA tiles side by side, the invariant plan's TMA_192 forms
                resources(cuda, gemm);
                for (Object[] s : SHAPES) wsShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], new int[]{512, 2048, 8192});
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) wsShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], new int[]{16384});
                slicedResources(cuda, gemm);
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000 && gemm.invariantSlices((Integer) s[1], (Integer) s[2]) > 1)
                        sliced192Shape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], SLICED_MS);
                return;
            }
            resources(cuda, gemm);
            if (sweep) {
                TileSweep.run(cuda, gemm, copy);
                return;
            }
            if (args.length > 0 && args[0].equals("splits")) splitSweep(cuda, gemm, copy);
            if (args.length > 0 && args[0].equals("l2")) {   // run 64-dec16: the GEMM's W prefetched into the L2 during the window before it
                int[] windows = Arrays.stream(System.getProperty("gemm.l2Windows", "1000,3000").split(",")).mapToInt(Integer::parseInt).toArray();
                for (int it : windows)
                    for (Object[] s : ENGINE_SHAPES)
                        if ((Integer) s[1] != 32000) l2Shape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy, it);
                return;
            }
            if (args.length > 0 && args[0].equals("trigger")) {   // run 93-gemv23: the early trigger behind a window kernel, M = 1
                // windows: blocks x rounds (32 x 2000: about the b1 attention's 32 work-groups and 8 us; 16 x 800: a norm's 16 and ~4 us)
                int[][] windows = Arrays.stream(System.getProperty("gemm.triggerWindows", "32x2000,16x800").split(","))
                        .map(w -> Arrays.stream(w.split("x")).mapToInt(Integer::parseInt).toArray()).toArray(int[][]::new);
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) triggerShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy, windows);
                return;
            }
            if (args.length > 0 && args[0].equals("engine")) {
                for (Object[] s : ENGINE_SHAPES) engineShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy);
                return;
            }
            if (args.length > 0 && args[0].equals("raster")) {   // M >= 256: both plans in the grouped raster and row-major
                for (Object[] s : SHAPES) rasterShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], new int[]{256, 512, 2048, 8192});
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) rasterShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], new int[]{16384});
                return;
            }
            if (args.length > 0 && args[0].equals("mid")) {   // 65-256 tokens: every mid-range form of both plans, and the rule before
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) midShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy, MID_MS);
                for (Object[] s : SHAPES) {
                    int n = (Integer) s[1], k = (Integer) s[2];
                    boolean engine = Arrays.stream(ENGINE_SHAPES).anyMatch(e -> (Integer) e[1] == n && (Integer) e[2] == k);
                    if (!engine) midShape(cuda, gemm, (String) s[0], n, k, copy, new int[]{128, 256});
                }
                return;
            }
            if (args.length > 0 && args[0].equals("splits-mid")) {   // 104-128 tokens: the default plan and every split of two tiles
                for (Object[] s : ENGINE_SHAPES)
                    if ((Integer) s[1] != 32000) splitsShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy, new int[]{104, 128});
                for (Object[] s : LLAMA1B_SHAPES) splitsShape(cuda, gemm, (String) s[0], (Integer) s[1], (Integer) s[2], copy, new int[]{128});
                return;
            }
            if (args.length > 0 && args[0].equals("invariant")) {   // the invariant plan above 64 tokens only, before and now
                for (Object[] s : SHAPES) invariantOnly(cuda, gemm, mma, (String) s[0], (Integer) s[1], (Integer) s[2]);
                return;
            }
            for (Object[] s : SHAPES) {
                shape(cuda, gemm, mma, (String) s[0], (Integer) s[1], (Integer) s[2], copy, quick ? new int[]{1, 16, 64, 512, 8192} : MS);
                if (quick) break;
            }
        }
    }

    /** Run 94-b128g's products (name, N, K, how the engine writes C: "store" C =, "add" C += the residual, "swiglu" the SwiGLU epilogue into bf16 h). */
    static final Object[][] B128G_SHAPES = {{"1b q|k|v", 3072, 2048, "store"}, {"1b o", 2048, 2048, "add"}, {"1b gate|up", 16384, 2048, "swiglu"},
            {"1b down", 2048, 8192, "add"}, {"1b lm_head", 128256, 2048, "store"}, {"7b q|k|v", 12288, 4096, "store"}, {"7b o", 4096, 4096, "add"}, {"7b gate|up", 22016, 4096, "swiglu"},
            {"7b down", 4096, 11008, "add"}};

    /** The table name of a plan's tiles ({@code Gemm.tunedTiles}): deep tiles by their W rows. */
    static String tunedName(Gemm.Tiles t) {
        return t.name().startsWith("deep") ? "deep" + t.bn() : t.name();
    }

    /**
     * One point of "b128g": the default plan (without the table), then every candidate once — TMA_128, TMA_64X2, TMA_N64 (and
     * TMA_256 above 128 tokens) in each distinct cut of K into 1, 2, 3, 4, 5, 6 or 8 slices where the unsplit tiles fill less than
     * one wave (split: fp32 atomics into C, zeroed first when C is stored), the ping-pong kernel unsplit, every deep candidate — with bf16 X as the engine feeds it and C written as the engine
     * writes it ("swiglu": unsplit forms with the SwiGLU epilogue only). The fastest is then timed against the plan again,
     * plan / best / plan / best; if it is at least {@code minGain} faster there, spot-checked (C = X·Wᵀ against a double dot
     * product) and printed as a "TUNED NxKxM=tiles/slices" line. µs; "CSV,b128g,name,N,K,M,form,tiles,slices,us".
     */
    private static void b128gPoint(CudaBackend cuda, Gemm gemm, String name, int n, int k, int m, String mode, double minGain) {
        try (Operands o = new Operands(cuda, m, n, k); BFloat16Array h = new BFloat16Array(Math.max(1, m * n / 2))) {
            cuda.allocateOnDevice(h);
            gemm.midTuned(false);
            boolean swiglu = mode.equals("swiglu"), add = mode.equals("add");
            Gemm.Plan plan = gemm.plan(m, n, k, true, true);
            java.util.List<Gemm.Plan> cands = new java.util.ArrayList<>();
            java.util.List<Gemm.Tiles> tiles = new java.util.ArrayList<>(java.util.List.of(Gemm.TMA_128, Gemm.TMA_64X2, Gemm.TMA_N64));
            if (m > 128) tiles.add(Gemm.TMA_256);
            for (Gemm.Tiles t : tiles) {
                int last = 0;
                long resident = 132L * gemm.blocksPerSm(t), tilesOf = (long) ((n + t.bn() - 1) / t.bn()) * ((m + t.bm() - 1) / t.bm());
                for (int splits : new int[]{1, 2, 3, 4, 5, 6, 8}) {
                    if (splits > 1 && (swiglu || tilesOf >= resident)) break;   // split-K only under a wave of tiles; SwiGLU's epilogue unsplit
                    Gemm.Plan p = gemm.plan(m, n, k, t, splits, true);
                    if (p.splits() == last) continue;
                    last = p.splits();
                    cands.add(p);
                }
            }
            cands.add(gemm.pingPongPlan(m, n, k, Gemm.TMA_PP128, true));
            for (Gemm.Plan p : gemm.deepCandidates(m, n, k, true)) if (!swiglu || p.splits() == 1) cands.add(p);
            double planUs = b128gTime(cuda, gemm, plan, o, h, m, mode);
            System.out.println("CSV,b128g," + name + "," + n + "," + k + "," + m + ",plan," + plan.tiles().name() + "," + plan.splits() + "," + planUs);
            StringBuilder line = new StringBuilder(String.format("b128g %-10s N=%-5d K=%-5d M=%-3d %s floor %.2f us | plan %.2f [%s/%d] |", name, n, k, m,
                    add ? "C+=" : swiglu ? "h= " : "C= ", 2.0 * n * k / 4.3e6, planUs, plan.tiles().name(), plan.splits()));
            Gemm.Plan best = plan;
            double bestUs = planUs;
            for (Gemm.Plan p : cands) {
                double us;
                try {
                    us = b128gTime(cuda, gemm, p, o, h, m, mode);
                } catch (RuntimeException e) {
                    line.append(" ").append(tunedName(p.tiles())).append("/").append(p.splits()).append(" failed");
                    System.out.println("b128g candidate " + p + " failed: " + e);
                    continue;
                }
                if (Double.isNaN(us)) continue;   // no SwiGLU epilogue
                line.append(String.format(" %s/%d %.2f", tunedName(p.tiles()), p.splits(), us));
                System.out.println("CSV,b128g," + name + "," + n + "," + k + "," + m + ",cand," + p.tiles().name() + "," + p.splits() + "," + us);
                if (us < bestUs) { best = p; bestUs = us; }
            }
            System.out.println(line);
            if (best == plan) {
                System.out.printf("b128g %-10s M=%-3d the plan is the fastest [%s]%n", name, m, plan);
                return;
            }
            double[] t = new double[4];
            for (int i = 0; i < 4; i++) t[i] = b128gTime(cuda, gemm, i % 2 == 0 ? plan : best, o, h, m, mode);
            double ratio = (t[1] + t[3]) / (t[0] + t[2]);
            System.out.printf("b128g %-10s M=%-3d plan %.2f best %.2f plan %.2f best %.2f us: best/plan %.3f [%s -> %s]%n", name, m, t[0], t[1], t[2], t[3], ratio, plan, best);
            System.out.println("CSV,b128gpick," + name + "," + n + "," + k + "," + m + "," + plan.tiles().name() + "/" + plan.splits() + ","
                    + best.tiles().name() + "/" + best.splits() + "," + t[0] + "," + t[1] + "," + t[2] + "," + t[3]);
            if (ratio <= 1 - minGain) {
                checkBf16X(cuda, gemm, best, o, m);
                System.out.println("TUNED " + n + "x" + k + "x" + m + "=" + tunedName(best.tiles()) + "/" + best.splits());
            }
        } catch (RuntimeException | AssertionError e) {
            System.out.println("FAILED b128g " + name + " " + n + "x" + k + " M=" + m + ": " + e);
        }
    }

    /** µs a product of plan p as the engine runs it (mode: store, add, swiglu); NaN where p has no SwiGLU epilogue. */
    private static double b128gTime(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, BFloat16Array h, int m, String mode) {
        if (!mode.equals("swiglu")) return timeBf16XAdd(cuda, gemm, p, o, m, mode.equals("add"));
        if (!Gemm.swiGluEpilogue(p, true)) return Double.NaN;
        int n = o.n, k = o.k, copies = o.w.length;
        double estimate = Math.max(2.0 * m * n * k / 300e12, 2.0 * n * k / 3.5e12);
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / estimate)));
        for (int i = 0; i < Math.min(launches, copies); i++)
            if (!gemm.matmulSwiGlu(o.xb, m, o.w[i], n, k, h, p)) return Double.NaN;
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < launches; i++) gemm.matmulSwiGlu(o.xb, m, o.w[i % copies], n, k, h, p); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
        }
    }

    /** Plan p's C = X·Wᵀ with the bf16 X, spot-checked against a double dot product of the widened X. */
    private static void checkBf16X(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m) {
        int n = o.n, k = o.k;
        gemm.matmul(o.xb, m, o.w[0], n, k, o.c, false, p);
        cuda.synchronize();
        try (FloatArray xf = new FloatArray(m * k)) {
            cuda.toHost(o.xb);
            for (int i = 0; i < m * k; i++) xf.set(i, o.xb.get(i));
            cuda.toDevice(xf);
            check(cuda, xf, o.w[0], o.c, m, n, k);
        }
    }

    /** Llama-7b's default-mode products at seed workload 2's decode batch (name, N, K, whether the engine adds into C). */
    static final Object[][] GEMM24_SHAPES = {{"7b q|k|v", 12288, 4096, false}, {"7b o", 4096, 4096, true}, {"7b down", 4096, 11008, true},
            {"7b gate|up", 22016, 4096, false}};

    /**
     * One shape of "gemm24" at each M: the invariant plan without balanced token tiles (base) and with them (bal,
     * {@code Gemm.slicedBalanced}), base / bal / base / bal (bf16 X as the engine's producers feed it, W rotated over > 256 MiB,
     * a graph's median replay); bal's whole C first compared with base's bit for bit (C holding the same pattern before an add).
     * µs and % of 750 TFLOP/s; "CSV,g24,name,N,K,M,base plan,bal plan,base1,bal1,base2,bal2,differing". Run 99-gemm24 also timed
     * a residual L2 prefetch and an overlapped launch of the sliced kernel here (dropped: commit edb14aac has them).
     */
    private static void gemm24Shape(CudaBackend cuda, Gemm gemm, String name, int n, int k, boolean add, int[] ms) {
        int maxM = Arrays.stream(ms).max().orElseThrow();
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            gemm.reserveSlabs(maxM, n, k);
            for (int m : ms) {
                gemm.slicedBalanced(false);
                Gemm.Plan base = gemm.invariantPlan(m, n, k, true);
                gemm.slicedBalanced(true);
                Gemm.Plan bal = gemm.invariantPlan(m, n, k, true);
                float[] ref = gemm24Bits(cuda, gemm, base, o, m, add), got = gemm24Bits(cuda, gemm, bal, o, m, add);
                long differing = 0;
                for (int i = 0; i < ref.length; i++) if (Float.floatToRawIntBits(ref[i]) != Float.floatToRawIntBits(got[i])) differing++;
                double[] t = new double[4];
                for (int i = 0; i < t.length; i++) t[i] = timeBf16XAdd(cuda, gemm, i % 2 == 0 ? base : bal, o, m, add);
                double flop = 2.0 * m * n * k, b = (t[0] + t[2]) / 2, v = (t[1] + t[3]) / 2;   // % of 750 TFLOP/s: flop / (µs · 1e6) TFLOP/s
                System.out.printf("g24 %-10s N=%-5d K=%-5d M=%-4d %s base %.1f bal %.1f base %.1f bal %.1f us: base %.0f%%, bal %.0f%% of 750 TFLOP/s,"
                                + " bal/base %.3f; %d elements differ [%s | %s]%n", name, n, k, m, add ? "C+=" : "C= ", t[0], t[1], t[2], t[3],
                        100 * flop / (b * 1e6) / 750, 100 * flop / (v * 1e6) / 750, v / b, differing, base, bal);
                System.out.println("CSV,g24," + name + "," + n + "," + k + "," + m + "," + base.tiles().name() + "/" + base.splits() + ","
                        + bal.tiles().name() + "/" + bal.splits() + "," + t[0] + "," + t[1] + "," + t[2] + "," + t[3] + "," + differing);
            }
        } catch (RuntimeException | AssertionError e) {
            System.out.println("FAILED g24 " + name + " " + n + "x" + k + ": " + e);
        } finally {
            gemm.slicedBalanced(Boolean.parseBoolean(System.getProperty("arbor.gemm.slicedBalanced", "true")));
        }
    }

    /** All of C (m × n) after one product of plan p: C first filled with a fixed pattern when {@code add} (the residual), else zeros. */
    private static float[] gemm24Bits(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m, boolean add) {
        int n = o.n, k = o.k;
        cuda.launch(FILL_F32, Launch.cover(m * n, 256), o.c, m * n, 11, add ? 4f : 0f);
        gemm.matmul(o.xb, m, o.w[0], n, k, o.c, add, p);
        cuda.synchronize();
        cuda.toHost(o.c);
        float[] c = new float[m * n];
        for (int i = 0; i < c.length; i++) c[i] = o.c.get(i);
        return c;
    }

    /** "gemm24-ncu": o / down at m tokens, one eager product each (C += X·Wᵀ) without balanced token tiles, then with them. */
    private static void gemm24Ncu(CudaBackend cuda, Gemm gemm, int n, int k, int m) {
        try (Operands o = new Operands(cuda, m, n, k)) {
            for (boolean on : new boolean[]{false, true}) {
                gemm.slicedBalanced(on);
                Gemm.Plan p = gemm.invariantPlan(m, n, k, true);
                gemm.matmul(o.xb, m, o.w[0], n, k, o.c, true, p);
                cuda.synchronize();
                System.out.println("ncu launch: " + n + "x" + k + " M=" + m + " [" + p + "]");
            }
        }
    }

    /**
     * Run 61-gemm15's points (N, K, M): issue 10's points below 80% of cuBLAS after run 49-pp10 (k/v 1024×4096 and 4096² at
     * 512 / 2048 / 8192, 6144×4096 at 512, 14336×4096 at 8192, the TMA_256X3 points 11008×4096 at 512 / 2048 and 22016×4096 at
     * 2048), and llama3.2-1b's products at the b128 decode step's 128 tokens (q|k|v, o, gate|up, down, lm_head; issue 12).
     */
    static final int[][] FEW_POINTS = {{1024, 4096, 512}, {1024, 4096, 2048}, {1024, 4096, 8192}, {4096, 4096, 512}, {4096, 4096, 2048},
            {4096, 4096, 8192}, {6144, 4096, 512}, {14336, 4096, 8192}, {11008, 4096, 512}, {11008, 4096, 2048}, {22016, 4096, 2048},
            {3072, 2048, 128}, {2048, 2048, 128}, {16384, 2048, 128}, {2048, 8192, 128}, {128256, 2048, 128}};

    /** (N, K, M) where the mid-range ping-pong rule ({@code Gemm#pingPongMidFaster}) changes the default plan: llama3.2-1b's gate|up and lm_head, llama-7b's and Llama-3-8B's lm_head, Llama-3-8B's gate|up, at 113-128 tokens. */
    static final int[][] PP_MID_POINTS = {{16384, 2048, 128}, {16384, 2048, 120}, {128256, 2048, 128}, {128256, 2048, 116},
            {32000, 4096, 128}, {32000, 4096, 120}, {128256, 4096, 128}, {28672, 4096, 128}, {14336, 4096, 128}, {14336, 4096, 120}};

    /**
     * The split-K products of llama3.2-1b's decode step and llama-7b's (name, N, K, whether the engine adds into C: o and down add
     * into the residual, q|k|v stores).
     */
    static final Object[][] CLUSTER_SHAPES = {{"1b q|k|v", 3072, 2048, false}, {"1b o", 2048, 2048, true}, {"1b down", 2048, 8192, true},
            {"7b q|k|v", 12288, 4096, false}, {"7b o", 4096, 4096, true}, {"7b down", 4096, 11008, true}};

    /**
     * One point of "cluster": the default plan (split-K by atomics, C zeroed first unless added into) and its cluster-reduced form
     * ({@link Gemm#clusterPlan}: the same tiles, slices and grid), off / on / off / on, bf16 X as the engine's producers feed it; the
     * cluster form checked against the reference once (fp32 X). µs, "CSV,cluster,name,N,K,M,plan,off1,on1,off2,on2".
     */
    private static void clusterPoint(CudaBackend cuda, Gemm gemm, String name, int n, int k, int m, boolean accumulate) {
        try (Operands o = new Operands(cuda, m, n, k)) {
            gemm.clusterSplitK(false);
            Gemm.Plan off = gemm.plan(m, n, k, true, true);
            if (!Gemm.clusterApplies(off)) {
                System.out.printf("cluster %-9s N=%-6d K=%-5d M=%-4d not split-K on the TMA tiles: %s%n", name, n, k, m, off);
                return;
            }
            Gemm.Plan on = Gemm.clusterPlan(off);
            time(cuda, gemm, on, o, m, true);   // the cluster form against the reference (fp32 X, C = X·Wᵀ)
            double[] t = new double[4];
            for (int i = 0; i < 4; i++) t[i] = timeBf16XAdd(cuda, gemm, i % 2 == 0 ? off : on, o, m, accumulate);
            System.out.printf("cluster %-9s N=%-6d K=%-5d M=%-4d %s off %.2f on %.2f off %.2f on %.2f us: on/off %.3f (weight floor %.2f us) [%s]%n",
                    name, n, k, m, accumulate ? "C+=" : "C= ", t[0], t[1], t[2], t[3], (t[1] + t[3]) / (t[0] + t[2]), 2.0 * n * k / 4.3e6, off);
            System.out.println("CSV,cluster," + name + "," + n + "," + k + "," + m + "," + off.tiles().name() + "/" + off.splits() + "," + t[0] + "," + t[1] + "," + t[2] + "," + t[3]);
        } catch (RuntimeException | AssertionError e) {
            System.out.println("FAILED cluster " + name + " " + n + "x" + k + " M=" + m + ": " + e);
        }
    }

    /** As {@link #timeBf16X(CudaBackend, Gemm, Gemm.Plan, Operands, int, boolean)} with {@code accumulate} (C += X·Wᵀ), unchecked. */
    static double timeBf16XAdd(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m, boolean accumulate) {
        int n = o.n, k = o.k, copies = o.w.length;
        double estimate = Math.max(2.0 * m * n * k / 300e12, 2.0 * n * k / 3.5e12);
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / estimate)));
        for (int i = 0; i < Math.min(launches, copies); i++) gemm.matmul(o.xb, m, o.w[i], n, k, o.c, accumulate, p);
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < launches; i++) gemm.matmul(o.xb, m, o.w[i % copies], n, k, o.c, accumulate, p); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
        }
    }

    /** One point of pp-mid: the default plan without the mid-range ping-pong rule and with it, off / on / off / on, µs ("CSV,ppmid,N,K,M,off tiles,on tiles,off1,on1,off2,on2"). */
    /**
     * One point of the invariant plan with slab groups off / on / off / on ({@link Gemm#slabGroups}), through
     * {@link #timePartial} (the slabs unsummed, as the engine's fused o / down / q|k|v stages take them); µs,
     * "CSV,slabgroups,N,K,M,off plan,on plan,off,on,off,on".
     */
    private static void slabGroups(CudaBackend cuda, Gemm gemm, int n, int k, int m) {
        try (Operands o = new Operands(cuda, m, n, k)) {
            gemm.slabGroups(false);
            Gemm.Plan off = gemm.invariantPlan(m, n, k, true);
            gemm.slabGroups(true);
            Gemm.Plan on = gemm.invariantPlan(m, n, k, true);
            double[] t = new double[4];
            for (int i = 0; i < 4; i++) t[i] = timePartial(cuda, gemm, i % 2 == 0 ? off : on, o, m);
            System.out.printf("slab-groups N=%-6d K=%-5d M=%-4d off %.1f on %.1f off %.1f on %.1f us: on/off %.3f [%s -> %s]%n", n, k, m, t[0], t[1], t[2], t[3],
                    (t[1] + t[3]) / (t[0] + t[2]), off, on);
            System.out.println("CSV,slabgroups," + n + "," + k + "," + m + "," + off.tiles().name() + "/" + off.splits() + "," + on.tiles().name() + "/"
                    + on.splits() + "/g" + on.slabGroup() + "," + t[0] + "," + t[1] + "," + t[2] + "," + t[3]);
        } catch (RuntimeException | AssertionError e) {
            System.out.println("FAILED slab-groups " + n + "x" + k + " M=" + m + ": " + e);
        }
    }

    private static void ppMid(CudaBackend cuda, Gemm gemm, int n, int k, int m) {
        try (Operands o = new Operands(cuda, m, n, k)) {
            gemm.pingPongMid(false);
            Gemm.Plan off = gemm.plan(m, n, k, true, true);
            gemm.pingPongMid(true);
            Gemm.Plan on = gemm.plan(m, n, k, true, true);
            double[] t = new double[4];
            for (int i = 0; i < 4; i++) t[i] = time(cuda, gemm, i % 2 == 0 ? off : on, o, m, i == 1);
            System.out.printf("pp-mid N=%-6d K=%-5d M=%-4d off %.1f on %.1f off %.1f on %.1f us: on/off %.3f [%s -> %s]%n", n, k, m, t[0], t[1], t[2], t[3],
                    (t[1] + t[3]) / (t[0] + t[2]), off, on);
            System.out.println("CSV,ppmid," + n + "," + k + "," + m + "," + off.tiles().name() + "/" + off.splits() + "," + on.tiles().name() + "," + t[0] + "," + t[1] + "," + t[2] + "," + t[3]);
        } catch (RuntimeException | AssertionError e) {
            System.out.println("FAILED pp-mid " + n + "x" + k + " M=" + m + ": " + e);
        }
    }

    /**
     * One few-tile point: main's default plan (stream-K off, as on main), then stream-K on each plain TMA tile that fits the
     * tokens ({@link Gemm#streamKPlan}: TMA_128, TMA_256 and TMA_256X3 from 256 tokens, TMA_64X2, TMA_N64), the narrow tiles
     * under the one-wave split-K rule (TMA_N64 64 W rows × 128 tokens, TMA_64X2 128 × 64), the ping-pong plan, the default plan
     * with the stream-K rule ({@link Gemm#streamK}), main's plan again (drift) and main's plan with bf16 X (no conversion pass,
     * as cuBLAS is timed). µs as {@link #time}; "CSV,few,N,K,M,form,plan tiles,blocks or splits,us". Stream-K forms spot-checked
     * against a double dot product where W and X are small enough to copy back.
     */
    private static void fewTiles(CudaBackend cuda, Gemm gemm, int n, int k, int m) {
        try (Operands o = new Operands(cuda, m, n, k)) {
            boolean check = (long) n * k <= (64L << 20) && m <= 2048;
            java.util.List<Object[]> forms = new java.util.ArrayList<>();
            gemm.streamK(false);
            forms.add(new Object[]{"main", gemm.plan(m, n, k, true, true)});
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_256X3, Gemm.TMA_64X2, Gemm.TMA_N64})
                if (t.bm() <= Math.max(128, m)) forms.add(new Object[]{"sk-" + t.name(), gemm.streamKPlan(m, n, k, t, true)});
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_N64, Gemm.TMA_64X2})
                forms.add(new Object[]{"split-" + t.name(), gemm.plan(m, n, k, t, gemm.oneWaveSplits(m, n, k, t), true)});
            if (m >= 128) forms.add(new Object[]{"pp128", gemm.pingPongPlan(m, n, k, Gemm.TMA_PP128, true)});
            gemm.streamK(true);
            Gemm.Plan rule = gemm.plan(m, n, k, true, true);
            gemm.streamK(false);
            forms.add(new Object[]{"sk-rule", rule});
            forms.add(new Object[]{"main-again", forms.get(0)[1]});
            StringBuilder line = new StringBuilder(String.format("few N=%-6d K=%-5d M=%-5d |", n, k, m));
            for (Object[] f : forms) {
                String name = (String) f[0];
                Gemm.Plan p = (Gemm.Plan) f[1];
                try {
                    double us = time(cuda, gemm, p, o, m, check && name.startsWith("sk"));
                    int blocks = p.persistent() ? p.launch().grid()[0] : p.splits();
                    line.append(String.format(" %s %.1f |", name, us));
                    System.out.println("CSV,few," + n + "," + k + "," + m + "," + name + "," + p.tiles().name() + "," + blocks + "," + us + "," + p.toString().replace(',', ';'));
                } catch (RuntimeException | AssertionError e) {
                    line.append(" ").append(name).append(" FAILED ").append(e).append(" |");
                    System.out.println("FAILED few " + n + "x" + k + " M=" + m + " " + name + ": " + e);
                }
            }
            double bx = timeBf16X(cuda, gemm, o, m);
            line.append(String.format(" main bf16 X %.1f", bx));
            System.out.println("CSV,few," + n + "," + k + "," + m + ",main-bf16x,-,-," + bx + ",-");
            System.out.println(line);
        }
    }

    /**
     * Issue 10's table, lean: the default plan alone (as on main: stream-K off) at the 12 shapes × M ∈ {1, 8, 16, 32, 64, 512, 2048,
     * 8192}, and llama3.2-1b's five products at 128 tokens; "CSV,gemm" lines as {@link #shape} prints them (gemm_torch.py times
     * cuBLAS at each), "CSV,bx" (bf16 X) from 512 tokens.
     */
    private static void leanTable(CudaBackend cuda, Gemm gemm, double copy) {
        gemm.streamK(false);
        java.util.List<Object[]> shapes = new java.util.ArrayList<>(Arrays.asList(SHAPES));
        for (Object[] s : new Object[][]{{"llama3.2-1b q|k|v", 3072, 2048}, {"llama3.2-1b o_proj", 2048, 2048}, {"llama3.2-1b gate|up", 16384, 2048},
                {"llama3.2-1b down", 2048, 8192}, {"llama3.2-1b lm_head", 128256, 2048}}) shapes.add(s);
        for (Object[] s : shapes) {
            String name = (String) s[0];
            int n = (Integer) s[1], k = (Integer) s[2];
            int[] ms = name.startsWith("llama3.2-1b") ? new int[]{128} : new int[]{1, 8, 16, 32, 64, 512, 2048, 8192};
            try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
                for (int m : ms) {
                    try {
                        Gemm.Plan p = gemm.plan(m, n, k, true, true);
                        double us = time(cuda, gemm, p, o, m, false);
                        double tflops = 2.0 * m * n * k / (us * 1e-6) / 1e12, floorUs = 2.0 * n * k / copy * 1e6;
                        System.out.printf("%-32s N=%-6d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s %s  [%s]%n", name, n, k, m, us, tflops,
                                m <= 64 ? String.format("%5.1f%% of weight-read floor (%.1f us)", 100 * floorUs / us, floorUs) : "", p);
                        System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + us + "," + tflops + "," + (m <= 64 ? 100 * floorUs / us : -1)
                                + "," + p.tiles().name() + "," + p.splits());
                        if (m >= 512) System.out.println("CSV,bx," + name + "," + n + "," + k + "," + m + "," + timeBf16X(cuda, gemm, o, m));
                    } catch (RuntimeException | AssertionError e) {
                        System.out.println("FAILED " + name + " M=" + m + ": " + e);
                    }
                }
            }
        }
    }

    /**
     * {@code bf16x} (run 64-gemm16): issue 10's table (12 shapes × M ∈ {@link #MS}, llama3.2-1b's products at 128 tokens) in the
     * default plan, each point timed with fp32 X ("CSV,gemm": X converted first above 64 tokens, on load at ≤ 16, as the
     * engine's fp32 producers feed it) and then, in the same plan, with bf16 X ("CSV,bx": {@code Gemm.matmul(BFloat16Array, ...,
     * Plan)}, what the engine's bf16 producers feed above 64 tokens, {@code arbor.gemm.bf16Producers}); the driver's registers,
     * shared memory and occupancy of each kernel × tiles the plans take ("CSV,res"). cuBLAS from bench/peers/gemm_torch.py on the
     * same lines.
     */
    private static void bf16xTable(CudaBackend cuda, Gemm gemm, double copy) {
        // -Dgemm.bf16xAbba=true: products of ≥ 100 GFLOP timed fp32, bf16, bf16, fp32 (run 64-gemm16 timed them once each, fp32 X
        // first, and found bf16 X 2-15% slower at the widest 2048-8192-token products only: the order, the clocks or the L2 — X
        // hot after the conversion pass, as after a producer in the engine — not told apart)
        boolean abba = Boolean.getBoolean("gemm.bf16xAbba");
        java.util.List<Object[]> shapes = new java.util.ArrayList<>(Arrays.asList(SHAPES));
        for (Object[] s : new Object[][]{{"llama3.2-1b q|k|v", 3072, 2048}, {"llama3.2-1b o_proj", 2048, 2048}, {"llama3.2-1b gate|up", 16384, 2048},
                {"llama3.2-1b down", 2048, 8192}, {"llama3.2-1b lm_head", 128256, 2048}}) shapes.add(s);
        java.util.Set<String> reported = new java.util.HashSet<>();
        for (Object[] s : shapes) {
            String name = (String) s[0];
            int n = (Integer) s[1], k = (Integer) s[2];
            int[] ms = name.startsWith("llama3.2-1b") ? new int[]{128} : MS;
            try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
                for (int m : ms) {
                    try {
                        Gemm.Plan p = gemm.plan(m, n, k, true, true);
                        double us = time(cuda, gemm, p, o, m, false);
                        double bx = timeBf16X(cuda, gemm, p, o, m, m == 128 || m == 2048);
                        if (abba && 2.0 * m * n * k >= ABBA_MIN_FLOP) {   // the second order too (bf16, fp32): each form's mean of both places
                            bx = (bx + timeBf16X(cuda, gemm, p, o, m, false)) / 2;
                            us = (us + time(cuda, gemm, p, o, m, false)) / 2;
                        }
                        double tflops = 2.0 * m * n * k / (us * 1e-6) / 1e12, floorUs = 2.0 * n * k / copy * 1e6;
                        System.out.printf("%-32s N=%-6d K=%-5d M=%-4d fp32 X %9.1f us %7.1f TFLOP/s | bf16 X %9.1f us (%.3f) %s [%s]%n", name, n, k, m, us, tflops,
                                bx, bx / us, m <= 64 ? String.format("%5.1f%% of weight-read floor (%.1f us)", 100 * floorUs / us, floorUs) : "", p);
                        System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + us + "," + tflops + "," + (m <= 64 ? 100 * floorUs / us : -1)
                                + "," + p.tiles().name() + "," + p.splits());
                        System.out.println("CSV,bx," + name + "," + n + "," + k + "," + m + "," + bx);
                        Kernel kernel = Gemm.kernelFor(p);
                        String key = kernel.name() + "/" + p.tiles().name();
                        if (reported.add(key)) {
                            Object[] args = p.tiles().tma() ? Gemm.tmaArguments(p, o.xb, o.w[0], o.c, null, null, m, m, n, k, 0)
                                    : Gemm.launchArguments(p, o.x, o.w[0], o.c, m, n, k);
                            CudaModule.Resources r = cuda.resources(kernel, p.launch(), args);
                            System.out.printf("resources %-28s %-12s %3d regs, %6d B dyn smem, %d B local, %d blocks/SM (%.0f%% warp occupancy)%n",
                                    kernel.name(), p.tiles().name(), r.registers(), p.launch().sharedBytes(), r.localBytes(), r.blocksPerSm(), 100 * r.occupancy(p.tiles().threads()));
                            System.out.println("CSV,res," + kernel.name() + "," + p.tiles().name() + "," + r.registers() + "," + p.launch().sharedBytes() + "," + r.localBytes()
                                    + "," + r.blocksPerSm() + "," + r.occupancy(p.tiles().threads()));
                        }
                    } catch (RuntimeException | AssertionError e) {
                        System.out.println("FAILED " + name + " M=" + m + ": " + e);
                    }
                }
            }
        }
    }

    /** {@code bf16x} with {@code -Dgemm.bf16xAbba=true}: the products timed in both orders from this many FLOPs (2·M·N·K). */
    static final double ABBA_MIN_FLOP = 100e9;

    /** {@code small}: the engine's llama-7b products at M ≤ 32 and Llama-3's k/v projection (1024×4096, 32-34% of the floor in run 26-gemv4). */
    static final Object[][] SMALL_SHAPES = {ENGINE_SHAPES[1], ENGINE_SHAPES[3], ENGINE_SHAPES[0], ENGINE_SHAPES[2], {"k/v_proj (Llama-3-8B)", 1024, 4096},
            ENGINE_SHAPES[4]};

    /**
     * The decode tiles with deeper cp.async rings (run 39-gemv8): at M ∈ {1, 4, 16} SMALL's 64×16 tile with 4 (today), 5, 6 and 8
     * stages, at M = 32 MEDIUM's 64×32 with 4 and 6, each in the invariant plan (its K slices from (n, k), slabs left unsummed
     * as the engine leaves them: "CSV,smallinv") and the default plan (the one-wave split for that tile's occupancy, fp32
     * atomics: "CSV,smalldef"); the driver's registers and blocks a multiprocessor per tile ("CSV,smallres").
     */
    private static void smallShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy) {
        double floorUs = 2.0 * n * k / copy * 1e6;
        int slices = gemm.invariantSlices(n, k);
        try (Operands o = new Operands(cuda, 32, n, k)) {
            gemm.reserveSlabs(32, n, k);
            for (int m : new int[]{1, 4, 16, 32}) {
                StringBuilder line = new StringBuilder(String.format("%-26s N=%-5d K=%-5d M=%-2d floor %5.1f us |", name, n, k, m, floorUs));
                for (int stages : m <= 16 ? new int[]{4, 5, 6, 8} : new int[]{4, 6}) {
                    Gemm.Tiles base = m <= 16 ? Gemm.SMALL : Gemm.MEDIUM;
                    Gemm.Tiles t = new Gemm.Tiles(base.name() + stages, base.wn(), base.wm(), base.mt(), base.nt(), stages);
                    try {
                        Gemm.Plan inv = gemm.slabPlan(m, n, k, t, slices, true);
                        double invUs = inv.slabs() ? timePartial(cuda, gemm, inv, o, m) : time(cuda, gemm, inv, o, m, false);
                        Gemm.Plan def = gemm.plan(m, n, k, t, gemm.oneWaveSplits(m, n, k, t), true);
                        double defUs = time(cuda, gemm, def, o, m, m == 1 && stages == 6 || m == 32 && stages == 6);
                        line.append(String.format(" %s inv/%d %.1f (%.0f%%) def/%d %.1f (%.0f%%) |", t.name(), inv.splits(), invUs, 100 * floorUs / invUs,
                                def.splits(), defUs, 100 * floorUs / defUs));
                        System.out.println("CSV,smallinv," + name + "," + n + "," + k + "," + m + "," + t.name() + "," + inv.splits() + "," + invUs);
                        System.out.println("CSV,smalldef," + name + "," + n + "," + k + "," + m + "," + t.name() + "," + def.splits() + "," + defUs);
                        if (n == 4096 && k == 4096) {
                            CudaModule.Resources r = cuda.resources(Gemm.kernelFor(def), def.launch(), Gemm.launchArguments(def, null, null, null, m, n, k));
                            System.out.println("CSV,smallres," + t.name() + "," + r.registers() + "," + def.launch().sharedBytes() + "," + r.blocksPerSm());
                        }
                    } catch (RuntimeException | AssertionError e) {
                        line.append(" ").append(t.name()).append(" FAILED ").append(e);
                    }
                }
                System.out.println(line);
            }
        }
    }

    /** {@code slices}: token counts of batch-1 and batched decode, workload 1's and 2's decode buckets and a prefill chunk. */
    static final int[] SLICES_MS = {1, 2, 4, 8, 16, 32, 64, 104, 128, 256, 512, 2048};

    /** The invariant plan's K slices by the rule before run 43-gemv9: enough for two waves of one token's SMALL blocks, at most 8. */
    static int twoWaveSlices(int n, int k, int multiprocessors) {
        int kTiles = (k + GemmKernels.BK - 1) / GemmKernels.BK;
        int blocks = (n + Gemm.SMALL.bn() - 1) / Gemm.SMALL.bn();
        int slices = Math.max(1, Math.min(Math.min(8, kTiles / 4), (2 * multiprocessors + blocks - 1) / blocks));
        int perSlice = (kTiles + slices - 1) / slices;
        return (kTiles + perSlice - 1) / perSlice;
    }

    /**
     * The invariant plan at {@link #SLICES_MS} with the slices of the rule before (two waves: "CSV,slices,...,before") and of
     * {@link Gemm#invariantSlices} (one resident wave: "now"), as the engine runs it (slabs left unsummed for the fused consumer,
     * X converted first above 16 tokens); shapes whose count did not change are skipped.
     */
    private static void slicesShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy) {
        int before = twoWaveSlices(n, k, cuda.multiprocessors()), now = gemm.invariantSlices(n, k);
        if (before == now) {
            System.out.printf("%-28s N=%-5d K=%-5d slices %d both ways: skipped%n", name, n, k, now);
            return;
        }
        double floorUs = 2.0 * n * k / copy * 1e6;
        int maxM = Arrays.stream(SLICES_MS).max().orElseThrow();
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            gemm.reserveSlabs(maxM, n, k);
            for (int m : SLICES_MS) {
                StringBuilder line = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=%-4d floor %5.1f us |", name, n, k, m, floorUs));
                for (int slices : new int[]{before, now}) {
                    String rule = slices == before ? "before" : "now";
                    try {
                        Gemm.Plan p = gemm.invariantPlan(m, n, k, slices, true);
                        double us = p.slabs() ? timePartial(cuda, gemm, p, o, m) : time(cuda, gemm, p, o, m, false);
                        line.append(String.format(" %s/%d %.1f us (%.0f%%) [%s] |", rule, slices, us, 100 * floorUs / us, p.tiles().name()
                                + (p.slabs() ? " slabs" : p.registerSlices() ? " registers" : "")));
                        System.out.println("CSV,slices," + name + "," + n + "," + k + "," + m + "," + rule + "," + slices + "," + us);
                    } catch (RuntimeException | AssertionError e) {
                        line.append(" ").append(rule).append(" FAILED ").append(e);
                    }
                }
                System.out.println(line);
            }
        }
    }

    /**
     * At 2-16 tokens, the invariant plan's slices on {@link Gemm#SMALL} with fp32 X converted on load (the plan's form:
     * "CSV,xforms,...,small-f32"), on SMALL with X converted to bf16 first ("small-bf16") and on {@link Gemm#MEDIUM} with X
     * converted first ("medium-bf16"): the same K slices, so the same bits (the mma k-order is a slice's, not a tile's);
     * run 26-gemv4 suspected the fp32-X register path of SMALL's 73-79% of the floor at 4-16 tokens on the wide weights.
     */
    private static void xFormsShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy) {
        double floorUs = 2.0 * n * k / copy * 1e6;
        int slices = gemm.invariantSlices(n, k);
        try (Operands o = new Operands(cuda, 16, n, k)) {
            gemm.reserveSlabs(16, n, k);
            for (int m : new int[]{2, 4, 8, 16}) {
                StringBuilder line = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=%-4d floor %5.1f us |", name, n, k, m, floorUs));
                Gemm.Plan small = gemm.slabPlan(m, n, k, Gemm.SMALL, slices, true), medium = gemm.slabPlan(m, n, k, Gemm.MEDIUM, slices, true);
                Gemm.Plan[] forms = {small, withConvertFirst(small), withConvertFirst(medium)};
                String[] names = {"small-f32", "small-bf16", "medium-bf16"};
                for (int f = 0; f < forms.length; f++) {
                    try {
                        Gemm.Plan p = forms[f];
                        double us = p.slabs() ? timePartial(cuda, gemm, p, o, m) : time(cuda, gemm, p, o, m, false);
                        line.append(String.format(" %s/%d %.1f us (%.0f%%) |", names[f], p.splits(), us, 100 * floorUs / us));
                        System.out.println("CSV,xforms," + name + "," + n + "," + k + "," + m + "," + names[f] + "," + p.splits() + "," + us);
                    } catch (RuntimeException | AssertionError e) {
                        line.append(" ").append(names[f]).append(" FAILED ").append(e);
                    }
                }
                System.out.println(line);
            }
        }
    }

    private static Gemm.Plan withConvertFirst(Gemm.Plan p) {
        return new Gemm.Plan(p.tiles(), p.splits(), p.kTilesPerSplit(), p.launch(), true, p.slabs(), p.registerSlices());
    }

    /** The invariant plan's token counts in the engine: workload 1's decode (~104; its graph bucket 128), 256, workload 2's decode bucket (512), its prefill chunks (~1852; 2048). */
    static final int[] SLICED_MS = {104, 128, 256, 512, 2048};

    /** Registers, shared memory and blocks a multiprocessor of the sliced kernel on its two tiles (driver figures). */
    private static void slicedResources(CudaBackend cuda, Gemm gemm) {
        Gemm.Plan p128 = gemm.slicedPlan(512, 4096, 4096, Gemm.TMA_128, 5, true), p192 = gemm.slicedPlan(512, 4096, 4096, Gemm.TMA_192, 5, true);
        for (Gemm.Plan p : new Gemm.Plan[]{p128, p192}) {
            var r = cuda.resources(Gemm.kernelFor(p), p.launch(), Gemm.tmaArguments(p, null, null, null, null, null, 1, 1, 1, 128, 0));
            System.out.printf("sliced variant %s, block %d: %d registers, %d B shared, %d B local, %d blocks/SM%n", p.tiles().name(),
                    p.launch().block()[0], r.registers(), p.launch().sharedBytes(), r.localBytes(), r.blocksPerSm());
        }
    }

    /**
     * One after the other at each point: the default plan ("CSV,sl,...,default"), the invariant plan as it chooses
     * ("now"), its same-bits forms with the same K slices — the slices in registers on TMA_128 ("reg128"), on TMA_192
     * ("reg192"; run 35-inv6 also timed TMA_128 with work-item 0 producing, "reg128i", a form removed in run 39-gemm8), TMA_128 slabs
     * ("slab128"), TMA_256 slabs at 129-256 tokens ("slab256"), TMA_64X2 slabs up to 256 ("slab64x2") — with the time model's
     * estimates beside the register forms. The TMA_192 form is spot-checked against a double dot product at 512 tokens.
     */
    private static void slicedShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        int maxM = Arrays.stream(ms).max().orElseThrow();
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            gemm.reserveSlabs(maxM, n, k);
            int slices = gemm.invariantSlices(n, k);
            for (int m : ms) {
                java.util.List<Object[]> forms = new java.util.ArrayList<>();
                forms.add(new Object[]{"default", gemm.plan(m, n, k, true, true)});
                forms.add(new Object[]{"now", gemm.invariantPlan(m, n, k, true)});
                if (slices > 1) {
                    Gemm.Plan reg128 = gemm.slicedPlan(m, n, k, Gemm.TMA_128, slices, true);
                    forms.add(new Object[]{"reg128", reg128});
                    forms.add(new Object[]{"reg192", gemm.slicedPlan(m, n, k, Gemm.TMA_192, slices, true)});
                    forms.add(new Object[]{"slab128", gemm.slabPlan(m, n, k, Gemm.TMA_128, slices, true)});
                    if (m > 128 && m <= 256) forms.add(new Object[]{"slab256", gemm.slabPlan(m, n, k, Gemm.TMA_256, slices, true)});
                    if (m <= 256) forms.add(new Object[]{"slab64x2", gemm.slabPlan(m, n, k, Gemm.TMA_64X2, slices, true)});
                }
                for (Object[] f : forms) {
                    String form = (String) f[0];
                    Gemm.Plan p = (Gemm.Plan) f[1];
                    double us = time(cuda, gemm, p, o, m, form.equals("reg192") && m == 512);
                    String model = p.registerSlices() || p.slabs() ? String.format("%.1f", gemm.estimateMicros(p, m, n)) : "";
                    System.out.printf("%-28s N=%-5d K=%-5d M=%-4d %-9s %9.1f us (model %s) [%s]%n", name, n, k, m, form, us, model, p);
                    System.out.println("CSV,sl," + name + "," + n + "," + k + "," + m + "," + form + "," + us + "," + model);
                }
            }
        }
    }

    /**
     * For {@code ncu -k regex:wgmmaTma}: at 512 tokens, llama-7b's o (4096×4096, 5 slices) and down (4096×11008) projections
     * through the sliced kernel on TMA_128 and TMA_192 and through the plain TMA_128 kernel (one slice: the same tiles, no
     * folds), one eager launch each (no graph: ncu cannot replay the TMA kernel inside one, run 33), W from memory.
     */
    private static void ncuLaunches(CudaBackend cuda, Gemm gemm) {
        for (int[] nk : new int[][]{{4096, 4096}, {4096, 11008}}) {
            int n = nk[0], k = nk[1], m = 512, slices = gemm.invariantSlices(n, k);
            try (Operands o = new Operands(cuda, m, n, k)) {
                for (Gemm.Plan p : new Gemm.Plan[]{gemm.slicedPlan(m, n, k, Gemm.TMA_128, slices, true), gemm.plan(m, n, k, Gemm.TMA_128, 1, true),
                        gemm.slicedPlan(m, n, k, Gemm.TMA_192, slices, true)}) {
                    gemm.matmul(o.x, m, o.w[0], n, k, o.c, false, p);
                    cuda.synchronize();
                    System.out.println("ncu launches: " + n + "x" + k + " M=" + m + " " + p);
                }
            }
        }
    }

    /** {@link Gemm#TMA_128} with a seventh stage (224 KiB): a deeper ring, measured beside the six-stage tiles (run 39-gemm8). */
    static final Gemm.Tiles TMA_128_S7 = new Gemm.Tiles("tma128s7", 8, 1, 1, 16, 7, true, true);

    /**
     * M ≥ 512, one after the other at each point: the default plan ("CSV,gemm" for gemm_torch.py), then the plain TMA kernel
     * a block a tile on {@link Gemm#TMA_128}, {@link #TMA_128_S7}, {@link Gemm#TMA_256} and {@link Gemm#TMA_256X3} (three
     * consumer warpgroups, setmaxnreg) ("CSV,ws"). TMA_256X3 is spot-checked against a double dot product at 2048 tokens.
     */
    private static void wsShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            for (int m : ms) {
                try {
                    Gemm.Plan p = gemm.plan(m, n, k, true, true);
                    double now = time(cuda, gemm, p, o, m, false), flop = 2.0 * m * n * k;
                    StringBuilder line = new StringBuilder(String.format("%-32s N=%-5d K=%-5d M=%-5d default %8.1f us (%5.1f TFLOP/s) [%s] |", name, n, k, m,
                            now, flop / now / 1e6, p));
                    System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + now + "," + flop / now / 1e6 + ",-1," + p.tiles().name() + "," + p.splits());
                    for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, TMA_128_S7, Gemm.TMA_256, Gemm.TMA_256X3}) {
                        double us = time(cuda, gemm, gemm.plan(m, n, k, t, 1, true), o, m, t == Gemm.TMA_256X3 && m == 2048);
                        line.append(String.format(" %s %8.1f", t.name(), us));
                        System.out.println("CSV,ws," + name + "," + n + "," + k + "," + m + "," + t.name() + "," + us);
                    }
                    System.out.println(line);
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /** Registers, shared memory and blocks a multiprocessor of the ping-pong kernel's tiles (the driver's figures). */
    private static void ppResources(CudaBackend cuda, Gemm gemm) {
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_PP128, Gemm.TMA_PP192}) {
            Gemm.Plan p = gemm.pingPongPlan(2048, 4096, 4096, t, true);
            var r = cuda.resources(Gemm.kernelFor(p), p.launch(), Gemm.tmaArguments(p, null, null, null, null, null, 1, 1, 1, 64, 0));
            System.out.printf("resources %s: %d registers, %d B shared, %d B local, %d blocks/SM, block %d%n", t, r.registers(),
                    p.launch().sharedBytes(), r.localBytes(), r.blocksPerSm(), p.launch().block()[0]);
        }
    }

    /**
     * M ≥ 512, one after the other at each point: the default plan ("CSV,gemm" for gemm_torch.py), the ping-pong kernel on
     * {@link Gemm#TMA_PP128} and {@link Gemm#TMA_PP192} ("CSV,pp"), then the default plan again ("again": the order effect run
     * 39-gemm8 saw at 8192+ tokens). Both ping-pong tiles are spot-checked against a double dot product at 2048 tokens.
     */
    private static void ppShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            for (int m : ms) {
                try {
                    Gemm.Plan p = gemm.plan(m, n, k, true, true);
                    double now = time(cuda, gemm, p, o, m, false), flop = 2.0 * m * n * k;
                    StringBuilder line = new StringBuilder(String.format("%-32s N=%-5d K=%-5d M=%-5d default %8.1f us (%5.1f TFLOP/s) [%s] |", name, n, k, m,
                            now, flop / now / 1e6, p));
                    System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + now + "," + flop / now / 1e6 + ",-1," + p.tiles().name() + "," + p.splits());
                    for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_PP128, Gemm.TMA_PP192}) {
                        double us = time(cuda, gemm, gemm.pingPongPlan(m, n, k, t, true), o, m, m == 2048);
                        line.append(String.format(" %s %8.1f", t.name(), us));
                        System.out.println("CSV,pp," + name + "," + n + "," + k + "," + m + "," + t.name() + "," + us);
                    }
                    double again = time(cuda, gemm, p, o, m, false);
                    line.append(String.format(" again %8.1f", again));
                    System.out.println("CSV,pp," + name + "," + n + "," + k + "," + m + ",again," + again);
                    System.out.println(line);
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /**
     * Where the default plan takes the ping-pong kernel: the plan without the rule ("before", {@code Gemm.pingPong(false)}) and
     * with it ("after"), timed before, after, before, after ("CSV,rule"), so a drift in the clocks shows in both; the ping-pong
     * plan is spot-checked against a double dot product each time. Points where the rule changes nothing are named only.
     */
    private static void ppRuleShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            for (int m : ms) {
                try {
                    Gemm.Plan after = gemm.plan(m, n, k, true, true);
                    gemm.pingPong(false);
                    Gemm.Plan before = gemm.plan(m, n, k, true, true);
                    gemm.pingPong(true);
                    if (before.tiles() == after.tiles() && before.splits() == after.splits() && before.persistent() == after.persistent()) {
                        System.out.printf("rule %-32s N=%-5d K=%-5d M=%-5d unchanged [%s]%n", name, n, k, m, after);
                        continue;
                    }
                    boolean residual = Boolean.getBoolean("gemm.residual");   // C += X·Wᵀ, as the engine's o and down (the check then skipped)
                    double b1 = time(cuda, gemm, before, o, m, false, residual), a1 = time(cuda, gemm, after, o, m, !residual, residual);
                    double b2 = time(cuda, gemm, before, o, m, false, residual), a2 = time(cuda, gemm, after, o, m, !residual, residual);
                    System.out.println("CSV,rule," + name + "," + n + "," + k + "," + m + "," + b1 + "," + a1 + "," + b2 + "," + a2 + "," + residual);
                    System.out.printf("rule %-32s N=%-5d K=%-5d M=%-5d %sbefore %8.1f after %8.1f before %8.1f after %8.1f  (after/before %.3f) [%s -> %s]%n",
                            name, n, k, m, residual ? "C += : " : "", b1, a1, b2, a2, (a1 + a2) / (b1 + b2), before, after);
                } catch (RuntimeException | AssertionError e) {
                    gemm.pingPong(true);
                    System.out.println("FAILED rule " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    private static final Kernel RMS_NORM_ROWS = Kernel.of(dev.arbor.kernels.LayerKernels.class, "rmsNormRows");

    /**
     * {@code residual} (run 57-ores12): the engine's residual-adding stage ({@code CudaOps.matmulAddNorm} without slabs: the GEMM
     * adding into x, then {@code rmsNormRows}) taken apart, µs, in both plans: C = X·Wᵀ (fp32 X, its conversion included), the
     * same with bf16 X (no conversion; default plan only), C += X·Wᵀ, C += then the norm (the stage), and the norm alone; beside
     * the FLOP floor at 750 TFLOP/s. Slab plans (the engine adds their slices in addRmsNorm) get C = and C += only.
     */
    private static void residualStage(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        int maxM = Arrays.stream(ms).max().orElseThrow();
        try (Operands o = new Operands(cuda, maxM, n, k); FloatArray norm = new FloatArray(n); FloatArray xn = new FloatArray(maxM * n)) {
            cuda.allocateOnDevice(norm);
            cuda.allocateOnDevice(xn);
            cuda.launch(FILL_F32, Launch.cover(n, 256), norm, n, 11, 2f);
            for (int m : ms)
                for (boolean invariant : new boolean[]{false, true}) {
                    try {
                        Gemm.Plan p = invariant ? gemm.invariantPlan(m, n, k, true) : gemm.plan(m, n, k, true, true);
                        double floor = 2.0 * m * n * k / 750e12 * 1e6;
                        double set = time(cuda, gemm, p, o, m, false), add = time(cuda, gemm, p, o, m, false, true);
                        double bf16 = invariant ? Double.NaN : timeBf16X(cuda, gemm, o, m);
                        double stage = p.slabs() ? Double.NaN : timeStage(cuda, gemm, p, o, m, norm, xn, true);
                        double normOnly = timeStage(cuda, gemm, p, o, m, norm, xn, false);
                        System.out.printf("stage %-18s N=%-5d K=%-5d M=%-5d %s: C= %8.1f  C=(bf16 X) %8.1f  C+= %8.1f  C+= & norm %8.1f  norm %6.1f  floor %7.1f us [%s]%n",
                                name, n, k, m, invariant ? "inv" : "nbi", set, bf16, add, stage, normOnly, floor, p);
                        System.out.println("CSV,stage," + name + "," + n + "," + k + "," + m + "," + (invariant ? "inv" : "nbi") + "," + set + "," + bf16
                                + "," + add + "," + stage + "," + normOnly + "," + floor);
                    } catch (RuntimeException | AssertionError e) {
                        System.out.println("FAILED stage " + name + " M=" + m + ": " + e);
                    }
                }
        }
    }

    /** µs per (C += X·Wᵀ through p, then rmsNormRows of C into xn) with {@code gemm}, or per rmsNormRows alone. */
    private static double timeStage(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m, FloatArray norm, FloatArray xn, boolean withGemm) {
        int n = o.n, k = o.k, copies = o.w.length;
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / Math.max(2.0 * m * n * k / 300e12, 2.0 * n * k / 3.5e12))));
        Launch l = Launch.of1D(m, dev.arbor.kernels.LayerKernels.NORM_GROUP);
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> {
                 for (int i = 0; i < launches; i++) {
                     if (withGemm) gemm.matmul(o.x, m, o.w[i % copies], n, k, o.c, true, p);
                     cuda.launch(RMS_NORM_ROWS, l, o.c, norm, xn, n, 1e-5);
                 }
             })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
        }
    }

    /**
     * {@code residual}'s second part: the residual epilogue by tile, each tile's unsplit plan on llama-7b's o projection (4096²)
     * at a token count it serves, C = X·Wᵀ against C += X·Wᵀ, interleaved twice (µs); the difference is the residual's cost.
     */
    private static void residualEpilogue(CudaBackend cuda, Gemm gemm) {
        Object[][] points = {{Gemm.SMALL, 16}, {Gemm.MEDIUM, 32}, {Gemm.WIDE, 64}, {Gemm.TMA_64, 64}, {Gemm.TMA_64X2, 107}, {Gemm.TMA_N64, 107},
                {Gemm.TMA_128, 107}, {Gemm.TMA_64X2, 256}};
        int n = 4096, k = 4096;
        try (Operands o = new Operands(cuda, 256, n, k)) {
            for (Object[] pt : points) {
                Gemm.Tiles t = (Gemm.Tiles) pt[0];
                int m = (Integer) pt[1];
                try {
                    Gemm.Plan p = gemm.plan(m, n, k, t, 1, true);
                    double s1 = time(cuda, gemm, p, o, m, false), a1 = time(cuda, gemm, p, o, m, false, true);
                    double s2 = time(cuda, gemm, p, o, m, false), a2 = time(cuda, gemm, p, o, m, false, true);
                    System.out.printf("epilogue %-8s N=%-5d K=%-5d M=%-4d C= %7.1f %7.1f  C+= %7.1f %7.1f  residual costs %+6.1f us [%s]%n",
                            t.name(), n, k, m, s1, s2, a1, a2, (a1 + a2 - s1 - s2) / 2, p);
                    System.out.println("CSV,epilogue," + t.name() + "," + n + "," + k + "," + m + "," + s1 + "," + a1 + "," + s2 + "," + a2);
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED epilogue " + t.name() + " M=" + m + ": " + e);
                }
            }
        }
    }

    /**
     * The k/v projection (1024 × 4096: 8 W-row tiles of 128, too few for 132 multiprocessors) at M ≥ 512: the default plan, then
     * split-K (atomics) on TMA_128 and TMA_256 at 2, 4 and 8 slices and the ping-pong tiles ("CSV,kv"), each spot-checked.
     */
    private static void kvShape(CudaBackend cuda, Gemm gemm, int n, int k, int[] ms) {
        String name = "k/v_proj (Llama-3-8B, Qwen3-8B)";
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            for (int m : ms) {
                StringBuilder line = new StringBuilder(String.format("kv %-5d", m));
                java.util.List<Gemm.Plan> plans = new java.util.ArrayList<>(java.util.List.of(gemm.plan(m, n, k, true, true)));
                for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_256})
                    for (int splits : new int[]{1, 2, 4, 8}) plans.add(gemm.plan(m, n, k, t, splits, true));
                plans.add(gemm.pingPongPlan(m, n, k, Gemm.TMA_PP128, true));
                plans.add(gemm.pingPongPlan(m, n, k, Gemm.TMA_PP192, true));
                for (int i = 0; i < plans.size(); i++) {
                    Gemm.Plan p = plans.get(i);
                    String label = i == 0 ? "default" : p.tiles().name() + "/" + p.splits();
                    try {
                        double us = time(cuda, gemm, p, o, m, true);
                        line.append(String.format(" %s %.1f", label, us));
                        System.out.println("CSV,kv," + name + "," + n + "," + k + "," + m + "," + label + "," + us + "," + p);
                    } catch (RuntimeException | AssertionError e) {
                        System.out.println("FAILED kv " + label + " M=" + m + ": " + e);
                    }
                }
                System.out.println(line);
            }
        }
    }

    /** The invariant plan (the engine's default mode) at llama-7b's shapes and workload 2's decode token counts ("CSV,inv"), the default plan as "CSV,gemm" (the cuBLAS peer times these). */
    private static void invariantPoints(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            gemm.reserveSlabs(Arrays.stream(ms).max().orElseThrow(), n, k);
            for (int m : ms) {
                try {
                    Gemm.Plan d = gemm.plan(m, n, k, true, true), inv = gemm.invariantPlan(m, n, k, true);
                    double def = time(cuda, gemm, d, o, m, false), us = time(cuda, gemm, inv, o, m, false);
                    System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + def + "," + 2.0 * m * n * k / def / 1e6 + ",-1," + d.tiles().name() + "," + d.splits());
                    System.out.println("CSV,invpp," + name + "," + n + "," + k + "," + m + "," + us + "," + inv);
                    System.out.printf("invariant %-28s N=%-5d K=%-5d M=%-5d invariant %8.1f us [%s] default %8.1f us [%s]%n", name, n, k, m, us, inv, def, d);
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED invariant " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /**
     * Run 53-inv11: at each point the default plan ("default"), the invariant plan before the one-slice weights took the default
     * plan's tiles ("before", {@code Gemm.invariantDefaultTiles(false)}) and with them ("now"), then the same-bits candidates —
     * with more than one K slice the sliced kernel on TMA_128 / TMA_192; with one slice TMA_256, TMA_256X3 and the ping-pong kernel
     * on TMA_PP128 — then "before" and "now" again (order drift). "now" and the one-slice candidates are spot-checked against a
     * double dot product at the first token count. "CSV,inv11,..." lines. (Run 53-inv11 also timed a sliced ping-pong kernel,
     * tried and dropped: bench/RESULTS.md.)
     */
    private static void inv11Shape(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        int maxM = Arrays.stream(ms).max().orElseThrow();
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            gemm.reserveSlabs(maxM, n, k);
            int slices = gemm.invariantSlices(n, k);
            for (int m : ms) {
                try {
                    gemm.invariantDefaultTiles(false);
                    Gemm.Plan before = gemm.invariantPlan(m, n, k, true);
                    gemm.invariantDefaultTiles(true);
                    Gemm.Plan now = gemm.invariantPlan(m, n, k, true);
                    java.util.List<Object[]> forms = new java.util.ArrayList<>();
                    forms.add(new Object[]{"default", gemm.plan(m, n, k, true, true)});
                    forms.add(new Object[]{"before", before});
                    forms.add(new Object[]{"now", now});
                    if (slices > 1) {
                        forms.add(new Object[]{"reg128", gemm.slicedPlan(m, n, k, Gemm.TMA_128, slices, true)});
                        forms.add(new Object[]{"reg192", gemm.slicedPlan(m, n, k, Gemm.TMA_192, slices, true)});
                    } else {
                        forms.add(new Object[]{"tma256", gemm.plan(m, n, k, Gemm.TMA_256, 1, true)});
                        forms.add(new Object[]{"tma256x3", gemm.plan(m, n, k, Gemm.TMA_256X3, 1, true)});
                        forms.add(new Object[]{"tmapp128", gemm.pingPongPlan(m, n, k, Gemm.TMA_PP128, true)});
                    }
                    forms.add(new Object[]{"before", before});
                    forms.add(new Object[]{"now", now});
                    StringBuilder line = new StringBuilder(String.format("inv11 %-26s N=%-5d K=%-5d M=%-5d", name, n, k, m));
                    for (Object[] f : forms) {
                        String form = (String) f[0];
                        Gemm.Plan p = (Gemm.Plan) f[1];
                        boolean check = m == ms[0] && (form.equals("now") || form.equals("tmapp128") || form.equals("tma256x3"));
                        double us = time(cuda, gemm, p, o, m, check);
                        line.append(String.format(" %s %.1f", form, us));
                        System.out.println("CSV,inv11," + name + "," + n + "," + k + "," + m + "," + form + "," + us + "," + p);
                    }
                    System.out.println(line + "  [now: " + now + "]");
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED inv11 " + name + " M=" + m + ": " + e);
                } finally {
                    gemm.invariantDefaultTiles(true);
                }
            }
        }
    }

    /** For {@code ncu -k regex:wgmmaTma}: 4096 × 4096 at 2048 tokens through TMA_256 (the plain kernel) and both ping-pong tiles, one eager launch each. */
    private static void ncuPingPong(CudaBackend cuda, Gemm gemm) {
        try (Operands o = new Operands(cuda, 2048, 4096, 4096)) {
            for (Gemm.Plan p : new Gemm.Plan[]{gemm.plan(2048, 4096, 4096, Gemm.TMA_256, 1, true), gemm.pingPongPlan(2048, 4096, 4096, Gemm.TMA_PP128, true),
                    gemm.pingPongPlan(2048, 4096, 4096, Gemm.TMA_PP192, true)}) {
                gemm.matmul(o.x, 2048, o.w[0], 4096, 4096, o.c, false, p);
                cuda.synchronize();
                System.out.println("ncu launches: 4096x4096 M=2048 " + p);
            }
        }
    }

    /**
     * The invariant plan at the engine's token counts: its choice ("now"), the slices in registers on TMA_128 ("reg128") and on
     * TMA_192 ("reg192"), the default plan beside ("default"). reg192 is spot-checked against a double dot product at 512 tokens.
     * Run 39-gemm8 ran this with TMA_192 in two forms, work-item 0 issuing the copies ("reg192", removed since) and the producer
     * warpgroup with setmaxnreg ("reg192p", the form now).
     */
    private static void sliced192Shape(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            gemm.reserveSlabs(Arrays.stream(ms).max().orElseThrow(), n, k);
            int slices = gemm.invariantSlices(n, k);
            for (int m : ms) {
                try {
                    Object[][] forms = {{"default", gemm.plan(m, n, k, true, true)}, {"now", gemm.invariantPlan(m, n, k, true)},
                            {"reg128", gemm.slicedPlan(m, n, k, Gemm.TMA_128, slices, true)}, {"reg192", gemm.slicedPlan(m, n, k, Gemm.TMA_192, slices, true)}};
                    StringBuilder line = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=%-5d", name, n, k, m));
                    for (Object[] f : forms) {
                        double us = time(cuda, gemm, (Gemm.Plan) f[1], o, m, f[0].equals("reg192") && m == 512);
                        line.append(String.format(" %s %7.1f", f[0], us));
                        System.out.println("CSV,sl8," + name + "," + n + "," + k + "," + m + "," + f[0] + "," + us);
                    }
                    System.out.println(line + "  [now: " + gemm.invariantPlan(m, n, k, true) + "]");
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /**
     * For {@code ncu -k regex:wgmmaTma}: 2048 tokens of a 4096 × 4096 weight (W and X fit the L2: the L2-to-SM path alone) through
     * the plain TMA kernel on TMA_128, {@link #TMA_128_S7}, TMA_256 and TMA_256X3; then 512 tokens of 4096 × 11008 through the
     * sliced kernel on TMA_192 (run 39-gemm8 also ran its removed form, work-item 0 issuing the copies). One eager launch each.
     */
    private static void ncuWarpSpecialized(CudaBackend cuda, Gemm gemm) {
        try (Operands o = new Operands(cuda, 2048, 4096, 4096)) {
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, TMA_128_S7, Gemm.TMA_256, Gemm.TMA_256X3}) {
                Gemm.Plan p = gemm.plan(2048, 4096, 4096, t, 1, true);
                gemm.matmul(o.x, 2048, o.w[0], 4096, 4096, o.c, false, p);
                cuda.synchronize();
                System.out.println("ncu launches: 4096x4096 M=2048 " + p);
            }
        }
        int n = 4096, k = 11008, m = 512, slices = gemm.invariantSlices(n, k);
        try (Operands o = new Operands(cuda, m, n, k)) {
            Gemm.Plan p = gemm.slicedPlan(m, n, k, Gemm.TMA_192, slices, true);
            gemm.matmul(o.x, m, o.w[0], n, k, o.c, false, p);
            cuda.synchronize();
            System.out.println("ncu launches: " + n + "x" + k + " M=" + m + " " + p + " block " + p.launch().block()[0]);
        }
    }

    /** llama3.2-1b's products as the engine runs them (stacked q|k|v and gate|up), for its batch-128 decode. */
    static final Object[][] LLAMA1B_SHAPES = {
            {"llama3.2-1b q|k|v (stacked)", 3072, 2048},
            {"llama3.2-1b o_proj", 2048, 2048},
            {"llama3.2-1b gate|up (stacked)", 16384, 2048},
            {"llama3.2-1b down", 2048, 8192}};

    /**
     * Decode batches of 104-128 tokens, one after the other at each point: the default plan ("CSV,gemm" for gemm_torch.py), the
     * same with bf16 X (the kernels alone, no conversion pass: "CSV,bx"), then {@link Gemm#TMA_128} and {@link Gemm#TMA_64X2}
     * at every split count of 1-8 that cuts K differently, the slices added by fp32 atomics ("CSV,splitsweep"). Run 35-midk6
     * ran this as "balance", with a balanced split rule beside the plan (dropped: slower). Spot checks at M = 104.
     */
    private static void splitsShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy, int[] ms) {
        int maxM = Arrays.stream(ms).max().orElseThrow();
        double floorUs = 2.0 * n * k / copy * 1e6;
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            for (int m : ms) {
                try {
                    Gemm.Plan plan = gemm.plan(m, n, k, true, true);
                    double us = time(cuda, gemm, plan, o, m, m == 104);
                    double bxUs = timeBf16X(cuda, gemm, o, m);
                    StringBuilder line = new StringBuilder(String.format("%-30s N=%-5d K=%-5d M=%-3d floor %5.1f us | default %6.1f [%s/%d] bf16 X %6.1f |",
                            name, n, k, m, floorUs, us, plan.tiles().name(), plan.splits(), bxUs));
                    System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + us + "," + 2.0 * m * n * k / (us * 1e-6) / 1e12 + ",-1,"
                            + plan.tiles().name() + "," + plan.splits());
                    System.out.println("CSV,bx," + name + "," + n + "," + k + "," + m + "," + bxUs);
                    for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_64X2}) {
                        int last = 0;
                        for (int splits = 1; splits <= 8; splits++) {
                            Gemm.Plan p = gemm.plan(m, n, k, t, splits, true);
                            if (p.splits() == last) continue;   // the same cut of K as the split count before
                            last = p.splits();
                            double sUs = time(cuda, gemm, p, o, m, false);
                            line.append(String.format(" %s/%d %.1f", t.name(), p.splits(), sUs));
                            System.out.println("CSV,splitsweep," + name + "," + n + "," + k + "," + m + "," + sUs + "," + t.name() + "," + p.splits());
                        }
                    }
                    System.out.println(line);
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /**
     * Run 59-gemm14, at each M: the default plan without the deep plan (main's: "CSV,deep,...,main") and with it ("deep"), timed
     * main / deep / main / deep, then every candidate of the deep plan once ("CSV,deepcand", with the model's estimate), and for
     * one-slice weights the invariant plan without and with {@code invariantDeep} ("CSV,deepinv", interleaved likewise). Outside
     * 65-256 tokens the plan is unchanged: timed once. Spot checks at M = 107.
     */
    private static void deepShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy, int[] ms) {
        int maxM = Arrays.stream(ms).max().orElseThrow();
        double floorUs = 2.0 * n * k / copy * 1e6;
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            gemm.reserveSlabs(maxM, n, k);
            for (int m : ms) {
                try {
                    gemm.deep(false);
                    Gemm.Plan main = gemm.plan(m, n, k, true, true);
                    gemm.deep(true);
                    Gemm.Plan deep = gemm.plan(m, n, k, true, true);
                    if (main.tiles().equals(deep.tiles()) && main.splits() == deep.splits() && main.persistent() == deep.persistent()) {
                        double us = time(cuda, gemm, main, o, m, false);
                        System.out.printf("deep %-28s N=%-5d K=%-5d M=%-3d floor %5.1f us | unchanged %6.1f [%s]%n", name, n, k, m, floorUs, us, main);
                        System.out.println("CSV,deep," + name + "," + n + "," + k + "," + m + ",same," + us + "," + main.tiles().name() + "," + main.splits());
                        continue;
                    }
                    double m1 = time(cuda, gemm, main, o, m, false), d1 = time(cuda, gemm, deep, o, m, m == 107);
                    double m2 = time(cuda, gemm, main, o, m, false), d2 = time(cuda, gemm, deep, o, m, false);
                    System.out.println("CSV,deep," + name + "," + n + "," + k + "," + m + ",main," + m1 + "," + m2 + "," + main.tiles().name() + "," + main.splits());
                    System.out.println("CSV,deep," + name + "," + n + "," + k + "," + m + ",deep," + d1 + "," + d2 + "," + deep.tiles().name() + "," + deep.splits());
                    StringBuilder line = new StringBuilder(String.format("deep %-28s N=%-5d K=%-5d M=%-3d floor %5.1f us | main %6.1f %6.1f [%s/%d] deep %6.1f %6.1f [%s/%d] (deep/main %.3f) |",
                            name, n, k, m, floorUs, m1, m2, main.tiles().name(), main.splits(), d1, d2, deep.tiles().name(), deep.splits(), (d1 + d2) / (m1 + m2)));
                    if (m >= Gemm.DEEP_MIN_M && m <= Gemm.DEEP_MAX_M) for (Gemm.Plan c : gemm.deepCandidates(m, n, k, true)) {
                        double us = time(cuda, gemm, c, o, m, false);
                        line.append(String.format(" %s/%d %.1f (model %.1f)", c.tiles().name(), c.splits(), us, gemm.deepMicros(c, m, n, k)));
                        System.out.println("CSV,deepcand," + name + "," + n + "," + k + "," + m + "," + us + "," + c.tiles().name() + "," + c.splits()
                                + "," + gemm.deepMicros(c, m, n, k));
                    }
                    System.out.println(line);
                    if (gemm.invariantSlices(n, k) == 1) {
                        gemm.invariantDeep(false);
                        Gemm.Plan before = gemm.invariantPlan(m, n, k, true);
                        gemm.invariantDeep(true);
                        Gemm.Plan after = gemm.invariantPlan(m, n, k, true);
                        gemm.invariantDeep(false);
                        double b1 = time(cuda, gemm, before, o, m, false), a1 = time(cuda, gemm, after, o, m, false);
                        double b2 = time(cuda, gemm, before, o, m, false), a2 = time(cuda, gemm, after, o, m, false);
                        System.out.println("CSV,deepinv," + name + "," + n + "," + k + "," + m + "," + b1 + "," + a1 + "," + b2 + "," + a2);
                        System.out.printf("deepinv %-25s N=%-5d K=%-5d M=%-3d invariant %6.1f %6.1f [%s] invariantDeep %6.1f %6.1f [%s] (%.3f)%n",
                                name, n, k, m, b1, b2, before, a1, a2, after, (a1 + a2) / (b1 + b2));
                    }
                } catch (RuntimeException | AssertionError e) {
                    gemm.deep(Boolean.parseBoolean(System.getProperty("arbor.gemm.deep", "true")));
                    System.out.println("FAILED deep " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /** The mid range's token counts: workload 1's decode batch (107) and around it. */
    static final int[] MID_MS = {72, 96, 107, 128, 192, 256};

    /**
     * 65-256 tokens, one after the other at each point: the default plan with the rule before run 31-midm ("CSV,midold"), each
     * of {@link Gemm#MID_CANDIDATES} with the one-wave split rule ("CSV,midform"), the plan the "table" rule picks ("CSV,gemm",
     * for gemm_torch.py), then the invariant plan as it chooses ("CSV,inv") and its same-bits alternatives with the same K
     * slices: the slices in registers, and slabs of each candidate's tiles ("CSV,midinv"). Spot checks at M = 107.
     */
    private static void midShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, double copy, int[] ms) {
        int maxM = Arrays.stream(ms).max().orElseThrow();
        double floorUs = 2.0 * n * k / copy * 1e6;
        try (Operands o = new Operands(cuda, maxM, n, k)) {
            gemm.reserveSlabs(maxM, n, k);
            for (int m : ms) {
                try {
                    String rule = gemm.mid();
                    gemm.mid("old");
                    Gemm.Plan old = gemm.plan(m, n, k, true, true);
                    gemm.mid(rule);
                    double oldUs = time(cuda, gemm, old, o, m, false);
                    StringBuilder line = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=%-3d floor %5.1f us | default before %6.1f [%s %d] |", name, n, k, m,
                            floorUs, oldUs, old.tiles().name(), old.splits()));
                    System.out.println("CSV,midold," + name + "," + n + "," + k + "," + m + "," + oldUs + "," + old.tiles().name() + "," + old.splits());
                    for (Gemm.Tiles t : Gemm.MID_CANDIDATES) {
                        Gemm.Plan p = gemm.plan(m, n, k, t, gemm.oneWaveSplits(m, n, k, t), true);
                        double us = time(cuda, gemm, p, o, m, m == 107);
                        line.append(String.format(" %s/%d %6.1f", t.name(), p.splits(), us));
                        System.out.println("CSV,midform," + name + "," + n + "," + k + "," + m + "," + us + "," + t.name() + "," + p.splits());
                    }
                    Gemm.Plan now = gemm.plan(m, n, k, true, true);
                    double nowUs = time(cuda, gemm, now, o, m, false);
                    line.append(String.format(" | now (%s) %6.1f [%s %d]", gemm.mid(), nowUs, now.tiles().name(), now.splits()));
                    System.out.println(line);
                    System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + nowUs + "," + 2.0 * m * n * k / (nowUs * 1e-6) / 1e12 + ",-1,"
                            + now.tiles().name() + "," + now.splits());
                    Gemm.Plan inv = gemm.invariantPlan(m, n, k, true);
                    double invUs = time(cuda, gemm, inv, o, m, false);
                    StringBuilder iline = new StringBuilder(String.format("%-28s N=%-5d K=%-5d M=%-3d invariant %6.1f [%s] |", name, n, k, m, invUs, inv));
                    System.out.println("CSV,inv," + name + "," + n + "," + k + "," + m + "," + invUs + "," + inv.splits());
                    int slices = gemm.invariantSlices(n, k);
                    if (slices > 1) {
                        double regUs = time(cuda, gemm, gemm.slicedPlan(m, n, k, slices, true), o, m, false);
                        iline.append(String.format(" registers %6.1f", regUs));
                        System.out.println("CSV,midinv," + name + "," + n + "," + k + "," + m + "," + regUs + ",reg," + slices);
                        for (Gemm.Tiles t : Gemm.MID_CANDIDATES) {
                            double us = time(cuda, gemm, gemm.slabPlan(m, n, k, t, slices, true), o, m, m == 107);
                            iline.append(String.format(" slabs %s %6.1f", t.name(), us));
                            System.out.println("CSV,midinv," + name + "," + n + "," + k + "," + m + "," + us + ",slab-" + t.name() + "," + slices);
                        }
                    }
                    System.out.println(iline);
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED " + name + " M=" + m + ": " + e);
                }
            }
        }
    }

    /** Registers, shared memory and occupancy of each tile variant, from the driver. */
    private static void resources(CudaBackend cuda, Gemm gemm) {
        try (FloatArray x = new FloatArray(256 * 4096); BFloat16Array w = new BFloat16Array(4096 * 4096); FloatArray c = new FloatArray(256 * 4096)) {
            cuda.allocateOnDevice(x);
            cuda.allocateOnDevice(w);
            cuda.allocateOnDevice(c);
            java.util.List<Gemm.Plan> plans = new java.util.ArrayList<>();
            for (int m : new int[]{1, 32, 64, 256, 8192}) plans.add(gemm.plan(m, 4096, 4096, true, true));
            for (Gemm.Tiles t : gemm.tma() ? new Gemm.Tiles[]{Gemm.WGMMA_128, Gemm.WGMMA_256, Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_256X3, TMA_128_S7} : new Gemm.Tiles[0])
                plans.add(gemm.plan(256, 4096, 4096, t, 1, true));
            if (gemm.tma()) {
                plans.add(gemm.persistentPlan(8192, 4096, 4096, Gemm.TMA_256, true));
                plans.add(gemm.persistentPlan(8192, 4096, 4096, Gemm.TMA_128, true));
                plans.add(gemm.slicedPlan(8192, 4096, 4096, 5, true));
            }
            for (Gemm.Plan p : plans) {
                int m = 256;
                Kernel k = Gemm.kernelFor(p);
                Object[] args = p.tiles().tma() ? Gemm.tmaArguments(p, x, w, c, null, null, m, m, 4096, 4096, 0) : Gemm.launchArguments(p, x, w, c, m, 4096, 4096);
                CudaModule.Resources r = cuda.resources(k, p.launch(), args);
                System.out.printf("variant %-8s %-36s kernel %-10s %3d regs, %6d B dyn smem, %d B local, %d blocks/SM (%.0f%% warp occupancy)%n",
                        p.tiles().name() + (p.persistent() ? "P" : p.registerSlices() ? "S" : ""), p.tiles(), k.name(), r.registers(), p.launch().sharedBytes(), r.localBytes(), r.blocksPerSm(),
                        100 * r.occupancy(p.tiles().threads()));
                System.out.println("CSV,variant," + p.tiles().name() + "," + r.registers() + "," + p.launch().sharedBytes() + "," + r.localBytes() + "," + r.blocksPerSm());
            }
        }
    }

    /** Decode: how the number of K slices moves the time (the default plan's choice is marked). */
    private static void splitSweep(CudaBackend cuda, Gemm gemm, double copy) {
        for (int n : new int[]{4096, 14336}) {
            try (Operands o = new Operands(cuda, 64, n, 4096)) {
                for (int m : new int[]{1, 16, 64}) {
                    Gemm.Plan chosen = gemm.plan(m, n, 4096, true, true);
                    StringBuilder line = new StringBuilder(String.format("split sweep N=%d K=4096 M=%-3d", n, m));
                    for (int splits : new int[]{1, 2, 4, 8, 16}) {
                        Gemm.Plan p = gemm.plan(m, n, 4096, Gemm.tilesFor(m), splits, true);
                        double us = time(cuda, gemm, p, o, m, false);
                        line.append(String.format("  s=%d%s %.1fus (%.0f%% floor)", p.splits(), p.splits() == chosen.splits() ? "*" : "", us,
                                100 * (2.0 * n * 4096 / copy * 1e6) / us));
                    }
                    System.out.println(line);
                }
            }
        }
    }

    private static void shape(CudaBackend cuda, Gemm gemm, Gemm mma, String name, int n, int k, double copy, int[] ms) {
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            gemm.reserveSlabs(Arrays.stream(ms).max().orElseThrow(), n, k);   // the invariant plan's slabs: a capture cannot allocate
            for (int m : ms) {
              try {
                Gemm.Plan p = gemm.plan(m, n, k, true, true);
                double us = time(cuda, gemm, p, o, m, m == 16 || m == 2048);
                double tflops = 2.0 * m * n * k / (us * 1e-6) / 1e12;
                double floorUs = 2.0 * n * k / copy * 1e6;
                System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s %s  [%s]%n", name, n, k, m, us, tflops,
                        m <= 64 ? String.format("%5.1f%% of weight-read floor (%.1f us)", 100 * floorUs / us, floorUs) : "", p);
                System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + us + "," + tflops + "," + (m <= 64 ? 100 * floorUs / us : -1)
                        + "," + p.tiles().name() + "," + p.splits());
                Gemm.Plan inv = gemm.invariantPlan(m, n, k, true);
                double invUs = time(cuda, gemm, inv, o, m, false);
                System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s %s  [invariant: %s]%n", name, n, k, m, invUs, 2.0 * m * n * k / (invUs * 1e-6) / 1e12,
                        m <= 64 ? String.format("%5.1f%% of weight-read floor", 100 * floorUs / invUs) : "", inv);
                System.out.println("CSV,inv," + name + "," + n + "," + k + "," + m + "," + invUs + "," + inv.splits());
                if (m > 64 && gemm.tma()) invariantForms(cuda, gemm, mma, o, name, n, k, m);
                if (m <= 64 && gemm.tma()) {   // the TMA kernel as a decode tile (not in the default plan): W streamed by the copy engine
                    Gemm.Tiles d = m <= 16 ? Gemm.TMA_16 : m <= 32 ? Gemm.TMA_32 : Gemm.TMA_64;
                    Gemm.Plan dp = gemm.plan(m, n, k, d, oneWaveSplits(m, n, k, d), true);
                    double dUs = time(cuda, gemm, dp, o, m, m == 64);
                    System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %5.1f%% of weight-read floor  [TMA decode: %s]%n", name, n, k, m, dUs, 100 * floorUs / dUs, dp);
                    System.out.println("CSV,tmad," + name + "," + n + "," + k + "," + m + "," + dUs + "," + d.name() + "," + dp.splits());
                }
                if (m >= 128) {   // bf16 X (no conversion pass): the kernel alone, as cuBLAS is timed
                    double bUs = timeBf16X(cuda, gemm, o, m);
                    System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s  [bf16 X, default plan]%n", name, n, k, m, bUs, 2.0 * m * n * k / (bUs * 1e-6) / 1e12);
                    System.out.println("CSV,bx," + name + "," + n + "," + k + "," + m + "," + bUs);
                }
                if (p.tiles().tma() && p.tiles().bm() >= 128) {   // the cp.async wgmma tiles of the same size, and the other TMA tile size, beside the TMA plan
                    Gemm.Tiles same = p.tiles().bm() == Gemm.TMA_256.bm() ? Gemm.WGMMA_256 : Gemm.WGMMA_128;
                    Gemm.Tiles other = p.tiles() == Gemm.TMA_256 ? Gemm.TMA_128 : Gemm.TMA_256;
                    double wgUs = time(cuda, gemm, gemm.plan(m, n, k, same, p.splits(), true), o, m, false);
                    Gemm.Plan alt = gemm.plan(m, n, k, other, oneWaveSplits(m, n, k, other), true);
                    double altUs = time(cuda, gemm, alt, o, m, m == 512);
                    System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s  [cp.async wgmma: %s]%n", name, n, k, m, wgUs, 2.0 * m * n * k / (wgUs * 1e-6) / 1e12, same);
                    System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s  [other TMA tile: %s]%n", name, n, k, m, altUs, 2.0 * m * n * k / (altUs * 1e-6) / 1e12, alt);
                    System.out.println("CSV,wg," + name + "," + n + "," + k + "," + m + "," + wgUs);
                    System.out.println("CSV,alt," + name + "," + n + "," + k + "," + m + "," + altUs + "," + other.name() + "," + alt.splits());
                }
                if (p.tiles().wgmma()) {   // the mma.sync plan beside the wgmma one
                    Gemm.Plan q = mma.plan(m, n, k, true, true);
                    double qUs = time(cuda, mma, q, o, m, false);
                    System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s  [mma.sync: %s]%n", name, n, k, m, qUs, 2.0 * m * n * k / (qUs * 1e-6) / 1e12, q);
                    System.out.println("CSV,mma," + name + "," + n + "," + k + "," + m + "," + qUs);
                }
              } catch (RuntimeException | AssertionError e) {
                System.out.println("FAILED " + name + " M=" + m + ": " + e);
              }
            }
        }
    }

    /**
     * Prefill sizes, one after the other at each point: the default plan (fp32 X, and bf16 X: the kernel alone, as cuBLAS is
     * timed), its tiles a block a tile in the grouped raster ({@link Gemm#raster()}) and in the row-major order (the plan
     * before run 30-gemm5), the persistent kernel where it applies (unsplit TMA tiles of more than one wave; off in the plans
     * by default), and the invariant plan in both orders. "CSV,gemm" / "CSV,bx" / "CSV,inv" lines as {@link #shape} prints
     * them (gemm_torch.py joins them with cuBLAS); "CSV,np8" (a block a tile, grouped), "CSV,r1" (row-major), "CSV,pers"
     * (persistent, grouped) and "CSV,invr1" beside them. (Run 30-gemm5 ran this with the persistent kernel in the default
     * plan: its "CSV,gemm" lines are the persistent kernel where the tiles name ends in P; bench/runs/30-gemm5/table.py.)
     */
    private static void rasterShape(CudaBackend cuda, Gemm gemm, String name, int n, int k, int[] ms) {
        int grouped = gemm.raster();
        try (Operands o = new Operands(cuda, Arrays.stream(ms).max().orElseThrow(), n, k)) {
            gemm.reserveSlabs(Arrays.stream(ms).max().orElseThrow(), n, k);
            for (int m : ms) {
                try {
                    Gemm.Plan p = gemm.plan(m, n, k, true, true), inv = gemm.invariantPlan(m, n, k, true);
                    Gemm.Plan plain = gemm.plan(m, n, k, p.tiles(), p.splits(), true);
                    boolean eligible = p.tiles().tma() && p.tiles().bm() >= Gemm.TMA_128.bm() && p.splits() == 1
                            && (long) plain.launch().grid()[0] * plain.launch().grid()[1] > 132;
                    double now = time(cuda, gemm, p, o, m, m == 2048), bx = timeBf16X(cuda, gemm, o, m), invNow = time(cuda, gemm, inv, o, m, m == 2048);
                    double plain8 = p.persistent() ? time(cuda, gemm, plain, o, m, false) : now;
                    double pers = p.persistent() ? now : eligible ? time(cuda, gemm, gemm.persistentPlan(m, n, k, p.tiles(), true), o, m, false) : Double.NaN;
                    gemm.raster(1);
                    double plain1 = time(cuda, gemm, plain, o, m, false), inv1 = time(cuda, gemm, inv, o, m, false);
                    gemm.raster(grouped);
                    double flop = 2.0 * m * n * k;
                    System.out.printf("%-32s N=%-5d K=%-5d M=%-5d now %8.1f us (%5.1f TFLOP/s; bf16 X %8.1f us) | a block a tile, raster %d %8.1f us,"
                                    + " row-major %8.1f us; persistent %8.1f us | invariant %8.1f us, row-major %8.1f us  [%s | invariant: %s]%n", name, n, k, m,
                            now, flop / now / 1e6, bx, grouped, plain8, plain1, pers, invNow, inv1, p, inv);
                    System.out.println("CSV,gemm," + name + "," + n + "," + k + "," + m + "," + now + "," + flop / now / 1e6 + ",-1," + p.tiles().name()
                            + (p.persistent() ? "P" : "") + "," + p.splits());
                    System.out.println("CSV,bx," + name + "," + n + "," + k + "," + m + "," + bx);
                    System.out.println("CSV,inv," + name + "," + n + "," + k + "," + m + "," + invNow + "," + inv.splits());
                    System.out.println("CSV,np8," + name + "," + n + "," + k + "," + m + "," + plain8);
                    System.out.println("CSV,r1," + name + "," + n + "," + k + "," + m + "," + plain1);
                    if (eligible) System.out.println("CSV,pers," + name + "," + n + "," + k + "," + m + "," + pers);
                    System.out.println("CSV,invr1," + name + "," + n + "," + k + "," + m + "," + inv1 + "," + (inv.registerSlices() ? "reg" : inv.slabs() ? "slab"
                            : inv.persistent() ? "tileP" : "tile"));
                } catch (RuntimeException | AssertionError e) {
                    System.out.println("FAILED " + name + " M=" + m + ": " + e);
                } finally {
                    gemm.raster(grouped);
                }
            }
        }
    }

    /**
     * Above 64 tokens, the invariant plan's forms beside its choice: the mma.sync slab plan it replaced (the plan before run
     * 26-gemm4), and with more than one K slice the slices summed in registers and the TMA_128 slabs, with the time model's
     * estimates (µs) that chose between them. The sliced kernel's output is spot-checked at 2048 tokens.
     */
    private static void invariantForms(CudaBackend cuda, Gemm gemm, Gemm mma, Operands o, String name, int n, int k, int m) {
        Gemm.Plan old = mma.invariantPlan(m, n, k, true);
        double oldUs = time(cuda, mma, old, o, m, false);
        System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us %7.1f TFLOP/s  [invariant before: %s]%n", name, n, k, m, oldUs, 2.0 * m * n * k / (oldUs * 1e-6) / 1e12, old);
        System.out.println("CSV,invold," + name + "," + n + "," + k + "," + m + "," + oldUs);
        int slices = gemm.invariantSlices(n, k);
        if (slices == 1) return;
        Gemm.Plan reg = gemm.slicedPlan(m, n, k, slices, true), slab = gemm.slabPlan(m, n, k, Gemm.TMA_128, slices, true);
        double regUs = time(cuda, gemm, reg, o, m, m == 2048), slabUs = time(cuda, gemm, slab, o, m, false);
        System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us (model %.1f)  [invariant, slices in registers: %s]%n", name, n, k, m, regUs, gemm.estimateMicros(reg, m, n), reg);
        System.out.printf("%-32s N=%-5d K=%-5d M=%-4d %9.1f us (model %.1f)  [invariant, TMA slabs: %s]%n", name, n, k, m, slabUs, gemm.estimateMicros(slab, m, n), slab);
        System.out.println("CSV,invreg," + name + "," + n + "," + k + "," + m + "," + regUs);
        System.out.println("CSV,invslab," + name + "," + n + "," + k + "," + m + "," + slabUs);
    }

    /**
     * The invariant plan as {@code Gemm.invariantPlan} chooses it now, and the mma.sync slab plan it replaced, at M = 128 ..
     * 8192 ("CSV,invnow" and "CSV,invold" lines), one after the other for each M.
     */
    private static void invariantOnly(CudaBackend cuda, Gemm gemm, Gemm mma, String name, int n, int k) {
        int[] ms = {128, 256, 512, 2048, 8192};
        try (Operands o = new Operands(cuda, 8192, n, k)) {
            gemm.reserveSlabs(8192, n, k);
            mma.reserveSlabs(8192, n, k);
            for (int m : ms) {
                Gemm.Plan now = gemm.invariantPlan(m, n, k, true), old = mma.invariantPlan(m, n, k, true);
                double nowUs = time(cuda, gemm, now, o, m, m == 512), oldUs = time(cuda, mma, old, o, m, false);
                System.out.printf("%-32s N=%-5d K=%-5d M=%-4d invariant now %9.1f us [%s], before %9.1f us [%s]%n", name, n, k, m, nowUs, now, oldUs, old);
                System.out.println("CSV,invnow," + name + "," + n + "," + k + "," + m + "," + nowUs + "," + (now.registerSlices() ? "reg" : now.slabs() ? "slab" : "tile"));
                System.out.println("CSV,invold," + name + "," + n + "," + k + "," + m + "," + oldUs);
            }
        }
    }

    /** The default plan's split rule (as many K slices as fit one wave, each at least 4 K tiles) for the given tiles, 1 block/SM. */
    static int oneWaveSplits(int m, int n, int k, Gemm.Tiles t) {
        long blocks = (long) ((n + t.bn() - 1) / t.bn()) * ((m + t.bm() - 1) / t.bm());
        int kTiles = (k + 63) / 64;
        return (int) Math.max(1, Math.min(Math.max(1, kTiles / 4), 132 / blocks));
    }

    /**
     * X (maxM × k fp32), C (maxM × n) and copies of W (n × k bf16) filling more than 256 MiB, on the
     * device only, filled there with hashed values.
     */
    static final class Operands implements AutoCloseable {
        final int n, k;
        final FloatArray x, c;
        final BFloat16Array xb;
        final BFloat16Array[] w;

        Operands(CudaBackend cuda, int maxM, int n, int k) {
            this.n = n;
            this.k = k;
            long wBytes = 2L * n * k;
            int copies = (int) Math.max(2, ((256L << 20) + wBytes - 1) / wBytes);
            x = new FloatArray(maxM * k);
            xb = new BFloat16Array(maxM * k);
            c = new FloatArray(maxM * n);
            cuda.allocateOnDevice(xb);
            cuda.launch(FILL_BF16, Launch.cover(maxM * k, 256), xb, maxM * k, 8, 2f);
            w = new BFloat16Array[copies];
            cuda.allocateOnDevice(x);
            cuda.allocateOnDevice(c);
            cuda.launch(FILL_F32, Launch.cover(maxM * k, 256), x, maxM * k, 7, 2f);
            for (int i = 0; i < copies; i++) {
                w[i] = new BFloat16Array(n * k);
                cuda.allocateOnDevice(w[i]);
                cuda.launch(FILL_BF16, Launch.cover(n * k, 256), w[i], n * k, 100 + i, 0.1f);
            }
        }

        @Override public void close() {
            x.close();
            xb.close();
            c.close();
            for (BFloat16Array a : w) a.close();
        }
    }

    /** Microseconds per matmul (median graph replay / launches), with W rotated over the copies. */
    static double time(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m, boolean check) {
        return time(cuda, gemm, p, o, m, check, false);
    }

    /** As above; {@code accumulate}: C += X·Wᵀ (the engine's residual adds), not C = X·Wᵀ. */
    static double time(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m, boolean check, boolean accumulate) {
        int n = o.n, k = o.k, copies = o.w.length;
        double estimate = Math.max(2.0 * m * n * k / 300e12, 2.0 * n * k / 3.5e12);
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / estimate)));
        // one call per W copy before the capture: the TMA tiles make each matrix's tensor map then (a capture cannot upload)
        for (int i = 0; i < Math.min(launches, copies); i++) gemm.matmul(o.x, m, o.w[i], n, k, o.c, accumulate, p);
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < launches; i++) gemm.matmul(o.x, m, o.w[i % copies], n, k, o.c, accumulate, p); })) {
            double ms = GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS);
            if (check) check(cuda, o.x, o.w[(launches - 1) % copies], o.c, m, n, k);
            return ms * 1e3 / launches;
        }
    }

    /** As {@link #time} for bf16 X through the default plan ({@code matmul(BFloat16Array, ...)}: no conversion pass). */
    static double timeBf16X(CudaBackend cuda, Gemm gemm, Operands o, int m) {
        int n = o.n, k = o.k, copies = o.w.length;
        double estimate = Math.max(2.0 * m * n * k / 300e12, 2.0 * n * k / 3.5e12);
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / estimate)));
        for (int i = 0; i < Math.min(launches, copies); i++) gemm.matmul(o.xb, m, o.w[i], n, k, o.c, false);
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < launches; i++) gemm.matmul(o.xb, m, o.w[i % copies], n, k, o.c, false); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / launches;
        }
    }

    /** As {@link #time} for bf16 X in plan {@code p} ({@code matmul(BFloat16Array, ..., Plan)}: the bf16 producers' feed); {@code check}: spot-checked. */
    static double timeBf16X(CudaBackend cuda, Gemm gemm, Gemm.Plan p, Operands o, int m, boolean check) {
        int n = o.n, k = o.k, copies = o.w.length;
        double estimate = Math.max(2.0 * m * n * k / 300e12, 2.0 * n * k / 3.5e12);
        int launches = (int) Math.max(3, Math.min(8L * copies, Math.round(4e-3 / estimate)));
        for (int i = 0; i < Math.min(launches, copies); i++) gemm.matmul(o.xb, m, o.w[i], n, k, o.c, false, p);
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < launches; i++) gemm.matmul(o.xb, m, o.w[i % copies], n, k, o.c, false, p); })) {
            double ms = GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS);
            if (check) {
                try (FloatArray xf = new FloatArray(m * k)) {   // X widened exactly, so the double reference sees the bf16 values
                    cuda.toHost(o.xb);
                    for (int i = 0; i < m * k; i++) xf.set(i, o.xb.get(i));
                    cuda.toDevice(xf);
                    check(cuda, xf, o.w[(launches - 1) % copies], o.c, m, n, k);
                }
            }
            return ms * 1e3 / launches;
        }
    }

    /** Six outputs of the last launch against a double dot product (bf16 tolerance: 2^-7 of Σ|x·w|). */
    private static void check(CudaBackend cuda, FloatArray x, BFloat16Array w, FloatArray c, int m, int n, int k) {
        cuda.toHost(c, x, w);
        for (int s = 0; s < 6; s++) {
            int t = (s * 7) % m, j = (s * 977) % n;
            double sum = 0, scale = 0;
            for (int kk = 0; kk < k; kk++) {
                double p = (double) x.get(t * k + kk) * w.get(j * k + kk);
                sum += p;
                scale += Math.abs(p);
            }
            float got = c.get(t * n + j);
            if (!(Math.abs(got - sum) <= 0x1p-7 * scale + 1e-6)) throw new AssertionError("C[" + t + "][" + j + "] = " + got + ", expected " + sum);
        }
    }

    private static double copyBandwidth(CudaBackend cuda, long bytes) {
        return dev.arbor.accel.cuda.CopyBandwidth.measure(cuda.device(), bytes, 7);
    }
}
