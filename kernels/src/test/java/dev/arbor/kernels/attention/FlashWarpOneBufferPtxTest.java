package dev.arbor.kernels.attention;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.compiler.CompiledKernel;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.kernels.Ptxas;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FlashWarpOneBufferKernels}' PTX for the model shapes ({@link FlashPrefillPtxTest#VARIANTS}): the one-warp kernel's body (mma,
 * ldmatrix, cp.async, register arrays in registers), its first K copy before the grid-dependency wait (the handoff overlap's order),
 * and {@code ptxas -arch=sm_90 -v} assembles it without spills within 255 registers, and under launch bounds of 12 work-groups an SM
 * within 168 registers (printing the registers and spills; skipped without ptxas, failing when {@code ARBOR_REQUIRE_PTXAS=1}). Measured
 * (session 18): 226 registers at 32/32 × 128 without bounds (230 at GQA, 254 with ALiBi, 137 at headDim 64), so 2 one-warp work-groups a
 * sub-partition (16,384 registers each), 8 an SM; under bounds of 9 to 12, ptxas's cap is 168 (3 a sub-partition, 12 an SM) with 232
 * bytes spilled at headDim 128.
 */
class FlashWarpOneBufferPtxTest {
    static final String[] NAMES = {"warpOneBufferBf16", "warpOneBufferF16", "warpOneBufferBf16OutBf16"};
    private static final Pattern REGS = Pattern.compile("Used (\\d+) registers");

    static Object[] withBounds(Object[] variant, int minBlocks, int halves) {
        Object[] c = Arrays.copyOf(variant, variant.length + 2);
        c[variant.length] = minBlocks;
        c[variant.length + 1] = halves;
        return c;
    }

    @Test
    void keepsTheOneWarpBodyAndCopiesBeforeItsWait() {
        for (String name : NAMES) {
            for (Object[] v : FlashPrefillPtxTest.VARIANTS) {
                CompiledKernel k = KernelCompiler.compile(Kernel.of(FlashWarpOneBufferKernels.class, name), withBounds(v, 0, 0), 90);
                String ptx = k.ptx(), what = name + Arrays.toString(v);
                assertEquals(0, k.localMemoryBytes(), what + ": register arrays in local memory " + k.localMemoryArrays());
                assertTrue(ptx.contains("mma.sync.aligned.m16n8k16.row.col.f32." + (name.contains("F16") ? "f16.f16" : "bf16.bf16")), what + ": mma");
                assertTrue(ptx.contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), what + ": ldmatrix.trans");
                int firstCopy = ptx.indexOf("cp.async.cg.shared.global"), lastWait = ptx.lastIndexOf("griddepcontrol.wait;");
                assertTrue(firstCopy >= 0 && lastWait > firstCopy, what + ": its first copies before its wait");
                assertFalse(ptx.contains("griddepcontrol.launch_dependents"), what + ": lets nothing in early");
                assertFalse(ptx.contains(".minnctapersm"), what + ": no launch bounds at minBlocks 0");
                assertTrue(KernelCompiler.compile(Kernel.of(FlashWarpOneBufferKernels.class, name), withBounds(v, 12, 1), 90).ptx().contains(".minnctapersm 12"),
                        what + ": launch bounds at minBlocks 12");
                CompiledKernel ring = KernelCompiler.compile(Kernel.of(FlashWarpOneBufferKernels.class, name), withBounds(v, 0, 2), 90);
                assertEquals(0, ring.localMemoryBytes(), what + ", half ring: register arrays in local memory " + ring.localMemoryArrays());
                assertTrue(ring.ptx().indexOf("cp.async.cg.shared.global") < ring.ptx().lastIndexOf("griddepcontrol.wait;"), what + ", half ring: its first copies before its wait");
            }
        }
    }

    @Test
    void assemblesForSm90WithinItsLaunchBounds(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        for (String name : NAMES) {
            for (Object[] v : FlashPrefillPtxTest.VARIANTS) {
                StringBuilder line = new StringBuilder(name + Arrays.toString(v) + ":");
                for (int[] form : new int[][] {{0, 0}, {0, 1}, {12, 0}, {12, 1}, {0, 2}}) {
                    int minBlocks = form[0];
                    String what = name + Arrays.toString(withBounds(v, minBlocks, form[1])).replaceAll("\\W", "_");
                    String ptx = KernelCompiler.compile(Kernel.of(FlashWarpOneBufferKernels.class, name), withBounds(v, minBlocks, form[1]), 90).ptx();
                    String log = Ptxas.assemble(ptxas, dir, what, ptx, "-v");
                    Matcher m = REGS.matcher(log);
                    assertTrue(m.find(), what + ": registers\n" + log);
                    int regs = Integer.parseInt(m.group(1)), cap = minBlocks == 0 ? 255 : 65536 / (32 * minBlocks) / 8 * 8;
                    assertTrue(regs <= cap, what + ": " + regs + " registers over " + cap + "\n" + log);
                    if (minBlocks == 0) assertFalse(log.matches("(?s).*[1-9]\\d* bytes spill (stores|loads).*"), what + " spills:\n" + log);
                    line.append(" bounds ").append(minBlocks).append(" halves ").append(form[1]).append(": ").append(log.lines().filter(l -> l.contains("Used") || l.contains("spill"))
                            .map(String::trim).toList());
                }
                System.out.println(line);
            }
        }
    }
}
