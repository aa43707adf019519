package dev.arbor.kernels.attention;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.kernels.layer.TokenKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every attention, KV and token kernel's PTX, for the variants the models use (Llama-2-7B 32×128 MHA,
 * Llama-3 / Qwen GQA 4 and 8, Baichuan ALiBi 40 heads, odd test shapes), assembled by
 * {@code ptxas -arch=sm_90}: static shared memory over 48 KiB or bad PTX fails here. Skipped with a
 * message without ptxas, failing when {@code ARBOR_REQUIRE_PTXAS=1}.
 */
class AttentionPtxTest {
    record Variant(Class<?> owner, String name, Object... constants) {}

    /**
     * The 16-bit stores share one vector tile load whose widening is chosen by a constant: each kernel's
     * PTX converts its own type only (fp16: {@code cvt.f32.f16}; bf16: a shift, no fp16 conversion), and
     * both take the 8-byte loads.
     */
    @Test
    void eachSixteenBitStoreWidensItsOwnType() {
        for (String kernel : new String[] {"pagedBf16", "pagedF16"}) {
            String ptx = KernelCompiler.compile(Kernel.of(AttentionKernels.class, kernel), new Object[] {32, 8, 128, 16, 0, 0, 0}, 90).ptx();
            assertTrue(ptx.contains("ld.global.b64"), kernel + ": no 8-byte loads");
            assertEquals(kernel.equals("pagedF16"), ptx.contains("cvt.f32.f16"), kernel + ": fp16 conversion present or missing");
        }
        for (String kernel : new String[] {"cascadeSharedBf16", "cascadeSharedF16"}) {
            String ptx = KernelCompiler.compile(Kernel.of(CascadeKernels.class, kernel), new Object[] {32, 8, 128, 16, 0, 2}, 90).ptx();
            assertEquals(kernel.equals("cascadeSharedF16"), ptx.contains("cvt.f32.f16"), kernel + ": fp16 conversion present or missing");
        }
    }

    /**
     * The streamed decode kernel at Llama-2-7B's shape, bf16 and fp16: its K/V reads are 16-byte loads
     * (4 keys × K and V per lane, then 2 for the query), its scores an xor butterfly (4 shuffles per
     * key and head at headDim 128), and nothing goes to local memory.
     */
    @Test
    void theDecodeKernelStreamsSixteenByteLoads() {
        for (String kernel : new String[] {"decodeBf16", "decodeF16"}) {
            var k = KernelCompiler.compile(Kernel.of(DecodeKernels.class, kernel), new Object[] {32, 32, 128, 16, 0, 1, 0, 4, 8, 0, 0, 256, 0}, 90);
            String ptx = k.ptx();
            assertEquals(2 * 4 + 2, count(ptx, "ld.global.v4.b32"), kernel + ": 16-byte loads (4 K + 4 V chunks, the query's 2)");
            assertEquals(4 * 4, count(ptx, "shfl.sync.bfly"), kernel + ": butterfly shuffles (4 keys x 4 steps)");
            assertEquals(kernel.equals("decodeF16"), ptx.contains("cvt.f32.f16"), kernel + ": fp16 conversion present or missing");
            assertTrue(k.localMemoryArrays().isEmpty(), kernel + ": register arrays in local memory " + k.localMemoryArrays());
        }
    }

    /** The fused merge (split mode, merge in the last-arriving work-group): a fence and one counter atomic, the same streamed loads, nothing in local memory. */
    @Test
    void theFusedMergeCountsArrivalsBehindAFence() {
        var k = KernelCompiler.compile(Kernel.of(DecodeKernels.class, "decodeBf16"), new Object[] {32, 32, 128, 16, 0, 1, 1, 4, 4, 32, 0, 256, 0}, 90);
        String ptx = k.ptx();
        assertEquals(2, count(ptx, "fence.sc.gpu"), "a fence before counting in and one after arriving last");
        assertEquals(1, count(ptx, "atom.global.add"), "one arrival count per work-group");
        assertEquals(2 * 4 + 2, count(ptx, "ld.global.v4.b32"), "the streamed loads are unchanged");
        assertTrue(k.localMemoryArrays().isEmpty(), "register arrays in local memory " + k.localMemoryArrays());
    }

