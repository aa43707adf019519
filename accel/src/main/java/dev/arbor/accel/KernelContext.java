package dev.arbor.accel;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.LongArray;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.cpu.WorkGroup;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The first parameter of every kernel: the work-item's position in the launch and the work-group
 * services (barrier, local memory, warp shuffles, atomics), in TornadoVM's vocabulary.
 *
 * <p>On the GPU the compiler replaces every field read and method call here by PTX (special
 * registers, {@code bar.sync}, {@code .shared} memory, {@code shfl.sync}, {@code atom}); the Java
 * bodies below are what the CPU executor runs, one context object per work-item.
 *
 * <p>Warps are 32 consecutive work-items in linear local order ({@code x + y·sx + z·sx·sy}), as on
 * NVIDIA hardware. Warp operations must be reached by every work-item of the work-group (the CPU
 * emulation synchronises the whole group); the GPU only needs the whole warp.
 */
public final class KernelContext {
    public static final int WARP_SIZE = 32;

    /** Global index: {@code groupId * localGroupSize + localId}, per dimension. */
    public int globalIdx, globalIdy, globalIdz;
    /** Index inside the work-group (CUDA threadIdx). */
    public int localIdx, localIdy, localIdz;
    /** Index of the work-group (CUDA blockIdx). */
    public int groupIdx, groupIdy, groupIdz;
    /** Work-group size (CUDA blockDim). */
    public int localGroupSizeX, localGroupSizeY, localGroupSizeZ;
    /** Total work-items in the launch per dimension (gridDim · blockDim). */
    public int globalGroupSizeX, globalGroupSizeY, globalGroupSizeZ;

    private final WorkGroup group;
    private int localArrayOrdinal;

    /** Used by the CPU executor: one context per work-item of {@code group}. */
    public KernelContext(WorkGroup group) {
        this.group = group;
        int[] block = group.blockSize(), grid = group.gridSize(), id = group.groupId();
        localGroupSizeX = block[0]; localGroupSizeY = block[1]; localGroupSizeZ = block[2];
        globalGroupSizeX = grid[0] * block[0]; globalGroupSizeY = grid[1] * block[1]; globalGroupSizeZ = grid[2] * block[2];
        groupIdx = id[0]; groupIdy = id[1]; groupIdz = id[2];
    }

    /** Used by the CPU executor: moves this context to local position (x, y, z) of its group. */
    public void place(int x, int y, int z) {
        localIdx = x; localIdy = y; localIdz = z;
        globalIdx = groupIdx * localGroupSizeX + x;
        globalIdy = groupIdy * localGroupSizeY + y;
        globalIdz = groupIdz * localGroupSizeZ + z;
        localArrayOrdinal = 0;
    }

    private int linearLocalId() {
        return localIdx + localGroupSizeX * (localIdy + localGroupSizeY * localIdz);
    }

    // ---- barriers and local (shared) memory --------------------------------------------------

    // ---- programmatic dependent launch (sm_90) ----------------------------------------------

    /**
     * With a launch marked {@link Launch#overlapPrevious()}, this kernel may start while the
     * previous kernel on the stream is still finishing; everything before this call must not read
     * what that kernel writes (loads of read-only weights may come first). Waits until the previous
     * kernel has completed and its writes are visible. A no-op otherwise and on the CPU, where
     * launches never overlap.
     */
    public void gridDependencyWait() {}

    /** Lets the next launch on the stream (if marked to overlap) start before this kernel ends. A no-op on the CPU. */
    public void allowDependentLaunch() {}

    /** Waits until every work-item of the group has reached this barrier; local-memory writes before it are visible after it. */
    public void localBarrier() { group.barrier(); }

    /** Work-group shared array of {@code n} floats; {@code n} must be a compile-time constant. Every work-item gets the same array. */
    public float[] allocateFloatLocalArray(int n) { return (float[]) group.localArray(localArrayOrdinal++, float.class, n); }

    public int[] allocateIntLocalArray(int n) { return (int[]) group.localArray(localArrayOrdinal++, int.class, n); }

    public long[] allocateLongLocalArray(int n) { return (long[]) group.localArray(localArrayOrdinal++, long.class, n); }

    public double[] allocateDoubleLocalArray(int n) { return (double[]) group.localArray(localArrayOrdinal++, double.class, n); }

    /** Shared array of fp16 bit patterns; convert with {@link #fp16ToFloat} / {@link #floatToFp16}. */
    public short[] allocateHalfFloatLocalArray(int n) { return (short[]) group.localArray(localArrayOrdinal++, short.class, n); }

    /** Shared array of bf16 bit patterns; convert with {@link #bf16ToFloat} / {@link #floatToBf16}. */
    public short[] allocateBFloat16LocalArray(int n) { return (short[]) group.localArray(localArrayOrdinal++, short.class, n); }

    /** The launch's dynamic shared memory ({@code Launch.sharedBytes}) as floats. */
    public float[] dynamicFloatLocalArray() { return group.dynamicShared(); }

    // ---- atomics -------------------------------------------------------------------------------

