package dev.arbor.kernels.gemm;

import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The tensor-core GEMM on the CPU executor (mma, ldmatrix and cp.async emulated) against the
 * double-precision reference at odd shapes: M in 1, 7, 13, 255 (every tile size, partial tiles),
 * N not a multiple of any tile, K with a partial 64-wide stage, split-K, residual accumulation,
 * every input/output type.
 */
class GemmTest {
    private final CpuBackend cpu = new CpuBackend();
    private final Gemm gemm = new Gemm(cpu);

    @Test
    void smallTilesAtDecodeSizes() {
        for (int m : new int[]{1, 7, 13}) GemmCase.of(m, 72, 136).check(cpu, gemm);
    }

    @Test
    void mediumAndLargeTilesWithTails() {
        GemmCase.of(29, 136, 72).check(cpu, gemm);
        GemmCase.of(40, 136, 72).check(cpu, gemm);
        GemmCase.of(255, 136, 72).check(cpu, gemm);
    }

    @Test
    void splitKAndResidualAccumulation() {
        Gemm.Plan p = gemm.plan(7, 40, 1032, true, true);
        assertTrue(p.splits() > 1, "a narrow N with a long K splits: " + p);
        GemmCase.of(7, 40, 1032).check(cpu, gemm);
        new GemmCase(7, 40, 1032, "f32", "bf16", "f32", true).check(cpu, gemm);
        new GemmCase(13, 24, 136, "f32", "bf16", "f32", true).check(cpu, gemm);
    }

    @Test
    void everyTypeCombination() {
        for (String[] t : new String[][]{{"f32", "f16", "f32"}, {"bf16", "bf16", "f32"}, {"f16", "f16", "f32"},
                {"bf16", "bf16", "bf16"}, {"f32", "bf16", "bf16"}}) {
            new GemmCase(13, 40, 72, t[0], t[1], t[2], false).check(cpu, gemm);
            new GemmCase(5, 24, 136, t[0], t[1], t[2], true).check(cpu, gemm);
        }
        new GemmCase(70, 24, 72, "f32", "f16", "f32", false).check(cpu, gemm);     // fp32 X converted first (M > 64)
        new GemmCase(70, 24, 72, "f32", "bf16", "bf16", true).check(cpu, gemm);
    }

