package dev.arbor.kernels.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaModule;
import dev.arbor.accel.cuda.GraphTiming;
import dev.arbor.kernels.attention.FlashPrefillAttention;
import dev.arbor.kernels.attention.FlashPrefillKernels;
import dev.arbor.kernels.attention.PagedAttention;

/**
 * GPU benchmark of decode attention in the batch-invariant mode (issue 12; for bench/RESULTS.md): a batch of sequences
 * with one new token each, through the CUDA-core paged kernel ({@link PagedAttention}, the default mode's kernel), the
 * tensor-core kernel in 16-row tiles (one warp, the planner's choice for 1-token chunks: {@link FlashPrefillAttention#planBelow})
 * and the same kernel in 64-row tiles (4 warps, the form before). bf16 KV store (block size 16), Llama-2-7B attention
 * (32 heads × 128) and a GQA-4 shape (32 on 8); one layer. The first {@code shared} keys of every sequence are one set of
 * physical blocks (a shared prompt prefix, as in the seed workloads: their K/V stay in L2), the rest the sequence's own.
 * Launches are captured in a CUDA graph and replayed (median of 7); the short kernel's registers and blocks per SM as
 * the driver reports them. Run: java --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.kernels.bench.FlashDecodeBench
 */
public final class FlashDecodeBench {
    private static final int TRIALS = 7, BS = 16, D = 128;

    public static void main(String[] args) {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            System.out.println("device: " + cuda.device());
            System.out.println("-- decode attention, one layer, bf16 KV: paged CUDA-core kernel | tensor cores 16-row tiles | tensor cores 64-row tiles");
            run(cuda, 32, 32, 434, 790, 752);   // seed workload 2's decode steps
            run(cuda, 32, 32, 104, 565, 530);   // seed workload 1's
            run(cuda, 32, 32, 32, 256, 0);      // throughput b32 (prompt 128, 256 new: contexts 129..384)
            for (int ctx : new int[] {256, 1024, 2048, 4096}) run(cuda, 32, 32, 1, ctx, 0);   // b1: throughput's, and longer contexts
            run(cuda, 32, 8, 128, 1024, 0);     // GQA 4 (Llama-3-8B's heads)
        }
    }

    /** seqs sequences of one new token at position ctx - 1, the first {@code shared} keys in shared blocks. */
    private static void run(CudaBackend cuda, int heads, int kvHeads, int seqs, int ctx, int shared) {
        int bps = (ctx + BS - 1) / BS, sharedBlocks = shared / BS, own = bps - sharedBlocks;
        int blocks = sharedBlocks + seqs * own, n = blocks * kvHeads * BS * D;
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(seqs * heads * D); FloatArray out = new FloatArray(seqs * heads * D);
             IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray table = new IntArray(seqs * bps);
             IntArray tallTiles = new IntArray(2 * seqs);
             FlashPrefillAttention flash = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             PagedAttention paged = new PagedAttention(heads, kvHeads, D, BS, ctx, seqs)) {
            int[] queryStart = new int[seqs + 1], positions = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                pos.set(s, ctx - 1);
                positions[s] = ctx - 1;
                seq.set(s, s);
                queryStart[s + 1] = s + 1;
                tallTiles.set(2 * s, s);
                tallTiles.set(2 * s + 1, s + 1);
                for (int b = 0; b < bps; b++) table.set(s * bps + b, b < sharedBlocks ? b : sharedBlocks + s * own + (b - sharedBlocks));
            }
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), k, n, 1);
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), v, n, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table, tallTiles);
            cuda.allocateOnDevice(out);
            flash.toDevice(cuda);
            paged.toDevice(cuda);
            int tiles = flash.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            if (flash.numShortTiles() != tiles) throw new IllegalStateException("decodes planned in " + tiles + " tiles, " + flash.numShortTiles() + " short");
            Kernel kernel = FlashPrefillAttention.kernelFor(k);
            Object[] tallArgs = flash.args(q, k, v, out, pos, seq, table, bps, null, blocks, FlashPrefillKernels.WARPS, tallTiles);
            double pagedMs = time(cuda, () -> paged.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs, ctx));
            double shortMs = time(cuda, () -> flash.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs));
            double tallMs = time(cuda, () -> cuda.launch(kernel, flash.launchOf(seqs, FlashPrefillKernels.WARPS), tallArgs));
            // K and V bytes a launch reads at least (each distinct block once)
            double bytes = 2.0 * blocks * kvHeads * BS * D * 2;
            System.out.printf("decode %3d seqs x %4d keys (%3d shared), %2d/%2d heads: paged %8.4f ms | short %8.4f ms (%.2fx) | tall %8.4f ms (%.2fx)"
                            + "  [%.0f MB distinct K/V]%n", seqs, ctx, shared, heads, kvHeads, pagedMs, shortMs, pagedMs / shortMs, tallMs, pagedMs / tallMs,
                    bytes / 1e6);
            if (seqs == 434) {
                CudaModule.Resources r = cuda.resources(kernel, flash.launchOf(tiles, FlashPrefillKernels.WARP),
                        flash.args(q, k, v, out, pos, seq, table, bps, null, blocks, FlashPrefillKernels.WARP));
                CudaModule.Resources t = cuda.resources(kernel, flash.launchOf(seqs, FlashPrefillKernels.WARPS), tallArgs);
                System.out.printf("   short kernel: %s, dynamic smem %d B (%d warps/SM); tall: %s, %d B (%d warps/SM)%n", r,
                        FlashPrefillKernels.sharedBytes(D, FlashPrefillKernels.WARP), r.blocksPerSm(), t,
                        FlashPrefillKernels.sharedBytes(D, FlashPrefillKernels.WARPS), 4 * t.blocksPerSm());
            }
        }
    }

    /** Median milliseconds of one launch, from a graph of 5 launches. */
    private static double time(CudaBackend cuda, Runnable launch) {
        launch.run();   // compiles, and puts every array on the device
        cuda.synchronize();
        int steps = 5;
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < steps; i++) launch.run(); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) / steps;
        }
    }
}
