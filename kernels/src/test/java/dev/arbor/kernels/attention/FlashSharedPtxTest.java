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
 * The shared pass's ring ({@link FlashSharedKernels}) at the model shapes of {@link FlashPrefillPtxTest#VARIANTS} and 2, 3, 4 K/V
 * stages under the launcher's bounds (two work-groups an SM below 4 stages, one at 4), bf16 / fp16, whole dims and the dim split:
 * register arrays in registers, mma / ldmatrix.trans / cp.async with a {@code cp.async.wait_group} of stages - 2, the handoff
 * overlap's order (wait, then let the next grid in, both before the first K/V copy), and {@code ptxas -arch=sm_90 -v} assembles
 * it within its bounds' registers without spilling (skipped without ptxas, failing when {@code ARBOR_REQUIRE_PTXAS=1}).
 */
class FlashSharedPtxTest {
    static final String[] KERNELS = {"sharedStagedBf16", "sharedStagedF16", "sharedStagedHalfBf16", "sharedStagedHalfF16"};

    static int bounds(int stages) { return Math.min(FlashPrefillKernels.MIN_BLOCKS, stages >= 4 ? 1 : 2); }

    static Object[] constants(Object[] variant, int stages) {
        Object[] c = Arrays.copyOf(variant, variant.length + 3);
        c[variant.length] = bounds(stages);
        c[variant.length + 1] = stages;
        c[variant.length + 2] = stages == 3 ? 0 : 1;   // the lean tile (mask 0) at the default depth, the causal select at the others
        return c;
    }

    @Test
    void registerArraysStayInRegistersTheRingWaitsForItsOldestStageAndTheOverlapOrderHolds() {
        for (String name : KERNELS) {
            for (Object[] v : FlashPrefillPtxTest.VARIANTS) {
                for (int stages = 2; stages <= 4; stages++) {
                    CompiledKernel k = KernelCompiler.compile(Kernel.of(FlashSharedKernels.class, name), constants(v, stages), 90);
                    String what = name + Arrays.toString(constants(v, stages)), ptx = k.ptx();
                    assertEquals(0, k.localMemoryBytes(), what + ": register arrays in local memory " + k.localMemoryArrays());
                    assertTrue(ptx.contains("mma.sync.aligned.m16n8k16.row.col.f32." + (name.endsWith("F16") ? "f16.f16" : "bf16.bf16")), what + ": mma");
                    assertTrue(ptx.contains("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), what + ": ldmatrix.trans");
                    assertTrue(ptx.contains("cp.async.wait_group " + (stages - 2) + ";"), what + ": waits for the oldest stage");
                    int lastWait = ptx.lastIndexOf("griddepcontrol.wait;"), let = ptx.indexOf("griddepcontrol.launch_dependents;");
                    assertTrue(lastWait >= 0 && let > lastWait, what + ": waits, then lets the next grid in");
                    assertTrue(let < ptx.indexOf("cp.async.cg.shared.global"), what + ": before its first K/V copy");
                }
            }
        }
    }

    @Test
    void assemblesForSm90WithinItsBoundsWithoutSpills(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        Pattern regs = Pattern.compile("Used (\\d+) registers");
        for (String name : KERNELS) {
            for (Object[] v : FlashPrefillPtxTest.VARIANTS) {
                for (int stages = 2; stages <= 4; stages++) {
                    Object[] c = constants(v, stages);
                    String what = name + Arrays.toString(c).replaceAll("\\W", "_");
                    String log = Ptxas.assemble(ptxas, dir, what, KernelCompiler.compile(Kernel.of(FlashSharedKernels.class, name), c, 90).ptx(), "-v");
                    Matcher m = regs.matcher(log);
                    int cap = Math.min(255, 65536 / (FlashPrefillKernels.THREADS * bounds(stages)) / 8 * 8);
                    assertTrue(m.find() && Integer.parseInt(m.group(1)) <= cap, what + ": over " + cap + " registers\n" + log);
                    assertFalse(log.matches("(?s).*[1-9]\\d* bytes spill (stores|loads).*"), what + " spills:\n" + log);
                    System.out.println(what + ": " + log.lines().filter(l -> l.contains("Used") || l.contains("spill")).toList());
                }
            }
        }
    }
}