    /**
     * The cascade's suffix + merge as one warp ({@link CascadeSuffixKernels}) at Llama-2-7B's shape: no fence and no atomic (nothing
     * to count: one work-group per (token, kv head)), the decode kernel's streamed loads and butterflies, the folds through index
     * shuffles with two barriers in all, nothing in local memory, and launch bounds of 32 one-warp blocks an SM.
     */
    @Test
    void theWarpSuffixMergesWithoutCounters() {
        // the split kernel's layout (4 virtual warps, ownRange 0) and the launcher's default (one virtual warp over the own range)
        for (Object[] constants : new Object[][] {{32, 32, 128, 16, 0, 4, 4, 1, 32, 0, 0}, {32, 32, 128, 16, 0, 4, 1, 1, 32, 1, 0}}) for (String kernel : new String[] {"suffixMergeBf16", "suffixMergeF16"}) {
            var k = KernelCompiler.compile(Kernel.of(CascadeSuffixKernels.class, kernel), constants, 90);
            String ptx = k.ptx();
            assertTrue(ptx.contains(".maxntid 32, 1, 1\n.minnctapersm 32\n"), kernel + ": one warp a block, 32 blocks an SM (64 registers)");
            assertEquals(0, count(ptx, "fence."), kernel + ": no fence");
            assertEquals(0, count(ptx, "atom."), kernel + ": no atomic");
            assertEquals(2 * 4 + 2, count(ptx, "ld.global.v4.b32"), kernel + ": 16-byte loads (4 K + 4 V chunks, the query's 2)");
            assertEquals(4 * 4, count(ptx, "shfl.sync.bfly"), kernel + ": butterfly shuffles (4 keys x 4 steps)");
            // row states and shared slots folded through shuffles (2 rows x 10 words, 2 slots x 10 words), not shared memory: the
            // only barriers are the two around a split's block-table lookups
            assertEquals(2 * 10 + 2 * 10, count(ptx, "shfl.sync.idx"), kernel + ": index shuffles of the folds");
            assertEquals(2, count(ptx, "bar.sync"), kernel + ": barriers");
            assertTrue(k.localMemoryArrays().isEmpty(), kernel + ": register arrays in local memory " + k.localMemoryArrays());
        }
    }

    /**
     * The tensor-core shared level's form by the launch's size (bench/RESULTS.md "Run 39-casc8" and "Run 39-divc", 132 SMs): 500 × 752
     * (768 whole-split work-groups) 3 work-groups an SM; 107 × 530 and 40 heads ALiBi (192 and 240), 107 × 240 and the sweep's 2-32
     * sequences (32-64) two key halves, 3 work-groups an SM at G = 1 ("Run 57-casc12"), none at G = 4; none at headDim 64; G = 64
     * whole splits.
     */
    @Test
    void theSharedLevelsFormFollowsTheLaunchSize() {
        long[][] cases = {{192, 2, 3}, {240, 2, 3}, {768, 1, 3}, {64, 2, 3}, {32, 2, 3}, {132, 2, 3}, {133, 2, 3}, {264, 2, 3}, {265, 1, 3}};
        for (long[] c : cases) {
            int halves = CascadeMmaKernels.keyHalves(32, 32, c[0], 132);
            assertEquals(c[1], halves, c[0] + " work-groups: key halves");
            assertEquals(c[2], CascadeMmaKernels.minBlocksPerSm(1, 128, halves, c[0], 132), c[0] + " work-groups: launch bounds");
        }
        assertEquals(0, CascadeMmaKernels.minBlocksPerSm(4, 128, 2, 192, 132), "two key halves at G = 4: no bound");
        assertEquals(3, CascadeMmaKernels.minBlocksPerSm(4, 128, 1, 768, 132), "whole splits past two an SM at G = 4: 3");
        assertEquals(0, CascadeMmaKernels.minBlocksPerSm(1, 128, 1, 264, 132), "whole splits, at most two an SM: no bound");
        assertEquals(0, CascadeMmaKernels.minBlocksPerSm(1, 64, 2, 64, 132), "headDim 64: no bound");
        assertEquals(0, CascadeMmaKernels.minBlocksPerSm(1, 64, 1, 768, 132));
        assertEquals(1, CascadeMmaKernels.keyHalves(64, 1, 32, 132));
        String ptx = KernelCompiler.compile(Kernel.of(CascadeMmaKernels.class, "cascadeMmaBf16"), new Object[] {32, 32, 128, 16, 0, 3, 1, 0}, 90).ptx();
        assertTrue(ptx.contains(".maxntid 128, 1, 1\n.minnctapersm 3\n"), "4 warps a work-group, 3 work-groups an SM");
        String free = KernelCompiler.compile(Kernel.of(CascadeMmaKernels.class, "cascadeMmaBf16"), new Object[] {32, 8, 64, 16, 0, 0, 2, 0}, 90).ptx();
        assertEquals(0, count(free, ".minnctapersm"), "no bound");
    }

