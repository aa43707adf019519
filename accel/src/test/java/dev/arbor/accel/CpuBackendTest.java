package dev.arbor.accel;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cpu.CpuBackend;
import dev.arbor.accel.kernels.TestKernels;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class CpuBackendTest {
    /** Work-item 0 waits at the barrier for the last one's write: only correct barrier semantics pass. */
    public static void barrierOrdersWrites(KernelContext ctx, IntArray out) {
        int[] flag = ctx.allocateIntLocalArray(1);
        if (ctx.localIdx == ctx.localGroupSizeX - 1) flag[0] = 42 + ctx.groupIdx;
        ctx.localBarrier();
        out.set(ctx.globalIdx, flag[0]);
    }

    public static void failsOnOneItem(KernelContext ctx, FloatArray x) {
        ctx.localBarrier();
        x.set(ctx.globalIdx + (ctx.localIdx == 3 ? 1000 : 0), 1f);
        ctx.localBarrier();
    }

    /** The second warp of each group returns before the first one's warp reduction. */
    public static void warpExitsEarly(KernelContext ctx, IntArray out) {
        if (ctx.localIdx >= 32) return;
        int sum = ctx.warpReduceSum(ctx.localIdx);
        if (ctx.localIdx == 0) out.set(ctx.groupIdx, sum);
    }

    @Test
    void warpsThatReturnEarlyDoNotBlockTheOthers() {
        try (CpuBackend cpu = new CpuBackend(); IntArray out = new IntArray(3)) {
            cpu.launch(Kernel.of(CpuBackendTest.class, "warpExitsEarly"), Launch.of1D(3, 64), out);
            for (int g = 0; g < 3; g++) assertEquals(31 * 32 / 2, out.get(g));
        }
    }

    @Test
    void barrierMakesSharedWritesVisible() {
        try (CpuBackend cpu = new CpuBackend(); IntArray out = new IntArray(256)) {
            cpu.launch(Kernel.of(CpuBackendTest.class, "barrierOrdersWrites"), Launch.of1D(4, 64), out);
            for (int i = 0; i < 256; i++) assertEquals(42 + i / 64, out.get(i), "item " + i);
        }
    }

    @Test
    void aFailingWorkItemFailsTheLaunchInsteadOfHanging() {
        try (CpuBackend cpu = new CpuBackend(); FloatArray x = new FloatArray(64)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> cpu.launch(Kernel.of(CpuBackendTest.class, "failsOnOneItem"), Launch.of1D(1, 64), x));
            assertTrue(e.getMessage().contains("failsOnOneItem"), e.getMessage());
        }
    }

    @Test
    void recordingReplaysTheLaunches() {
        try (CpuBackend cpu = new CpuBackend(); FloatArray x = FloatArray.of(1f, 2f); FloatArray y = new FloatArray(2);
             AccelStream s = cpu.newStream()) {
            Kernel saxpy = Kernel.of(TestKernels.class, "saxpy");
            Recording r = cpu.record(s, () -> cpu.launch(saxpy, Launch.cover(2, 32), 1f, x, y, 2));
            assertEquals(0f, y.get(1), "recording does not run the launches");
            r.replay();
            r.replay();
            assertEquals(4f, y.get(1));
        }
    }

    @Test
    void backendSelectionFollowsTheProperty() {
        String old = System.getProperty(Backends.PROPERTY);
        try {
            System.setProperty(Backends.PROPERTY, "cpu");
            try (Backend b = Backends.select()) { assertEquals("cpu", b.name()); }
            System.setProperty(Backends.PROPERTY, "tpu");
            assertThrows(IllegalArgumentException.class, Backends::select);
            System.setProperty(Backends.PROPERTY, "auto");
            try (Backend b = Backends.select()) { assertTrue(b.name().equals("cpu") || b.name().equals("cuda")); }
            for (String bad : new String[] {"cuda:x", "cuda:-1", "cuda:"}) {
                System.setProperty(Backends.PROPERTY, bad);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Backends::select);
                assertTrue(e.getMessage().contains(bad) && e.getMessage().contains("device ordinal"), e.getMessage());
            }
        } finally {
            if (old == null) System.clearProperty(Backends.PROPERTY); else System.setProperty(Backends.PROPERTY, old);
        }
    }
}
