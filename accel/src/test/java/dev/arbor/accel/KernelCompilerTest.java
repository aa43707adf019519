package dev.arbor.accel;

import dev.arbor.accel.compiler.CompiledKernel;
import dev.arbor.accel.compiler.KernelCompiler;
import dev.arbor.accel.compiler.KernelParam;
import dev.arbor.accel.kernels.TestKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class KernelCompilerTest {
    /** Kernels for {@link #setFloatStoresTheEntryPointsElementType}: one helper taking OffHeapArray, entry points of each out type. */
    public static final class SetFloatKernels {
        private SetFloatKernels() {}

        public static void intoF32(KernelContext ctx, dev.arbor.accel.array.FloatArray x, dev.arbor.accel.array.FloatArray out, int n) {
            twice(ctx, x, out, n);
        }

        public static void intoBf16(KernelContext ctx, dev.arbor.accel.array.FloatArray x, dev.arbor.accel.array.BFloat16Array out, int n) {
            twice(ctx, x, out, n);
        }

        public static void intoInt(KernelContext ctx, dev.arbor.accel.array.FloatArray x, dev.arbor.accel.array.IntArray out, int n) {
            twice(ctx, x, out, n);
        }

        static void twice(KernelContext ctx, dev.arbor.accel.array.FloatArray x, dev.arbor.accel.array.OffHeapArray out, int n) {
            int i = ctx.globalIdx;
            if (i < n) out.setFloat(i, 2f * x.get(i));
        }
    }

    /** OffHeapArray.setFloat in a shared helper lowers to the store of the entry point's parameter type: f32, bf16 after cvt.rn; ints refused. */
    @Test
    void setFloatStoresTheEntryPointsElementType() {
        String f32 = KernelCompiler.compile(Kernel.of(SetFloatKernels.class, "intoF32"), new Object[0], 90).ptx();
        String bf16 = KernelCompiler.compile(Kernel.of(SetFloatKernels.class, "intoBf16"), new Object[0], 90).ptx();
        assertTrue(f32.contains("st.global.f32"), f32);
        assertFalse(f32.contains("cvt.rn.bf16.f32"), f32);
        assertTrue(bf16.matches("(?s).*cvt\\.rn\\.bf16\\.f32 (%\\w+), [^;]+;\\s*st\\.global\\.b16 \\[[^\\]]+\\], \\1;.*"), bf16);
        assertFalse(bf16.contains("st.global.f32"), bf16);
        assertThrows(RuntimeException.class, () -> KernelCompiler.compile(Kernel.of(SetFloatKernels.class, "intoInt"), new Object[0], 90));
    }

    @Test
    void cachesPerMethodConstantsAndTarget() {
        Kernel k = Kernel.of(TestKernels.class, "constantSpecialised");
        CompiledKernel a = KernelCompiler.compile(k, new Object[]{5, 0.75f}, 90);
        assertSame(a, KernelCompiler.compile(k, new Object[]{5, 0.75f}, 90));
        CompiledKernel b = KernelCompiler.compile(k, new Object[]{6, 0.75f}, 90);
        assertNotEquals(a.entryName(), b.entryName());
        assertNotSame(a, KernelCompiler.compile(k, new Object[]{5, 0.75f}, 80));
        assertTrue(KernelCompiler.compile(k, new Object[]{5, 0.75f}, 80).ptx().contains(".target sm_80"));
    }

    @Test
    void constantParametersAreBakedInNotPassed() {
        Kernel k = Kernel.of(TestKernels.class, "constantSpecialised");
        CompiledKernel c = KernelCompiler.compile(k, new Object[]{3, 0.5f}, 90);
        assertTrue(c.ptx().contains("0f3F000000"), "scale 0.5f appears as an immediate");
        assertFalse(c.ptx().contains(".param .u32 p4"), "the @Constant repeats parameter is not a PTX parameter");
        assertEquals(2, c.params().stream().filter(KernelParam::constant).count());
        assertFalse(c.usesBarriers());
    }

    @Test
    void divisionsByConstantsBecomeShiftsOrMultiplyHighs() {
        // heads / kvHeads = 12 (an expression of @Constant parameters), literals 1..Long.MAX_VALUE, and -4 (not lowered)
        String ptx = KernelCompiler.compile(Kernel.of(TestKernels.class, "divideByConstants"), new Object[]{48, 4}, 90).ptx();
        java.util.List<String> divisions = ptx.lines().map(String::trim)
                .filter(l -> l.matches("(div|rem)\\.[su](32|64) .*")).toList();
        assertEquals(java.util.List.of("div.s32", "rem.s32"), divisions.stream().map(l -> l.substring(0, 7)).toList(), ptx);
        for (String d : divisions) assertTrue(d.endsWith(", -4;"), "only the negative divisor divides, by an immediate: " + d);
        assertTrue(ptx.contains("mul.hi.s32") && ptx.contains("mul.hi.s64") && ptx.contains("shr.s64"), "multiply-highs and shifts");
    }

    @Test
    void anArgumentRewrittenInALoopIsNotKnownInsideIt() {
        // mixRounds(x, 0): b is 0 on entry only; taking it as known would fold (b & 0xFFFF) / 3 away
        String ptx = KernelCompiler.compile(Kernel.of(TestKernels.class, "loopRewritesConstantArgument"), new Object[]{}, 90).ptx();
        assertTrue(ptx.contains(", 65535;"), ptx);
        assertTrue(ptx.contains("mul.hi.s32"), "the division by 3 is a multiply-high: " + ptx);
    }

    @Test
    void arraysBecomeGlobalPointersAndSharedArraysAreDeclared() {
        CompiledKernel c = KernelCompiler.compile(Kernel.of(TestKernels.class, "tiledMatmul"), new Object[]{16}, 90);
        assertTrue(c.ptx().contains(".param .u64 p1"));
        assertTrue(c.ptx().contains("cvta.to.global.u64"));
        assertTrue(c.ptx().contains(".shared .align 16 .b8 smem0[1024]"), c.ptx());
        assertTrue(c.ptx().contains("bar.sync 0;"));
        assertTrue(c.usesBarriers());
        assertEquals(2048, c.staticSharedBytes());
    }

    @Test
    void pairedHalvesBecomeOneSixteenByteLoad() {
        String ptx = KernelCompiler.compile(Kernel.of(TestKernels.class, "vectorLoad128"), new Object[0], 90).ptx();
        assertTrue(ptx.contains("ld.global.v2.b64"), ptx);
        assertFalse(ptx.contains("ld.global.b64"), "the high half comes from the same load");
    }

    @Test
    void floatToIntConversionsMapNaNToZero() {
        String ptx = KernelCompiler.compile(Kernel.of(TestKernels.class, "casts"), new Object[0], 90).ptx();
        assertTrue(ptx.contains("cvt.rzi.s64.f32") && ptx.contains("setp.nan.f32"), ptx);
    }

    @Test
    void dumpsPtxWhenAsked(@TempDir Path dir) throws Exception {
        System.setProperty(KernelCompiler.DUMP_PROPERTY, dir.toString());
        try {
            CompiledKernel c = KernelCompiler.compile(Kernel.of(TestKernels.class, "constantSpecialised"), new Object[]{11, 2f}, 90);
            assertEquals(c.ptx(), Files.readString(dir.resolve(c.entryName() + ".ptx")));
        } finally {
            System.clearProperty(KernelCompiler.DUMP_PROPERTY);
        }
    }

    @Test
    void unrolledRegisterArraysStayInRegisters() {
        CompiledKernel c = KernelCompiler.compile(Kernel.of(TestKernels.class, "registerArrays"), new Object[0], 90);
        assertEquals(0, c.localMemoryBytes());
        assertTrue(c.localMemoryArrays().isEmpty());
        assertFalse(c.ptx().contains(".local"), c.ptx());
        assertEquals(1, c.ptx().split("setp\\.", -1).length - 1, "fully unrolled: the only comparison left is the bounds check\n" + c.ptx());
    }

    @Test
    void unrolledLoopsWithBreakContinueWhileAndSwitchStayInRegisters() {
        CompiledKernel c = KernelCompiler.compile(Kernel.of(TestKernels.class, "unrollShapes"), new Object[0], 90);
        assertEquals(0, c.localMemoryBytes(), () -> String.join("\n", c.localMemoryArrays()));
        assertFalse(c.ptx().contains(".local"));
    }

    @Test
    void dynamicallyIndexedRegisterArrayGoesToLocalMemoryAndIsReported() {
        CompiledKernel c = KernelCompiler.compile(Kernel.of(TestKernels.class, "registerArrayDynamic"), new Object[0], 90);
        assertEquals(32, c.localMemoryBytes());
        assertEquals(1, c.localMemoryArrays().size());
        String report = c.localMemoryArrays().getFirst();
        assertTrue(report.contains("float[8]") && report.contains("TestKernels.java:") && report.contains("local memory"), report);
        assertTrue(c.ptx().contains(".local .align 16 .b8 lmem0[32]") && c.ptx().contains("st.local.f32"), c.ptx());
    }

    @Test
    void tensorCoreOperationsLowerToTheirInstructions() {
        String mma = KernelCompiler.compile(Kernel.of(TestKernels.class, "mmaBf16Tiles"), new Object[0], 90).ptx();
        assertTrue(mma.contains("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32"), mma);
        assertTrue(mma.contains("cvt.rn.bf16x2.f32"), mma);
        String ld = KernelCompiler.compile(Kernel.of(TestKernels.class, "ldmatrixAll"), new Object[0], 90).ptx();
        for (String op : new String[]{"ldmatrix.sync.aligned.m8n8.x1.shared.b16", "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16",
                "ld.global.v4.b32", "st.shared.v4.b32"}) assertTrue(ld.contains(op), op);
        String cp = KernelCompiler.compile(Kernel.of(TestKernels.class, "cpAsyncChunks"), new Object[0], 90).ptx();
        assertTrue(cp.contains("cp.async.cg.shared.global") && cp.contains("cp.async.commit_group;") && cp.contains("cp.async.wait_group 0;"), cp);
    }

    @Test
    void kernelLookupValidatesShape() {
        assertThrows(IllegalArgumentException.class, () -> Kernel.of(TestKernels.class, "noSuchKernel"));
        Kernel k = Kernel.of(TestKernels.class, "saxpy");
        assertThrows(IllegalArgumentException.class, () -> k.checkArity(new Object[]{1f}));
    }
}
