package dev.arbor.kernels.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.GraphTiming;
import dev.arbor.kernels.layer.FusedOps;

import java.util.Arrays;

/**
 * {@code FusedOps.qkvRopeStore} at llama-7b's shapes (32 + 32 + 32 heads of 128, bf16 KV store of 16-token blocks), the
 * one-pair kernel against the wide one ({@code -Darbor.fused.fuse18}), for bench/RESULTS.md run 69-fuse18: µs a launch, a CUDA
 * graph of 64 launches (plain, not overlapping), median of 5 replays ({@link GraphTiming}), at (tokens, slices) as the engine
 * runs them: b1 (2 slabs), 8, workload 1's 107 and workload 2's 500 tokens (1 slab); the floor is the bytes moved (q|k|v
 * slabs read, q fp32 and k, v bf16 written) at 4.25 TB/s. Each pair's outputs (q, the K and V stores) are compared bit for bit.
 */
public final class QkvRopeBench {
    private static final Kernel FILL_F32 = Kernel.of(GemmBench.class, "fillF32");
    static final int HEADS = 32, KV_HEADS = 32, HEAD_DIM = 128, BLOCK = 16, LAUNCHES = 64, TRIALS = 5;

    public static void main(String[] args) {
        int units = HEADS + 2 * KV_HEADS, width = units * HEAD_DIM, half = HEAD_DIM / 2;
        try (CudaBackend cuda = CudaBackend.open(0)) {
            System.out.println("device: " + cuda.device());
            for (int[] ts : new int[][] {{1, 2}, {8, 2}, {107, 1}, {500, 1}}) {
                int tokens = ts[0], slices = ts[1], numBlocks = (tokens + BLOCK - 1) / BLOCK + 8;
                int[] slots = new int[tokens];
                for (int t = 0; t < tokens; t++) slots[t] = 3 * BLOCK + t;   // consecutive slots from block 3, as a prefill / decode run
                try (FloatArray qkv = new FloatArray(slices * tokens * width); FloatArray q = new FloatArray(tokens * HEADS * HEAD_DIM);
                     FloatArray cos = new FloatArray(tokens * half); FloatArray sin = new FloatArray(tokens * half);
                     IntArray slotArray = IntArray.of(slots);
                     BFloat16Array k0 = new BFloat16Array(numBlocks * KV_HEADS * BLOCK * HEAD_DIM); BFloat16Array v0 = new BFloat16Array(k0.length());
                     BFloat16Array k1 = new BFloat16Array(k0.length()); BFloat16Array v1 = new BFloat16Array(k0.length());
                     FloatArray q1 = new FloatArray(q.length())) {
                    cuda.toDevice(slotArray);
                    for (FloatArray a : new FloatArray[] {qkv, q, cos, sin, q1}) cuda.allocateOnDevice(a);
                    for (BFloat16Array a : new BFloat16Array[] {k0, v0, k1, v1}) cuda.toDevice(a);
                    cuda.launch(FILL_F32, Launch.cover(qkv.length(), 256), qkv, qkv.length(), 3, 2f);
                    cuda.launch(FILL_F32, Launch.cover(cos.length(), 256), cos, cos.length(), 5, 1f);
                    cuda.launch(FILL_F32, Launch.cover(sin.length(), 256), sin, sin.length(), 7, 1f);
                    double bytes = (double) slices * tokens * width * 4 + tokens * HEADS * HEAD_DIM * 4.0 + 2.0 * tokens * KV_HEADS * HEAD_DIM * 2;
                    double[] us = new double[2];
                    for (int w = 0; w < 2; w++) {
                        boolean wide = w == 1;
                        FloatArray qo = wide ? q1 : q;
                        BFloat16Array ko = wide ? k1 : k0, vo = wide ? v1 : v0;
                        Runnable one = () -> FusedOps.qkvRopeStore(cuda, qkv, slices, qo, ko, vo, cos, sin, slotArray, tokens, HEADS, KV_HEADS,
                                HEAD_DIM, BLOCK, false, wide);
                        one.run();
                        cuda.synchronize();
                        try (AccelStream stream = cuda.newStream();
                             Recording g = cuda.record(stream, () -> { for (int i = 0; i < LAUNCHES; i++) one.run(); })) {
                            us[w] = GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) * 1e3 / LAUNCHES;
                        }
                    }
                    cuda.toHost(q, q1, k0, k1, v0, v1);
                    boolean same = Arrays.equals(q.toArray(), q1.toArray()) && sameBits(k0, k1) && sameBits(v0, v1);
                    double floor = bytes / 4.25e12 * 1e6;
                    System.out.printf("qkvRopeStore tokens=%-3d slices=%d  one-pair %.2f us  wide %.2f us  (floor %.2f us: %.0f%% / %.0f%%)  same bits: %s%n",
                            tokens, slices, us[0], us[1], floor, 100 * floor / us[0], 100 * floor / us[1], same);
                    System.out.println("CSV,qkvrope," + tokens + "," + slices + "," + us[0] + "," + us[1] + "," + floor + "," + same);
                }
            }
        }
    }

    static boolean sameBits(BFloat16Array a, BFloat16Array b) {
        for (int i = 0; i < a.length(); i++) if (Float.floatToRawIntBits(a.get(i)) != Float.floatToRawIntBits(b.get(i))) return false;
        return true;
    }
}
