package dev.arbor.kernels.gemm;

import dev.arbor.accel.Backend;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.kernels.layer.FusedOps;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link Gemm#matmulSwiGlu} (SwiGLU formed on the down projection's X load) against its composition, {@code
 * FusedOps.siluMulRows} then the same plan's product of that X: the same bits for the plain (one slice) and slab plans,
 * left unsummed or accumulated into a residual; within fp32 rounding for split-K with atomics (their order is the
 * GPU's). On the CPU executor here, on the GPU in {@link GemmSwiGluGpuTest}.
 */
class GemmSwiGluTest {
    @Test void swiGluOnLoadEqualsTheComposition() { cases(new CpuBackend()); }

    /** (m, n, k): the SMALL tile's token counts 1, 3 and 16 (one slice at 1 only, 2 and 3 slices at each); 9 K tiles (a ragged last one) so that 2 slices split them 5 + 4. */
    static void cases(Backend b) {
        int n = 72, k = 520;
        try (Gemm gemm = new Gemm(b)) {
            for (int m : new int[] {1, 3, 16}) {
                // one slice: on load at one token only (2-16 tokens convert X first when the plan has one slice)
                assertEquals(m == 1, Gemm.swiGluOnLoad(gemm.plan(m, n, k, Gemm.SMALL, 1, true)), "one slice at " + m + " tokens");
                for (Gemm.Plan p : new Gemm.Plan[] {gemm.slabPlan(m, n, k, Gemm.SMALL, 1, true), gemm.slabPlan(m, n, k, Gemm.SMALL, 2, true)}) {
                    if (!Gemm.swiGluOnLoad(p)) continue;
                    check(b, gemm, m, n, k, p, false, true);
                    check(b, gemm, m, n, k, p, true, true);
                }
                check(b, gemm, m, n, k, gemm.plan(m, n, k, Gemm.SMALL, 3, true), true, false);   // split-K with atomics
            }
        }
    }

    private static void check(Backend b, Gemm gemm, int m, int n, int k, Gemm.Plan p, boolean accumulate, boolean bits) {
        Random r = new Random(31L * m + k + p.splits());
        float[] gu = new float[m * 2 * k], w = new float[n * k], residual = new float[m * n];
        for (int i = 0; i < gu.length; i++) gu[i] = (r.nextFloat() * 2 - 1) * 4;   // silu's both sides, exp(-g) up to e^4
        for (int i = 0; i < w.length; i++) w[i] = (r.nextFloat() * 2 - 1) * 0.1f;
        for (int i = 0; i < residual.length; i++) residual[i] = r.nextFloat() * 4 - 2;
        String what = m + "x" + n + "x" + k + " " + p + (accumulate ? " (+=)" : "");
        try (FloatArray gateUp = FloatArray.of(gu); BFloat16Array wa = new BFloat16Array(n * k); FloatArray act = new FloatArray(m * k);
             FloatArray expected = FloatArray.of(residual); FloatArray got = FloatArray.of(residual)) {
            for (int i = 0; i < w.length; i++) wa.set(i, w[i]);
            b.toDevice(gateUp, wa, act, expected, got);
            FusedOps.siluMulRows(b, gateUp, 1, act, m, k, false);
            float[] want, have;
            if (accumulate) {
                gemm.matmul(act, m, wa, n, k, expected, true, p);
                Gemm.Partial s = gemm.matmulSwiGlu(gateUp, m, wa, n, k, got, true, p);
                assertEquals(1, s.slices(), what);
                b.toHost(expected, got);
                want = expected.toArray();
                have = got.toArray();
            } else {
                want = slabs(b, gemm.matmulPartial(act, m, wa, n, k, expected, p), m * n);
                Gemm.Partial s = gemm.matmulSwiGlu(gateUp, m, wa, n, k, got, false, p);
                assertEquals(p.slabs() ? p.splits() : 1, s.slices(), what);
                have = slabs(b, s, m * n);
            }
            for (int i = 0; i < want.length; i++) {
                boolean same = bits ? Float.floatToRawIntBits(want[i]) == Float.floatToRawIntBits(have[i])
                        : Math.abs(want[i] - have[i]) <= 1e-5f * (1 + Math.abs(want[i]));
                if (!same) fail(what + ": element " + i + " is " + have[i] + ", the composition's " + want[i]);
            }
        }
    }

    /** A partial's slabs (all of them, slab after slab) read back. */
    private static float[] slabs(Backend b, Gemm.Partial s, int count) {
        b.toHost(s.sums());
        float[] all = s.sums().toArray(), out = new float[s.slices() * count];
        System.arraycopy(all, 0, out, 0, out.length);
        return out;
    }

    @Test
    void onlyPlansLoadingFp32XTakeIt() {
        try (Gemm gemm = new Gemm(new CpuBackend(), true)) {
            assertTrue(Gemm.swiGluOnLoad(gemm.invariantPlan(1, 4096, 11008, true)), "llama-7b's down projection at one token");
            assertTrue(Gemm.swiGluOnLoad(gemm.plan(1, 4096, 11008, true, true)));
            assertTrue(!Gemm.swiGluOnLoad(gemm.invariantPlan(32, 4096, 11008, true)), "MEDIUM converts X first");
            assertTrue(!Gemm.swiGluOnLoad(gemm.invariantPlan(128, 4096, 11008, true)), "the TMA tiles copy bf16 X");
            Gemm.Plan tma = gemm.invariantPlan(128, 64, 64, true);
            try (FloatArray gu = new FloatArray(128 * 128); BFloat16Array w = new BFloat16Array(64 * 64); FloatArray c = new FloatArray(128 * 64)) {
                assertThrows(IllegalArgumentException.class, () -> gemm.matmulSwiGlu(gu, 128, w, 64, 64, c, false, tma));
            }
        }
    }
}
