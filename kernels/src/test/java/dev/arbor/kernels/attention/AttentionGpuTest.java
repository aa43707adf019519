package dev.arbor.kernels.attention;

import dev.arbor.accel.cuda.CudaBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.arbor.kernels.attention.PagedAttentionTest.assertBits;
import static dev.arbor.kernels.attention.PagedAttentionTest.assertClose;
import static dev.arbor.kernels.attention.PagedAttentionTest.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The attention and KV kernels on the GPU ({@code @Tag("gpu")}): against the double-precision reference
 * at model shapes (Llama-2-7B 32×128, GQA 4 and 8, Baichuan2-13B 40 heads with ALiBi) within 2e-5 (the
 * hardware exponential), batch invariance bit for bit on the device (alone / batched, split / whole
 * mode, prefill chunked / whole, every merge depth), cascade (tensor cores for the shared part) against paged within 1e-5 at the seed's shared-prefix shape,
 * and the KV write bit for bit; bf16 and fp16 stores (fp32 too where noted).
 */
@Tag("gpu")
class AttentionGpuTest {
    static final double TOLERANCE = 2e-5;
    private static CudaBackend cuda;

    @BeforeAll static void open() { cuda = CudaBackend.open(0); }

    @AfterAll static void close() { cuda.close(); }

    private static void bothModesAgainstReference(PagedBatch b, String what) {
        double[] ref = b.reference();
        try (PagedAttention attn = new PagedAttention(b.heads, b.kvHeads, b.headDim, b.blockSize, b.maxContext(), b.tokens)) {
            float[] split = b.run(cuda, attn, b.allTokens(), true), whole = b.run(cuda, attn, b.allTokens(), false);
            assertClose(ref, split, TOLERANCE, what + " split mode");
            assertBits(split, whole, what + " whole vs split mode");
            // the default merges in the split kernel's last-arriving work-group; a second launch finds the counters at zero
            assertBits(split, b.run(cuda, attn, b.allTokens(), true), what + " fused merge, launched again");
            // the separate merge launch at one slot per round trip (the loop before run 22) and at 32, the fused one at 32:
            // the same fold, the same bits
            assertBits(split, b.run(cuda, attn.fuseMerge(0, 8).mergeAhead(1), b.allTokens(), true), what + " separate merge depth 1 vs default");
            assertBits(split, b.run(cuda, attn.mergeAhead(32), b.allTokens(), true), what + " separate merge depth 32 vs default");
            assertBits(split, b.run(cuda, attn.fuseMerge(PagedAttention.FUSE_MAX_SPLITS, 32), b.allTokens(), true), what + " fused merge depth 32 vs default");
        }
    }

    @Test
    void decodeAtModelShapesAgreesWithTheReference() {
        int[] ctx = {1, 15, 16, 17, 255, 1000, 4097}, one = {1, 1, 1, 1, 1, 1, 1};
        try (PagedBatch b = new PagedBatch(32, 32, 128, 16, ctx, one, false, true, 1)) { bothModesAgainstReference(b, "Llama-2-7B"); }
        try (PagedBatch b = new PagedBatch(32, 8, 128, 16, ctx, one, false, true, 2)) { bothModesAgainstReference(b, "GQA 4"); }
        try (PagedBatch b = new PagedBatch(64, 8, 128, 16, ctx, one, false, false, 3)) { bothModesAgainstReference(b, "GQA 8, fp32 store"); }
        try (PagedBatch b = new PagedBatch(40, 40, 128, 16, ctx, one, true, true, 4)) { bothModesAgainstReference(b, "Baichuan2-13B ALiBi"); }
        try (PagedBatch b = new PagedBatch(5, 1, 6, 7, ctx, one, true, true, 5)) { bothModesAgainstReference(b, "odd: 5 heads, D=6, bs=7"); }
        try (PagedBatch b = new PagedBatch(32, 8, 128, 16, ctx, one, false, KvStore.F16, 8)) { bothModesAgainstReference(b, "GQA 4, fp16 store"); }
        try (PagedBatch b = new PagedBatch(40, 40, 128, 16, ctx, one, true, KvStore.F16, 9)) { bothModesAgainstReference(b, "ALiBi, fp16 store"); }
        try (PagedBatch b = new PagedBatch(5, 1, 6, 7, ctx, one, true, KvStore.F16, 10)) { bothModesAgainstReference(b, "odd fp16: 5 heads, D=6, bs=7"); }
    }

