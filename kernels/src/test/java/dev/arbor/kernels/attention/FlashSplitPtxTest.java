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
 * The split form's PTX ({@link FlashSplitKernels}) at the model shapes of {@link FlashPrefillPtxTest#VARIANTS} and 2, 3, 4 K/V
 * stages, bf16 / fp16 / bf16 out: its register arrays stay in registers (no local memory), it uses mma, ldmatrix(.trans) and
 * cp.async with a {@code cp.async.wait_group} of stages - 2, and {@code ptxas -arch=sm_90 -v} assembles it within 255 registers
 * without spilling (skipped without ptxas, failing when {@code ARBOR_REQUIRE_PTXAS=1}).
 */
class FlashSplitPtxTest {
    static final String[] KERNELS = {"splitBf16", "splitF16", "splitBf16OutBf16"};

    static Object[] withStages(Object[] variant, int stages) {
        Object[] c = java.util.Arrays.copyOf(variant, variant.length + 1);
        c[variant.length] = stages;
        return c;
    }

    /**
     * {@code pdl} (FlashPrefillAttention#setSplitOverlap, a run-time argument): the kernel lets the next launch in and then waits
     * for the previous grid, both before its first load (the first {@code ld.global} / {@code cp.async} after both), once each.
     */
    @Test
    void theOverlapTriggersAndWaitsBeforeItsFirstLoad() {
        for (String name : KERNELS) {
            String ptx = KernelCompiler.compile(Kernel.of(FlashSplitKernels.class, name), withStages(FlashPrefillPtxTest.VARIANTS[0], 3), 90).ptx();
            int launch = ptx.indexOf("griddepcontrol.launch_dependents;"), wait = ptx.indexOf("griddepcontrol.wait;");
            assertTrue(launch >= 0 && wait > launch, name + ": launch_dependents at " + launch + ", wait at " + wait);
            assertEquals(launch, ptx.lastIndexOf("griddepcontrol.launch_dependents;"), name + ": one launch_dependents");
            assertEquals(wait, ptx.lastIndexOf("griddepcontrol.wait;"), name + ": one wait");
            int load = Math.min(indexOr(ptx, "ld.global"), indexOr(ptx, "cp.async.cg"));
            assertTrue(wait < load, name + ": a load at " + load + " before the wait at " + wait);
        }
    }

    private static int indexOr(String s, String what) {
        int i = s.indexOf(what);
        return i < 0 ? Integer.MAX_VALUE : i;
    }

    @Test
    void registerArraysStayInRegistersAndTheRingWaitsForItsOldestStage() {
        for (String name : KERNELS) {
            for (Object[] v : FlashPrefillPtxTest.VARIANTS) {
                for (int stages = 2; stages <= 4; stages++) {
                    CompiledKernel k = KernelCompiler.compile(Kernel.of(FlashSplitKernels.class, name), withStages(v, stages), 90);
                    String what = name + java.util.Arrays.toString(withStages(v, stages));
                    assertEquals(0, k.localMemoryBytes(), what + ": register arrays in local memory " + k.localMemoryArrays());
                    assertTrue(k.ptx().contains("mma.sync.aligned.m16n8k16.row.col.f32." + (name.endsWith("F16") ? "f16.f16" : "bf16.bf16")), what + ": mma");
                    assertTrue(k.ptx().contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), what + ": ldmatrix.trans");
                    assertTrue(k.ptx().contains("cp.async.cg.shared.global"), what + ": cp.async");
                    assertTrue(k.ptx().contains("cp.async.wait_group " + (stages - 2) + ";"), what + ": waits for the oldest stage");
                }
            }
        }
    }

    @Test
    void assemblesForSm90WithoutSpills(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        Pattern regs = Pattern.compile("Used (\\d+) registers");
        for (String name : KERNELS) {
            for (Object[] v : FlashPrefillPtxTest.VARIANTS) {
                for (int stages = 2; stages <= 4; stages++) {
                    Object[] c = withStages(v, stages);
                    String what = name + java.util.Arrays.toString(c).replaceAll("\\W", "_");
                    String log = Ptxas.assemble(ptxas, dir, what, KernelCompiler.compile(Kernel.of(FlashSplitKernels.class, name), c, 90).ptx(), "-v");
                    Matcher m = regs.matcher(log);
                    assertTrue(m.find() && Integer.parseInt(m.group(1)) <= 255, what + ": registers\n" + log);
                    assertFalse(log.matches("(?s).*[1-9]\\d* bytes spill (stores|loads).*"), what + " spills:\n" + log);
                    System.out.println(what + ": " + log.lines().filter(l -> l.contains("Used") || l.contains("spill")).toList());
                }
            }
        }
    }
}
