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
 * The attention kernels' bf16-output twins ({@code arbor.gemm.bf16AttentionOut}) as PTX: each stores its output as 16-bit values
 * after {@code cvt.rn.bf16.f32} (the fp32 kernel stores none), keeps its register arrays in registers, and {@code ptxas -arch=sm_90}
 * assembles it with no more spilled bytes than its fp32 kernel (skipped without ptxas, failing when {@code ARBOR_REQUIRE_PTXAS=1}).
 * Constants as AttentionPtxTest's and FlashPrefillPtxTest's: Llama-2-7B's (32 / 32 × 128), GQA 4 and 8 × 128, 32 × 64.
 */
class AttentionBf16OutPtxTest {
    /** fp32 kernel, its bf16-output twin, constants. */
    record Twin(Class<?> owner, String fp32, String bf16, Object... constants) {}

    private static final int MIN = FlashPrefillKernels.MIN_BLOCKS;
    static final Twin[] TWINS = {
            new Twin(DecodeKernels.class, "decodeBf16", "decodeBf16OutBf16", 32, 32, 128, 16, 0, 1, 0, 4, 4, 32, 0, 256, 0),
            new Twin(DecodeKernels.class, "decodeBf16", "decodeBf16OutBf16", 32, 8, 128, 16, 0, 1, 0, 4, 8, 16, 4, 256, 0),
            new Twin(DecodeKernels.class, "decodeBf16", "decodeBf16OutBf16", 32, 32, 128, 16, 0, 0, 1, 4, 4, 0, 0, 128, 4096),
            new Twin(DecodeKernels.class, "decodeBf16", "decodeBf16OutBf16", 32, 8, 64, 16, 0, 1, 0, 4, 4, 8, 4, 256, 0),
            new Twin(AttentionKernels.class, "mergeSplits", "mergeSplitsBf16", 32, 128, 0, 32),
            new Twin(AttentionKernels.class, "mergeSplits", "mergeSplitsBf16", 32, 128, 1, 32),
            new Twin(CascadeSuffixKernels.class, "suffixMergeBf16", "suffixMergeBf16OutBf16", 32, 32, 128, 16, 0, 4, 1, 1, 24, 1, 0),
            new Twin(CascadeSuffixKernels.class, "suffixMergeBf16", "suffixMergeBf16OutBf16", 32, 8, 64, 16, 0, 4, 4, 1, 8, 0, 0),
            new Twin(CascadeSuffixKernels.class, "suffixMergeBf16", "suffixMergeBf16OutBf16", 64, 8, 128, 16, 0, 4, 4, 1, 4, 0, 0),
            new Twin(FlashPrefillKernels.class, "prefillBf16", "prefillBf16OutBf16", 32, 32, 128, 16, 0, MIN),
            new Twin(FlashPrefillKernels.class, "prefillBf16", "prefillBf16OutBf16", 32, 8, 128, 16, 0, MIN),
            new Twin(FlashPrefillKernels.class, "prefillBf16", "prefillBf16OutBf16", 32, 32, 64, 16, 0, MIN),
            new Twin(FlashPrefillKernels.class, "warpBf16", "warpBf16OutBf16", 32, 32, 128, 16, 0),
            new Twin(FlashPrefillKernels.class, "warpBf16", "warpBf16OutBf16", 32, 8, 128, 16, 0),
            new Twin(FlashPrefillKernels.class, "warpBf16", "warpBf16OutBf16", 32, 32, 64, 16, 0),
            new Twin(FlashPrefillKernels.class, "longBf16", "longBf16OutBf16", 32, 32, 128, 16, 0),
            new Twin(FlashPrefillKernels.class, "longBf16", "longBf16OutBf16", 32, 8, 128, 16, 0)};

    /** A 16-bit global store of a value rounded by cvt.rn.bf16.f32 (the st.global.bf16 rule's two instructions). */
    private static final Pattern BF16_STORE = Pattern.compile("cvt\\.rn\\.bf16\\.f32 (%\\w+), [^;]+;\\s*st\\.global\\.b16 \\[[^\\]]+\\], \\1;");

    @Test
    void eachTwinStoresRoundedBf16AndKeepsItsArraysInRegisters() {
        for (Twin t : TWINS) {
            String what = t.bf16() + java.util.Arrays.toString(t.constants());
            CompiledKernel fp32 = KernelCompiler.compile(Kernel.of(t.owner(), t.fp32()), t.constants(), 90);
            CompiledKernel bf16 = KernelCompiler.compile(Kernel.of(t.owner(), t.bf16()), t.constants(), 90);
            assertTrue(BF16_STORE.matcher(bf16.ptx()).find(), what + ": a bf16 store of a rounded value");
            assertFalse(BF16_STORE.matcher(fp32.ptx()).find(), t.fp32() + java.util.Arrays.toString(t.constants()) + ": no bf16 store in the fp32 kernel");
            assertEquals(fp32.localMemoryBytes(), bf16.localMemoryBytes(), what + ": local memory " + bf16.localMemoryArrays());
        }
    }

    private static final Pattern SPILL = Pattern.compile("(\\d+) bytes spill stores");

    @Test
    void eachTwinAssemblesForSm90WithNoMoreSpillsThanItsFp32Kernel(@TempDir Path dir) throws Exception {
        Path ptxas = Ptxas.require();
        for (Twin t : TWINS) {
            String what = t.bf16() + java.util.Arrays.toString(t.constants());
            String name = what.replaceAll("\\W", "_");
            String f = Ptxas.assemble(ptxas, dir, name + "_fp32", KernelCompiler.compile(Kernel.of(t.owner(), t.fp32()), t.constants(), 90).ptx(), "-v");
            String b = Ptxas.assemble(ptxas, dir, name, KernelCompiler.compile(Kernel.of(t.owner(), t.bf16()), t.constants(), 90).ptx(), "-v");
            int fs = spills(f), bs = spills(b);
            System.out.println(what + ": " + b.lines().filter(l -> l.contains("Used") || l.contains("spill")).toList() + " (fp32 out: " + fs + " B spilled)");
            assertTrue(bs <= fs, what + ": " + bs + " bytes spilled, the fp32 kernel " + fs + "\n" + b);
        }
    }

    private static int spills(String log) {
        Matcher m = SPILL.matcher(log);
        int most = 0;
        while (m.find()) most = Math.max(most, Integer.parseInt(m.group(1)));
        return most;
    }
}