    /**
     * Llama-3.2-1B's shape (32 heads / 8 kv heads × 64, GQA 4; no GPU test had it before run 48-gqa10) against the reference, both
     * modes (the launcher takes whole mode there from 128 tokens, {@link DecodeKernels#splitBelowGroups}: the same bits), and
     * DecodeKernels' other launch bounds (5 and 6 work-groups an SM: registers only, the same bits); ALiBi and fp16 too.
     */
    @Test
    void gqa4HeadDim64AgreesWithTheReferenceAndKeepsItsBitsUnderEveryBound() {
        int[] ctx = {1, 15, 16, 17, 255, 513, 1000, 4097}, one = {1, 1, 1, 1, 1, 1, 1, 1};
        try (PagedBatch b = new PagedBatch(32, 8, 64, 16, ctx, one, false, true, 21)) { bothModesAgainstReference(b, "Llama-3.2-1B GQA 4 D=64"); }
        Object[][] cases = {{false, KvStore.BF16, 22}, {true, KvStore.BF16, 23}, {false, KvStore.F16, 24}};
        for (Object[] c : cases) {
            boolean alibi = (Boolean) c[0];
            try (PagedBatch b = new PagedBatch(32, 8, 64, 16, ctx, one, alibi, (KvStore) c[1], (Integer) c[2]);
                 PagedAttention attn = new PagedAttention(32, 8, 64, 16, b.maxContext(), b.tokens)) {
                String what = "GQA 4 D=64 " + c[1] + (alibi ? " ALiBi" : "");
                float[] split = b.run(cuda, attn, b.allTokens(), true);
                assertClose(b.reference(), split, TOLERANCE, what);
                for (int lb : new int[] {5, 6}) {
                    attn.decodeMinBlocks(lb);
                    assertBits(split, b.run(cuda, attn, b.allTokens(), true), what + ", bounds " + lb + ", split mode");
                    assertBits(split, b.run(cuda, attn, b.allTokens(), false), what + ", bounds " + lb + ", whole mode");
                }
            }
        }
    }

    /**
     * Small splits on the device (Llama-2-7B's shape, 64 and 128 keys below position 2,048, 256 from it): against the reference,
     * split vs whole mode, and a token's bits alone vs batched (the split length is a function of the position only).
     */
    @Test
    void smallSplitsAgreeWithTheReferenceAndKeepATokensBits() {
        int[] ctx = {1, 63, 64, 65, 255, 1000, 2047, 2048, 4097}, one = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        for (int small : new int[] {64, 128}) for (KvStore store : new KvStore[] {KvStore.BF16, KvStore.F16}) {
            try (PagedBatch b = new PagedBatch(32, 32, 128, 16, ctx, one, false, store, 30 + small);
                 PagedAttention attn = new PagedAttention(32, 32, 128, 16, b.maxContext(), b.tokens, small, 2048)) {
                String what = store + " small " + small;
                assertEquals(small, attn.smallSplit(), what);
                float[] split = b.run(cuda, attn, b.allTokens(), true);
                assertClose(b.reference(), split, TOLERANCE, what + " split mode");
                assertBits(split, b.run(cuda, attn, b.allTokens(), false), what + " whole vs split mode");
                assertBits(split, b.run(cuda, attn, b.allTokens(), true), what + " launched again");
                int row = b.heads * b.headDim;
                for (int t : new int[] {0, 3, 5, 6, 7, 8}) {
                    assertBits(rows(split, new int[] {t}, row), b.run(cuda, attn, new int[] {t}, true), what + " token " + t + " alone");
                }
            }
        }
    }

    @Test
    void prefillChunksAndBatchInvarianceOnTheDevice() {
        prefillChunksAndBatchInvariance(KvStore.BF16);
    }

