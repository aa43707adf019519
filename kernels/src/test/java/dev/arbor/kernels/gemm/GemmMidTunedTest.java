package dev.arbor.kernels.gemm;

import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The default plan's measured mid-range table ({@code -Darbor.gemm.midTuned}, {@link Gemm#tunedPlan}): its parsing, which
 * tokens an entry serves, that nothing else changes, and every form it can name run on the CPU executor against the reference.
 */
class GemmMidTunedTest {
    private final CpuBackend cpu = new CpuBackend();

    @Test
    void tableParsesAndRejectsMalformedEntries() {
        var t = Gemm.parseTuned(" 3072x2048x128=tma64x2/4, 2048x2048x256=deep128/1 ,16384x2048x128=tmapp128/1");
        assertEquals(3, t.size());
        assertEquals(new Gemm.TunedEntry(3072, 2048, 128, "tma64x2", 4), t.get(0));
        assertEquals("2048x2048x256=deep128/1", t.get(1).toString());
        assertTrue(Gemm.parseTuned("").isEmpty());
        assertTrue(Gemm.parseTuned(null).isEmpty());
        for (String bad : new String[]{"3072x2048=tma128/1", "3072x2048x128=tma128", "3072x2048x128=tma99/1", "3072x2048x64=tma128/1",
                "3072x2048x257=tma128/1", "3072x2048x128=tma128/0", "3072x2048x128=tmapp128/2", "axbxc=tma128/1", "3072x2048x128=tma128/1=2"})
            assertThrows(IllegalArgumentException.class, () -> Gemm.parseTuned(bad), bad);
    }