    /**
     * DecodeKernels and the tensor-core shared level are launched overlapping the kernel before them (programmatic dependent launch,
     * {@link PagedAttention#overlapPrevious}, {@link CascadeAttention#overlapShared}): before a work-group waits for that kernel
     * ({@code griddepcontrol.wait}) it may read only the host-written index arrays (32-bit integer loads: positions, tokens, key
     * starts, block tables), never q, the KV rows or the scratch, and write nothing global; the shared level lets the suffix start
     * ({@code launch_dependents}) only after it waited. accel writes PTX in source order, so the text order is the order checked:
     * nothing but {@code ld.global.s32} before the first wait (an early exit's), the block-table lookups before the main wait (the
     * last), every q / K / V load after it.
     */
    @Test
    void theOverlappedKernelsReadOnlyIndicesBeforeTheyWait() {
        Object[][] decode = {{32, 32, 128, 16, 0, 1, 0, 4, 4, 8, 0, 256, 0}, {32, 32, 128, 16, 0, 0, 0, 4, 4, 0, 0, 256, 0},
                {32, 8, 64, 16, 0, 1, 0, 4, 4, 8, 4, 256, 0}, {40, 40, 128, 16, 1, 1, 0, 4, 4, 8, 0, 256, 0},
                {32, 32, 128, 16, 0, 1, 0, 4, 4, 8, 0, 64, 8192}, {32, 32, 128, 16, 0, 0, 1, 4, 4, 0, 0, 128, 4096}};
        for (Object[] c : decode) {
            String ptx = KernelCompiler.compile(Kernel.of(DecodeKernels.class, "decodeBf16"), c, 90).ptx();
            String what = "decodeBf16 " + java.util.Arrays.toString(c);
            int first = ptx.indexOf("griddepcontrol.wait"), last = ptx.lastIndexOf("griddepcontrol.wait");
            assertTrue(count(ptx, "griddepcontrol.wait") >= 3, what + ": the main wait and one before each early exit");
            assertOnlyIndexLoads(ptx.substring(0, first), what);
            int previous = ptx.lastIndexOf("griddepcontrol.wait", last - 1);
            assertTrue(ptx.substring(previous, last).contains("ld.global.s32"), what + ": the block-table lookups before the main wait");
            assertTrue(ptx.indexOf("ld.global.v4") > last, what + ": q and the KV rows after the main wait");
        }
        Object[][] mma = {{32, 32, 128, 16, 0, 3, 1, 0}, {32, 32, 128, 16, 0, 0, 2, 0}, {40, 40, 128, 16, 1, 0, 2, 0}, {32, 8, 64, 16, 0, 0, 2, 0},
                {32, 32, 128, 16, 0, 3, 1, 1}};
        for (Object[] c : mma) {
            String ptx = KernelCompiler.compile(Kernel.of(CascadeMmaKernels.class, "cascadeMmaBf16"), c, 90).ptx();
            String what = "cascadeMmaBf16 " + java.util.Arrays.toString(c);
            // the main wait, one before each early exit, and suffix first's wait at the end (waitAtEnd, a runtime branch: then the main
            // one is skipped)
            int end = ptx.lastIndexOf("griddepcontrol.wait"), last = ptx.lastIndexOf("griddepcontrol.wait", end - 1);
            assertEquals(4, count(ptx, "griddepcontrol.wait"), what + ": the main wait, one before each early exit, one at the end");
            assertTrue(end > ptx.lastIndexOf("mma.sync"), what + ": suffix first's wait after the work");
            assertOnlyIndexLoads(ptx.substring(0, last), what);
            assertTrue(ptx.indexOf("griddepcontrol.launch_dependents") > last, what + ": the suffix may start only after the wait");
            assertTrue(ptx.indexOf("cp.async") > last, what + ": the KV tiles after the wait");
        }
    }