    @Test
    void prefillChunksAndBatchInvarianceOnTheDeviceWithAnFp16Store() {
        prefillChunksAndBatchInvariance(KvStore.F16);
    }

    private static void prefillChunksAndBatchInvariance(KvStore store) {
        try (PagedBatch b = new PagedBatch(40, 40, 128, 16, new int[] {600, 37, 3000}, new int[] {300, 5, 1}, true, store, 6);
             PagedAttention attn = new PagedAttention(40, 40, 128, 16, 3000, 306)) {
            int row = b.heads * b.headDim;
            double[] ref = b.reference();
            float[] whole = b.run(cuda, attn, b.allTokens(), false);
            assertClose(ref, whole, TOLERANCE, store + " ALiBi prefill chunk");
            assertBits(whole, b.run(cuda, attn, b.allTokens(), true), store + " split vs whole mode");
            for (int t : new int[] {0, 200, 299, 300, 305}) {
                assertBits(rows(whole, new int[] {t}, row), b.run(cuda, attn, new int[] {t}, true), store + " token " + t + " alone, split");
                assertBits(rows(whole, new int[] {t}, row), b.run(cuda, attn, new int[] {t}, false), store + " token " + t + " alone, whole");
            }
            for (int[] c : new int[][] {{0, 1}, {1, 160}, {160, 300}}) {
                int[] which = new int[c[1] - c[0] + 1];
                which[0] = 305;
                for (int t = c[0]; t < c[1]; t++) which[t - c[0] + 1] = t;
                assertBits(rows(whole, which, row), b.run(cuda, attn, which, null), store + " chunk " + c[0] + ".." + c[1]);
            }
        }
    }