    /**
     * An entry measured at M tokens serves 3M/4 &lt; m ≤ M of its weight only (the smallest such M first); off, or anywhere else,
     * the plan is the rules' plan; the batch-invariant plan never reads the table.
     */
    @Test
    void entriesServeHalfTheirTokensUpAndNothingElse() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            if (!Gemm.TMA_DEFAULT) return;
            int[][] shapes = {{3072, 2048}, {2048, 2048}, {16384, 2048}, {2048, 8192}, {4096, 4096}};
            int[] ms = {1, 64, 65, 96, 97, 100, 128, 129, 192, 193, 200, 256, 257, 512};
            hopper.midTuned(false);
            hopper.midTunedTable("3072x2048x128=tma128/2,3072x2048x256=deep192/1,2048x2048x128=tmapp128/1,2048x8192x256=tman64/3");
            Gemm.Plan[][] before = new Gemm.Plan[shapes.length][ms.length];
            Gemm.Plan[][] inv = new Gemm.Plan[shapes.length][ms.length];
            for (int i = 0; i < shapes.length; i++)
                for (int j = 0; j < ms.length; j++) {
                    before[i][j] = hopper.plan(ms[j], shapes[i][0], shapes[i][1], true, true);
                    inv[i][j] = hopper.invariantPlan(ms[j], shapes[i][0], shapes[i][1], true);
                }
            hopper.midTuned(true);
            for (int i = 0; i < shapes.length; i++)
                for (int j = 0; j < ms.length; j++) {
                    int m = ms[j], n = shapes[i][0], k = shapes[i][1];
                    Gemm.Plan p = hopper.plan(m, n, k, true, true);
                    Gemm.Plan expected = n == 3072 && k == 2048 && m > 96 && m <= 128 ? hopper.plan(m, n, k, Gemm.TMA_128, 2, true)
                            : n == 3072 && k == 2048 && m > 192 && m <= 256 ? hopper.plan(m, n, k, Gemm.deepTiles(12, m), 1, true)
                            : n == 2048 && k == 2048 && m > 96 && m <= 128 ? hopper.pingPongPlan(m, n, k, Gemm.TMA_PP128, true)
                            : n == 2048 && k == 8192 && m > 192 && m <= 256 ? hopper.plan(m, n, k, Gemm.TMA_N64, 3, true)
                            : before[i][j];
                    String at = m + "x" + n + "x" + k;
                    assertEquals(expected.toString(), p.toString(), at);
                    assertEquals(Arrays.toString(expected.launch().grid()), Arrays.toString(p.launch().grid()), at);
                    assertEquals(expected.persistent(), p.persistent(), at);
                    assertEquals(inv[i][j].toString(), hopper.invariantPlan(m, n, k, true).toString(), "invariant " + at);
                }
            assertEquals(192, hopper.plan(200, 3072, 2048, true, true).tiles().bn());
            assertEquals(208, hopper.plan(200, 3072, 2048, true, true).tiles().bm(), "deep tiles sized for the step's tokens");
            assertNull(hopper.tunedPlan(96, 3072, 2048, true));
            assertEquals(2, hopper.tunedPlan(97, 3072, 2048, true).splits());
            hopper.midTunedTable("");
            for (int j = 0; j < ms.length; j++) assertEquals(before[0][j].toString(), hopper.plan(ms[j], 3072, 2048, true, true).toString());
        }
    }

    /**
     * {@code matmulPartialIntoZeroed} (the q|k|v GEMM after {@code rmsNormRowsBf16Zero}, {@code -Darbor.gemm.zeroInNorm}): a split-K
     * plan adds into C as it stands — C zeroed by the caller gives the reference, C poisoned with NaN stays NaN (no zeroing launch
     * of its own) — and only for that call: the next plain product zeroes C again. Unsplit plans store as always.
     */
    @Test
    void productIntoZeroedCSkipsOnlyItsOwnZeroing() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            int m = 100, n = 136, k = 1032;
            Gemm.Plan split = hopper.plan(m, n, k, Gemm.TMA_128, 3, true), unsplit = hopper.plan(m, n, k, Gemm.TMA_128, 1, true);
            assertTrue(Gemm.atomicSplitK(split));
            assertTrue(!Gemm.atomicSplitK(unsplit) && !Gemm.atomicSplitK(hopper.slabPlan(m, n, k, Gemm.TMA_128, 3, true))
                    && !Gemm.atomicSplitK(Gemm.clusterPlan(split)) && !Gemm.atomicSplitK(hopper.pingPongPlan(m, n, k, Gemm.TMA_PP128, true)));
            java.util.Random r = new java.util.Random(3);
            try (var x = new dev.arbor.accel.array.BFloat16Array(m * k); var w = new dev.arbor.accel.array.BFloat16Array(n * k);
                 var c = new dev.arbor.accel.array.FloatArray(m * n); var ref = new dev.arbor.accel.array.FloatArray(m * n)) {
                for (int i = 0; i < m * k; i++) x.set(i, r.nextFloat() * 2 - 1);
                for (int i = 0; i < n * k; i++) w.set(i, (r.nextFloat() * 2 - 1) * 0.1f);
                for (int i = 0; i < m * n; i++) { c.set(i, Float.NaN); ref.set(i, Float.NaN); }
                cpu.toDevice(x, w, c, ref);
                long before = Gemm.intoZeroedLaunches();
                hopper.matmulPartial(x, m, w, n, k, ref, split);   // zeroes its NaN first
                hopper.matmulPartialIntoZeroed(x, m, w, n, k, c, split);
                assertEquals(before + 1, Gemm.intoZeroedLaunches());
                cpu.toHost(c, ref);
                for (int i = 0; i < m * n; i++) {
                    assertTrue(Float.isFinite(ref.get(i)), "the plain split product zeroes C first");
                    assertTrue(Float.isNaN(c.get(i)), "no zeroing launch into a zeroed C: C[" + i + "] = " + c.get(i));
                }
                for (int i = 0; i < m * n; i++) c.set(i, i % 2 == 0 ? 0f : -0f);
                cpu.toDevice(c);
                hopper.matmulPartialIntoZeroed(x, m, w, n, k, c, split);
                cpu.toHost(c);
                for (int i = 0; i < m * n; i++)
                    assertEquals(ref.get(i), c.get(i), Math.abs(ref.get(i)) * 1e-5 + 1e-6, "C[" + i / n + "][" + i % n + "]");
                for (int i = 0; i < m * n; i++) c.set(i, Float.NaN);
                cpu.toDevice(c);
                hopper.matmulPartial(x, m, w, n, k, c, split);   // the next call zeroes again
                cpu.toHost(c);
                for (int i = 0; i < m * n; i++) assertEquals(ref.get(i), c.get(i), Math.abs(ref.get(i)) * 1e-5 + 1e-6, "after: C[" + i + "]");
                for (int i = 0; i < m * n; i++) c.set(i, Float.NaN);
                cpu.toDevice(c);
                hopper.matmulPartialIntoZeroed(x, m, w, n, k, c, unsplit);   // unsplit: stores
                cpu.toHost(c);
                for (int i = 0; i < m * n; i++) assertEquals(ref.get(i), c.get(i), Math.abs(ref.get(i)) * 1e-5 + 1e-6, "unsplit: C[" + i + "]");
            }
        }
    }

    /**
     * The default: on, with run 94-b128g's llama3.2-1b entries at 97-128 tokens (o TMA_64X2 × 4, gate|up TMA_64X2 unsplit with
     * the SwiGLU epilogue, down TMA_64X2 × 8); q|k|v (TMA_64X2 × 5) and lm_head (ping-pong) as the rules have them; llama-7b's
     * products untouched.
     */
    @Test
    void theDefaultTableIsRun94sLlama1bEntries() {
        if (!Gemm.TMA_DEFAULT || !Gemm.MID_TUNED_DEFAULT) return;
        try (Gemm hopper = new Gemm(cpu, true)) {
            assertEquals(Gemm.parseTuned(Gemm.MID_TUNED_TABLE_DEFAULT), hopper.midTunedTable());
            int[][] shapes = {{2048, 2048, 4}, {16384, 2048, 1}, {2048, 8192, 8}};
            for (int[] s : shapes) {
                Gemm.Plan p = hopper.plan(128, s[0], s[1], true, true);
                assertSame(Gemm.TMA_64X2, p.tiles(), p.toString());
                assertEquals(s[2], p.splits(), p.toString());
                assertTrue(!p.persistent() && !p.slabs(), p.toString());
            }
            assertTrue(Gemm.swiGluEpilogue(hopper.plan(128, 16384, 2048, true, true), true), "gate|up keeps the SwiGLU epilogue");
            Gemm.Plan qkv = hopper.plan(128, 3072, 2048, true, true);
            assertSame(Gemm.TMA_64X2, qkv.tiles());
            assertEquals(5, qkv.splits());
            assertTrue(hopper.plan(128, 128256, 2048, true, true).tiles().pingPong());
            hopper.midTuned(false);
            Gemm.Plan[] before = new Gemm.Plan[4];
            int[][] seven = {{12288, 4096}, {4096, 4096}, {22016, 4096}, {4096, 11008}};
            for (int i = 0; i < 4; i++) before[i] = hopper.plan(128, seven[i][0], seven[i][1], true, true);
            hopper.midTuned(true);
            for (int i = 0; i < 4; i++) assertEquals(before[i].toString(), hopper.plan(128, seven[i][0], seven[i][1], true, true).toString());
        }
    }

    /** Every tile name an entry may carry, split and unsplit, stored and added into C, through the default plan, against the reference. */
    @Test
    void everyTunedFormAgreesWithTheReference() {
        try (Gemm hopper = new Gemm(cpu, true)) {
            if (!Gemm.TMA_DEFAULT) return;
            hopper.midTuned(true);
            int n = 136, k = 520;
            for (String tiles : new String[]{"tma128", "tma64x2", "tman64", "tma256", "tmapp128", "deep64", "deep128", "deep192"})
                for (int splits : tiles.equals("tmapp128") ? new int[]{1} : new int[]{1, 3}) {
                    int mTable = tiles.equals("tma256") || tiles.equals("deep192") ? 256 : 128;
                    hopper.midTunedTable(n + "x" + k + "x" + mTable + "=" + tiles + "/" + splits);
                    int m = mTable == 256 ? 200 : 100;
                    Gemm.Plan p = hopper.plan(m, n, k, true, true);
                    assertEquals(splits, p.splits(), p.toString());
                    if (!tiles.startsWith("deep")) assertSame(Gemm.tunedTiles(tiles, m), p.tiles(), p.toString());
                    else assertEquals(Gemm.tunedTiles(tiles, m), p.tiles(), p.toString());
                    GemmCase.of(m, n, k).check(cpu, hopper);
                    new GemmCase(m, n, k, "bf16", "bf16", "f32", true).check(cpu, hopper);
                }
        }
    }
}