    private static void assertOnlyIndexLoads(String before, String what) {
        for (String line : before.split("\n")) {
            String t = line.trim();
            if (t.contains("ld.global")) assertTrue(t.contains("ld.global.s32"), what + ": before the wait " + t);
            for (String w : new String[] {"st.global", "atom.", "cp.async", "red.global"}) assertTrue(!t.contains(w), what + ": before the wait " + t);
        }
    }

    /** DecodeKernels' launch bounds: none by default (ptxas's own registers), 4 work-groups an SM at G = 4 (128 registers, not 160). */
    @Test
    void theDecodeKernelBoundsItsRegistersAtGqa4Only() {
        String free = KernelCompiler.compile(Kernel.of(DecodeKernels.class, "decodeBf16"), new Object[] {32, 32, 128, 16, 0, 1, 0, 4, 4, 8, 0, 256, 0}, 90).ptx();
        assertEquals(0, count(free, ".maxntid"), "no launch bounds at minBlocks 0");
        String gqa = KernelCompiler.compile(Kernel.of(DecodeKernels.class, "decodeBf16"), new Object[] {32, 8, 64, 16, 0, 1, 0, 4, 4, 8, 4, 256, 0}, 90).ptx();
        assertTrue(gqa.contains(".maxntid 128, 1, 1\n.minnctapersm 4\n"), "4 work-groups of 4 warps an SM");
        assertEquals(4, DecodeKernels.minBlocksPerSm(32, 8, 64));
        assertEquals(0, DecodeKernels.minBlocksPerSm(32, 32, 128));
    }