    @Test
    void cascadeAtTheSeedsSharedPrefixShape() {
        // 107 sequences behind a 530-token prompt: 33 full blocks shared, 20..50 own tokens each, one decode query each
        int seqs = 107;
        int[] ctx = new int[seqs], one = new int[seqs], shared = new int[seqs], members = new int[seqs];
        for (int i = 0; i < seqs; i++) {
            ctx[i] = 530 + 20 + (i * 7) % 31;
            one[i] = 1;
            shared[i] = 33;
            members[i] = i;
        }
        for (KvStore store : new KvStore[] {KvStore.BF16, KvStore.F16}) for (boolean alibi : new boolean[] {false, true}) {
            int heads = alibi ? 40 : 32;
            try (PagedBatch b = new PagedBatch(heads, heads, 128, 16, ctx, one, alibi, store, 7, shared);
                 CascadeAttention cascade = new CascadeAttention(heads, heads, 128, 16, 600, 528, seqs);
                 PagedAttention paged = new PagedAttention(heads, heads, 128, 16, 600, seqs)) {
                // the launcher's default: the suffix + merge as one warp per (token, kv head) over each token's own keys as one range
                float[] own = b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33});
                assertClose(b.reference(), own, TOLERANCE, store + " cascade (own-range suffix) alibi=" + alibi);
                cascade.suffixReplay(true);
                float[] got = b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33});
                assertClose(b.reference(), got, TOLERANCE, store + " cascade alibi=" + alibi);
                // the warp suffix in the split kernel's layout (suffixReplay; 1 own split here); the 4-warp split kernel over
                // the context's splits (3: over WARP_SUFFIX_MAX_SPLITS), over the own splits with its fused merge, and with the
                // separate merge launch: the same bits
                assertBits(got, b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33}, false), store + " cascade, wide suffix grid, alibi=" + alibi);
                cascade.warpSuffix(0);
                assertBits(got, b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33}), store + " cascade, 4-warp suffix, alibi=" + alibi);
                cascade.paged().fuseMerge(0, 8);
                assertBits(got, b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33}), store + " cascade, separate merge, alibi=" + alibi);
                cascade.warpSuffix(CascadeAttention.WARP_SUFFIX_MAX_SPLITS);
                assertBits(got, b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33}), store + " cascade, warp suffix again, alibi=" + alibi);
                float[] plain = b.run(cuda, paged, b.allTokens(), null);
                double[] plainD = new double[plain.length];
                for (int i = 0; i < plain.length; i++) plainD[i] = plain[i];
                double worst = 0, worstOwn = 0, ownReplay = 0;
                for (int i = 0; i < plain.length; i++) {
                    worst = Math.max(worst, Math.abs(plain[i] - got[i]));
                    worstOwn = Math.max(worstOwn, Math.abs(plain[i] - own[i]));
                    ownReplay = Math.max(ownReplay, Math.abs(own[i] - got[i]));
                }
                System.out.printf("cascade vs paged, 107 x 530, %d heads, %s, alibi=%b: max |difference| %.2e (own-range suffix %.2e;"
                        + " own-range vs replayed layout %.2e)%n", heads, store, alibi, worst, worstOwn, ownReplay);
                assertClose(plainD, got, CascadeAttentionTest.GPU_TOLERANCE, store + " cascade vs paged alibi=" + alibi);
                assertClose(plainD, own, CascadeAttentionTest.GPU_TOLERANCE, store + " cascade (own-range suffix) vs paged alibi=" + alibi);
                // run 61-casc15: suffix first (the shared level overlapping the warp suffix on the GPU, then the merge launch), and the
                // own-range suffix at U = 8 under bounds 24, each against the reference and paged
                cascade.suffixReplay(false);
                for (int form = 0; form < 3; form++) {
                    cascade.suffixFirst(form != 1).suffixKeysPerLane(form == 0 ? 0 : 8).suffixMinBlocks(form == 0 ? -1 : 24);
                    float[] f = b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33});
                    String what = store + (form == 1 ? " U 8" : " suffix first") + (form == 2 ? " U 8" : "") + " alibi=" + alibi;
                    double worstF = 0;
                    for (int i = 0; i < plain.length; i++) worstF = Math.max(worstF, Math.abs(plain[i] - f[i]));
                    System.out.printf("casc15 %s: cascade vs paged max |difference| %.2e%n", what, worstF);
                    assertClose(b.reference(), f, TOLERANCE, what + ": cascade vs reference");
                    assertClose(plainD, f, CascadeAttentionTest.GPU_TOLERANCE, what + ": cascade vs paged");
                }
                cascade.suffixFirst(false).suffixKeysPerLane(0).suffixMinBlocks(-1);
                // run 64-casc16: the tensor-core shared level's deeper cp.async ring (3 and 4 stages, tile buffers in dynamic shared
                // memory): the double buffer's bits, in the launcher's form (2 key halves; 3 key ranges, the splits at 40 heads) and with
                // whole-split work-groups (1 key half, bounds 3: 500 x 752's form)
                for (int halves : new int[] {0, 1}) {
                    cascade.sharedKeyHalves(halves).sharedMinBlocks(halves == 1 ? 3 : -1).sharedStages(2);
                    float[] two = b.runCascade(cuda, cascade, new int[][] {members}, new int[] {33});
                    for (int st = 3; st <= CascadeMmaKernels.MAX_STAGES; st++) {
                        assertBits(two, b.runCascade(cuda, cascade.sharedStages(st), new int[][] {members}, new int[] {33}),
                                store + " alibi=" + alibi + ", " + (halves == 0 ? "the launcher's key halves" : "1 key half") + ": " + st + " stages vs 2");
                    }
                }
                cascade.sharedKeyHalves(0).sharedMinBlocks(-1).sharedStages(CascadeAttention.SHARED_STAGES);
                System.out.printf("casc16 %s alibi=%b: the shared level's 3- and 4-stage rings give the double buffer's bits%n", store, alibi);
            }
        }
    }

    @Test
    void kvWriteIsBitIdenticalToTheReference() {
        for (KvStore store : KvStore.values()) {
            assertEquals(null, KvWriteTest.check(cuda, 37, 8, 128, 16, 5, store, 2), store.name());
            assertEquals(null, KvWriteTest.check(cuda, 13, 2, 5, 7, 4, store, 3), store.name());
        }
    }
}
