package dev.arbor.accel.kernels;

import dev.arbor.accel.KernelContext;
import dev.arbor.accel.array.FloatArray;

/**
 * Kernels using Java the compiler must reject. The line of each offending construct carries a
 * "BAD:name" marker comment that the test uses to check the line number in the message.
 */
@SuppressWarnings("all")
public final class BadKernels {
    private BadKernels() {}

    static int counter;

    public static void arrayAllocation(KernelContext ctx, FloatArray x, int n) {
        float[] t = new float[n]; // BAD:arrayAllocation
        x.set(0, t[0]);
    }

    public static void unrollDynamicLoop(KernelContext ctx, FloatArray x, int n) {
        x.set(0, unrolledSum(x, n));
    }

    @dev.arbor.accel.Unroll
    static float unrolledSum(FloatArray x, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += x.get(i); // BAD:unrollDynamicLoop
        return s;
    }

    public static void objectAllocation(KernelContext ctx, FloatArray x) {
        StringBuilder sb = new StringBuilder(); // BAD:objectAllocation
        x.set(0, sb.length());
    }

    public static void virtualCall(KernelContext ctx, FloatArray x) {
        Object o = x;
        x.set(0, o.hashCode()); // BAD:virtualCall
    }

    public static void interfaceCall(KernelContext ctx, FloatArray x) throws Exception {
        AutoCloseable c = x;
        c.close(); // BAD:interfaceCall
    }

    public static void fieldWrite(KernelContext ctx, FloatArray x) {
        ctx.globalIdx = 3; // BAD:fieldWrite
    }

    public static void staticField(KernelContext ctx, FloatArray x) {
        x.set(0, counter); // BAD:staticField
    }

    public static void throwing(KernelContext ctx, FloatArray x, int n) {
        if (n < 0) throw new IllegalArgumentException("negative"); // BAD:throwing
        x.set(0, n);
    }

    public static void tryCatch(KernelContext ctx, FloatArray x, int n) {
        try {
            x.set(0, n / ctx.globalIdx); // BAD:tryCatch
        } catch (ArithmeticException e) {
            x.set(0, 0);
        }
    }

    static int recurse(int v) {
        return v <= 0 ? 0 : 1 + recurse(v - 1); // BAD:recursion
    }

    public static void recursion(KernelContext ctx, FloatArray x, int n) {
        x.set(0, recurse(n));
    }

    public static void synchronizedBlock(KernelContext ctx, FloatArray x) {
        synchronized (x) { // BAD:synchronizedBlock
            x.set(0, 1f);
        }
    }

    static synchronized float locked(float v) {
        return v * 2; // BAD:synchronizedMethod
    }

    public static void synchronizedMethod(KernelContext ctx, FloatArray x) {
        x.set(0, locked(x.get(0)));
    }

    public static void lambda(KernelContext ctx, FloatArray x) {
        Runnable r = () -> x.set(0, 1f); // BAD:lambda
        r.run();
    }

    public static void stringConcat(KernelContext ctx, FloatArray x, int n) {
        String s = "n=" + n; // BAD:stringConcat
        x.set(0, s.length());
    }

    public static void dynamicLocalArrayLength(KernelContext ctx, FloatArray x, int n) {
        float[] t = ctx.allocateFloatLocalArray(n); // BAD:dynamicLocalArrayLength
        x.set(0, t[0]);
    }

    public static void floatRemainder(KernelContext ctx, FloatArray x) {
        x.set(0, x.get(0) % 2f); // BAD:floatRemainder
    }

    public static void doubleMathLibrary(KernelContext ctx, FloatArray x) {
        x.set(0, (float) Math.pow(x.get(0), 1.5)); // BAD:doubleMathLibrary
    }

    public static void nullReference(KernelContext ctx, FloatArray x) {
        FloatArray y = null; // BAD:nullReference
        x.set(0, y == null ? 1f : 2f);
    }

    public static void setMaxRegistersCount(KernelContext ctx, FloatArray x) {
        ctx.launchBounds(256);
        ctx.setMaxRegistersInc(100); // BAD:setMaxRegistersCount
        x.set(0, 1f);
    }

    /** setmaxnreg without launch bounds: ptxas would ignore it (no register cap at entry), so the compiler refuses the kernel. */
    public static void setMaxRegistersWithoutBounds(KernelContext ctx, FloatArray x) {
        ctx.setMaxRegistersDec(40);
        x.set(0, 1f);
    }

    public static void clusterTooLarge(KernelContext ctx, FloatArray x) {
        ctx.clusterDims(4, 4, 1); // BAD:clusterTooLarge
        x.set(0, 1f);
    }

    /** A cluster operation in a kernel that declares no cluster shape: the CPU executor would not know which groups run together. */
    public static void clusterRankWithoutDims(KernelContext ctx, FloatArray x) {
        x.set(0, ctx.clusterCtaRank());
    }

    /** A grid of 3 blocks for clusters of 2 (UnsupportedConstructTest#gridMustBeAMultipleOfTheCluster). */
    public static void clusterOfTwo(KernelContext ctx, FloatArray x) {
        ctx.clusterDims(2, 1, 1);
        if (ctx.localIdx == 0) x.set(ctx.groupIdx, ctx.clusterCtaRank());
    }
}
