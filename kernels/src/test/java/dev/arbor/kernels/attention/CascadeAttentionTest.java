package dev.arbor.kernels.attention;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static dev.arbor.kernels.attention.PagedAttentionTest.CPU;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;

/**
 * Cascade attention on the CPU executor: against the dense reference and against plain paged attention
 * (they differ in rounding only: within 2e-6 absolute, outputs lying in [-1, 1]); shared prefixes shorter
 * and longer than a split, ALiBi with 5 heads (each query's own position), GQA, a prefill chunk whose
 * queries lie partly inside the shared part, sequences outside any group in the same batch, and no group
 * at all (then bit-identical to the paged kernel's split mode); bf16, fp16 and fp32 stores.
 */
class CascadeAttentionTest {
    static final double TOLERANCE = 2e-6;
    /** On the GPU the tensor cores' fp32 accumulation and the hardware exponential of both paths add rounding: cascade vs paged within 1e-5. */
    static final double GPU_TOLERANCE = 1e-5;

    private static void check(PagedBatch b, int[][] groups, int[] sharedBlocks, String what) {
        double[] ref = b.reference();
        int maxShared = 0;
        for (int s : sharedBlocks) maxShared = Math.max(maxShared, s * b.blockSize);
        try (CascadeAttention cascade = new CascadeAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), maxShared, b.tokens);
             PagedAttention paged = new PagedAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), b.tokens)) {
            float[] got = b.runCascade(CPU, cascade, groups, sharedBlocks);
            assertClose(ref, got, TOLERANCE, what + ": cascade vs reference");
            float[] plain = b.run(CPU, paged, b.allTokens(), true);
            double[] plainD = new double[plain.length];
            for (int i = 0; i < plain.length; i++) plainD[i] = plain[i];
            assertClose(plainD, got, TOLERANCE, what + ": cascade vs paged");
            assertBits(plain, b.runCascade(CPU, cascade, new int[0][], new int[0]), what + ": no group = paged split mode");
            // the suffix + merge as a warp per (token, kv head) in the split kernel's layout (suffixReplay; the default layout is the
            // own keys as one range, checked above against the reference and paged) and the 4-warp split kernel with its merge: the
            // same bits (the other of the two: the 4-warp path where the default takes the warp, up to WARP_SUFFIX_MAX_G, else the
            // warp at this G)
            float[] replayed = b.runCascade(CPU, cascade.suffixReplay(true), groups, sharedBlocks);
            assertClose(ref, replayed, TOLERANCE, what + ": cascade (suffix in the split kernel's layout) vs reference");
            cascade.warpSuffix(b.heads / b.kvHeads <= CascadeAttention.WARP_SUFFIX_MAX_G ? 0 : CascadeAttention.WARP_SUFFIX_MAX_SPLITS);
            assertBits(replayed, b.runCascade(CPU, cascade, groups, sharedBlocks), what + ": warp suffix (replayed layout) vs 4-warp suffix");
        }
    }

    /**
     * {@link CascadeSuffixKernels} (one warp per (token, kv head): own keys and the merge in one launch) against the 4-warp split
     * kernel + merge, bit for bit, at odd sizes: headDim 8..128 (1..16 lanes a key row), G = 1, 2, 4, 8, block sizes 7 and 16,
     * ALiBi with 5 heads, bf16 and fp16, members with 1..50 own keys, own keys across a split boundary, a member whose every key
     * is shared, a prefill chunk straddling the shared part, a loner with two own splits, 8 warps and keysPerLane 8 and 2 in the
     * replayed layout, and shared prefixes of 1..3 splits (two shared loads of one slot at G·headDim = 1024); and against the
     * reference.
     */
    @Test
    void theWarpSuffixGivesTheSplitKernelsBits() {
        record Case(int heads, int kvHeads, int headDim, int bs, int[] ctx, int[] news, int[] shared, boolean alibi, KvStore store) {}
        Case[] cases = {
                new Case(2, 2, 128, 16, new int[] {545, 549, 580, 528, 300}, new int[] {1, 1, 1, 1, 1}, new int[] {33, 33, 33, 33, 0}, false, KvStore.BF16),
                new Case(5, 5, 64, 7, new int[] {240, 255, 257, 290, 231}, new int[] {1, 1, 1, 1, 4}, new int[] {33, 33, 33, 33, 33}, true, KvStore.BF16),
                new Case(8, 2, 32, 16, new int[] {130, 177, 129, 60}, new int[] {1, 1, 3, 1}, new int[] {8, 8, 8, 0}, false, KvStore.F16),
                new Case(8, 1, 16, 16, new int[] {17, 40, 33}, new int[] {1, 2, 1}, new int[] {1, 1, 1}, true, KvStore.F16),
                new Case(8, 1, 128, 16, new int[] {300, 273}, new int[] {1, 1}, new int[] {17, 17}, false, KvStore.BF16),
                new Case(3, 3, 8, 16, new int[] {770, 800, 99}, new int[] {1, 1, 1}, new int[] {48, 48, 0}, true, KvStore.BF16)};
        int seed = 60;
        for (Case c : cases) {
            int members = 0;
            for (int s : c.shared) if (s > 0) members++;
            int[] group = new int[members];
            for (int i = 0, k = 0; i < c.shared.length; i++) if (c.shared[i] > 0) group[k++] = i;
            int sharedBlocks = c.shared[group[0]];
            String what = c.heads + "/" + c.kvHeads + " heads x " + c.headDim + ", block " + c.bs + ", " + c.store + (c.alibi ? ", ALiBi" : "");
            try (PagedBatch b = new PagedBatch(c.heads, c.kvHeads, c.headDim, c.bs, c.ctx, c.news, c.alibi, c.store, seed++, c.shared);
                 CascadeAttention cascade = new CascadeAttention(c.heads, c.kvHeads, c.headDim, c.bs, b.maxContext(), sharedBlocks * c.bs, b.tokens)) {
                int[][] groups = {group};
                int[] sb = {sharedBlocks};
                cascade.warpSuffix(CascadeAttention.WARP_SUFFIX_MAX_SPLITS);   // at any G
                // the launcher's default layout (one virtual warp over each token's own keys as one range) against the reference
                assertClose(b.reference(), b.runCascade(CPU, cascade, groups, sb), 2 * TOLERANCE, what + ": own-range warp suffix vs reference");
                cascade.suffixReplay(true);   // the split kernel's layout from here on: its bits
                float[] warp = b.runCascade(CPU, cascade, groups, sb);
                cascade.warpSuffix(0);
                assertBits(warp, b.runCascade(CPU, cascade, groups, sb), what + ": warp suffix vs 4-warp split kernel");
                if (seed == 61) {   // the first case (the CPU executor's time): the bound of the whole context's splits, other layouts
                    cascade.warpSuffix(Integer.MAX_VALUE);
                    assertBits(warp, b.runCascade(CPU, cascade, groups, sb, false), what + ": warp suffix over the whole context's grid bound");
                }
                // 4e-6: the tensor-core shared level (Q and P in two 16-bit parts) is up to 2.2e-6 off at headDim 64 with ALiBi
                // (a chunk's queries inside the shared part); the two suffix paths agree in bits above either way
                double[] ref = b.reference();
                assertClose(ref, warp, 2 * TOLERANCE, what + ": warp suffix vs reference");
                if (seed != 61) continue;
                for (int[] layout : new int[][] {{8, 4}, {2, 4}, {4, 8}}) {   // keysPerLane, warps of the replayed layout
                    if (!DecodeKernels.fitsWarps(c.heads, c.kvHeads, c.headDim, layout[0], layout[1])) continue;
                    cascade.paged().keysPerLane(layout[0]);
                    if (layout[1] != 4) cascade.paged().decodeWarps(layout[1]);
                    cascade.warpSuffix(CascadeAttention.WARP_SUFFIX_MAX_SPLITS);
                    float[] w = b.runCascade(CPU, cascade, groups, sb);
                    cascade.warpSuffix(0);
                    assertBits(w, b.runCascade(CPU, cascade, groups, sb), what + ": U=" + layout[0] + " W=" + layout[1]);
                    assertClose(ref, w, 2 * TOLERANCE, what + ": U=" + layout[0] + " W=" + layout[1] + " vs reference");
                    cascade.paged().keysPerLane(4).decodeWarps(4);
                }
            }
        }
    }

    /**
     * The merge's shared slots in several loads: at depth 1 (one slot per round trip) and 4, a shared prefix of 9 splits
     * (144 blocks of 16 = 2304 keys) is folded in 9 and 3 groups; the bits are the default's (the merge fused in the suffix
     * kernel, 8 slots per load), with the separate merge launch and the fused one alike.
     */
    @Test
    void everyMergeDepthFoldsTheSharedSlotsAlike() {
        int[] ctx = {2305, 2350, 2600, 90}, one = {1, 1, 1, 1}, shared = {144, 144, 144, 0};
        try (PagedBatch b = new PagedBatch(2, 1, 8, 16, ctx, one, true, true, 53, shared);
             CascadeAttention cascade = new CascadeAttention(2, 1, 8, 16, b.maxContext(), 144 * 16, b.tokens)) {
            int[][] groups = {{0, 1, 2}};
            int[] sharedBlocks = {144};
            assertClose(b.reference(), b.runCascade(CPU, cascade, groups, sharedBlocks), TOLERANCE, "9 shared splits: cascade (own-range suffix) vs reference");
            float[] byDefault = b.runCascade(CPU, cascade.suffixReplay(true), groups, sharedBlocks);
            assertClose(b.reference(), byDefault, TOLERANCE, "9 shared splits: cascade vs reference");
            for (int ahead : new int[] {1, 4}) {
                cascade.paged().fuseMerge(0, 8).mergeAhead(ahead);
                assertBits(byDefault, b.runCascade(CPU, cascade, groups, sharedBlocks), "separate merge depth " + ahead);
                cascade.paged().fuseMerge(PagedAttention.FUSE_MAX_SPLITS, ahead);
                assertBits(byDefault, b.runCascade(CPU, cascade, groups, sharedBlocks), "fused merge depth " + ahead);
            }
        }
    }

    /**
     * A member whose every key is shared (context = the shared 2304 keys: no own split): with the fused merge, split 0's
     * work-group folds its shared slots; the same bits as the separate merge launch, and the reference; and the suffix grid of
     * the batch's most own splits (2: 2600 keys from 2304 span splits 9 and 10) gives the bits of the whole context's (11).
     */
    @Test
    void aMemberWithNoOwnKeyIsMergedToo() {
        int[] ctx = {2304, 2350, 2600}, one = {1, 1, 1}, shared = {144, 144, 144};
        try (PagedBatch b = new PagedBatch(2, 1, 8, 16, ctx, one, true, true, 57, shared);
             CascadeAttention cascade = new CascadeAttention(2, 1, 8, 16, b.maxContext(), 144 * 16, b.tokens)) {
            int[][] groups = {{0, 1, 2}};
            int[] sharedBlocks = {144};
            assertClose(b.reference(), b.runCascade(CPU, cascade, groups, sharedBlocks), TOLERANCE, "own-range warp suffix vs reference");
            float[] fused = b.runCascade(CPU, cascade.suffixReplay(true), groups, sharedBlocks);   // the split kernel's layout: its bits
            assertClose(b.reference(), fused, TOLERANCE, "fused merge vs reference");
            assertBits(fused, b.runCascade(CPU, cascade, groups, sharedBlocks, false), "suffix grid of the whole context's splits");
            cascade.paged().fuseMerge(0, 8);
            assertBits(fused, b.runCascade(CPU, cascade, groups, sharedBlocks), "separate merge");
            assertBits(fused, b.runCascade(CPU, cascade, groups, sharedBlocks, false), "separate merge, suffix grid of the context");
        }
    }

    /**
     * The warp suffix's own layout (the launcher's default, {@link CascadeAttention#suffixReplay} off): a token's own keys as one
     * range from keyStart while they are at most 256 (members with 1..255 own keys across the split boundary at 256 and 512, a
     * prefill chunk), and past that the splits walked by one virtual warp (a member with 400 own keys, a loner with 600: the warp
     * suffix forced for their 3 own splits), G = 1 and 4, ALiBi, bf16 and fp16: within the tolerance of the reference, and the
     * split kernel's layout's result within it too.
     */
    @Test
    void theOwnRangeSuffixAgreesWithTheReferenceOnBothSidesOfOneSplitsKeys() {
        int[] ctx = {241, 300, 495, 496, 640, 600, 700}, news = {1, 1, 1, 1, 1, 3, 1}, shared = {15, 15, 15, 15, 15, 15, 0};
        int[][] groups = {{0, 1, 2, 3, 4, 5}};
        for (int g : new int[] {1, 4}) {
            try (PagedBatch b = new PagedBatch(4, 4 / g, 32, 16, ctx, news, g == 1, g == 1 ? KvStore.BF16 : KvStore.F16, 31 + g, shared);
                 CascadeAttention cascade = new CascadeAttention(4, 4 / g, 32, 16, b.maxContext(), 240, b.tokens)) {
                double[] ref = b.reference();
                cascade.warpSuffix(Integer.MAX_VALUE);   // the warp suffix for every own-split count
                float[] own = b.runCascade(CPU, cascade, groups, new int[] {15});
                assertClose(ref, own, 2 * TOLERANCE, "G=" + g + ": own-range warp suffix vs reference");
                float[] replayed = b.runCascade(CPU, cascade.suffixReplay(true), groups, new int[] {15});
                assertClose(ref, replayed, 2 * TOLERANCE, "G=" + g + ": replayed warp suffix vs reference");
            }
        }
    }

    @Test
    void decodeGroupBehindAShortPrefix() {
        // sequences 0-4 share 5 blocks (80 keys); sequence 5 is on its own
        int[] ctx = {81, 97, 120, 80 + 40, 255, 300}, one = {1, 1, 1, 1, 1, 1}, shared = {5, 5, 5, 5, 5, 0};
        try (PagedBatch b = new PagedBatch(2, 2, 16, 16, ctx, one, false, true, 21, shared)) {
            check(b, new int[][] {{0, 1, 2, 3, 4}}, new int[] {5}, "G=1");
        }
        try (PagedBatch b = new PagedBatch(8, 1, 16, 16, ctx, one, false, true, 22, shared)) {
            check(b, new int[][] {{0, 1, 2, 3, 4}}, new int[] {5}, "G=8");
        }
    }

    @Test
    void alibiAndAPrefixLongerThanASplit() {
        // block size 20: 15 shared blocks = 300 keys (two splits); a chunk of 10 queries at positions 295..304 straddles the prefix
        int[] ctx = {303, 360, 550, 305, 42}, news = {1, 1, 1, 10, 3}, shared = {15, 15, 15, 15, 0};
        try (PagedBatch b = new PagedBatch(5, 1, 12, 20, ctx, news, true, true, 23, shared)) {
            check(b, new int[][] {{0, 1, 2, 3}}, new int[] {15}, "ALiBi heads=5");
        }
        try (PagedBatch b = new PagedBatch(4, 2, 8, 20, ctx, news, false, false, 24, shared)) {
            check(b, new int[][] {{0, 1, 2, 3}}, new int[] {15}, "fp32 store, G=2");
        }
    }

    @Test
    void float16Store() {
        int[] ctx = {303, 360, 550, 305, 42}, news = {1, 1, 1, 10, 3}, shared = {15, 15, 15, 15, 0};
        try (PagedBatch b = new PagedBatch(5, 1, 12, 20, ctx, news, true, KvStore.F16, 26, shared)) {
            check(b, new int[][] {{0, 1, 2, 3}}, new int[] {15}, "fp16 store, ALiBi heads=5");
        }
        // scalar loads (D = 6), block size 5: sequences 0-2 share 6 blocks (30 keys), sequence 3 is on its own
        int[] ctx2 = {61, 70, 90, 33}, news2 = {1, 1, 2, 1}, shared2 = {6, 6, 6, 0};
        try (PagedBatch b = new PagedBatch(4, 2, 6, 5, ctx2, news2, false, KvStore.F16, 27, shared2)) {
            check(b, new int[][] {{0, 1, 2}}, new int[] {6}, "fp16 store, D=6 bs=5 G=2");
        }
    }

    /**
     * The tensor-core shared level ({@link CascadeMmaKernels}: headDim 32 and 128, G = 1 and 4, ALiBi with 5 heads,
     * bf16 and fp16, a prefix of two splits, a chunk straddling it): Q and P split in two 16-bit parts keep it
     * within the same 2e-6 of the reference and of paged attention.
     */
    @Test
    void tensorCoreSharedLevel() {
        int[] ctx = {290, 301, 330, 275, 20}, news = {1, 1, 2, 3, 1}, shared = {17, 17, 17, 17, 0};
        try (PagedBatch b = new PagedBatch(4, 1, 128, 16, ctx, news, false, true, 28, shared)) {
            check(b, new int[][] {{0, 1, 2, 3}}, new int[] {17}, "mma bf16 D=128 G=4");
            checkKeyHalves(b, new int[][] {{0, 1, 2, 3}}, new int[] {17}, "mma bf16 D=128 G=4");
        }
        try (PagedBatch b = new PagedBatch(5, 5, 32, 16, ctx, news, true, KvStore.F16, 29, shared)) {
            check(b, new int[][] {{0, 1, 2, 3}}, new int[] {17}, "mma fp16 D=32 ALiBi heads=5");
            checkKeyHalves(b, new int[][] {{0, 1, 2, 3}}, new int[] {17}, "mma fp16 D=32 ALiBi heads=5");
        }
        // G = 4 at headDim 64: 16 and 8 tokens a work-group (1 and 2 key halves), 10 members; a prefix of 3 splits, the last of 16 keys
        int[] ctx3 = {560, 541, 600, 530, 577, 590, 529, 555, 580, 548}, news3 = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        int[] shared3 = {33, 33, 33, 33, 33, 33, 33, 33, 33, 33};
        try (PagedBatch b = new PagedBatch(4, 1, 64, 16, ctx3, news3, false, true, 30, shared3)) {
            checkKeyHalves(b, new int[][] {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}, new int[] {33}, "mma bf16 D=64 G=4, 10 members");
        }
    }

    /**
     * The tensor-core shared level's deeper cp.async ring ({@link CascadeAttention#sharedStages} 3 and 4: {@link CascadeMmaKernels#cascadeMmaDeepBf16},
     * tile buffers in dynamic shared memory) gives the double buffer's bits (the same mma on the same tiles in the same order), with 1 and 2
     * key halves, in 256-key splits and in key ranges, at odd sizes: groups of 1, 3, 17 and 107 members; shared prefixes of 15, 16, 17,
     * 255 and 530 keys (block sizes 5, 16, 17, 10; the key halves' tile counts 1..9, odd and even, so the ring wraps at every depth);
     * ALiBi with 5 heads; G = 1, 4 and 8; bf16 and fp16; a 3-token chunk straddling the shared part. The double buffer against the
     * reference and paged attention within 2e-6 ({@link #check} for the rest of the launch's forms).
     */
    @Test
    void theDeepSharedRingGivesTheDoubleBuffersBits() {
        record Case(int heads, int kvHeads, int headDim, int bs, int members, int sharedBlocks, boolean alibi, KvStore store) {}
        Case[] cases = {
                new Case(5, 5, 32, 5, 3, 3, true, KvStore.BF16),     // 15 shared keys, ALiBi 5 heads, 3 members
                new Case(4, 1, 64, 16, 17, 1, false, KvStore.F16),   // 16 keys, G = 4, 17 members
                new Case(2, 2, 128, 17, 1, 1, false, KvStore.BF16),  // 17 keys, G = 1, a group of one
                new Case(8, 1, 32, 5, 3, 51, false, KvStore.BF16),   // 255 keys, G = 8
                new Case(2, 2, 32, 10, 107, 53, true, KvStore.BF16), // 530 keys, 107 members (the seed's shape, small heads), ALiBi
        };
        for (Case c : cases) {
            int shared = c.sharedBlocks * c.bs;
            int[] ctx = new int[c.members + 1], news = new int[c.members + 1], sh = new int[c.members + 1];
            int[] group = new int[c.members];
            for (int i = 0; i < c.members; i++) {
                ctx[i] = i == 1 ? shared + 1 : shared + 1 + (i * 7) % 40;
                news[i] = i == 1 ? 3 : 1;   // member 1: a 3-token chunk, its first two queries in the shared part
                sh[i] = c.sharedBlocks;
                group[i] = i;
            }
            ctx[c.members] = 37;   // a loner (in no group)
            news[c.members] = 1;
            String what = c.heads + " heads, G = " + c.heads / c.kvHeads + ", headDim " + c.headDim + ", " + c.members + " sharing " + shared
                    + (c.alibi ? ", ALiBi" : "") + ", " + c.store;
            try (PagedBatch b = new PagedBatch(c.heads, c.kvHeads, c.headDim, c.bs, ctx, news, c.alibi, c.store, 61 + c.members, sh);
                 CascadeAttention cascade = new CascadeAttention(c.heads, c.kvHeads, c.headDim, c.bs, b.maxContext(), shared, b.tokens);
                 PagedAttention paged = new PagedAttention(c.heads, c.kvHeads, c.headDim, c.bs, b.maxContext(), b.tokens)) {
                double[] ref = b.reference();
                float[] plain = b.run(CPU, paged, b.allTokens(), true);
                double[] plainD = new double[plain.length];
                for (int i = 0; i < plain.length; i++) plainD[i] = plain[i];
                int[][] groups = {group};
                int[] groupShared = {c.sharedBlocks};
                // the 107-member case in the launcher's own form only (the CPU executor's mma emulation is slow)
                int[] halvesTried = c.members > 100 ? new int[] {0} : new int[] {1, 2}, minKeysTried = c.members > 100 ? new int[] {64} : new int[] {0, 32};
                for (int halves : halvesTried) {
                    if (halves > 0 && CascadeMmaKernels.ROWS / halves % (c.heads / c.kvHeads) != 0) continue;
                    for (int minKeys : minKeysTried) {   // 256-key splits; key ranges of at least 32 (64) keys
                        String form = what + ", " + (halves == 0 ? "the launcher's" : halves) + " key halves, " + (minKeys == 0 ? "splits" : "ranges");
                        cascade.sharedKeyHalves(halves).sharedRangeKeys(minKeys).sharedStages(2);
                        float[] two = b.runCascade(CPU, cascade, groups, groupShared);
                        assertClose(ref, two, 2 * TOLERANCE, form + ": double buffer vs reference");
                        assertClose(plainD, two, 2 * TOLERANCE, form + ": double buffer vs paged");
                        for (int stages = c.members > 100 ? CascadeMmaKernels.MAX_STAGES : 3; stages <= CascadeMmaKernels.MAX_STAGES; stages++) {
                            assertBits(two, b.runCascade(CPU, cascade.sharedStages(stages), groups, groupShared), form + ": " + stages + " stages vs 2");
                        }
                    }
                }
            }
        }
    }

    /**
     * The tensor-core shared level with a split's keys in one work-group (1 key half) and in two halves folded at the end
     * ({@link CascadeMmaKernels#keyHalves}): each within the tolerance of the reference and of paged attention.
     */
    private static void checkKeyHalves(PagedBatch b, int[][] groups, int[] sharedBlocks, String what) {
        double[] ref = b.reference();
        int maxShared = 0;
        for (int s : sharedBlocks) maxShared = Math.max(maxShared, s * b.blockSize);
        try (CascadeAttention cascade = new CascadeAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), maxShared, b.tokens);
             PagedAttention paged = new PagedAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), b.tokens)) {
            float[] plain = b.run(CPU, paged, b.allTokens(), true);
            double[] plainD = new double[plain.length];
            for (int i = 0; i < plain.length; i++) plainD[i] = plain[i];
            for (int halves = 1; halves <= 2; halves++) {
                float[] got = b.runCascade(CPU, cascade.sharedKeyHalves(halves), groups, sharedBlocks);
                assertClose(ref, got, TOLERANCE, what + ", " + halves + " key halves: cascade vs reference");
                assertClose(plainD, got, TOLERANCE, what + ", " + halves + " key halves: cascade vs paged");
                // S = Q·Kᵀ's mma n-tile-interleaved: every accumulator the same mma in the same order, so the same bits
                assertBits(got, b.runCascade(CPU, cascade.sharedInterleave(true), groups, sharedBlocks), what + ", " + halves + " key halves: interleaved S");
                cascade.sharedInterleave(false);
            }
        }
    }

    /**
     * The tensor-core shared level's key ranges ({@link CascadeMmaKernels#sharedRanges}, {@link CascadeAttention#sharedRangeKeys}): two
     * groups sharing 528 and 144 keys (33 and 9 blocks of 16) and a loner in one launch, members with 1..40 own keys and a 3-token
     * chunk, at least 64, 128 and 1,024 keys a range (the launcher's rule) against the 256-key splits (0), and 8 ranges forced
     * (96 keys: two of them empty for the 528-key group and five for the 144-key one); ALiBi with 5 heads (bf16, headDim 32), G = 4 (fp16, headDim 64, the
     * warp suffix forced) and G = 2 (bf16, headDim 128): each within twice the tolerance of the reference and of paged attention (the
     * 256-key splits' form, runs 22-58's, is 2.03e-6 from paged at the ALiBi case: the own-range suffix's rounding, as in
     * {@link #theOwnRangeSuffixAgreesWithTheReferenceOnBothSidesOfOneSplitsKeys}).
     */
    @Test
    void theSharedLevelsKeyRangesAgreeWithTheReference() {
        int[] ctx = {540, 529, 568, 560, 150, 145, 190, 300}, news = {1, 1, 1, 3, 1, 1, 1, 1};
        int[] shared = {33, 33, 33, 33, 9, 9, 9, 0}, leader = {0, 0, 0, 0, 4, 4, 4, 7};
        int[][] groups = {{0, 1, 2, 3}, {4, 5, 6}};
        record Case(int heads, int kvHeads, int headDim, boolean alibi, KvStore store) {}
        for (Case c : new Case[] {new Case(5, 5, 32, true, KvStore.BF16), new Case(8, 2, 64, false, KvStore.F16), new Case(4, 2, 128, false, KvStore.BF16)}) {
            String what = c.heads + " heads, G = " + c.heads / c.kvHeads + ", headDim " + c.headDim + (c.alibi ? " ALiBi" : "");
            try (PagedBatch b = new PagedBatch(c.heads, c.kvHeads, c.headDim, 16, ctx, news, c.alibi, c.store, 41 + c.heads, shared, leader);
                 CascadeAttention cascade = new CascadeAttention(c.heads, c.kvHeads, c.headDim, 16, b.maxContext(), 33 * 16, b.tokens);
                 PagedAttention paged = new PagedAttention(c.heads, c.kvHeads, c.headDim, 16, b.maxContext(), b.tokens)) {
                double[] ref = b.reference();
                float[] plain = b.run(CPU, paged, b.allTokens(), true);
                double[] plainD = new double[plain.length];
                for (int i = 0; i < plain.length; i++) plainD[i] = plain[i];
                cascade.warpSuffix(CascadeAttention.WARP_SUFFIX_MAX_SPLITS);   // the warp suffix at every G (its own range: the ranges' form)
                for (int minKeys : new int[] {0, 64, 128, 1024}) {
                    float[] got = b.runCascade(CPU, cascade.sharedRangeKeys(minKeys), groups, new int[] {33, 9});
                    assertClose(ref, got, 2 * TOLERANCE, what + ", ranges of at least " + minKeys + " keys: cascade vs reference");
                    assertClose(plainD, got, 2 * TOLERANCE, what + ", ranges of at least " + minKeys + " keys: cascade vs paged");
                }
                // forced: 8 ranges of 96 keys (two empty for the 528-key group, five for the 144-key one)
                float[] got = b.runCascade(CPU, cascade.sharedRanges(8), groups, new int[] {33, 9});
                assertClose(ref, got, 2 * TOLERANCE, what + ", 8 ranges: cascade vs reference");
                assertClose(plainD, got, 2 * TOLERANCE, what + ", 8 ranges: cascade vs paged");
                cascade.sharedRanges(0);
            }
        }
    }

    /**
     * Suffix first ({@link CascadeAttention#suffixFirst}: the warp suffix writes its own keys' state to the token's first own split slot,
     * empty states to the others, the shared level waits for it only at its end, then mergeSplits folds the splits' or ranges' slots) and the own-range
     * suffix at U = 8 ({@link CascadeAttention#suffixKeysPerLane}): two groups (528 and 144 shared keys), a 3-token chunk, a loner whose
     * 300 own keys walk two splits (its second own slot empty), ALiBi with 5 heads bf16 D 32, G = 4 fp16 D 64, G = 2 bf16 D 128.
     */
    @Test
    void theSuffixFirstAndEightKeysALaneAgreeWithTheReference() {
        int[] ctx = {540, 529, 568, 560, 150, 145, 190, 300}, news = {1, 1, 1, 3, 1, 1, 1, 1};
        int[] shared = {33, 33, 33, 33, 9, 9, 9, 0}, leader = {0, 0, 0, 0, 4, 4, 4, 7};
        int[][] groups = {{0, 1, 2, 3}, {4, 5, 6}};
        record Case(int heads, int kvHeads, int headDim, boolean alibi, KvStore store) {}
        for (Case c : new Case[] {new Case(5, 5, 32, true, KvStore.BF16), new Case(8, 2, 64, false, KvStore.F16), new Case(4, 2, 128, false, KvStore.BF16)}) {
            String what = c.heads + " heads, G = " + c.heads / c.kvHeads + ", headDim " + c.headDim + (c.alibi ? " ALiBi" : "");
            try (PagedBatch b = new PagedBatch(c.heads, c.kvHeads, c.headDim, 16, ctx, news, c.alibi, c.store, 41 + c.heads, shared, leader);
                 CascadeAttention cascade = new CascadeAttention(c.heads, c.kvHeads, c.headDim, 16, b.maxContext(), 33 * 16, b.tokens);
                 PagedAttention paged = new PagedAttention(c.heads, c.kvHeads, c.headDim, 16, b.maxContext(), b.tokens)) {
                double[] ref = b.reference();
                float[] plain = b.run(CPU, paged, b.allTokens(), true);
                double[] plainD = new double[plain.length];
                for (int i = 0; i < plain.length; i++) plainD[i] = plain[i];
                cascade.warpSuffix(CascadeAttention.WARP_SUFFIX_MAX_SPLITS);
                for (boolean first : new boolean[] {true, false}) {
                    for (int u : new int[] {4, 8}) {
                        if (u * 32 / (c.headDim / 8) > AttentionKernels.SPLIT) continue;
                        String form = what + (first ? ", suffix first" : ", suffix last") + ", U = " + u;
                        float[] got = b.runCascade(CPU, cascade.suffixFirst(first).suffixKeysPerLane(u), groups, new int[] {33, 9});
                        assertClose(ref, got, 2 * TOLERANCE, form + ": cascade vs reference");
                        assertClose(plainD, got, 2 * TOLERANCE, form + ": cascade vs paged");
                    }
                }
                // suffix first with 8 forced key ranges (the merge launch folds the ranges' slots, two empty for the 528-key group)
                float[] got = b.runCascade(CPU, cascade.suffixFirst(true).suffixKeysPerLane(0).sharedRanges(8), groups, new int[] {33, 9});
                assertClose(ref, got, 2 * TOLERANCE, what + ", suffix first, 8 ranges: cascade vs reference");
                assertClose(plainD, got, 2 * TOLERANCE, what + ", suffix first, 8 ranges: cascade vs paged");
                cascade.suffixFirst(false).suffixKeysPerLane(0).sharedRanges(0);
            }
        }
    }

    /** The key ranges' rule and lengths ({@link CascadeMmaKernels#rangeKeys}, {@link CascadeMmaKernels#sharedRanges}) at the shapes. */
    @Test
    void theKeyRangesRule() {
        assertEquals(AttentionKernels.SPLIT, CascadeMmaKernels.rangeKeys(530, 0), "ranges 0: 256-key splits");
        assertEquals(192, CascadeMmaKernels.rangeKeys(530, 3), "530 keys in 3 ranges: 192 + 192 + 146");
        assertEquals(256, CascadeMmaKernels.rangeKeys(752, 3), "752 keys in 3 ranges: 256 + 256 + 240");
        assertEquals(32, CascadeMmaKernels.rangeKeys(0, 3), "no shared key: a range of 32 (no division by 0 in the suffix)");
        assertEquals(256, CascadeMmaKernels.rangeKeys(530, 1), "at most a split (the row buffer)");
        // 107 x 530, 2 key halves: 4 query tiles x 32 kv heads = 128 work-groups a range: 3 equal ranges fill one wave at 3 an SM
        assertEquals(3, CascadeMmaKernels.sharedRanges(3, 128, 132, 530, 128, 8));
        // 40 heads ALiBi: 160 a range, 480 work-groups past one wave: the splits
        assertEquals(0, CascadeMmaKernels.sharedRanges(3, 160, 132, 530, 128, 8));
        // 500 x 752, whole splits: 8 x 32 = 256 a range: the splits
        assertEquals(0, CascadeMmaKernels.sharedRanges(3, 256, 132, 752, 128, 8));
        // a one-split prefix: 2 ranges above minKeys keys (107 x 240, 16 x 256), 1 at or below; 512 keys stay 2 (the cap)
        assertEquals(2, CascadeMmaKernels.sharedRanges(1, 128, 132, 240, 128, 8));
        assertEquals(2, CascadeMmaKernels.sharedRanges(1, 32, 132, 256, 128, 8));
        assertEquals(2, CascadeMmaKernels.sharedRanges(1, 32, 132, 200, 128, 8));
        assertEquals(1, CascadeMmaKernels.sharedRanges(1, 32, 132, 128, 128, 8));
        assertEquals(2, CascadeMmaKernels.sharedRanges(2, 32, 132, 512, 64, 8));
        assertEquals(1, CascadeMmaKernels.sharedRanges(1, 32, 132, 256, 128, 1), "the scratch's capacity");
        assertEquals(0, CascadeMmaKernels.sharedRanges(2, 32, 132, 512, 0, 8), "minKeys 0: 256-key splits");
        assertEquals(3, CascadeMmaKernels.sharedRanges(3, 32, 132, 530, 1024, 8), "never fewer than the splits");
    }

    @Test
    void twoGroups() {
        // sequences 0-2 share 3 blocks of 16, sequences 3-5 share 2 other blocks, sequence 6 is on its own
        int[] ctx = {60, 70, 90, 33, 40, 32, 17}, news = {1, 1, 2, 1, 1, 1, 1}, shared = {3, 3, 3, 2, 2, 2, 0}, leader = {0, 0, 0, 3, 3, 3, 6};
        try (PagedBatch b = new PagedBatch(3, 3, 16, 16, ctx, news, true, true, 25, shared, leader)) {
            check(b, new int[][] {{0, 1, 2}, {3, 4, 5}}, new int[] {3, 2}, "two groups and a loner, ALiBi");
        }
    }
}
