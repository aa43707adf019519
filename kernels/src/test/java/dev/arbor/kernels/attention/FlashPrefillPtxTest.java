package dev.arbor.kernels.attention;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.compiler.CompiledKernel;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.kernels.Ptxas;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tensor-core prefill kernel's PTX for the model shapes (Llama-2-7B 32×128, GQA 4 and 8 at 128,
 * Baichuan2-13B ALiBi 40×128, head size 64), bf16 and fp16: its register arrays stay in registers (no
 * local memory), it uses mma / ldmatrix / cp.async, and {@code ptxas -arch=sm_90 -v} assembles it without
 * spilling and within 255 registers without launch bounds, and the 64-row kernels within their bounds' registers with at most
 * a few spilled values (skipped without ptxas, failing when {@code ARBOR_REQUIRE_PTXAS=1}).
 */
class FlashPrefillPtxTest {
    /** (heads, kvHeads, headDim, blockSize, alibi). */
    static final Object[][] VARIANTS = {{32, 32, 128, 16, 0}, {32, 8, 128, 16, 0}, {64, 8, 128, 16, 0}, {40, 40, 128, 16, 1},
            {5, 1, 64, 7, 1}, {32, 32, 64, 16, 0}};

    /** A variant's constants: the 64-row kernels also take their launch bounds ({@link FlashPrefillKernels#MIN_BLOCKS}). */
    static Object[] constants(String kernel, Object[] variant) {
        return kernel.startsWith("warp") || kernel.startsWith("long") ? variant : withBounds(variant, FlashPrefillKernels.MIN_BLOCKS);
    }

