package dev.arbor.kernels.gemm;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.compiler.CompiledKernel;
import dev.arbor.accel.compiler.KernelCompiler;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every GEMM entry point at every tile size assembles with {@code ptxas -v} (sm_90; sm_90a for wgmma), with its
 * fragments in registers: no local memory from the compiler, no stack frame and no spills from
 * ptxas. Skips without ptxas on the PATH, fails then when ARBOR_REQUIRE_PTXAS=1.
 */
class GemmPtxTest {
    @TempDir Path dir;

    @TestFactory
    List<DynamicTest> everyVariantAssemblesWithoutSpills() {
        Path ptxas = dev.arbor.kernels.Ptxas.require();
        Path tool = ptxas;
        List<DynamicTest> tests = new ArrayList<>();
        for (String entry : new String[]{"xf32Wbf16", "xf32Wf16", "xbf16Wbf16", "xf16Wf16", "xbf16Wbf16Obf16", "xf32Wbf16Obf16"})
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.SMALL, Gemm.MEDIUM, Gemm.WIDE, Gemm.LARGE})
                tests.add(DynamicTest.dynamicTest(entry + " " + t.name(), () -> assemble(tool, entry, t)));
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.WGMMA_128, Gemm.WGMMA_256})
            tests.add(DynamicTest.dynamicTest("wgmmaXbf16Wbf16 " + t.name(), () -> assemble(tool, "wgmmaXbf16Wbf16", t)));
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_64, Gemm.TMA_32, Gemm.TMA_16, Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_256X3})
            tests.add(DynamicTest.dynamicTest("wgmmaTmaXbf16Wbf16 " + t.name(), () -> assemble(tool, "wgmmaTmaXbf16Wbf16", t)));
        // the deep plan's tiles (65-256 tokens): 64-192 W rows × tokens rounded to 16, rings of 4-12 stages; three warpgroups above
        // 128 tokens issue two n(bm/2) halves a step (as TMA_256X3)
        for (int[] wm : new int[][]{{4, 65}, {4, 256}, {8, 107}, {8, 129}, {8, 256}, {12, 107}, {12, 129}, {12, 255}}) {
            Gemm.Tiles t = Gemm.deepTiles(wm[0], wm[1]);
            tests.add(DynamicTest.dynamicTest("wgmmaTmaXbf16Wbf16 " + t.name(), () -> assemble(tool, "wgmmaTmaXbf16Wbf16", t)));
        }
        // the invariant plan's slices summed in registers: two accumulator sets, no spills at 128 × 128 nor at 192 × 128 (16 warps:
        // 128 registers at entry, the consumers at 160 by setmaxnreg); no wgmma serialized (C7514)
        for (Gemm.Tiles t : Gemm.SLICED_TILES)
            tests.add(DynamicTest.dynamicTest("wgmmaTmaSlicedXbf16Wbf16 " + t.name(), () -> assembleSliced(tool, t)));
        // their balanced token tiles (Gemm.balancedTokens: 80 / 96 / 112 tokens, nt = 10-14)
        for (Gemm.Tiles base : Gemm.SLICED_TILES)
            for (int m : new int[]{130, 190, 434}) {
                Gemm.Tiles t = Gemm.balancedTokens(base, m);
                tests.add(DynamicTest.dynamicTest("wgmmaTmaSlicedXbf16Wbf16 " + t.name(), () -> assembleSliced(tool, t)));
            }
        // the persistent kernel (a block looping over output tiles): no spills at either prefill tile
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_256})
            tests.add(DynamicTest.dynamicTest("wgmmaTmaPersistentXbf16Wbf16 " + t.name(), () -> assemble(tool, "wgmmaTmaPersistentXbf16Wbf16", t)));
        // the stream-K kernel (a block's range of MAC iterations across output tiles): no spills at the tiles the bench runs it on
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_256X3})
            tests.add(DynamicTest.dynamicTest("wgmmaTmaStreamKXbf16Wbf16 " + t.name(), () -> assemble(tool, "wgmmaTmaStreamKXbf16Wbf16", t)));
        // the invariant plan's slab groups (a block a few K slices, one ring across them): no spills, and registers that keep the
        // tiles' blocks a multiprocessor (two of TMA_64X2 / TMA_N64's 384 work-items: at most 80 a work-item), which the plan's waves assume
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_128, Gemm.TMA_256})
            tests.add(DynamicTest.dynamicTest("wgmmaTmaSlabGroupXbf16Wbf16 " + t.name(), () -> assembleSlabGroup(tool, t)));
        // split-K reduced in the cluster's shared memory: the tiles the default plan splits (2 / 5 / 8 slices: the cluster's depth)
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_128, Gemm.TMA_64})
            for (int slices : new int[]{2, 5, 8})
                tests.add(DynamicTest.dynamicTest("wgmmaTmaClusterXbf16Wbf16 " + t.name() + " x" + slices, () -> assembleCluster(tool, t, slices)));
        // the ping-pong kernel: two m64 halves a k16 step, 128 / 192 accumulators a consumer work-item at 232 registers (setmaxnreg)
        for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_PP128, Gemm.TMA_PP192})
            tests.add(DynamicTest.dynamicTest("wgmmaTmaPingPongXbf16Wbf16 " + t.name(), () -> assemble(tool, "wgmmaTmaPingPongXbf16Wbf16", t)));
        // the SwiGLU epilogue (interleaved gate|up): every family the engine's gate|up plans take, fp32 h and (TMA) bf16 h
        for (String entry : new String[]{"xf32Wbf16SwiGlu", "xbf16Wbf16SwiGlu"})
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.SMALL, Gemm.MEDIUM, Gemm.WIDE, Gemm.LARGE})
                tests.add(DynamicTest.dynamicTest(entry + " " + t.name(), () -> assemble(tool, entry, t)));
        for (String entry : new String[]{"wgmmaTmaSwiGlu", "wgmmaTmaSwiGluBf16"}) {
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_128, Gemm.TMA_256, Gemm.TMA_64, Gemm.TMA_64X2, Gemm.TMA_N64, Gemm.TMA_256X3,
                    Gemm.deepTiles(4, 65), Gemm.deepTiles(8, 107), Gemm.deepTiles(12, 107), Gemm.deepTiles(12, 255)})
                tests.add(DynamicTest.dynamicTest(entry + " " + t.name(), () -> assemble(tool, entry, t)));
        }
        for (String entry : new String[]{"wgmmaTmaPingPongSwiGlu", "wgmmaTmaPingPongSwiGluBf16"})
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.TMA_PP128, Gemm.TMA_PP192})
                tests.add(DynamicTest.dynamicTest(entry + " " + t.name(), () -> assemble(tool, entry, t)));
        // the residual add + RMSNorm epilogue (o and down at decode steps): the SMALL tiles the invariant plan takes there
        tests.add(DynamicTest.dynamicTest("xf32Wbf16AddNorm " + Gemm.SMALL.name(), () -> assemble(tool, "xf32Wbf16AddNorm", Gemm.SMALL)));
        // the residual add in o/down's epilogue and the RMSNorm in the next product's prologue (q|k|v slabs, gate|up SwiGLU)
        tests.add(DynamicTest.dynamicTest("xf32Wbf16AddSlabs " + Gemm.SMALL.name(), () -> assemble(tool, "xf32Wbf16AddSlabs", Gemm.SMALL)));
        for (String entry : new String[]{"xf32Wbf16Norm", "xf32Wbf16NormSwiGlu"})
            tests.add(DynamicTest.dynamicTest(entry + " " + Gemm.SMALL.name(), () -> assembleNorm(tool, entry, Gemm.SMALL)));
        // RoPE and the paged KV store in the q|k|v product's epilogue (bf16 / fp16 / fp32 stores), with and without the norm prologue
        for (String store : new String[]{"Bf16", "F16", "F32"}) {
            tests.add(DynamicTest.dynamicTest("xf32Wbf16QkvRope" + store + " " + Gemm.SMALL.name(), () -> assemble(tool, "xf32Wbf16QkvRope" + store, Gemm.SMALL)));
            tests.add(DynamicTest.dynamicTest("xf32Wbf16NormQkvRope" + store + " " + Gemm.SMALL.name(), () -> assembleNorm(tool, "xf32Wbf16NormQkvRope" + store, Gemm.SMALL)));
        }
        // the early-trigger twins of the decode tiles (Gemm#earlyTrigger): launch_dependents before the wait, the plain ones none
        for (String entry : new String[]{"xf32Wbf16Trigger", "xf32Wbf16SwiGluTrigger"})
            for (Gemm.Tiles t : new Gemm.Tiles[]{Gemm.SMALL, Gemm.MEDIUM, Gemm.WIDE})
                tests.add(DynamicTest.dynamicTest(entry + " " + t.name(), () -> {
                    assemble(tool, entry, t);
                    assertTriggerBeforeWait(entry, t, true);
                    assertTriggerBeforeWait(entry.replace("Trigger", ""), t, false);
                }));
        for (String helper : new String[]{"sumSlices", "zero", "toBf16", "toBf16x8"})
            tests.add(DynamicTest.dynamicTest(helper, () -> assembleHelper(tool, helper)));
        String only = System.getProperty("arbor.gemm.ptxOnly");   // a local run of some variants (names containing it); CI runs all
        if (only != null) tests.removeIf(t -> !t.getDisplayName().contains(only));
        return tests;
    }

    /**
     * With {@code trigger}: {@code entry}'s PTX lets the next launch in ({@code griddepcontrol.launch_dependents}) before its
     * first {@code griddepcontrol.wait} and before its first load; without: not before that wait (the plain xf32Wbf16 never,
     * the plain SwiGLU kernel only in its epilogue, after the wait).
     */
    private static void assertTriggerBeforeWait(String entry, Gemm.Tiles t, boolean trigger) {
        String ptx = KernelCompiler.compile(Kernel.of(GemmKernels.class, entry), new Object[]{t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs()}, 90).ptx();
        int launch = ptx.indexOf("griddepcontrol.launch_dependents;"), wait = ptx.indexOf("griddepcontrol.wait;"), load = ptx.indexOf("cp.async.cg");
        assertTrue(wait >= 0 && load >= 0, entry + " " + t + ": no griddepcontrol.wait or cp.async");
        if (!trigger) {
            assertTrue(launch < 0 || launch > wait, entry + " " + t + ": launch_dependents at " + launch + " before the first wait at " + wait);
            if (entry.equals("xf32Wbf16")) assertEquals(-1, launch, entry + " " + t + ": launch_dependents in the plain kernel");
            return;
        }
        assertTrue(launch >= 0 && launch < wait && launch < load, entry + " " + t + ": launch_dependents at " + launch + ", the first wait at "
                + wait + ", the first cp.async at " + load);
    }

    /** The norm-prologue kernels (their constants: no X registers): mma.sync, no local memory, no spills, the register count printed. */
    private void assembleNorm(Path ptxas, String entry, Gemm.Tiles t) throws Exception {
        CompiledKernel k = KernelCompiler.compile(Kernel.of(GemmKernels.class, entry), new Object[]{t.wn(), t.wm(), t.mt(), t.nt(), t.stages()}, 90);
        assertEquals(0, k.localMemoryBytes(), () -> String.join("\n", k.localMemoryArrays()));
        assertTrue(k.ptx().contains("mma.sync.aligned.m16n8k16") && k.ptx().contains("ldmatrix.sync.aligned") && k.ptx().contains("cp.async"));
        String log = assembleVerbose(ptxas, k.entryName(), k.ptx(), "-arch=sm_90", entry + " " + t);
        System.out.println(entry + " " + t + ": " + log.lines().filter(l -> l.contains("registers")).findFirst().orElse("").strip());
    }

    /** The GEMM's small helper kernels (the slab sum, zeroing, conversion): they assemble for sm_90. */
    private void assembleHelper(Path ptxas, String entry) throws Exception {
        CompiledKernel k = KernelCompiler.compile(Kernel.of(GemmKernels.class, entry), new Object[0], 90);
        dev.arbor.kernels.Ptxas.assemble(ptxas, dir, k.entryName(), k.ptx());
    }

    /** The sliced kernel for tiles t (the consumer warpgroups and the producer warpgroup): no spills, no wgmma serialized, the register count printed. */
    private void assembleSliced(Path ptxas, Gemm.Tiles t) throws Exception {
        CompiledKernel k = KernelCompiler.compile(Kernel.of(GemmKernels.class, "wgmmaTmaSlicedXbf16Wbf16"), new Object[]{t.wn(), t.nt(), t.stages()}, 90);
        assertEquals(0, k.localMemoryBytes(), () -> String.join("\n", k.localMemoryArrays()));
        assertTrue(k.ptx().contains("wgmma.mma_async.sync.aligned.m64n" + t.bm() + "k16") && k.ptx().contains(".maxntid " + t.threads()));
        String what = t.toString();
        String log = assembleVerbose(ptxas, k.entryName() + "_" + t.name(), k.ptx(), "-arch=sm_90a", what);
        assertFalse(log.contains("C7514"), () -> what + ": wgmma serialized:\n" + log);
        System.out.println("wgmmaTmaSlicedXbf16Wbf16 " + what + ": " + log.lines().filter(l -> l.contains("registers")).findFirst().orElse("").strip());
    }

    /** The slab-group kernel for tiles t: as {@link #assemble}, and its registers fit {@code Gemm.nominalBlocksPerSm(t)} blocks a multiprocessor. */
    private void assembleSlabGroup(Path ptxas, Gemm.Tiles t) throws Exception {
        CompiledKernel k = KernelCompiler.compile(Kernel.of(GemmKernels.class, "wgmmaTmaSlabGroupXbf16Wbf16"), new Object[]{t.wn(), t.nt(), t.stages()}, 90);
        assertEquals(0, k.localMemoryBytes(), () -> String.join("\n", k.localMemoryArrays()));
        assertTrue(k.ptx().contains("wgmma.mma_async.sync.aligned.m64n" + t.bm() + "k16") && k.ptx().contains("cp.async.bulk.tensor.2d")
                && k.ptx().contains(".maxntid " + t.threads()));
        String what = "wgmmaTmaSlabGroupXbf16Wbf16 " + t;
        String log = assembleVerbose(ptxas, k.entryName() + "_" + t.name(), k.ptx(), "-arch=sm_90a", what);
        String line = log.lines().filter(l -> l.contains("registers")).findFirst().orElse("").strip();
        System.out.println(what + ": " + line);
        java.util.regex.Matcher r = java.util.regex.Pattern.compile("Used (\\d+) registers").matcher(line);
        assertTrue(r.find(), () -> what + ": no register count in\n" + log);
        int regs = Integer.parseInt(r.group(1)), perWarp = (regs * 32 + 255) / 256 * 256;   // allocated per warp in units of 256
        int blocks = 65536 / (perWarp * (t.threads() / 32));
        assertTrue(blocks >= Gemm.nominalBlocksPerSm(t), () -> what + ": " + regs + " registers fit " + blocks + " blocks a multiprocessor, the plan assumes "
                + Gemm.nominalBlocksPerSm(t));
    }

    /** The cluster-reduced split-K kernel: no spills, clusters of (1, 1, slices), its peers' shared memory read 16 bytes at a time; registers printed. */
    private void assembleCluster(Path ptxas, Gemm.Tiles t, int slices) throws Exception {
        CompiledKernel k = KernelCompiler.compile(Kernel.of(GemmKernels.class, "wgmmaTmaClusterXbf16Wbf16"), new Object[]{t.wn(), t.nt(), t.stages(), slices}, 90);
        assertEquals(0, k.localMemoryBytes(), () -> String.join("\n", k.localMemoryArrays()));
        assertTrue(k.ptx().contains("wgmma.mma_async.sync.aligned.m64n" + t.bm() + "k16") && k.ptx().contains(".reqnctapercluster 1, 1, " + slices)
                && k.ptx().contains("ld.shared::cluster.v4.b32") && k.ptx().contains("barrier.cluster.arrive") && !k.ptx().contains("red.global")
                && !k.ptx().contains("atom.global"), () -> k.ptx().lines().filter(l -> l.contains("reqnctapercluster")).findFirst().orElse("no cluster"));
        String what = "wgmmaTmaClusterXbf16Wbf16 " + t + " x" + slices;
        String log = assembleVerbose(ptxas, k.entryName() + "_" + t.name() + "_" + slices, k.ptx(), "-arch=sm_90a", what);
        System.out.println(what + ": " + log.lines().filter(l -> l.contains("registers")).findFirst().orElse("").strip());
    }

    private void assemble(Path ptxas, String entry, Gemm.Tiles t) throws Exception {
        CompiledKernel k = KernelCompiler.compile(Kernel.of(GemmKernels.class, entry),
                t.tma() ? new Object[]{t.wn(), t.nt(), t.stages()} : new Object[]{t.wn(), t.wm(), t.mt(), t.nt(), t.stages(), t.xRegs()}, 90);
        assertEquals(0, k.localMemoryBytes(), () -> String.join("\n", k.localMemoryArrays()));
        int wgmmaN = t.bn() > 128 && t.bm() > 128 ? t.bm() / 2 : t.bm();   // three consumer warpgroups of 256 tokens: two n128 halves a step
        if (t.pingPong()) assertTrue(k.ptx().contains("setmaxnreg.inc.sync.aligned.u32 232") && k.ptx().contains("setmaxnreg.dec.sync.aligned.u32 40"));
        if (t.tma()) assertTrue(k.ptx().contains("wgmma.mma_async.sync.aligned.m64n" + wgmmaN + "k16") && k.ptx().contains("cp.async.bulk.tensor.2d")
                && k.ptx().contains("mbarrier.try_wait.parity") && k.ptx().contains(".maxntid " + t.threads()) && !k.ptx().contains("cp.async.cg"));
        else if (t.wgmma()) assertTrue(k.ptx().contains("wgmma.mma_async.sync.aligned.m64n" + t.bm() + "k16") && k.ptx().contains(".target sm_90a") && k.ptx().contains("cp.async"));
        else assertTrue(k.ptx().contains("mma.sync.aligned.m16n8k16") && k.ptx().contains("ldmatrix.sync.aligned") && k.ptx().contains("cp.async"));
        String log = assembleVerbose(ptxas, k.entryName(), k.ptx(), t.wgmma() ? "-arch=sm_90a" : "-arch=sm_90", entry + " " + t);
        System.out.println(entry + " " + t + ": " + log.lines().filter(l -> l.contains("registers")).findFirst().orElse("").strip());
        log.lines().filter(l -> l.contains("Performance")).forEach(l -> System.out.println(entry + " " + t + ": " + l.strip()));
    }

    /** {@code ptxas -v} on {@code ptx} (written to {@code dir/name.ptx}) for {@code arch}: it assembles with no stack frame and no spills; returns the log. */
    private String assembleVerbose(Path ptxas, String name, String ptx, String arch, String what) throws Exception {
        Path file = dir.resolve(name + ".ptx");
        Files.writeString(file, ptx);
        Process p = new ProcessBuilder(ptxas.toString(), arch, "-v", file.toString(), "-o", dir.resolve(name + ".cubin").toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "ptxas timed out");
        assertEquals(0, p.exitValue(), () -> what + ":\n" + log);
        assertTrue(log.contains("0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"), () -> what + " spills:\n" + log);
        assertFalse(log.contains("C7508"), () -> what + ": setmaxnreg ignored:\n" + log);
        return log;
    }
}
