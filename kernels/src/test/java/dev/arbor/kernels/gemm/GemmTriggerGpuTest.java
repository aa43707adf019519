package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.kernels.layer.FusedOps;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Gemm#earlyTrigger} on the device: llama-7b's batch-1 decode chain after the attention — o (invariant slabs, left
 * unsummed), the residual add + RMSNorm over 16 work-groups, gate|up with the SwiGLU epilogue, down (slabs) — every launch
 * overlapping the one before as the engine launches them, with the early-trigger twins (so each next grid is placed, and its
 * blocks stream their first W stages, while the one before still runs) gives the bits of the same chain launched plainly (no
 * overlap, no trigger): h, the residual, xn and down's slabs, element for element, in 8 rounds of a new X (a kernel that
 * let its successor in early and read X early would read the previous round's).
 */
@Tag("gpu")
class GemmTriggerGpuTest {
    /** x[i] = a value of (i, round); lets the next grid in first, waits for the previous one. */
    public static void writeX(KernelContext ctx, FloatArray x, int n, int round) {
        ctx.allowDependentLaunch();
        ctx.gridDependencyWait();
        int i = ctx.globalIdx;
        if (i < n) {
            int h = (i * 0x9E3779B1) ^ (round * 0x85EBCA77);
            h ^= h >>> 15;
            x.set(i, ((h & 0xFFFF) / 65536f - 0.5f) * 2f);
        }
    }

    private static final Kernel WRITE_X = Kernel.of(GemmTriggerGpuTest.class, "writeX");

    @Test
    void theChainGivesThePlainLaunchesBits() {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            int compared = compareChains(cuda, 4096, 11008, 8);
            System.out.printf("GemmTriggerGpuTest: llama-7b's o / norm / gate|up / down at b1, %d elements in 8 rounds, the same bits%n", compared);
        }
    }

    /**
     * The chain at hidden / inter, {@code rounds} rounds, plain then early; asserts the bits equal and 3 twin launches a chain
     * (the engine's b1 plans: o and down slabs, gate|up with the SwiGLU epilogue, on the mma.sync tiles). Returns the elements
     * compared. (GemmTriggerTest runs it on the CPU executor at a small shape.)
     */
    static int compareChains(Backend b, int hidden, int inter, int rounds) {
        try (Gemm gemm = new Gemm(b);
             FloatArray attn = new FloatArray(hidden); BFloat16Array wo = weights(hidden * hidden, 1);
             BFloat16Array wgu = weights(2 * inter * hidden, 2); BFloat16Array wd = weights(hidden * inter, 3);
             FloatArray normW = new FloatArray(hidden); FloatArray resid = new FloatArray(hidden); FloatArray xn = new FloatArray(hidden);
             FloatArray h = new FloatArray(inter); FloatArray c = new FloatArray(hidden); IntArray arrivals = new IntArray(1)) {
            for (int i = 0; i < hidden; i++) normW.set(i, 0.5f + (i % 17) / 16f);
            b.toDevice(attn, wo, wgu, wd, normW, resid, xn, h, c, arrivals);
            gemm.reserve(1, inter);
            for (int[] nk : new int[][]{{hidden, hidden}, {2 * inter, hidden}, {hidden, inter}}) gemm.reserveSlabs(1, nk[0], nk[1]);
            Gemm.Plan po = gemm.invariantPlan(1, hidden, hidden, true), pgu = gemm.invariantPlan(1, 2 * inter, hidden, true),
                    pd = gemm.invariantPlan(1, hidden, inter, true);
            boolean llama = hidden == 4096 && b instanceof CudaBackend;   // the H200's plans at llama-7b: o and down in 8 slabs
            assertTrue((!llama || po.slabs() && pd.slabs()) && Gemm.swiGluEpilogue(pgu, false) && !po.tiles().wgmma() && !pd.tiles().wgmma(),
                    "the b1 plans: " + po + " / " + pgu + " / " + pd);
            int compared = 0;
            long before = Gemm.triggerLaunches();
            for (int round = 0; round < rounds; round++) {
                float[][] plain = chain(b, gemm, round, false, attn, wo, wgu, wd, normW, resid, xn, h, c, arrivals, po, pgu, pd);
                float[][] early = chain(b, gemm, round, true, attn, wo, wgu, wd, normW, resid, xn, h, c, arrivals, po, pgu, pd);
                String[] names = {"h", "residual", "xn", "down's slabs"};
                for (int a = 0; a < plain.length; a++) {
                    assertEquals(plain[a].length, early[a].length);
                    for (int i = 0; i < plain[a].length; i++, compared++)
                        assertEquals(Float.floatToRawIntBits(plain[a][i]), Float.floatToRawIntBits(early[a][i]), names[a] + "[" + i + "], round " + round);
                }
            }
            assertEquals(3L * rounds, Gemm.triggerLaunches() - before, "early-trigger launches: 3 a chain");
            return compared;
        }
    }

    /** One round: attention output, then o → add + norm → gate|up SwiGLU → down; overlapping with the twins or all plain. */
    private static float[][] chain(Backend cuda, Gemm gemm, int round, boolean early, FloatArray attn, BFloat16Array wo, BFloat16Array wgu,
                                   BFloat16Array wd, FloatArray normW, FloatArray resid, FloatArray xn, FloatArray h, FloatArray c,
                                   IntArray arrivals, Gemm.Plan po, Gemm.Plan pgu, Gemm.Plan pd) {
        int hidden = resid.length(), inter = h.length();
        for (int i = 0; i < hidden; i++) resid.set(i, (float) Math.sin(i + 7 * round));
        cuda.toDevice(resid);
        cuda.launch(WRITE_X, Launch.cover(hidden, 256), attn, hidden, round);
        gemm.earlyTrigger(early);
        gemm.overlapPrevious(early);
        Gemm.Partial down;
        try {
            Gemm.Partial o = gemm.matmulPartial(attn, 1, wo, hidden, hidden, c, po);
            FusedOps.addRmsNormSplitRow(cuda, resid, o.sums(), o.slices(), normW, xn, arrivals, 1, hidden, 1e-5, early);
            assertTrue(gemm.matmulSwiGlu(xn, 1, wgu, 2 * inter, hidden, h, pgu), "no SwiGLU epilogue");
            down = gemm.matmulPartial(h, 1, wd, hidden, inter, c, pd);
        } finally {
            gemm.earlyTrigger(false);
            gemm.overlapPrevious(false);
        }
        cuda.toHost(h, resid, xn, down.sums());
        float[][] out = {new float[inter], new float[hidden], new float[hidden], new float[down.slices() * hidden]};
        for (int i = 0; i < inter; i++) out[0][i] = h.get(i);
        for (int i = 0; i < hidden; i++) {
            out[1][i] = resid.get(i);
            out[2][i] = xn.get(i);
        }
        for (int i = 0; i < out[3].length; i++) out[3][i] = down.sums().get(i);
        return out;
    }

    /** bf16 weights of a fixed hash, |w| ≤ 0.05. */
    private static BFloat16Array weights(int n, int seed) {
        BFloat16Array w = new BFloat16Array(n);
        for (int i = 0; i < n; i++) {
            int v = (i * 0x9E3779B1) ^ (seed * 0x7FEB352D);
            v ^= v >>> 13;
            w.set(i, ((v & 0xFFFF) / 65536f - 0.5f) * 0.1f);
        }
        return w;
    }
}