    @Test
    void registerArraysStayInRegistersAndTheTensorCoresAreUsed() {
        for (String name : new String[] {"prefillBf16", "prefillF16", "sharedBf16", "sharedF16", "sharedHalfBf16", "sharedHalfF16", "warpBf16",
                "warpF16", "longBf16", "longF16"}) {
            for (Object[] v : VARIANTS) {
                CompiledKernel k = KernelCompiler.compile(Kernel.of(FlashPrefillKernels.class, name), constants(name, v), 90);
                String what = name + java.util.Arrays.toString(v);
                assertEquals(0, k.localMemoryBytes(), what + ": register arrays in local memory " + k.localMemoryArrays());
                assertTrue(k.ptx().contains("mma.sync.aligned.m16n8k16.row.col.f32." + (name.endsWith("F16") ? "f16.f16" : "bf16.bf16")), what + ": mma");
                assertTrue(k.ptx().contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), what + ": ldmatrix.trans");
                assertTrue(k.ptx().contains("cp.async.cg.shared.global"), what + ": cp.async");
            }
        }
    }

    /**
     * The handoff overlap ({@link FlashPrefillAttention#setHandoffOverlap}): the shared pass waits for the kernel before it and only
     * then lets the per-sequence pass in, both before its first copy of K/V; the one-warp pass issues its first copies before its
     * (last) wait, which comes before the state load.
     */
    @Test
    void theHandoffsKernelsWaitWhereTheOverlapNeedsIt() {
        for (Object[] v : VARIANTS) {
            for (String name : new String[] {"sharedBf16", "sharedF16", "sharedHalfBf16", "sharedHalfF16"}) {
                String ptx = KernelCompiler.compile(Kernel.of(FlashPrefillKernels.class, name), constants(name, v), 90).ptx();
                String what = name + java.util.Arrays.toString(v);
                int lastWait = ptx.lastIndexOf("griddepcontrol.wait;"), let = ptx.indexOf("griddepcontrol.launch_dependents;");
                assertTrue(lastWait >= 0 && let > lastWait, what + ": waits, then lets the next grid in");
                assertTrue(let < ptx.indexOf("cp.async.cg.shared.global"), what + ": before its first K/V copy");
            }
            for (String name : new String[] {"warpBf16", "warpF16", "warpBf16OutBf16"}) {
                String ptx = KernelCompiler.compile(Kernel.of(FlashPrefillKernels.class, name), constants(name, v), 90).ptx();
                String what = name + java.util.Arrays.toString(v);
                int firstCopy = ptx.indexOf("cp.async.cg.shared.global"), lastWait = ptx.lastIndexOf("griddepcontrol.wait;");
                assertTrue(firstCopy >= 0 && lastWait > firstCopy, what + ": its first copies before its wait");
                assertFalse(ptx.contains("griddepcontrol.launch_dependents"), what + ": lets nothing in early");
            }
        }
    }

    @Test
    void assemblesForSm90WithoutSpills(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        for (String name : new String[] {"prefillBf16", "prefillF16", "sharedBf16", "sharedF16", "sharedHalfBf16", "sharedHalfF16", "warpBf16",
                "warpF16", "longBf16", "longF16"}) {
            for (Object[] v : VARIANTS) {
                String log = assemble(ptxas, dir, name, name.startsWith("warp") || name.startsWith("long") ? v : withBounds(v, 0));
                assertFalse(log.matches("(?s).*[1-9]\\d* bytes spill (stores|loads).*"), name + java.util.Arrays.toString(v) + " spills:\n" + log);
            }
        }
    }

    /**
     * The 64-row kernels under their launch bounds ({@link FlashPrefillKernels#MIN_BLOCKS} work-groups an SM): within the registers
     * that many 128-work-item blocks can all have, and at most a few values spilled (ptxas at 168 registers: the shared pass none at
     * G = 1 and 12 bytes at G = 4 / 8, the one-pass kernel 36-52 bytes at headDim 128; none at 64).
     */
    @Test
    void fitsItsLaunchBoundsWithAtMostAFewSpilledValues(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        int cap = 65536 / (FlashPrefillKernels.THREADS * Math.max(1, FlashPrefillKernels.MIN_BLOCKS)) / 8 * 8;
        Pattern stores = Pattern.compile("(\\d+) bytes spill stores");
        for (String name : new String[] {"prefillBf16", "prefillF16", "sharedBf16", "sharedF16", "sharedHalfBf16", "sharedHalfF16"}) {
            for (Object[] v : VARIANTS) {
                String log = assemble(ptxas, dir, name, constants(name, v));
                Matcher m = REGS.matcher(log);
                assertTrue(m.find() && Integer.parseInt(m.group(1)) <= cap, name + java.util.Arrays.toString(v) + ": over " + cap + " registers\n" + log);
                Matcher sp = stores.matcher(log);
                assertTrue(sp.find() && Integer.parseInt(sp.group(1)) <= 64, name + java.util.Arrays.toString(v) + ": spills over 64 bytes\n" + log);
            }
        }
    }

    private static final Pattern REGS = Pattern.compile("Used (\\d+) registers");

    private static Object[] withBounds(Object[] variant, int minBlocks) {
        Object[] c = java.util.Arrays.copyOf(variant, variant.length + 1);
        c[variant.length] = minBlocks;
        return c;
    }

    /** ptxas -v's log of a kernel with these constants (within 255 registers, or the test fails). */
    private static String assemble(Path ptxas, Path dir, String name, Object[] constants) throws Exception {
        String what = name + java.util.Arrays.toString(constants).replaceAll("\\W", "_");
        String log = Ptxas.assemble(ptxas, dir, what, KernelCompiler.compile(Kernel.of(FlashPrefillKernels.class, name), constants, 90).ptx(), "-v");
        Matcher m = REGS.matcher(log);
        assertTrue(m.find(), what + ": no register count in\n" + log);
        assertTrue(Integer.parseInt(m.group(1)) <= 255, what + ": " + m.group(1) + " registers");
        System.out.println(what + ": " + log.lines().filter(l -> l.contains("Used") || l.contains("spill")).toList());
        return log;
    }
}