    @Test
    void wgmmaTilesAgreeWithTheReference() {
        Gemm hopper = new Gemm(cpu, true);
        hopper.deep(false);   // the plan's rules around the deep plan (65-256 tokens: GemmDeepTest)
        Gemm.Tiles t128 = Gemm.TMA_DEFAULT ? Gemm.TMA_128 : Gemm.WGMMA_128, t256 = Gemm.TMA_DEFAULT ? Gemm.TMA_256 : Gemm.WGMMA_256;
        assertSame(t128, hopper.plan(65, 4096, 4096, true, true).tiles());
        assertSame(Gemm.TMA_DEFAULT ? Gemm.TMA_PP128 : t256, hopper.plan(8192, 4096, 4096, true, true).tiles());   // 32 × 32 blocks: two waves and more
        if (Gemm.TMA_DEFAULT) {   // the measured TMA tile rule (run 22-gemm3)
            assertSame(Gemm.TMA_128, hopper.plan(128, 14336, 4096, true, true).tiles());
            assertSame(Gemm.TMA_256, hopper.plan(256, 14336, 4096, true, true).tiles());
            assertSame(Gemm.TMA_128, hopper.plan(512, 1024, 4096, true, true).tiles(), "32 tiles of 128: split-K, not ping-pong");
            assertSame(Gemm.TMA_256, hopper.plan(256, 12288, 4096, true, true).tiles(), "256 tokens: not ping-pong");
            assertSame(Gemm.TMA_256, hopper.plan(16384, 4096, 4096, true, true).tiles(), "above 8192 tokens: not ping-pong");
            assertSame(Gemm.TMA_256, hopper.plan(2048, 4096, 11008, true, true).tiles(), "long K above 512 tokens: not ping-pong");
            assertSame(Gemm.TMA_256, hopper.plan(8192, 22016, 4096, true, true).tiles(), "more than 12,288 rows above 2048 tokens: not ping-pong");
            assertSame(Gemm.TMA_256X3, hopper.plan(434, 12288, 4096, true, true).tiles(), "TMA_256X3's points: not ping-pong");
            for (int[] mnk : new int[][]{{256, 4096, 4096}, {1024, 4096, 11008}, {512, 1024, 4096}})
                assertFalse(hopper.plan(mnk[0], mnk[1], mnk[2], true, true).tiles().pingPong(), java.util.Arrays.toString(mnk));
            // the ping-pong kernel where the plan had TMA_128 or TMA_256 at 257-8192 tokens (runs 48-pp10, 49-pp10, 53-pp11),
            // the engine's decode batches of llama-7b's o, down and lm_head included
            for (int[] mnk : new int[][]{{2048, 1024, 4096}, {8192, 1024, 4096}, {1024, 4096, 4096}, {2048, 4096, 4096},
                    {2048, 28672, 4096}, {8192, 12288, 4096}, {434, 4096, 4096}, {500, 4096, 11008}, {512, 28672, 4096}, {434, 32000, 4096}}) {
                Gemm.Plan p = hopper.plan(mnk[0], mnk[1], mnk[2], true, true);
                assertTrue(p.tiles() == Gemm.TMA_PP128 && p.persistent() && p.splits() == 1
                        && p.launch().grid()[0] == Math.min(132, (mnk[1] + 127) / 128 * ((mnk[0] + 127) / 128)), java.util.Arrays.toString(mnk) + ": " + p);
            }
            // TMA_256X3 where its waves are expected shorter, up to 2048 tokens (run 39-gemm8)
            assertSame(Gemm.TMA_256X3, hopper.plan(512, 11008, 4096, true, true).tiles(), "one wave of 116 blocks, not two of 172: 84.6 against 119.4 µs");
            assertSame(Gemm.TMA_256X3, hopper.plan(2048, 22016, 4096, true, true).tiles(), "7 waves, not 11: 616.4 against 679.4 µs");
            assertSame(Gemm.TMA_256, hopper.plan(256, 22016, 4096, true, true).tiles(), "256 tokens: the mid range's choice");
            assertSame(Gemm.TMA_256X3, hopper.invariantPlan(512, 22016, 4096, true).tiles(), "the invariant plan's one-slice weights too (run 53-inv11)");
        }
        assertSame(Gemm.TMA_DEFAULT ? Gemm.TMA_64 : Gemm.WIDE, hopper.plan(64, 4096, 4096, true, true).tiles());
        assertSame(Gemm.MEDIUM, hopper.plan(32, 4096, 4096, true, true).tiles());
        assertSame(Gemm.WIDE, hopper.plan(64, 4096, 4096, false, true).tiles());       // bf16 output: mma.sync
        assertSame(Gemm.LARGE, hopper.plan(65, 4096, 4096, false, true).tiles());      // bf16 output: mma.sync
        // the batch-invariant plan: the TMA tiles above 64 tokens (the same bits as its mma.sync slabs: GemmInvarianceTest),
        // the mma.sync tiles up to 64 (not the TMA decode tile), and mma.sync everywhere without the Hopper planner
        assertSame(Gemm.TMA_64X2, hopper.invariantPlan(65, 4096, 4096, true).tiles());   // its TMA_64X2 slabs (run 35-inv6)
        assertSame(Gemm.TMA_128, hopper.invariantPlan(65, 12288, 4096, true).tiles());
        assertSame(Gemm.WIDE, hopper.invariantPlan(64, 4096, 4096, true).tiles());
        assertSame(Gemm.LARGE, gemm.invariantPlan(65, 4096, 4096, true).tiles());
        GemmCase.of(70, 136, 200).check(cpu, hopper);                                   // partial tiles in M, N and K
        new GemmCase(70, 136, 200, "bf16", "bf16", "f32", true).check(cpu, hopper);     // bf16 X, residual added
        GemmCase.of(300, 72, 136).check(cpu, hopper, hopper.plan(300, 72, 136, Gemm.WGMMA_256, 1, true));
        GemmCase.of(90, 40, 1032).check(cpu, hopper, hopper.plan(90, 40, 1032, Gemm.WGMMA_128, 3, true));   // split-K, atomics
        new GemmCase(70, 24, 72, "f32", "f16", "f32", false).check(cpu, hopper);        // fp16 W: mma.sync
        Gemm.Tiles oneWarpgroup = new Gemm.Tiles("wgmma64x128", 4, 1, 1, 16, 3, true);   // one warpgroup a block, 3 stages (one tile ahead)
        GemmCase.of(150, 72, 200).check(cpu, hopper, hopper.plan(150, 72, 200, oneWarpgroup, 1, true));
    }