    /** Atomic {@code a[i] += v}; returns the old value. */
    public int atomicAdd(IntArray a, int i, int v) { return a.atomicAdd(i, v); }

    public float atomicAdd(FloatArray a, int i, float v) { return a.atomicAdd(i, v); }

    public long atomicAdd(LongArray a, int i, long v) { return a.atomicAdd(i, v); }

    private static final VarHandle INT_ELEMENTS = MethodHandles.arrayElementVarHandle(int[].class);
    private static final VarHandle FLOAT_ELEMENTS = MethodHandles.arrayElementVarHandle(float[].class);

    /** Atomic add on a local (shared) array. */
    public int atomicAdd(int[] local, int i, int v) { return (int) INT_ELEMENTS.getAndAdd(local, i, v); }

    public float atomicAdd(float[] local, int i, float v) {
        while (true) {
            float old = (float) FLOAT_ELEMENTS.getVolatile(local, i);
            if (FLOAT_ELEMENTS.compareAndSet(local, i, old, old + v)) return old;
        }
    }

    // ---- warp shuffles and reductions -------------------------------------------------------------

    /** Lane of this work-item in its warp, 0..31. */
    public int laneId() { return linearLocalId() % WARP_SIZE; }

    /** Value of {@code v} held by lane {@code lane + delta}; a lane past the warp's end keeps its own value. */
    public float shuffleDown(float v, int delta) { return Float.intBitsToFloat(shuffleDown(Float.floatToRawIntBits(v), delta)); }

    public int shuffleDown(int v, int delta) {
        int lane = laneId();
        return exchange(v, lane + delta < WARP_SIZE ? linearLocalId() + delta : linearLocalId());
    }

    /** Value of {@code v} held by lane {@code lane ^ mask} (butterfly). */
    public float shuffleXor(float v, int mask) { return Float.intBitsToFloat(shuffleXor(Float.floatToRawIntBits(v), mask)); }

    public int shuffleXor(int v, int mask) {
        int lane = laneId();
        return exchange(v, linearLocalId() - lane + ((lane ^ mask) & (WARP_SIZE - 1)));
    }

    /** Value of {@code v} held by lane {@code srcLane} of this warp. */
    public float shuffleBroadcast(float v, int srcLane) { return Float.intBitsToFloat(shuffleBroadcast(Float.floatToRawIntBits(v), srcLane)); }

    public int shuffleBroadcast(int v, int srcLane) {
        return exchange(v, linearLocalId() - laneId() + (srcLane & (WARP_SIZE - 1)));
    }

    /** Sum of {@code v} over the warp, returned to every lane (butterfly: 5 shuffles). */
    public float warpReduceSum(float v) {
        for (int m = WARP_SIZE / 2; m > 0; m >>= 1) v += shuffleXor(v, m);
        return v;
    }

    public int warpReduceSum(int v) {
        for (int m = WARP_SIZE / 2; m > 0; m >>= 1) v += shuffleXor(v, m);
        return v;
    }

    /** Maximum of {@code v} over the warp, returned to every lane. */
    public float warpReduceMax(float v) {
        for (int m = WARP_SIZE / 2; m > 0; m >>= 1) v = Math.max(v, shuffleXor(v, m));
        return v;
    }

    /** CPU emulation: publish {@code bits}, wait for the group, read the source lane's value; a source outside the group reads its own. */
    private int exchange(int bits, int sourceLinearId) {
        int self = linearLocalId();
        int[] slots = group.exchangeSlots();
        slots[self] = bits;
        group.barrier();
        int result = sourceLinearId < slots.length ? slots[sourceLinearId] : bits;
        group.barrier();
        return result;
    }

    // ---- fp16 / bf16 conversion ---------------------------------------------------------------

    public static float fp16ToFloat(short bits) { return Float.float16ToFloat(bits); }

    /** Round to nearest even. */
    public static short floatToFp16(float v) { return Float.floatToFloat16(v); }

    public static float bf16ToFloat(short bits) { return BFloat16Array.toFloat(bits); }

    /**
     * The fp16 value in bits 0-15 of {@code pair} (as {@code fp16ToFloat((short) pair)}). With
     * {@link #fp16HighToFloat} it unpacks two halves of a word read by a vector load; on the GPU
     * each is one conversion of a register half, where shifting and narrowing first costs two more
     * instructions per value.
     */
    public static float fp16LowToFloat(int pair) { return Float.float16ToFloat((short) pair); }

    /** The fp16 value in bits 16-31 of {@code pair}. */
    public static float fp16HighToFloat(int pair) { return Float.float16ToFloat((short) (pair >>> 16)); }

    /** The bf16 value in bits 0-15 of {@code pair}. */
    public static float bf16LowToFloat(int pair) { return Float.intBitsToFloat(pair << 16); }

    /** The bf16 value in bits 16-31 of {@code pair}. */
    public static float bf16HighToFloat(int pair) { return Float.intBitsToFloat(pair & 0xFFFF0000); }

    /** Round to nearest even. */
    public static short floatToBf16(float v) { return BFloat16Array.fromFloat(v); }
}
