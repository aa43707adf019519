package dev.arbor.accel;

import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.LongArray;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cpu.Cluster;
import dev.arbor.accel.cpu.WorkGroup;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

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

    /**
     * Used by the CPU executor: re-reads sizes and group id from this context's group after the group was moved to
     * another launch or group (a context and its group are reused across the groups a thread runs sequentially).
     */
    public void enterGroup() {
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

    /**
     * {@code cp.async.bulk.prefetch.L2.global} (PTX 8.0, sm_90): asks the memory system to bring {@code bytes} bytes of
     * {@code src} from element {@code index} on into the L2, without waiting and without any register or shared-memory
     * result (a hint: the data's values are never touched, so results cannot change). Byte offset and length multiples of
     * 16, the range inside {@code src}. Below sm_90 and on the CPU it does nothing (the CPU checks the range).
     */
    public void prefetchL2(OffHeapArray src, int index, int bytes) {
        long offset = (long) index * src.elementBytes();
        if ((offset & 15) != 0 || (bytes & 15) != 0 || bytes < 0)
            throw new IllegalArgumentException("L2 prefetch of " + bytes + " bytes at byte " + offset + ": both must be multiples of 16");
        if (offset + bytes > src.length() * src.elementBytes())
            throw new IllegalArgumentException("L2 prefetch of " + bytes + " bytes at byte " + offset + " passes the array's end");
    }

    /**
     * A memory fence at device scope (CUDA's {@code __threadfence()}, PTX {@code fence.sc.gpu}): this work-item's global
     * writes before it are visible to every work-item of the grid before its global accesses after it (e.g. before an
     * atomic that tells another work-group the writes are done, and after the atomic on the reading side: the
     * last-arriving work-group pattern). On the CPU a full fence.
     */
    public void threadFence() { VarHandle.fullFence(); }

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

    /**
     * The launch's dynamic shared memory as 32-bit words (e.g. pairs of bf16/fp16 for the tensor-core
     * operations below). On the GPU this and {@link #dynamicFloatLocalArray()} alias the same bytes; on
     * the CPU executor they are separate arrays, so a kernel should use one view only.
     */
    public int[] dynamicIntLocalArray() { return group.dynamicSharedInts(); }

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


    // ---- tensor cores, matrix loads, asynchronous copies (sm_80+; PTX ISA 9.7.14, 9.7.9.25) ---------

    /**
     * Warp-wide {@code D = A·B + C} with {@code mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32}:
     * A is 16×16 (row-major), B is 16×8 (column-major), C and D are 16×8 fp32, the products are
     * exact and summed in fp32. Every lane of the warp must call it with its own fragments; the
     * fragments are register arrays ({@code new int[N]} / {@code new float[N]}) at compile-time
     * offsets, each {@code int} holding two bf16 values (lower column or row index in bits 0-15, see
     * {@link #packBf16}). With {@code g = laneId() / 4} and {@code t = laneId() % 4}
     * (PTX ISA "Matrix Fragments for mma.m16n8k16 with floating point type"):
     * <pre>
     * a[aOff+0] = A[g  ][2t, 2t+1]     a[aOff+1] = A[g+8][2t, 2t+1]
     * a[aOff+2] = A[g  ][2t+8, 2t+9]   a[aOff+3] = A[g+8][2t+8, 2t+9]
     * b[bOff+0] = B[2t, 2t+1  ][g]     b[bOff+1] = B[2t+8, 2t+9][g]
     * acc[accOff+0] = D[g][2t]   acc[accOff+1] = D[g][2t+1]   acc[accOff+2] = D[g+8][2t]   acc[accOff+3] = D[g+8][2t+1]
     * </pre>
     * {@code acc} is both C (read) and D (written). The CPU executor sums the 16 exact products of
     * each element in double and adds C, rounding once to float; the tensor cores add in fp32 in an
     * order of their own, so results can differ in the last bits (they agree exactly whenever the
     * partial sums are exact, e.g. for small integers).
     */
    public void mmaBf16(float[] acc, int accOffset, int[] a, int aOffset, int[] b, int bOffset) {
        mma(acc, accOffset, a, aOffset, b, bOffset, false);
    }

    /** As {@link #mmaBf16} with fp16 inputs ({@code mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32}). */
    public void mmaFp16(float[] acc, int accOffset, int[] a, int aOffset, int[] b, int bOffset) {
        mma(acc, accOffset, a, aOffset, b, bOffset, true);
    }

    private void mma(float[] acc, int accOffset, int[] a, int aOffset, int[] b, int bOffset, boolean fp16) {
        int[] mine = {a[aOffset], a[aOffset + 1], a[aOffset + 2], a[aOffset + 3], b[bOffset], b[bOffset + 1]};
        Object[] warp = gatherWarp(mine);
        int lane = laneId(), g = lane >> 2, t = lane & 3;
        for (int r = 0; r < 4; r++) {
            int row = g + (r >= 2 ? 8 : 0), col = 2 * t + (r & 1);
            double sum = 0;
            for (int k = 0; k < 16; k++) sum += (double) mmaA(warp, row, k, fp16) * mmaB(warp, k, col, fp16);
            acc[accOffset + r] = (float) (sum + acc[accOffset + r]);
        }
    }

    /** Element (row, k) of the warp's A operand, from the lane that holds it. */
    private static float mmaA(Object[] warp, int row, int k, boolean fp16) {
        int lane = (row & 7) * 4 + ((k & 7) >> 1);
        int reg = (row >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0);
        return half(((int[]) warp[lane])[reg], k & 1, fp16);
    }

    /** Element (k, col) of the warp's B operand. */
    private static float mmaB(Object[] warp, int k, int col, boolean fp16) {
        int lane = col * 4 + ((k & 7) >> 1);
        return half(((int[]) warp[lane])[4 + (k >= 8 ? 1 : 0)], k & 1, fp16);
    }

    private static float half(int pair, int which, boolean fp16) {
        short bits = (short) (which == 0 ? pair : pair >>> 16);
        return fp16 ? Float.float16ToFloat(bits) : BFloat16Array.toFloat(bits);
    }

    /**
     * {@code ldmatrix.sync.aligned.m8n8.x1.shared.b16}: loads one 8×8 matrix of 16-bit elements from
     * shared memory into {@code dst[dstOffset]}. Lanes 0-7 each give the word index of one matrix
     * row (8 consecutive 16-bit elements = 4 words, 16-byte aligned: {@code wordIndex % 4 == 0});
     * the other lanes' indices are ignored. Lane {@code l} receives row {@code l/4}, elements
     * {@code 2(l%4)} (bits 0-15) and {@code 2(l%4)+1} (bits 16-31): the layout of an mma A/B fragment.
     */
    public void ldmatrixX1(int[] dst, int dstOffset, int[] shared, int wordIndex) { ldmatrix(dst, dstOffset, shared, wordIndex, 1, false); }

    /** Two 8×8 matrices ({@code .x2}): lanes 0-7 address matrix 0's rows, lanes 8-15 matrix 1's; into dst[off], dst[off+1]. */
    public void ldmatrixX2(int[] dst, int dstOffset, int[] shared, int wordIndex) { ldmatrix(dst, dstOffset, shared, wordIndex, 2, false); }

    /** Four 8×8 matrices ({@code .x4}): lanes 8i..8i+7 address the rows of matrix i, which goes to dst[off+i]. */
    public void ldmatrixX4(int[] dst, int dstOffset, int[] shared, int wordIndex) { ldmatrix(dst, dstOffset, shared, wordIndex, 4, false); }

    /**
     * {@link #ldmatrixX1} with {@code .trans}: lane {@code l} receives column {@code l/4} instead,
     * elements of rows {@code 2(l%4)} (bits 0-15) and {@code 2(l%4)+1} (bits 16-31).
     */
    public void ldmatrixX1Trans(int[] dst, int dstOffset, int[] shared, int wordIndex) { ldmatrix(dst, dstOffset, shared, wordIndex, 1, true); }

    public void ldmatrixX2Trans(int[] dst, int dstOffset, int[] shared, int wordIndex) { ldmatrix(dst, dstOffset, shared, wordIndex, 2, true); }

    public void ldmatrixX4Trans(int[] dst, int dstOffset, int[] shared, int wordIndex) { ldmatrix(dst, dstOffset, shared, wordIndex, 4, true); }

    private void ldmatrix(int[] dst, int dstOffset, int[] shared, int wordIndex, int count, boolean trans) {
        Object[] warp = gatherWarp(wordIndex);
        int lane = laneId();
        for (int m = 0; m < count; m++) {
            if (!trans) {
                int row = rowAddress(warp, m * 8 + lane / 4);
                dst[dstOffset + m] = shared[row + (lane & 3)];
            } else {
                int col = lane / 4, r0 = 2 * (lane & 3);
                int lo = halfOf(shared, rowAddress(warp, m * 8 + r0), col), hi = halfOf(shared, rowAddress(warp, m * 8 + r0 + 1), col);
                dst[dstOffset + m] = (lo & 0xFFFF) | (hi << 16);
            }
        }
    }

    private static int rowAddress(Object[] warp, int lane) {
        int w = (Integer) warp[lane];
        if ((w & 3) != 0) throw new IllegalArgumentException("ldmatrix row address of lane " + lane + " (word " + w + ") is not 16-byte aligned");
        return w;
    }

    private static int halfOf(int[] shared, int rowWord, int element) {
        int word = shared[rowWord + element / 2];
        return (element & 1) == 0 ? word & 0xFFFF : word >>> 16;
    }

    /**
     * {@code cp.async.cg.shared.global} of 16 bytes: copies the 16 bytes at element {@code index} of
     * {@code src} (byte offset a multiple of 16) to words {@code wordIndex .. wordIndex+3} of
     * {@code shared} ({@code wordIndex % 4 == 0}) without going through registers. The copy is only
     * guaranteed complete after {@link #cpAsyncCommit()} and a {@link #cpAsyncWait} covering its group
     * (followed by a barrier before other work-items read it). On the CPU it happens at once.
     */
    public void cpAsync16(int[] shared, int wordIndex, OffHeapArray src, int index) {
        cpAsync16(shared, wordIndex, src, index, true);
    }

    /** As {@link #cpAsync16(int[], int, OffHeapArray, int)}, writing 16 zero bytes instead when {@code inBounds} is false (nothing is read then). */
    public void cpAsync16(int[] shared, int wordIndex, OffHeapArray src, int index, boolean inBounds) {
        if ((wordIndex & 3) != 0) throw new IllegalArgumentException("cp.async destination word " + wordIndex + " is not 16-byte aligned");
        if (!inBounds) {
            for (int i = 0; i < 4; i++) shared[wordIndex + i] = 0;
            return;
        }
        long offset = (long) index * src.elementBytes();
        if ((offset & 15) != 0) throw new IllegalArgumentException("cp.async source byte offset " + offset + " is not 16-byte aligned");
        for (int i = 0; i < 4; i++) shared[wordIndex + i] = src.segment().get(ValueLayout.JAVA_INT, offset + 4L * i);
    }

    /** {@code cp.async.commit_group}: closes the group of copies issued since the last commit. A no-op on the CPU. */
    public void cpAsyncCommit() {}

    /**
     * {@code cp.async.wait_group n}: waits until at most {@code pending} (a compile-time constant)
     * committed groups of this work-item are still in flight. A no-op on the CPU.
     */
    public void cpAsyncWait(int pending) {}

    // ---- Hopper warpgroup MMA (sm_90a; PTX ISA 9.7.15) ------------------------------------------------

    /** Bytes between consecutive 8-row groups of a 128-byte-swizzled K-major tile: 8 rows of 128 bytes. */
    public static final int WGMMA_SW128_GROUP_BYTES = 1024;

    /**
     * A {@code wgmma} shared-memory matrix descriptor for a K-major tile of 128-byte rows (64 bf16/fp16 of K
     * per row) in the 128-byte swizzle, i.e. the layout {@link dev.arbor.accel.Swizzle#rowChunk128} writes:
     * row {@code r}'s 16-byte chunk {@code c} at byte {@code 128·r + 16·(c ^ (r & 7))} from the tile start.
     * The tile starts at word {@code wordIndex} of {@code shared} (the dynamic shared array), which must be a
     * multiple of 256 words (1024 bytes: the swizzle repeats every 8 rows and is applied to absolute
     * addresses; the dynamic shared array is 1024-byte aligned in kernels that use wgmma).
     * Bits (PTX ISA "Matrix Descriptor Format"): 0-13 start address / 16, 16-29 leading byte offset / 16
     * (1: unused for swizzled K-major tiles), 32-45 stride byte offset / 16 (1024 / 16 = 64: the next 8 rows),
     * 49-51 base offset (0), 62-63 swizzle mode (1 = 128-byte). Adding 2 to the descriptor moves its start
     * 32 bytes on, to the next 16 elements of K (the swizzle is applied after that offset). On the CPU the
     * start address is the byte offset in {@code shared}.
     */
    public long wgmmaDescriptorSw128(int[] shared, int wordIndex) {
        if ((wordIndex & 255) != 0) throw new IllegalArgumentException("wgmma tile at word " + wordIndex + " is not 1024-byte aligned");
        return wgmmaDescriptorBits(4L * wordIndex);
    }

    /** The descriptor bits for a tile at shared byte address {@code address} (see {@link #wgmmaDescriptorSw128}). */
    public static long wgmmaDescriptorBits(long address) {
        return ((address & 0x3FFFF) >> 4) | (1L << 16) | ((long) (WGMMA_SW128_GROUP_BYTES >> 4) << 32) | (1L << 62);
    }

    /**
     * {@code wgmma.mma_async.sync.aligned.m64n<n>k16.f32.bf16.bf16}: the warpgroup (4 consecutive warps whose
     * first is a multiple of 4, all 128 work-items calling) computes {@code D[64×n] += A[64×16] · B[16×n]} with
     * A (64 rows × 16 of K) and B (n columns × 16 of K), both K-major in shared memory, described by
     * {@code descA}/{@code descB} ({@link #wgmmaDescriptorSw128}); the products are exact and summed in fp32.
     * {@code n} (a compile-time constant) is a multiple of 8 from 8 to 256. The accumulators are the register
     * array elements {@code acc[accOffset .. accOffset + n/2 - 1]} of each work-item: with {@code w} = the warp's
     * index in the warpgroup, {@code g = laneId()/4}, {@code t = laneId()%4}, element {@code 4j + r} is
     * <pre>
     * D[16w + g + 8·(r ≥ 2)][8j + 2t + (r & 1)]      (j < n/8, r < 4)
     * </pre>
     * which is the {@link #mmaBf16} C layout of a 16×8 tile repeated along n. On the GPU the operation is
     * asynchronous: call {@link #wgmmaFence} before the first wgmma that uses registers written since (and
     * shared memory written by ordinary stores or cp.async needs {@link #fenceProxyAsyncShared} and a
     * barrier first), {@link #wgmmaCommit} after a batch, and {@link #wgmmaWait} before reading the
     * accumulators or overwriting the tiles. The CPU executor computes at once: each element's 16 exact
     * products summed in double plus the accumulator, rounded once to float (the tensor cores sum in fp32 in
     * an order of their own, so the last bits can differ; they agree exactly when partial sums are exact).
     * The {@code shared} argument names the array the descriptors point into (for the CPU executor).
     */
    public void wgmmaBf16(float[] acc, int accOffset, int n, int[] shared, long descA, long descB) {
        wgmma(acc, accOffset, n, shared, descA, descB, false);
    }

    /** As {@link #wgmmaBf16} with fp16 inputs ({@code .f32.f16.f16}). */
    public void wgmmaFp16(float[] acc, int accOffset, int n, int[] shared, long descA, long descB) {
        wgmma(acc, accOffset, n, shared, descA, descB, true);
    }

    private void wgmma(float[] acc, int accOffset, int n, int[] shared, long descA, long descB, boolean fp16) {
        if (n < 8 || n > 256 || n % 8 != 0) throw new IllegalArgumentException("wgmma n must be a multiple of 8 in 8..256, got " + n);
        int lane = laneId(), w = (linearLocalId() >> 5) & 3, g = lane >> 2, t = lane & 3;
        for (int j = 0; j < n / 8; j++)
            for (int r = 0; r < 4; r++) {
                int row = 16 * w + g + (r >= 2 ? 8 : 0), col = 8 * j + 2 * t + (r & 1);
                double sum = 0;
                for (int k = 0; k < 16; k++)
                    sum += (double) wgmmaElement(shared, descA, row, k, fp16) * wgmmaElement(shared, descB, col, k, fp16);
                int at = accOffset + 4 * j + r;
                acc[at] = (float) (sum + acc[at]);
            }
    }

    /** Element (row, k) of a K-major 128-byte-swizzled operand described by {@code desc}. */
    static float wgmmaElement(int[] shared, long desc, int row, int k, boolean fp16) {
        if ((desc >>> 62) != 1) throw new IllegalArgumentException("only the 128-byte swizzle is emulated, descriptor " + Long.toHexString(desc));
        long start = (desc & 0x3FFF) << 4, stride = ((desc >>> 32) & 0x3FFF) << 4;
        long b = start + (row >> 3) * stride + (row & 7) * 128L + 2L * k;
        b ^= ((b >> 7) & 7) << 4;
        int word = shared[(int) (b >> 2)];
        return half(word, (int) (b >> 1) & 1, fp16);
    }

    /** {@code wgmma.fence.sync.aligned}: orders earlier register and shared-memory accesses before the next wgmma. A no-op on the CPU. */
    public void wgmmaFence() {}

    /** {@code wgmma.commit_group.sync.aligned}: closes the batch of wgmma issued since the last commit. A no-op on the CPU. */
    public void wgmmaCommit() {}

    /** {@code wgmma.wait_group.sync.aligned n}: waits until at most {@code pending} (a compile-time constant) batches are in flight. A no-op on the CPU. */
    public void wgmmaWait(int pending) {}

    /**
     * {@code fence.proxy.async.shared::cta}: makes this work-item's earlier ordinary (and cp.async) writes to
     * shared memory visible to the async proxy (wgmma, bulk copies); put it before the barrier that precedes
     * their use. A no-op on the CPU.
     */
    public void fenceProxyAsyncShared() {}

    /**
     * Declares that blocks of this kernel have at most {@code threads} work-items (a compile-time constant) and that one
     * block a multiprocessor must fit: PTX {@code .maxntid} and {@code .minnctapersm 1}, so ptxas keeps the registers
     * a work-item uses within what {@code threads} work-items can all have. On the CPU it checks the block size.
     */
    public void launchBounds(int threads) {
        if (localGroupSizeX * localGroupSizeY * localGroupSizeZ > threads)
            throw new IllegalStateException("a block of " + localGroupSizeX * localGroupSizeY * localGroupSizeZ + " work-items exceeds launchBounds(" + threads + ")");
    }

    /**
     * As {@link #launchBounds(int)}, with {@code blocksPerSm} blocks a multiprocessor must fit at once (PTX {@code .minnctapersm}):
     * ptxas then keeps a work-item's registers within 65,536 / (threads · blocksPerSm) (e.g. 64 for 32 blocks of one warp),
     * spilling if it must. {@code blocksPerSm = 0} declares nothing (no {@code .maxntid} either: ptxas's own choice, which can be
     * fewer registers than under {@code .maxntid} alone). Both compile-time constants. On the CPU it checks the block size.
     */
    public void launchBounds(int threads, int blocksPerSm) { if (blocksPerSm > 0) launchBounds(threads); }

    /**
     * {@code setmaxnreg.inc.sync.aligned.u32 registers} (sm_90a, PTX ISA 9.7.19.5): the calling warpgroup's work-items wait until
     * the multiprocessor's register file has room, then each may use up to {@code registers} registers (a compile-time
     * constant, a multiple of 8 in 24..256, at least what it has). With {@link #setMaxRegistersDec} this moves registers
     * between the warpgroups of a warp-specialized block: a TMA producer warpgroup gives most of its share back, the
     * consumer warpgroups take it for their accumulators (CUTLASS's 40 / 232 for one producer and two consumers). The
     * kernel needs a register cap at entry ({@link #launchBounds(int)}) and each warpgroup's role in one branch of a single
     * if/else (ptxas otherwise ignores it, warning C7508); all 128 work-items of the warpgroup call it. The block's total
     * (producer count · 128 + consumer count · 128 ...) must fit the 65,536 registers, or the increase waits forever.
     * A no-op on the CPU (it checks the count).
     */
    public void setMaxRegistersInc(int registers) { checkMaxRegisters(registers); }

    /** {@code setmaxnreg.dec.sync.aligned.u32 registers}: the warpgroup releases registers down to {@code registers} (see {@link #setMaxRegistersInc}). A no-op on the CPU. */
    public void setMaxRegistersDec(int registers) { checkMaxRegisters(registers); }

    /** Why {@code registers} is not a setmaxnreg count (a multiple of 8 in 24..256), or null; the compiler and the CPU check by it. */
    public static String maxRegistersProblem(int registers) {
        return registers < 24 || registers > 256 || registers % 8 != 0 ? "setmaxnreg's count must be a multiple of 8 in 24..256, got " + registers : null;
    }

    private static void checkMaxRegisters(int registers) {
        String problem = maxRegistersProblem(registers);
        if (problem != null) throw new IllegalArgumentException(problem);
    }

    // ---- thread-block clusters (sm_90; PTX ISA 9.7.13.4, 9.7.9.21, 10.9 %cluster_*) ---------------------------------
    //
    // A kernel that declares clusterDims(cx, cy, cz) runs in clusters of cx·cy·cz blocks (consecutive along each axis:
    // blocks (x, y, z) with the same (x / cx, y / cy, z / cz)), which the GPU schedules at once on one GPC: a block may
    // arrive on another's mbarriers and a bulk copy may write into several of them (multicast). The CPU executor runs a
    // cluster's groups concurrently and gives each the others' dynamic shared memory (dynamicIntLocalArray) for these calls.

    /**
     * Declares that this kernel runs in clusters of {@code x·y·z} blocks (compile-time constants; at most 8 blocks, the
     * portable size): PTX {@code .reqnctapercluster x, y, z}, honoured by a plain launch. The grid must be a multiple of the
     * shape along each axis. Every kernel that calls a cluster operation below declares it (a cluster of one included).
     * On the CPU it checks that the executor runs the launch in these clusters.
     */
    public void clusterDims(int x, int y, int z) {
        String problem = clusterDimsProblem(x, y, z);
        if (problem != null) throw new IllegalArgumentException(problem);
        int[] dims = cluster().dims();
        if (dims[0] != x || dims[1] != y || dims[2] != z) throw new IllegalStateException("clusterDims(" + x + ", " + y + ", " + z + ") in a launch run in clusters of " + java.util.Arrays.toString(dims));
    }

    /** Why (x, y, z) is not a cluster shape (each ≥ 1, at most 8 blocks in all), or null; the compiler checks by it too. */
    public static String clusterDimsProblem(int x, int y, int z) {
        return x < 1 || y < 1 || z < 1 || (long) x * y * z > 8 ? "a cluster shape has sizes >= 1 and at most 8 blocks, got " + x + "×" + y + "×" + z : null;
    }

    /** {@code %cluster_ctarank}: this block's rank in its cluster, {@code x % cx + cx·(y % cy + cy·(z % cz))}. */
    public int clusterCtaRank() { return Cluster.rank(group.groupId(), cluster().dims()); }

    /** {@code %cluster_nctarank}: blocks in this block's cluster. */
    public int clusterCtaCount() { return cluster().size(); }

    /** {@code %clusterid.x}: the cluster's index along x ({@code groupIdx / cx}). */
    public int clusterIdX() { return groupIdx / cluster().dims()[0]; }

    public int clusterIdY() { return groupIdy / cluster().dims()[1]; }

    public int clusterIdZ() { return groupIdz / cluster().dims()[2]; }

    private int clusterPhase = -1;

    /**
     * {@code barrier.cluster.arrive}: this work-item arrives on the cluster barrier (release: its shared and global writes
     * before it are visible to the cluster's work-items after their {@link #clusterWait}). Every work-item of every block
     * of the cluster arrives, then waits, once a phase.
     */
    public void clusterArrive() {
        if (clusterPhase >= 0) throw new IllegalStateException("clusterArrive twice without clusterWait");
        clusterPhase = cluster().arrive();
    }

    /** {@code barrier.cluster.wait}: until every work-item of the cluster has arrived (acquire). */
    public void clusterWait() {
        if (clusterPhase < 0) throw new IllegalStateException("clusterWait without clusterArrive");
        int phase = clusterPhase;
        clusterPhase = -1;
        cluster().await(phase);
    }

    /**
     * {@link #clusterArrive} then {@link #clusterWait}: the whole cluster's barrier (a block's barrier as well). After the
     * mbarrier initialisations ({@link #fenceMbarrierInit} first) so no peer arrives on, or copies into, one not yet made;
     * and at the end of a kernel whose peers still arrive on this block's barriers, which must outlive those arrivals.
     */
    public void clusterBarrier() {
        clusterArrive();
        clusterWait();
    }

    /**
     * {@code mapa.shared::cluster} + {@code mbarrier.arrive.shared::cluster.b64}: one arrival on the mbarrier at words
     * {@code wordIndex, +1} of the block of rank {@code ctaRank} in this cluster (the same offset in its shared memory; this
     * block's own when the rank is its own), with the default (release) semantics, as CUTLASS's {@code ClusterBarrier::arrive};
     * the peer waits on it with {@link #mbarrierTryWait}. On the CPU {@code shared} must be the dynamic shared array
     * ({@link #dynamicIntLocalArray}).
     */
    public void mbarrierArriveCluster(int[] shared, int wordIndex, int ctaRank) {
        mbarrierUpdate(peerShared(shared, ctaRank), wordIndex, 1, 0);
    }

    /**
     * {@link #tmaLoadTile128} multicast ({@code ...multicast::cluster}, a 16-bit CTA mask): the copy engine reads the box once
     * and writes it at word {@code wordIndex} of every block of the cluster whose rank's bit is set in {@code ctaMask}, and
     * completes its {@code boxRows · 128} bytes on each such block's mbarrier at {@code barrierWord}: each receiving block
     * expects those bytes on its own barrier (its own {@link #mbarrierArriveExpectTx}, which may come after a peer's copy has
     * completed: the phase waits for the arrival too). On the CPU {@code shared} must be the dynamic shared array.
     */
    public void tmaLoadTile128Multicast(int[] shared, int wordIndex, int barrierWord, LongArray tensorMap, OffHeapArray src,
                                        int rows, int rowLength, int row0, int col0, int boxRows, int ctaMask) {
        Cluster c = cluster();
        if (ctaMask == 0 || ctaMask >>> c.size() != 0) throw new IllegalArgumentException("CTA mask " + Integer.toBinaryString(ctaMask) + " in a cluster of " + c.size());
        for (int rank = 0; rank < c.size(); rank++)
            if ((ctaMask >>> rank & 1) != 0) tmaTile128(peerShared(shared, rank), wordIndex, barrierWord, src, rows, rowLength, row0, col0, boxRows);
    }

    /**
     * {@code mapa.shared::cluster} + {@code ld.shared::cluster.v4.b32}: one 16-byte load of words {@code wordIndex..+3}
     * ({@code wordIndex % 4 == 0}) of the shared memory of the cluster's block of rank {@code ctaRank} (distributed shared
     * memory; this block's own when the rank is its own) into dst[off..off+3]. The peer's stores are visible after a cluster
     * barrier ({@link #clusterBarrier}) that both passed; the peer must not exit before the reads are done (a second cluster
     * barrier). On the CPU {@code shared} must be the dynamic shared array ({@link #dynamicIntLocalArray}).
     */
    public void loadSharedCluster128(int[] dst, int dstOffset, int[] shared, int wordIndex, int ctaRank) {
        aligned(wordIndex, 4);
        System.arraycopy(peerShared(shared, ctaRank), wordIndex, dst, dstOffset, 4);
    }

    private Cluster cluster() {
        Cluster c = group.cluster();
        if (c == null) throw new IllegalStateException("a cluster operation in a launch not run in clusters (the kernel declares no clusterDims)");
        return c;
    }

    /** The dynamic shared words of the cluster's block of rank {@code rank} (the CPU view of {@code mapa}). */
    private int[] peerShared(int[] shared, int rank) {
        if (shared != group.dynamicSharedInts()) throw new IllegalArgumentException("cluster shared-memory operations on the CPU take the dynamic shared array (dynamicIntLocalArray)");
        return cluster().group(rank).dynamicSharedInts();
    }

    // ---- Hopper mbarriers and bulk tensor copies (sm_90; PTX ISA 9.7.13.15, 9.7.9.25) ----------------------
    //
    // An mbarrier is 8 bytes (2 words, the first even) of the dynamic shared array. It counts down the arrivals
    // of the current phase and the bytes ("transactions") still expected from bulk copies; when both reach zero
    // the phase completes, the phase parity flips and the arrival count starts over. On the CPU word 0 holds
    // (phase << 31 | pending arrivals << 16 | pending bytes / 16 as a signed 16-bit count: a peer's multicast may
    // complete its bytes before this block's expect_tx adds them, as on the GPU) and word 1 the expected arrivals; word 0 changes
    // by compare-and-set (no lock: hundreds of work-items poll it), so a work-item that reads a completed phase
    // (a volatile read) sees the copies and the other work-items' reads that completed it.

    private static final VarHandle SHARED_INTS = MethodHandles.arrayElementVarHandle(int[].class);

    /** {@code mbarrier.init.shared::cta.b64}: a barrier at words {@code wordIndex, +1} expecting {@code count} (1..32767 on the CPU) arrivals a phase, phase parity 0. */
    public void mbarrierInit(int[] shared, int wordIndex, int count) {
        if ((wordIndex & 1) != 0) throw new IllegalArgumentException("mbarrier at word " + wordIndex + " is not 8-byte aligned");
        if (count < 1 || count > 0x7FFF) throw new IllegalArgumentException("mbarrier count " + count);
        SHARED_INTS.setVolatile(shared, wordIndex + 1, count);
        SHARED_INTS.setVolatile(shared, wordIndex, count << 16);
    }

    /** {@code fence.mbarrier_init.release.cluster}: makes this work-item's barrier initialisations visible to the copy engine; a barrier follows it. A no-op on the CPU. */
    public void fenceMbarrierInit() {}

    /** {@code mbarrier.arrive.shared::cta.b64}: one arrival on the barrier's current phase. */
    public void mbarrierArrive(int[] shared, int wordIndex) {
        mbarrierUpdate(shared, wordIndex, 1, 0);
    }

    /** {@code mbarrier.arrive.expect_tx.shared::cta.b64}: the current phase also waits for {@code bytes} more bytes of bulk copies, then one arrival. */
    public void mbarrierArriveExpectTx(int[] shared, int wordIndex, int bytes) {
        if ((bytes & 15) != 0) throw new IllegalArgumentException("expected bytes " + bytes + " are not a multiple of 16");
        mbarrierUpdate(shared, wordIndex, 1, bytes);
    }

    /**
     * {@code mbarrier.try_wait.parity.shared::cta.b64}: whether the phase of parity {@code parity} (0 or 1) has
     * completed, i.e. the barrier's current phase parity differs; may wait a bounded time first on the GPU. Loop on
     * it: {@code while (!ctx.mbarrierTryWait(smem, bar, parity)) {}}.
     */
    public boolean mbarrierTryWait(int[] shared, int wordIndex, int parity) {
        boolean done = ((int) SHARED_INTS.getVolatile(shared, wordIndex) >>> 31) != (parity & 1);
        if (!done) Thread.yield();   // work-items are virtual threads: let the one that arrives run
        return done;
    }

    /** Takes {@code arrivals} arrivals off the current phase and adds {@code bytes} (negative: completed) to its pending bytes; completes the phase at zero and zero. */
    private static void mbarrierUpdate(int[] shared, int wordIndex, int arrivals, int bytes) {
        int expected = (int) SHARED_INTS.getVolatile(shared, wordIndex + 1);
        while (true) {
            int old = (int) SHARED_INTS.getVolatile(shared, wordIndex);
            int phase = old & 0x80000000, pending = ((old >>> 16) & 0x7FFF) - arrivals, units = (short) old + bytes / 16;
            if (pending < 0) throw new IllegalStateException("mbarrier at word " + wordIndex + ": more arrivals than its count " + expected);
            if (units < Short.MIN_VALUE || units > Short.MAX_VALUE) throw new IllegalStateException("mbarrier at word " + wordIndex + ": pending bytes out of range (" + 16 * units + ")");
            int next = pending == 0 && units == 0 ? (phase ^ 0x80000000) | (expected << 16) : phase | (pending << 16) | (units & 0xFFFF);
            if (SHARED_INTS.compareAndSet(shared, wordIndex, old, next)) return;
        }
    }

    /**
     * {@code cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes}: the copy engine
     * loads a box of {@code boxRows} rows × 64 16-bit elements (128 bytes a row) starting at row {@code row0},
     * column {@code col0} of a row-major {@code rows × rowLength} matrix into the tile at word {@code wordIndex}
     * (1024-byte aligned) in the 128-byte swizzle ({@link dev.arbor.accel.Swizzle#rowChunk128}: the layout the
     * wgmma descriptors read), zeros for elements outside the matrix, and completes {@code boxRows · 128} bytes on
     * the barrier at {@code barrierWord}. Issue it after an {@link #mbarrierArriveExpectTx} of those bytes (by one
     * work-item). On the GPU {@code tensorMap} (16 longs on the device) describes the matrix and the box, made by
     * {@code dev.arbor.accel.cuda.TensorMaps} for the same src, rows, rowLength and boxRows; the CPU executor
     * copies from {@code src} with these arguments at once ({@code rowLength} a multiple of 8).
     */
    public void tmaLoadTile128(int[] shared, int wordIndex, int barrierWord, LongArray tensorMap, OffHeapArray src,
                               int rows, int rowLength, int row0, int col0, int boxRows) {
        tmaTile128(shared, wordIndex, barrierWord, src, rows, rowLength, row0, col0, boxRows);
    }

    private static void tmaTile128(int[] shared, int wordIndex, int barrierWord, OffHeapArray src, int rows, int rowLength, int row0, int col0, int boxRows) {
        if ((wordIndex & 255) != 0) throw new IllegalArgumentException("bulk tensor tile at word " + wordIndex + " is not 1024-byte aligned");
        if (src.elementBytes() != 2 || rowLength % 8 != 0) throw new IllegalArgumentException("tmaLoadTile128 copies 16-bit rows of a multiple of 8 elements");
        for (int r = 0; r < boxRows; r++)
            for (int chunk = 0; chunk < 8; chunk++) {
                int row = row0 + r, col = col0 + chunk * 8, at = wordIndex + Swizzle.rowChunk128(r, chunk);
                boolean inside = row >= 0 && row < rows && col >= 0 && col < rowLength;
                long offset = ((long) row * rowLength + col) * 2;
                for (int i = 0; i < 4; i++) shared[at + i] = inside ? src.segment().get(ValueLayout.JAVA_INT_UNALIGNED, offset + 4L * i) : 0;
            }
        mbarrierUpdate(shared, barrierWord, 0, -boxRows * 128);   // the copy's bytes complete (its writes come before: a volatile CAS)
    }

    /**
     * {@code cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes} (PTX ISA 8.0, sm_90): the copy engine copies
     * {@code bytes} contiguous bytes of {@code src} from element {@code index} on into the shared words from {@code wordIndex}
     * on and completes those bytes on the mbarrier at {@code barrierWord}: Hopper's one-instruction way to have a whole page in
     * flight. Byte offset, shared offset and length multiples of 16 ({@code wordIndex % 4 == 0}), the range inside {@code src}.
     * Issue it after an {@link #mbarrierArriveExpectTx} covering its bytes (one work-item); readers wait on the barrier's phase,
     * and shared memory read by ordinary loads needs {@link #fenceProxyAsyncShared} and a barrier before a copy overwrites it.
     * The CPU executor copies at once, then completes the bytes (the copy's writes come before: a volatile compare-and-set).
     */
    public void bulkLoad(int[] shared, int wordIndex, int barrierWord, OffHeapArray src, int index, int bytes) {
        long offset = (long) index * src.elementBytes();
        if ((offset & 15) != 0 || (bytes & 15) != 0 || bytes <= 0 || (wordIndex & 3) != 0)
            throw new IllegalArgumentException("bulk copy of " + bytes + " bytes from byte " + offset + " to word " + wordIndex + ": offsets and length must be multiples of 16");
        if (index < 0 || offset + bytes > src.byteSize())
            throw new IndexOutOfBoundsException("bulk copy of " + bytes + " bytes at byte " + offset + " passes the array's end (" + src.byteSize() + ")");
        if (wordIndex + bytes / 4 > shared.length)
            throw new IndexOutOfBoundsException("bulk copy of " + bytes + " bytes to word " + wordIndex + " passes the shared array's end (" + shared.length + ")");
        MemorySegment.copy(src.segment(), ValueLayout.JAVA_INT_UNALIGNED, offset, shared, wordIndex, bytes / 4);
        mbarrierUpdate(shared, barrierWord, 0, -bytes);
    }

    /** One 16-byte shared-memory load ({@code ld.shared.v4.b32}) of words {@code wordIndex..+3} ({@code wordIndex % 4 == 0}) into dst[off..off+3]. */
    public void loadShared128(int[] dst, int dstOffset, int[] shared, int wordIndex) {
        aligned(wordIndex, 4);
        System.arraycopy(shared, wordIndex, dst, dstOffset, 4);
    }

    /** One 16-byte shared-memory store ({@code st.shared.v4.b32}) of src[off..off+3] ({@code wordIndex % 4 == 0}). */
    public void storeShared128(int[] shared, int wordIndex, int[] src, int srcOffset) {
        aligned(wordIndex, 4);
        System.arraycopy(src, srcOffset, shared, wordIndex, 4);
    }

    /** One 8-byte shared-memory store ({@code st.shared.v2.b32}) of two words ({@code wordIndex % 2 == 0}). */
    public void storeShared64(int[] shared, int wordIndex, int low, int high) {
        aligned(wordIndex, 2);
        shared[wordIndex] = low;
        shared[wordIndex + 1] = high;
    }

    /** One 16-byte global load ({@code ld.global.v4.b32}) at element {@code index} of {@code src} (byte offset a multiple of 16) into dst[off..off+3]. */
    public void loadGlobal128(int[] dst, int dstOffset, OffHeapArray src, int index) {
        long offset = globalOffset(src, index);
        for (int i = 0; i < 4; i++) dst[dstOffset + i] = src.segment().get(ValueLayout.JAVA_INT, offset + 4L * i);
    }

    /** One 16-byte global store ({@code st.global.v4.b32}) of src[off..off+3] at element {@code index} of {@code dst}. */
    public void storeGlobal128(OffHeapArray dst, int index, int[] src, int srcOffset) {
        long offset = globalOffset(dst, index);
        for (int i = 0; i < 4; i++) dst.segment().set(ValueLayout.JAVA_INT, offset + 4L * i, src[srcOffset + i]);
    }

    /**
     * Adds {@code a, b, c, d} to elements {@code index .. index+3} of {@code dst} (byte offset a multiple of 16) as one vector
     * reduction ({@code red.global.add.v4.f32}, sm_90, PTX 8.1): each element's add is atomic, as four {@link #atomicAdd}s; the
     * four are one request to the L2 instead of four. Nothing is returned (a reduction, not an atom).
     */
    public void atomicAddGlobal128(FloatArray dst, int index, float a, float b, float c, float d) {
        globalOffset(dst, index);
        dst.atomicAdd(index, a);
        dst.atomicAdd(index + 1, b);
        dst.atomicAdd(index + 2, c);
        dst.atomicAdd(index + 3, d);
    }

    private static long globalOffset(OffHeapArray a, int index) {
        long offset = (long) index * a.elementBytes();
        if ((offset & 15) != 0) throw new IllegalArgumentException("16-byte access at byte offset " + offset + " is not aligned");
        if (index < 0 || offset + 16 > a.byteSize()) throw new IndexOutOfBoundsException("16 bytes at element " + index + " of " + a.length());
        return offset;
    }

    private static void aligned(int wordIndex, int words) {
        if (wordIndex % words != 0) throw new IllegalArgumentException("word index " + wordIndex + " is not aligned to " + words + " words");
    }

    /** Two floats rounded to nearest even bf16 and packed: {@code lo} in bits 0-15 ({@code cvt.rn.bf16x2.f32}). */
    public static int packBf16(float lo, float hi) {
        return (BFloat16Array.fromFloat(lo) & 0xFFFF) | (BFloat16Array.fromFloat(hi) << 16);
    }

    /** Two floats rounded to nearest even fp16 and packed: {@code lo} in bits 0-15 ({@code cvt.rn.f16x2.f32}). */
    public static int packFp16(float lo, float hi) {
        return (Float.floatToFloat16(lo) & 0xFFFF) | (Float.floatToFloat16(hi) << 16);
    }

    /** CPU emulation of a warp collective: every lane publishes a value, then reads the 32 of its warp. */
    private Object[] gatherWarp(Object mine) {
        Object[] slots = group.objectSlots();
        if (slots.length % WARP_SIZE != 0) throw new IllegalStateException("warp matrix operations need work-groups of whole warps, not " + slots.length);
        int self = linearLocalId();
        slots[self] = mine;
        group.barrier();
        Object[] warp = new Object[WARP_SIZE];
        System.arraycopy(slots, self - laneId(), warp, 0, WARP_SIZE);
        group.barrier();
        return warp;
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