    /**
     * The warp-specialized TMA tiles on the CPU executor: the producer's bulk copies (zeros past M, N and K) and the
     * consumers' mbarrier waits run as concurrent work-items; partial tiles, split-K with atomics, a residual, bf16 X.
     */
    @Test
    void tmaTilesAgreeWithTheReference() {
        Gemm hopper = new Gemm(cpu, true);
        GemmCase.of(70, 136, 200).check(cpu, hopper, hopper.plan(70, 136, 200, Gemm.TMA_128, 1, true));
        GemmCase.of(300, 72, 456).check(cpu, hopper, hopper.plan(300, 72, 456, Gemm.TMA_256, 1, true));     // 8 K tiles through 4 stages twice
        // three consumer warpgroups of 64 x 256 (setmaxnreg; each k16 step as two n128 halves): two W-row tiles, the second of 8 rows
        GemmCase.of(300, 200, 456).check(cpu, hopper, hopper.plan(300, 200, 456, Gemm.TMA_256X3, 1, true));
        GemmCase.of(90, 40, 1032).check(cpu, hopper, hopper.plan(90, 40, 1032, Gemm.TMA_128, 3, true));     // split-K, atomics
        GemmCase.of(50, 136, 456).check(cpu, hopper, hopper.plan(50, 136, 456, Gemm.TMA_64, 2, true));      // decode tiles: 8 stages, 2 slices
        GemmCase.of(20, 72, 1032).check(cpu, hopper, hopper.plan(20, 72, 1032, Gemm.TMA_32, 1, true));     // 17 K tiles through 10 stages
        GemmCase.of(3, 40, 840).check(cpu, hopper, hopper.plan(3, 40, 840, Gemm.TMA_16, 1, true));
        // the mid range's candidates: 64 x 128 tokens in 4 stages (two M tiles, 7 K tiles: the ring wraps), a narrow-N tile of one
        // consumer warpgroup (3 W-row tiles of 64, the last partial), split-K with atomics and a residual
        GemmCase.of(100, 136, 456).check(cpu, hopper, hopper.plan(100, 136, 456, Gemm.TMA_64X2, 1, true));
        GemmCase.of(130, 136, 456).check(cpu, hopper, hopper.plan(130, 136, 456, Gemm.TMA_N64, 1, true));
        new GemmCase(90, 136, 1032, "f32", "bf16", "f32", true).check(cpu, hopper, hopper.plan(90, 136, 1032, Gemm.TMA_N64, 3, true));
        new GemmCase(90, 40, 1032, "f32", "bf16", "f32", true).check(cpu, hopper, hopper.plan(90, 40, 1032, Gemm.TMA_64X2, 2, true));
        if (Gemm.TMA_DEFAULT) new GemmCase(130, 136, 200, "bf16", "bf16", "f32", true).check(cpu, hopper);   // the default plan: TMA_128
    }