    private static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }

    /**
     * DecodeKernels' pipelined rounds ({@link DecodeKernels#pipelinedRounds}): three K/V load sites (the first round, then B and A
     * inside the loop) of 16-byte loads, two rounds of butterflies, nothing in local memory, and ptxas sm_90 with no spill under the
     * launch bounds of {@link PagedAttention#PIPE_BLOCKS} work-groups an SM (at most 128 registers) at G = 1 (headDim 128, 64, ALiBi;
     * G = 4 × 128 spills 768 bytes there, so {@link DecodeKernels#pipelines} refuses G > 1); the plain form keeps its one load site.
     */
    @Test
    void thePipelinedDecodeKernelKeepsTwoRoundsInFlightWithoutSpills(@TempDir Path dir) throws Exception {
        Path ptxas = dev.arbor.kernels.Ptxas.require();
        int pb = PagedAttention.PIPE_BLOCKS;
        int two = DecodeKernels.TWO_ROUNDS, skew = DecodeKernels.SKEWED;
        Object[][] forms = {{"decodeBf16Piped", 32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, two, 0}, {"decodeF16Piped", 32, 32, 128, 16, 0, 0, 0, 4, 4, 0, pb, 256, 0, two, 0},
                {"decodeBf16OutBf16Piped", 32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, two, 0}, {"decodeBf16Piped", 16, 16, 64, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, two, 0},
                {"decodeBf16Piped", 40, 40, 128, 16, 1, 1, 1, 4, 4, 8, pb, 256, 0, two, 0},
                {"decodeBf16Piped", 32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 128, 4096, two, 0},
                // run 85-dec22's forms: skewed rounds, paired row offsets (ptxas: 123 / 121 registers at 32 × 128)
                {"decodeBf16Piped", 32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, skew, 0}, {"decodeBf16Piped", 32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, two, 1},
                {"decodeBf16OutBf16Piped", 32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, skew, 1}, {"decodeBf16Piped", 40, 40, 128, 16, 1, 1, 1, 4, 4, 8, pb, 256, 0, skew, 1}};
        for (Object[] f : forms) {
            Object[] c = java.util.Arrays.copyOfRange(f, 1, f.length);
            String what = f[0] + java.util.Arrays.toString(c);
            var k = KernelCompiler.compile(Kernel.of(DecodeKernels.class, (String) f[0]), c, 90);
            String ptx = k.ptx();
            int g = (int) c[0] / (int) c[1];
            assertEquals(3 * 2 * 4 + 2 * g, count(ptx, "ld.global.v4.b32"), what + ": 16-byte loads (3 sites of 4 K + 4 V chunks, the query's 2 a head)");
            assertTrue(k.localMemoryArrays().isEmpty(), what + ": register arrays in local memory " + k.localMemoryArrays());
            String name = what.replaceAll("\\W", "_");
            Path file = dir.resolve(name + ".ptx");
            Files.writeString(file, ptx);
            Process p = new ProcessBuilder(ptxas.toString(), "-arch=sm_90", "-v", file.toString(), "-o", dir.resolve(name + ".cubin").toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), name + ":\n" + log);
            assertTrue(log.contains(" 0 bytes spill stores"), name + ": spills\n" + log);
            System.out.println(what + ": " + log.lines().filter(x -> x.contains("registers")).findFirst().orElse("").trim());
        }
        String plain = KernelCompiler.compile(Kernel.of(DecodeKernels.class, "decodeBf16"), new Object[] {32, 32, 128, 16, 0, 1, 0, 4, 4, 8, 0, 256, 0}, 90).ptx();
        assertEquals(2 * 4 + 2, count(plain, "ld.global.v4.b32"), "the plain form: one load site");
        // paired row offsets: a work-item's two block-table loads come before its two shared stores (the plain loop: one load, one store)
        String paired = KernelCompiler.compile(Kernel.of(DecodeKernels.class, "decodeBf16Piped"),
                new Object[] {32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, two, 1}, 90).ptx();
        String unpaired = KernelCompiler.compile(Kernel.of(DecodeKernels.class, "decodeBf16Piped"),
                new Object[] {32, 32, 128, 16, 0, 1, 0, 4, 4, 8, pb, 256, 0, two, 0}, 90).ptx();
        assertTrue(memoryOps(paired).contains("ld.global.s32 ld.global.s32 st.shared.b32 st.shared.b32 bar.sync"), memoryOps(paired));
        assertTrue(memoryOps(unpaired).contains("bar.sync ld.global.s32 st.shared.b32 bar.sync"), memoryOps(unpaired));
        assertTrue(DecodeKernels.pipelines(32, 32, 128) && DecodeKernels.pipelines(16, 16, 64));
        assertFalse(DecodeKernels.pipelines(32, 8, 128) || DecodeKernels.pipelines(32, 8, 64) || DecodeKernels.pipelines(64, 8, 128));
    }

    /** The PTX's global/shared loads and stores and barriers, in order, one space between (the control flow dropped). */
    private static String memoryOps(String ptx) {
        return String.join(" ", ptx.lines().map(String::trim).map(x -> x.replaceFirst("^@%p\\d+ ", ""))
                .filter(x -> x.matches("(ld|st)\\.(global|shared)\\.[a-z0-9.]+ .*|bar\\.sync.*")).map(x -> x.split("\\s+")[0]).toList());
    }

    @Test
    void everyKernelAssemblesForSm90(@TempDir Path dir) throws Exception {
        Path ptxas = dev.arbor.kernels.Ptxas.require();
        Variant[] variants = {
                new Variant(AttentionKernels.class, "pagedBf16", 32, 32, 128, 16, 0, 1, 0),
                new Variant(AttentionKernels.class, "pagedBf16", 32, 8, 128, 16, 0, 0, 0),
                new Variant(AttentionKernels.class, "pagedBf16", 64, 8, 128, 16, 0, 1, 1),
                new Variant(AttentionKernels.class, "pagedBf16", 40, 40, 128, 16, 1, 1, 1),
                new Variant(AttentionKernels.class, "pagedBf16", 5, 1, 6, 7, 1, 0, 0),
                new Variant(AttentionKernels.class, "pagedF32", 32, 8, 128, 16, 0, 1, 0),
                new Variant(AttentionKernels.class, "pagedF32", 6, 2, 12, 7, 1, 0, 1),
                new Variant(AttentionKernels.class, "pagedF16", 32, 32, 128, 16, 0, 1, 0),
                new Variant(AttentionKernels.class, "pagedF16", 32, 8, 128, 16, 0, 0, 0),
                new Variant(AttentionKernels.class, "pagedF16", 64, 8, 128, 16, 0, 1, 1),
                new Variant(AttentionKernels.class, "pagedF16", 40, 40, 128, 16, 1, 1, 1),
                new Variant(AttentionKernels.class, "pagedF16", 5, 1, 6, 7, 1, 0, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 32, 32, 128, 16, 0, 1, 0, 8, 8, 32, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 32, 32, 128, 16, 0, 0, 1, 16, 8, 0, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 32, 8, 128, 16, 0, 1, 0, 4, 8, 16, 4, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 64, 8, 128, 16, 0, 0, 1, 4, 4, 32, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 40, 40, 128, 16, 1, 1, 1, 8, 8, 8, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 5, 5, 16, 16, 1, 0, 0, 8, 4, 0, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeF16", 32, 32, 128, 16, 0, 1, 0, 8, 8, 32, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeF16", 64, 8, 128, 16, 0, 1, 1, 4, 4, 16, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 32, 8, 64, 16, 0, 1, 0, 4, 4, 8, 4, 256, 0),
                new Variant(DecodeKernels.class, "decodeF16", 16, 2, 64, 7, 1, 0, 0, 4, 4, 0, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 32, 32, 128, 16, 0, 1, 0, 4, 4, 32, 0, 256, 0),
                new Variant(DecodeKernels.class, "decodeBf16", 32, 32, 128, 16, 0, 1, 0, 4, 4, 8, 0, 64, 8192),
                new Variant(DecodeKernels.class, "decodeBf16", 32, 32, 128, 16, 0, 0, 1, 4, 4, 0, 0, 128, 4096),
                new Variant(DecodeKernels.class, "decodeF16", 32, 8, 64, 16, 1, 1, 0, 4, 4, 8, 4, 64, 1 << 30),
                new Variant(AttentionKernels.class, "mergeSplits", 32, 128, 0, 16),
                new Variant(AttentionKernels.class, "mergeSplits", 40, 128, 1, 16),
                new Variant(AttentionKernels.class, "mergeSplits", 32, 128, 0, 32),
                new Variant(AttentionKernels.class, "mergeSplits", 5, 6, 1, 1),
                new Variant(CascadeKernels.class, "cascadeSharedBf16", 32, 32, 128, 16, 0, 8),
                new Variant(CascadeKernels.class, "cascadeSharedBf16", 64, 8, 128, 16, 0, 1),
                new Variant(CascadeKernels.class, "cascadeSharedBf16", 40, 40, 128, 16, 1, 8),
                new Variant(CascadeKernels.class, "cascadeSharedF32", 5, 1, 12, 20, 1, 1),
                new Variant(CascadeKernels.class, "cascadeSharedF16", 32, 32, 128, 16, 0, 8),
                new Variant(CascadeKernels.class, "cascadeSharedF16", 64, 8, 128, 16, 0, 1),
                new Variant(CascadeKernels.class, "cascadeSharedF16", 40, 40, 128, 16, 1, 8),
                new Variant(CascadeKernels.class, "cascadeSharedF16", 4, 2, 6, 5, 0, 4),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 32, 128, 16, 0, 4, 4, 1, 32, 0, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 40, 40, 128, 16, 1, 4, 4, 1, 32, 0, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 16, 128, 16, 0, 4, 4, 1, 16, 0, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 8, 64, 16, 0, 4, 4, 1, 8, 0, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 64, 8, 128, 16, 0, 4, 4, 1, 4, 0, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeF16", 32, 32, 128, 16, 0, 4, 4, 2, 32, 0, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeF16", 5, 5, 8, 7, 1, 2, 4, 4, 32, 0, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 32, 128, 16, 0, 4, 1, 1, 32, 1, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 40, 40, 128, 16, 1, 4, 1, 1, 32, 1, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 16, 128, 16, 0, 4, 1, 1, 16, 1, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeF16", 5, 5, 8, 7, 1, 2, 1, 4, 32, 1, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 32, 128, 16, 0, 4, 1, 1, 32, 1, 1),   // suffix first
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 32, 128, 16, 0, 8, 1, 1, 24, 1, 0),   // U = 8, bounds 24
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 32, 32, 128, 16, 0, 4, 1, 1, 24, 1, 0),   // G = 1's default bounds (run 61)
                new Variant(CascadeSuffixKernels.class, "suffixMergeBf16", 40, 40, 128, 16, 1, 4, 1, 1, 24, 1, 0),
                new Variant(CascadeSuffixKernels.class, "suffixMergeF16", 5, 5, 8, 7, 1, 2, 1, 4, 32, 1, 1),
                new Variant(CascadeMmaKernels.class, "cascadeMmaBf16", 32, 32, 128, 16, 0, 3, 2, 0),
                new Variant(CascadeMmaKernels.class, "cascadeMmaBf16", 40, 40, 128, 16, 1, 3, 2, 0),
                new Variant(CascadeMmaKernels.class, "cascadeMmaBf16", 32, 8, 128, 16, 0, 0, 1, 0),
                new Variant(CascadeMmaKernels.class, "cascadeMmaBf16", 32, 8, 64, 16, 0, 0, 2, 0),
                new Variant(CascadeMmaKernels.class, "cascadeMmaF16", 32, 32, 128, 16, 0, 3, 1, 0),
                new Variant(CascadeMmaKernels.class, "cascadeMmaF16", 5, 5, 32, 7, 1, 0, 2, 0),
                new Variant(CascadeMmaKernels.class, "cascadeMmaBf16", 32, 32, 128, 16, 0, 3, 1, 1),
                new Variant(CascadeMmaKernels.class, "cascadeMmaBf16", 40, 40, 128, 16, 1, 0, 2, 1),
                new Variant(CascadeMmaKernels.class, "cascadeMmaF16", 5, 5, 32, 7, 1, 0, 2, 1),
                new Variant(CascadeMmaKernels.class, "cascadeMmaDeepBf16", 32, 32, 128, 16, 0, 3, 2, 0, 3),   // the deeper cp.async ring (run 64-casc16)
                new Variant(CascadeMmaKernels.class, "cascadeMmaDeepBf16", 32, 32, 128, 16, 0, 3, 2, 0, 4),
                new Variant(CascadeMmaKernels.class, "cascadeMmaDeepBf16", 32, 32, 128, 16, 0, 3, 1, 0, 4),
                new Variant(CascadeMmaKernels.class, "cascadeMmaDeepBf16", 40, 40, 128, 16, 1, 0, 2, 0, 4),
                new Variant(CascadeMmaKernels.class, "cascadeMmaDeepF16", 32, 8, 64, 16, 0, 0, 2, 0, 3),
                new Variant(CascadeMmaKernels.class, "cascadeMmaDeepF16", 5, 5, 32, 7, 1, 0, 2, 1, 4),
                new Variant(KvCacheKernels.class, "writeKvBf16"), new Variant(KvCacheKernels.class, "writeKvF16"),
                new Variant(KvCacheKernels.class, "writeKvF32"),
                new Variant(TokenKernels.class, "embeddingBf16"), new Variant(TokenKernels.class, "embeddingF16"),
                new Variant(TokenKernels.class, "embeddingF32"), new Variant(TokenKernels.class, "ropeAtPositions"),
                new Variant(TokenKernels.class, "gatherRows"), new Variant(TokenKernels.class, "feedTokens")};
        for (Variant v : variants) {
            String name = v.name() + java.util.Arrays.toString(v.constants()).replaceAll("\\W", "_");
            var k = KernelCompiler.compile(Kernel.of(v.owner(), v.name()), v.constants(), 90);
            Path file = dir.resolve(name + ".ptx");
            Files.writeString(file, k.ptx());
            Process p = new ProcessBuilder(ptxas.toString(), "-arch=sm_90", file.toString(), "-o", dir.resolve(name + ".cubin").toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), name + ":\n" + log);
        }
    }
}
