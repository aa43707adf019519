package dev.arbor.kernels.attention;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.util.function.Supplier;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The attention kernels' bf16-output twins ({@code arbor.gemm.bf16AttentionOut}: the output written as o_proj's bf16 X, no
 * conversion pass): each launch path with a BFloat16Array {@code out} gives exactly the fp32 output rounded to nearest even
 * ({@code cvt.rn.bf16.f32}, as {@code GemmKernels.toBf16x8} rounds it), on the CPU executor, at odd sizes: DecodeKernels' whole
 * mode, split mode with the fused merge and with the separate merge launch, small and narrow splits; the cascade's warp suffix
 * (own range and replayed), its 4-warp suffix, suffix first (the merge launch after the suffix's own slot); the flash kernels'
 * tall, one-warp and long forms, a planBelow step and the state handoff. Kernels without a twin refuse a bf16 out.
 */
class AttentionBf16OutTest {
    private static final Backend CPU = new CpuBackend();

    /** The fp32 values rounded to bf16 (nearest even) and widened back: what the conversion pass hands o_proj. */
    private static float[] rounded(float[] fp32) {
        float[] r = new float[fp32.length];
        for (int i = 0; i < r.length; i++) r[i] = BFloat16Array.toFloat(BFloat16Array.fromFloat(fp32[i]));
        return r;
    }

    /** The run with a bf16 out against the same run with an fp32 out, rounded; returns the fp32 output. */
    private static float[] sameRounding(Supplier<float[]> run, String what) {
        float[] fp32 = run.get();
        float[] bf16 = PagedBatch.withBf16Out(run);
        int nan = 0;
        for (float v : fp32) if (Float.isNaN(v)) nan++;
        assertTrue(nan < fp32.length, what + ": some output written");
        assertBits(rounded(fp32), bf16, what + ": bf16 out vs fp32 out rounded");
        return fp32;
    }

    @Test
    void decodeKernelsWholeSplitFusedAndSeparateMerge() {
        decode(CPU);
    }

    static void decode(Backend be) {
        // GQA 4 at headDim 128 (1 decode a 300- and 545-key context, a 6-token prefill chunk, a 1-key context); 5 heads at 64 with
        // ALiBi and block size 7; GQA 2 at 32
        int[][] shapes = {{8, 2, 128, 16, 0}, {5, 5, 64, 7, 1}, {4, 2, 32, 16, 0}};
        int seed = 300;
        for (int[] sh : shapes) {
            String what = sh[0] + "/" + sh[1] + " heads x " + sh[2] + ", block " + sh[3] + (sh[4] != 0 ? ", ALiBi" : "");
            try (PagedBatch b = new PagedBatch(sh[0], sh[1], sh[2], sh[3], new int[] {545, 300, 37, 1}, new int[] {1, 1, 6, 1}, sh[4] != 0,
                    KvStore.BF16, seed++);
                 PagedAttention attn = new PagedAttention(sh[0], sh[1], sh[2], sh[3], b.maxContext(), b.tokens)) {
                assertTrue(attn.writesBf16Out(b.kCache), what + ": DecodeKernels serves it");
                float[] whole = sameRounding(() -> b.run(be, attn, b.allTokens(), false), what + " whole mode");
                float[] fused = sameRounding(() -> b.run(be, attn, b.allTokens(), true), what + " split mode, fused merge");
                assertBits(whole, fused, what + ": split vs whole (fp32)");
                attn.fuseMerge(0, 8);
                sameRounding(() -> b.run(be, attn, b.allTokens(), true), what + " split mode, the merge launch");
                attn.fuseMerge(PagedAttention.FUSE_MAX_SPLITS, PagedAttention.FUSED_MERGE_AHEAD);
                sameRounding(() -> b.run(be, attn, new int[] {2, 0, 8}, null), what + " three tokens, the launcher's mode");
            }
        }
        // small splits below a position (the default mode's DecodeKernels rule) and --no-batch-invariance's narrow splits
        try (PagedBatch b = new PagedBatch(2, 1, 64, 16, new int[] {210, 37, 600, 129}, new int[] {24, 5, 1, 1}, false, KvStore.BF16, 310);
             PagedAttention small = new PagedAttention(2, 1, 64, 16, 600, 31, 64, 200);
             PagedAttention narrow = new PagedAttention(2, 1, 64, 16, 1024, 31).narrowSplits(64)) {
            sameRounding(() -> b.run(be, small, b.allTokens(), true), "small splits");
            sameRounding(() -> b.run(be, narrow, new int[] {28, 30}, null), "narrow splits");
        }
    }

    @Test
    void cascadeSuffixForms() {
        cascade(CPU);
    }

    static void cascade(Backend be) {
        // 2 heads x 128, four members of a 33-block group and a loner; 8/1 heads x 128 (G = 8) with two members
        record Case(int heads, int kvHeads, int headDim, int bs, int[] ctx, int[] news, int[] shared) {}
        Case[] cases = {
                new Case(2, 2, 128, 16, new int[] {545, 549, 580, 528, 300}, new int[] {1, 1, 1, 1, 1}, new int[] {33, 33, 33, 33, 0}),
                new Case(8, 1, 128, 16, new int[] {300, 273}, new int[] {1, 1}, new int[] {17, 17})};
        int seed = 320;
        for (Case c : cases) {
            int members = 0;
            for (int s : c.shared) if (s > 0) members++;
            int[] group = new int[members];
            for (int i = 0, k = 0; i < c.shared.length; i++) if (c.shared[i] > 0) group[k++] = i;
            int sharedBlocks = c.shared[group[0]];
            int[][] groups = {group};
            int[] sb = {sharedBlocks};
            String what = c.heads + "/" + c.kvHeads + " heads x " + c.headDim;
            try (PagedBatch b = new PagedBatch(c.heads, c.kvHeads, c.headDim, c.bs, c.ctx, c.news, false, KvStore.BF16, seed++, c.shared);
                 CascadeAttention cascade = new CascadeAttention(c.heads, c.kvHeads, c.headDim, c.bs, b.maxContext(), sharedBlocks * c.bs, b.tokens)) {
                assertTrue(cascade.paged().writesBf16Out(b.kCache), what);
                cascade.warpSuffix(CascadeAttention.WARP_SUFFIX_MAX_SPLITS);
                sameRounding(() -> b.runCascade(be, cascade, groups, sb), what + ": own-range warp suffix");
                cascade.suffixReplay(true);
                sameRounding(() -> b.runCascade(be, cascade, groups, sb), what + ": replayed warp suffix");
                sameRounding(() -> b.runCascade(be, cascade, new int[0][], new int[0]), what + ": no group (split mode)");
                cascade.suffixReplay(false).suffixFirst(true);
                sameRounding(() -> b.runCascade(be, cascade, groups, sb), what + ": suffix first, the merge launch");
                cascade.suffixFirst(false).warpSuffix(0);
                sameRounding(() -> b.runCascade(be, cascade, groups, sb), what + ": 4-warp suffix");
            }
        }
    }

    @Test
    void flashPrefillTallWarpLongAndHandoff() {
        flash(CPU);
    }

    static void flash(Backend be) {
        // G = 2 at headDim 64, block 7, ALiBi; G = 4 at 128, block 16: a 131-token chunk, 5 tokens, a 90-token chunk
        int[][] shapes = {{2, 1, 64, 7, 1}, {8, 2, 128, 16, 0}};
        int seed = 340;
        for (int[] sh : shapes) {
            String what = sh[0] + "/" + sh[1] + " heads x " + sh[2] + ", block " + sh[3] + (sh[4] != 0 ? ", ALiBi" : "");
            try (PagedBatch b = new PagedBatch(sh[0], sh[1], sh[2], sh[3], new int[] {203, 37, 90}, new int[] {131, 5, 90}, sh[4] != 0,
                    KvStore.BF16, seed++)) {
                int[][] whole = FlashPrefillRun.whole(b);
                sameRounding(() -> FlashPrefillRun.runLong(be, b, whole, -1, 0, 1), what + ": tall tiles");
                sameRounding(() -> FlashPrefillRun.runLong(be, b, whole, -1, 90, 2), what + ": long form");
                assertTrue(FlashPrefillRun.lastLong, what + ": long form taken");
                int[][] decodes = {{130, 131}, {135, 136}, {225, 226}};
                sameRounding(() -> FlashPrefillRun.run(be, b, decodes), what + ": one-warp tiles");
                assertEquals(3, FlashPrefillRun.lastWarpTiles, what + ": three one-token tiles");
                sameRounding(() -> FlashPrefillRun.runSplit(be, b, decodes, -1, 3), what + ": split form");
                assertTrue(FlashPrefillRun.lastSplit, what + ": split form taken");
                sameRounding(() -> FlashPrefillRun.run(be, b, new int[][] {{100, 131}, {131, 136}, {200, 226}}, 200), what + ": planBelow");
            }
        }
        // the state handoff: three members of a 4-block group (decodes and a 17-token chunk), a loner of 5 tokens
        int pre = 4 * 16;
        try (PagedBatch b = new PagedBatch(4, 1, 64, 16, new int[] {pre + 11, pre + 40, pre + 23, 50}, new int[] {1, 17, 1, 5}, false,
                KvStore.BF16, 350, new int[] {4, 4, 4, 0})) {
            float[] fp32 = sameRounding(() -> FlashPrefillRun.runHandoff(be, b, new int[][] {{0, 1, 2}}, new int[] {pre}), "handoff");
            assertBits(FlashPrefillRun.run(be, b, FlashPrefillRun.whole(b)), fp32, "handoff vs one pass (fp32)");
        }
    }

    /** Kernels without a bf16-output twin (the tile kernel, fp16 and fp32 stores) refuse a bf16 out: never a wrong read. */
    @Test
    void kernelsWithoutATwinRefuseABf16Out() {
        try (PagedBatch tile = new PagedBatch(2, 1, 12, 16, new int[] {40}, new int[] {1}, false, KvStore.BF16, 360);
             PagedAttention a = new PagedAttention(2, 1, 12, 16, tile.maxContext(), tile.tokens);
             PagedBatch f16 = new PagedBatch(2, 1, 64, 16, new int[] {40}, new int[] {1}, false, KvStore.F16, 361);
             PagedAttention c = new PagedAttention(2, 1, 64, 16, f16.maxContext(), f16.tokens)) {
            assertFalse(a.writesBf16Out(tile.kCache), "headDim 12: the tile kernel");
            assertFalse(c.writesBf16Out(f16.kCache), "fp16 store");
            assertThrows(IllegalArgumentException.class, () -> PagedBatch.withBf16Out(() -> tile.run(CPU, a, tile.allTokens(), false)));
            assertThrows(IllegalArgumentException.class, () -> PagedBatch.withBf16Out(() -> f16.run(CPU, c, f16.allTokens(), false)));
            assertThrows(IllegalArgumentException.class, () -> PagedBatch.withBf16Out(() -> FlashPrefillRun.run(CPU, f16, FlashPrefillRun.whole(f16))));
        }
        assertThrows(IllegalArgumentException.class, () -> Shapes.byOut(new IntArray(1), new BFloat16Array(1), null, null));
        try (HalfFloatArray h = new HalfFloatArray(1); FloatArray f = new FloatArray(1)) {
            assertThrows(IllegalArgumentException.class, () -> Shapes.byOut(h, h, null, null), "an fp16 out");
            assertEquals(null, Shapes.byOut(f, h, null, null), "an fp32 out: the fp32 kernel");
        }
    }
}