    /**
     * 65-256 tokens: the rule "old" is the one before run 31-midm ({@link Gemm#tmaTilesFor}); a tile's name forces those tiles
     * with the one-wave split (two blocks a multiprocessor for the 96 KiB tiles); outside 65-256 the rule changes nothing.
     */
    @Test
    void midRangeRuleChoosesAmongItsCandidates() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            hopper.deep(false);   // the mid range's rules, as -Darbor.gemm.deep=false has them
            hopper.mid("old");
            assertSame(Gemm.TMA_128, hopper.plan(128, 4096, 4096, true, true).tiles());
            assertEquals(4, hopper.plan(128, 4096, 4096, true, true).splits(), "32 blocks of 128 x 128 on 132 multiprocessors");
            assertSame(Gemm.TMA_256, hopper.plan(256, 12288, 4096, true, true).tiles());
            hopper.mid("tma64x2");
            assertEquals(2, hopper.blocksPerSm(Gemm.TMA_64X2));
            Gemm.Plan p = hopper.plan(128, 4096, 4096, true, true);
            assertSame(Gemm.TMA_64X2, p.tiles());
            assertEquals(4, p.splits(), "64 blocks, 264 resident");
            assertSame(Gemm.TMA_64, hopper.plan(64, 4096, 4096, true, true).tiles(), "64 tokens: not the mid range");
            assertSame(Gemm.TMA_128, hopper.plan(300, 4096, 4096, true, true).tiles(), "300 tokens: not the mid range");
            hopper.mid("tman64");
            Gemm.Plan q = hopper.plan(100, 4096, 4096, true, true);
            assertSame(Gemm.TMA_N64, q.tiles());
            assertEquals(64, q.launch().grid()[0], "4096 W rows in tiles of 64");
            assertEquals(4, q.splits(), "64 blocks, 264 resident");
            assertThrows(IllegalArgumentException.class, () -> hopper.mid("tma999"));
            hopper.mid("table");   // the measured table: TMA_64X2 at its shapes, the rule before elsewhere
            hopper.midTuned(false);   // the rules under run 94's table (GemmMidTunedTest)
            hopper.pingPongMid(false);   // the table's tiles (the mid-range ping-pong rule: midRangePingPongRule)
            assertSame(Gemm.TMA_64X2, hopper.plan(107, 22016, 4096, true, true).tiles());
            assertSame(Gemm.TMA_64X2, hopper.plan(192, 22016, 4096, true, true).tiles());
            assertSame(Gemm.TMA_256, hopper.plan(256, 22016, 4096, true, true).tiles());
            assertSame(Gemm.TMA_128, hopper.plan(128, 28672, 4096, true, true).tiles());
            assertSame(Gemm.TMA_64X2, hopper.plan(200, 1024, 4096, true, true).tiles());
            assertSame(Gemm.TMA_128, hopper.plan(107, 4096, 4096, true, true).tiles());
            assertSame(Gemm.TMA_128, hopper.plan(107, 12288, 4096, true, true).tiles());
            Gemm.Plan qkv1b = hopper.plan(128, 3072, 2048, true, true), o1b = hopper.plan(128, 2048, 2048, true, true);
            assertSame(Gemm.TMA_64X2, qkv1b.tiles());   // llama3.2-1b at batch 128 (run 35-midk6)
            assertEquals(5, qkv1b.splits(), "48 blocks, 264 resident");
            assertSame(Gemm.TMA_64X2, o1b.tiles());
            assertEquals(8, o1b.splits(), "32 blocks, at least 4 K tiles a slice");
            assertSame(Gemm.TMA_128, hopper.plan(128, 16384, 2048, true, true).tiles());
            assertSame(Gemm.TMA_128, hopper.plan(129, 3072, 2048, true, true).tiles(), "129 tokens: not measured");
        }
    }

    /** The grouped raster visits every tile of the grid once, walks a group's token tiles first, and is the plain order at group 1. */
    @Test
    void rasterIsABijectionOfTheGrid() {
        for (int tilesN : new int[]{1, 3, 32, 172})
            for (int tilesM : new int[]{1, 2, 7, 64})
                for (int group : new int[]{1, 2, 3, 8, 100}) {
                    boolean[] seen = new boolean[tilesN * tilesM];
                    for (int by = 0; by < tilesM; by++)
                        for (int bx = 0; bx < tilesN; bx++) {
                            int tn = GemmKernels.rasterTileN(bx, by, tilesN, tilesM, group), tm = GemmKernels.rasterTileM(bx, by, tilesN, tilesM, group);
                            assertTrue(tn >= 0 && tn < tilesN && tm >= 0 && tm < tilesM, "tile in the grid");
                            assertFalse(seen[tm * tilesN + tn], "tile (" + tn + ", " + tm + ") twice: " + tilesN + "x" + tilesM + " group " + group);
                            seen[tm * tilesN + tn] = true;
                            if (group == 1) assertEquals(bx + 10 * by, tn + 10 * tm);
                        }
                }
        // 172 W-row tiles × 64 token tiles in groups of 8: blocks 0..7 take token tiles 0..7 of W-row tile 0, block 8 W-row tile 1
        assertEquals(0, GemmKernels.rasterTileN(7, 0, 172, 64, 8));
        assertEquals(7, GemmKernels.rasterTileM(7, 0, 172, 64, 8));
        assertEquals(1, GemmKernels.rasterTileN(8, 0, 172, 64, 8));
        assertEquals(0, GemmKernels.rasterTileM(8, 0, 172, 64, 8));
    }

    /** The TMA kernels (plain, split-K slabs, slices summed in registers) in a raster of 2 over a 3 × 3 grid of tiles: the reference's values. */
    @Test
    void tmaTilesInAGroupedRasterAgreeWithTheReference() {
        Gemm hopper = new Gemm(cpu, true);
        hopper.raster(2);
        GemmCase.of(300, 272, 136).check(cpu, hopper, hopper.plan(300, 272, 136, Gemm.TMA_128, 1, true));
        new GemmCase(300, 272, 136, "f32", "bf16", "f32", true).check(cpu, hopper, hopper.plan(300, 272, 136, Gemm.TMA_128, 1, true));   // residual
        GemmCase.of(300, 272, 264).check(cpu, hopper, hopper.slicedPlan(300, 272, 264, 2, true));
        GemmCase.of(300, 272, 264).check(cpu, hopper, hopper.slabPlan(300, 272, 264, Gemm.TMA_128, 2, true));
    }

    /**
     * The persistent TMA kernel on the CPU executor with 2 blocks over 3 × 3 output tiles (each block 4-5 tiles, the stage
     * ring running on across them: 5 K tiles a tile through 6 stages), in a raster of 2, with and without a residual; and the
     * plans' rule when it is on (off by default): unsplit TMA tiles of more than one wave go persistent, one wave or split-K do not.
     */
    @Test
    void persistentTmaKernelAgreesWithTheReference() {
        Gemm hopper = new Gemm(cpu, true);
        hopper.raster(2);
        Gemm.Plan one = hopper.persistentPlan(300, 272, 264, Gemm.TMA_128, true);
        assertTrue(one.persistent() && one.launch().grid()[0] == 9, "9 tiles, 132 multiprocessors: a block a tile: " + one);
        Gemm.Plan two = new Gemm.Plan(Gemm.TMA_128, 1, one.kTilesPerSplit(), new dev.arbor.accel.Launch(new int[]{2, 1, 1}, one.launch().block(),
                one.launch().sharedBytes(), null), true, false, false, true);
        GemmCase.of(300, 272, 264).check(cpu, hopper, two);
        new GemmCase(300, 272, 264, "f32", "bf16", "f32", true).check(cpu, hopper, two);   // residual
        if (Gemm.TMA_DEFAULT) {
            assertEquals(Gemm.PERSISTENT_DEFAULT, hopper.plan(16384, 4096, 4096, true, true).persistent(), "off unless -Darbor.gemm.persistent=true");
            hopper.persistent(true);
            Gemm.Plan big = hopper.plan(16384, 4096, 4096, true, true);
            assertTrue(big.persistent() && big.tiles() == Gemm.TMA_256 && big.launch().grid()[0] == 132, "32 x 64 tiles: persistent: " + big);
            assertSame(Gemm.TMA_PP128, hopper.plan(1024, 4096, 4096, true, true).tiles(), "32 x 8 tiles of 128: the ping-pong kernel's (not the persistent one)");
            assertFalse(hopper.plan(256, 4096, 4096, true, true).persistent(), "below the ping-pong rule: one wave, a block a tile");
            hopper.pingPong(false);
            assertFalse(hopper.plan(1024, 4096, 4096, true, true).persistent(), "16 x 8 tiles of 128 x 256 without the ping-pong kernel: one wave, a block a tile");
            hopper.pingPong(true);
            assertFalse(hopper.plan(512, 1024, 4096, true, true).persistent(), "split-K");
            Gemm.Plan inv = hopper.invariantPlan(8192, 22016, 4096, true);
            assertTrue(inv.persistent(), "the invariant plan's one-slice shapes (stacked gate|up): persistent: " + inv);
        }
    }

    /**
     * The stream-K kernel on the CPU executor: 3 × 3 output tiles of 128 × 128 (TMA_128), 5 K tiles each (45 MAC iterations), over
     * 2, 4 and 7 blocks, so block ranges start and end inside tiles (tiles shared by 2-3 blocks, atomic adds) and cross tile
     * boundaries (the ring carried across segments); a raster of 2; with and without a residual; TMA_64X2 (64-token tiles, 4
     * stages) over 5 blocks; one block a MAC iteration at most; and the default plan takes it only with the switch.
     */
    @Test
    void streamKTmaKernelAgreesWithTheReference() {
        Gemm hopper = new Gemm(cpu, true);
        hopper.raster(2);
        Gemm.Plan full = hopper.streamKPlan(300, 272, 264, Gemm.TMA_128, true);
        assertTrue(full.streamK() && full.launch().grid()[0] == 45, "45 iterations, 132 multiprocessors: a block an iteration: " + full);
        GemmCase.of(300, 272, 264).check(cpu, hopper, full);
        for (int blocks : new int[]{2, 4, 7}) {
            Gemm.Plan p = new Gemm.Plan(Gemm.TMA_128, 1, full.kTilesPerSplit(), new dev.arbor.accel.Launch(new int[]{blocks, 1, 1}, full.launch().block(),
                    full.launch().sharedBytes(), null), true, false, false, true, true);
            GemmCase.of(300, 272, 264).check(cpu, hopper, p);
            new GemmCase(300, 272, 264, "f32", "bf16", "f32", true).check(cpu, hopper, p);   // residual
        }
        Gemm.Plan q = hopper.streamKPlan(150, 200, 264, Gemm.TMA_64X2, true);
        Gemm.Plan five = new Gemm.Plan(Gemm.TMA_64X2, 1, q.kTilesPerSplit(), new dev.arbor.accel.Launch(new int[]{5, 1, 1}, q.launch().block(),
                q.launch().sharedBytes(), null), true, false, false, true, true);
        GemmCase.of(150, 200, 264).check(cpu, hopper, five);
        if (Gemm.TMA_DEFAULT) {
            assertEquals(Gemm.STREAM_K_DEFAULT, hopper.plan(512, 1024, 4096, true, true).streamK(), "off unless -Darbor.gemm.streamK=true");
            hopper.streamK(true);
            Gemm.Plan kv = hopper.plan(512, 1024, 4096, true, true);
            assertTrue(kv.streamK() && kv.launch().grid()[0] == 132, "k/v at 512 tokens: 128 of 132 blocks in 4 slices: stream-K: " + kv);
            assertFalse(hopper.invariantPlan(512, 1024, 4096, true).streamK(), "never the invariant plan");
            hopper.streamK(false);
        }
    }

    /**
     * The mid range's ping-pong rule (run 61-gemm15): at 113-128 tokens, where the plan has unsplit TMA_128 and the 128-row tiles fill
     * ≥ 90% of 132 multiprocessors (llama3.2-1b's gate|up 16384×2048: 128 tiles; its lm_head: 1002), the ping-pong kernel; not for
     * fewer tiles (q|k|v 3072×2048: 24), nor below 113 tokens, nor with the switch off, nor in the invariant plan.
     */
    @Test
    void midRangePingPongRule() {
        if (!Gemm.TMA_DEFAULT || !Gemm.PING_PONG_DEFAULT) return;
        Gemm hopper = new Gemm(cpu, true);
        hopper.midTuned(false);   // the rule under run 94's table (GemmMidTunedTest)
        hopper.pingPongMid(true);
        for (int[] s : new int[][]{{128, 16384, 2048}, {120, 16384, 2048}, {128, 128256, 2048}, {128, 28672, 4096}}) {
            Gemm.Plan p = hopper.plan(s[0], s[1], s[2], true, true);
            assertTrue(p.tiles() == Gemm.TMA_PP128 && p.persistent(), s[1] + "x" + s[2] + " at " + s[0] + ": " + p);
            assertFalse(hopper.invariantPlan(s[0], s[1], s[2], true).tiles().pingPong(), "the invariant plan keeps its forms");
        }
        assertFalse(hopper.plan(128, 3072, 2048, true, true).tiles().pingPong(), "24 tiles");
        assertFalse(hopper.plan(112, 16384, 2048, true, true).tiles().pingPong(), "below 113 tokens (the deep tiles there)");
        hopper.pingPongMid(false);
        assertFalse(hopper.plan(128, 16384, 2048, true, true).tiles().pingPong(), "switch off: main's plan");
        GemmCase.of(100, 272, 264).check(cpu, hopper, hopper.pingPongPlan(100, 272, 264, Gemm.TMA_PP128, true));   // a partial 128-token tile
    }

    /**
     * The ping-pong kernel on the CPU executor: 3 × 3 output tiles of 128 × 128 (TMA_PP128) and 2 × 2 of 128 × 192 (TMA_PP192)
     * over 2 blocks, so each block's two warpgroups take 2-3 tiles in turns through the ordered barrier, the stage ring (5 K
     * tiles a tile through 7 or 5 stages) running on across them; a raster of 2, with and without a residual; one block a tile
     * when the tiles fit the multiprocessors; and the plans refuse the ping-pong tiles in any other form.
     */
    @Test
    void pingPongTmaKernelAgreesWithTheReference() {
        Gemm hopper = new Gemm(cpu, true);
        hopper.raster(2);
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_PP128, Gemm.TMA_PP192}) {
            int m = t == Gemm.TMA_PP128 ? 300 : 330, n = t == Gemm.TMA_PP128 ? 272 : 200;
            Gemm.Plan one = hopper.pingPongPlan(m, n, 264, t, true);
            int tiles = ((n + 127) / 128) * ((m + t.bm() - 1) / t.bm());
            assertTrue(one.persistent() && one.launch().grid()[0] == tiles && one.launch().block()[0] == 384, tiles + " tiles: a block a tile: " + one);
            Gemm.Plan two = new Gemm.Plan(t, 1, one.kTilesPerSplit(), new dev.arbor.accel.Launch(new int[]{2, 1, 1}, one.launch().block(),
                    one.launch().sharedBytes(), null), true, false, false, true);
            GemmCase.of(m, n, 264).check(cpu, hopper, two);
            new GemmCase(m, n, 264, "f32", "bf16", "f32", true).check(cpu, hopper, two);   // residual
            GemmCase.of(m, n, 264).check(cpu, hopper, one);
            assertThrows(IllegalArgumentException.class, () -> GemmCase.of(m, n, 264).check(cpu, hopper, hopper.plan(m, n, 264, t, 1, true)));
        }
        assertEquals(7 * 256 * 128 + 16 * 7 + 16, Gemm.TMA_PP128.sharedBytes());
        assertThrows(IllegalArgumentException.class, () -> new Gemm.Tiles("pp", 12, 1, 1, 16, 4, true, true, true));
    }

    @Test
    void rejectsShapesItCannotRun() {
        try (FloatArray a = new FloatArray(64); BFloat16Array w = new BFloat16Array(64); FloatArray c = new FloatArray(64)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gemm.matmul(a, 1, w, 1, 12, c, false));
            assertTrue(e.getMessage().contains("multiple of 8"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> gemm.matmul(a, 2, w, 8, 16, c, false));
            assertTrue(e.getMessage().contains("w has 64 elements, needs n*k = 128"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> gemm.matmul(a, 0, w, 1, 8, c, false));
        }
    }

    @Test
    void tilesFollowM() {
        assertSame(Gemm.SMALL, Gemm.tilesFor(1));
        assertSame(Gemm.SMALL, Gemm.tilesFor(16));
        assertSame(Gemm.MEDIUM, Gemm.tilesFor(17));
        assertSame(Gemm.MEDIUM, Gemm.tilesFor(32));
        assertSame(Gemm.WIDE, Gemm.tilesFor(33));
        assertSame(Gemm.WIDE, Gemm.tilesFor(64));
        assertSame(Gemm.LARGE, Gemm.tilesFor(65));
        assertEquals(96 * 1024, Gemm.LARGE.sharedBytes());
        assertEquals(96 * 1024, Gemm.WIDE.sharedBytes());
        assertFalse(gemm.plan(16, 4096, 4096, true, true).convertFirst());
        assertTrue(gemm.plan(17, 4096, 4096, true, true).convertFirst());
        assertTrue(gemm.plan(65, 4096, 4096, true, true).convertFirst());
        // 2-16 tokens in one K slice (the wide weights) convert first too; one token, and more than one slice, on load
        assertFalse(gemm.plan(1, 22016, 4096, true, true).convertFirst());
        assertTrue(gemm.plan(2, 22016, 4096, true, true).convertFirst());
        assertTrue(gemm.invariantPlan(16, 22016, 4096, true).convertFirst());
        assertFalse(gemm.invariantPlan(1, 32000, 4096, true).convertFirst());
        assertFalse(gemm.invariantPlan(16, 4096, 4096, true).convertFirst());
        assertFalse(gemm.invariantPlan(8, 12288, 4096, true).convertFirst());
    }

    @Test
    void invariantSlicesKeepEveryDecodeTileInOneWave() {
        // 132 multiprocessors (the CPU backend's H200 figure) × SMALL 5 / MEDIUM 4 / WIDE 2 blocks, at most 8 slices
        assertEquals(8, gemm.invariantSlices(4096, 4096));    // 64 SMALL blocks a slice: 8 × 64 = 512 <= 660, MEDIUM 512 <= 528, WIDE 256 <= 264
        assertEquals(8, gemm.invariantSlices(4096, 11008));
        assertEquals(2, gemm.invariantSlices(12288, 4096));   // 3 would be 576 MEDIUM blocks > 528
        assertEquals(1, gemm.invariantSlices(22016, 4096));
        assertEquals(1, gemm.invariantSlices(32000, 4096));
        assertEquals(8, gemm.invariantSlices(1024, 4096));
        assertEquals(2, gemm.invariantSlices(4096, 512));     // at least 4 K tiles a slice
    }

    @Test
    void splitsFillOneWaveAndNoMore() {
        // the CPU backend plans for 132 multiprocessors with the H200's resident blocks (SMALL 5, MEDIUM 4, WIDE and LARGE 2)
        assertEquals(10, gemm.plan(1, 4096, 4096, true, true).splits());       // 64 column tiles × 10 = 640 <= 660
        assertEquals(2, gemm.plan(1, 14336, 4096, true, true).splits());       // 224 × 2 = 448 <= 660 < 672
        assertEquals(2, gemm.plan(64, 14336, 4096, true, true).splits());      // 112 wide tiles × 2 = 224 <= 264
        assertEquals(8, gemm.plan(64, 4096, 4096, true, true).splits());       // 32 × 8 = 256 <= 264
        assertEquals(2, gemm.plan(32, 14336, 4096, true, true).splits());      // 224 medium tiles × 2 = 448 <= 528
        assertEquals(1, gemm.plan(2048, 4096, 4096, true, true).splits());     // 512 large tiles: already two waves
        assertEquals(1, gemm.plan(1, 4096, 4096, false, true).splits());       // bf16 output never splits
        Gemm.Plan kv = gemm.plan(1, 1024, 4096, true, true);
        assertEquals(16, kv.splits(), "at least 4 K tiles a slice: " + kv);
        assertEquals(64, kv.splits() * kv.kTilesPerSplit());
    }
}
