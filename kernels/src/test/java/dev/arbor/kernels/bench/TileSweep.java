package dev.arbor.kernels.bench;

import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaModule;
import dev.arbor.kernels.gemm.Gemm;
import dev.arbor.kernels.gemm.Gemm.Tiles;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code GemmBench sweep}: times candidate tile shapes × K-slice counts × (fp32 X converted on load |
 * converted first by a separate pass, then cp.async) at decode/medium M and at prefill M, to choose the
 * plan from measurements. Prints one line per candidate ("SWEEP,...") and the best per (shape, M).
 * The fp32-X, bf16-W, fp32-C product with atomics for K slices ({@link Gemm#plan(int, int, int, Tiles, int, boolean)}).
 */
final class TileSweep {
    private TileSweep() {}

    // decode / batched decode candidates (W rows × tokens; warps wn × wm, fragments mt × nt, 4 stages)
    static final Tiles S128 = new Tiles("s128x16", 4, 1, 2, 2, 4);
    static final Tiles S128W8 = new Tiles("s128x16w8", 8, 1, 1, 2, 4);
    static final Tiles S256W8 = new Tiles("s256x16w8", 8, 1, 2, 2, 4);
    static final Tiles M64X32 = new Tiles("m64x32", 4, 1, 1, 4, 4);
    static final Tiles M128X32 = new Tiles("m128x32", 4, 1, 2, 4, 4);
    static final Tiles M64X64N = new Tiles("m64x64n", 4, 1, 1, 8, 4);
    static final Tiles M128X64 = new Tiles("m128x64", 4, 2, 2, 4, 4);
    static final Tiles M128X64W4 = new Tiles("m128x64w4", 4, 1, 2, 8, 4);
    // prefill candidates
    static final Tiles L128W8 = new Tiles("l128x128w8", 2, 4, 4, 4, 3);
    static final Tiles L128W8S4 = new Tiles("l128x128w8s4", 2, 4, 4, 4, 4);
    static final Tiles L128X256 = new Tiles("l128x256w8", 2, 4, 4, 8, 3);
    static final Tiles L256X128 = new Tiles("l256x128w8", 4, 2, 4, 8, 3);
    static final Tiles L4S4 = new Tiles("large-s4", 2, 2, 4, 8, 4);
    // wgmma candidates not measured yet (run 16-gemm2 measured WGMMA_128 and WGMMA_256 in the default plan only):
    // fewer stages for two blocks a multiprocessor, one warpgroup a block, 128x256 with 3 stages
    static final Tiles WG128S3 = new Tiles("wgmma128s3", 8, 1, 1, 16, 3, true);
    static final Tiles WG128S4 = new Tiles("wgmma128s4", 8, 1, 1, 16, 4, true);
    static final Tiles WG256S3 = new Tiles("wgmma256s3", 8, 1, 1, 32, 3, true);
    static final Tiles WG64X128 = new Tiles("wgmma64x128", 4, 1, 1, 16, 4, true);
    static final Tiles WG64X256 = new Tiles("wgmma64x256", 4, 1, 1, 32, 4, true);

    static void run(CudaBackend cuda, Gemm gemm, double copy) {
        Map<Integer, Tiles[]> byM = new LinkedHashMap<>();
        byM.put(1, new Tiles[]{Gemm.SMALL, S128, S128W8, S256W8});
        byM.put(16, new Tiles[]{Gemm.SMALL, S128, S128W8, S256W8});
        byM.put(32, new Tiles[]{Gemm.SMALL, M64X32, M128X32, Gemm.MEDIUM});
        byM.put(64, new Tiles[]{Gemm.MEDIUM, M64X32, M64X64N, M128X64, M128X64W4});
        byM.put(128, new Tiles[]{Gemm.LARGE, Gemm.MEDIUM, M128X64, M128X64W4});
        List<Tiles> all = new ArrayList<>();
        byM.values().forEach(ts -> { for (Tiles t : ts) if (!all.contains(t)) all.add(t); });
        for (Tiles t : new Tiles[]{L128W8, L128W8S4, L128X256, L256X128, L4S4, Gemm.WGMMA_128, Gemm.WGMMA_256, WG128S3, WG128S4, WG256S3, WG64X128, WG64X256}) all.add(t);
        for (Tiles t : all) {
            if (t.wgmma() && cuda.device().sm() != 90) continue;
            Gemm.Plan p = gemm.plan(t.bm(), 4096, 4096, t, 1, true);
            for (boolean conv : new boolean[]{false, true}) {
                if (!conv && t.bm() > 64) continue;
                Gemm.Plan q = conv ? converted(p) : p;
                // the variant's constants pick the compiled kernel; its arrays are not touched
                CudaModule.Resources r = cuda.resources(Gemm.kernelFor(q), q.launch(), Gemm.launchArguments(q, null, null, null, t.bm(), 4096, 4096));
                System.out.printf("SWEEPRES,%s,%s,%d regs,%d B dyn smem,%d B local,%d blocks/SM,%.0f%% warps%n", t, conv ? "bf16X" : "f32X",
                        r.registers(), q.launch().sharedBytes(), r.localBytes(), r.blocksPerSm(), 100 * r.occupancy(t.threads()));
            }
        }
        int[][] shapes = {{4096, 4096}, {1024, 4096}, {14336, 4096}, {4096, 14336}};
        for (int[] s : shapes) {
            int n = s[0], k = s[1];
            double floorUs = 2.0 * n * k / copy * 1e6;
            try (GemmBench.Operands o = new GemmBench.Operands(cuda, 128, n, k)) {
                for (var e : byM.entrySet()) {
                    int m = e.getKey();
                    String best = null;
                    double bestUs = 1e30;
                    for (Tiles t : e.getValue()) {
                        long blocks = (long) ((n + t.bn() - 1) / t.bn()) * ((m + t.bm() - 1) / t.bm());
                        long resident = 132L * gemm.blocksPerSm(t);
                        int kTiles = k / 64;
                        java.util.TreeSet<Integer> splits = new java.util.TreeSet<>();
                        for (int sp : new int[]{1, 2, 3, 4, 6, 8, 12, 16})
                            if (blocks * sp <= 2 * resident && sp <= kTiles / 4) splits.add(sp);
                        splits.add((int) Math.max(1, Math.min(kTiles / 4, resident / blocks)));
                        boolean checked = false;
                        for (int sp : splits) {
                            Gemm.Plan p = gemm.plan(m, n, k, t, sp, true);
                            for (boolean conv : new boolean[]{false, true}) {
                                if (!conv && t.bm() > 64) continue;
                                Gemm.Plan q = conv ? converted(p) : p;
                                boolean check = n == 4096 && k == 4096 && !checked;
                                double us = GemmBench.time(cuda, gemm, q, o, m, check);
                                String line = String.format("%s s=%d %s", t.name(), q.splits(), conv ? "bf16X" : "f32X");
                                System.out.printf("SWEEP,%d,%d,%d,%s,%d,%s,%.2f,%.1f%n", n, k, m, t.name(), q.splits(), conv ? "bf16X" : "f32X", us, 100 * floorUs / us);
                                if (us < bestUs) { bestUs = us; best = line; }
                            }
                            checked = true;
                        }
                    }
                    System.out.printf("best N=%-5d K=%-5d M=%-4d %8.2f us (%5.1f%% of floor %.1f us, %.1f TFLOP/s): %s%n", n, k, m, bestUs, 100 * floorUs / bestUs,
                            floorUs, 2.0 * m * n * k / bestUs / 1e6, best);
                }
            }
        }
        // prefill: tile shapes at large M (bf16 X converted first, as the default does above 64 tokens); the
        // wgmma ones need an sm_90 device; K slices as the default plan's rule would choose for them
        for (int[] s : new int[][]{{4096, 4096}, {14336, 4096}, {4096, 14336}}) {
            int n = s[0], k = s[1];
            try (GemmBench.Operands o = new GemmBench.Operands(cuda, 8192, n, k)) {
                for (int m : new int[]{128, 256, 512, 2048, 8192}) {
                    for (Tiles t : new Tiles[]{Gemm.LARGE, L128W8, L128X256, L256X128, Gemm.WGMMA_128, Gemm.WGMMA_256, WG128S3, WG128S4, WG256S3, WG64X128, WG64X256}) {
                        if (t.wgmma() && cuda.device().sm() != 90) continue;
                        long blocks = (long) ((n + t.bn() - 1) / t.bn()) * ((m + t.bm() - 1) / t.bm());
                        int splits = (int) Math.max(1, Math.min(k / 64 / 4, 132L * gemm.blocksPerSm(t) / blocks));
                        Gemm.Plan p = gemm.plan(m, n, k, t, splits, true);
                        double us = GemmBench.time(cuda, gemm, p, o, m, m == 512 && n == 4096 && k == 4096);
                        System.out.printf("PREFILL,%d,%d,%d,%s,%d,%.1f,%.1f%n", n, k, m, t.name(), p.splits(), us, 2.0 * m * n * k / us / 1e6);
                    }
                }
            }
        }
    }

    /** The same plan with fp32 X first converted to a bf16 copy (one extra pass), then loaded by cp.async. */
    static Gemm.Plan converted(Gemm.Plan p) {
        return new Gemm.Plan(p.tiles(), p.splits(), p.kTilesPerSplit(), p.launch(), true);
    }
}
