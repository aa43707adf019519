package dev.arbor.kernels.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaModule;
import dev.arbor.accel.cuda.GraphTiming;
import dev.arbor.kernels.attention.FlashPrefillAttention;
import dev.arbor.kernels.attention.PagedAttention;

/**
 * GPU benchmark of the tensor-core prefill attention (issue 11; for bench/RESULTS.md): causal prefill of
 * one sequence of 512..8192 tokens, Llama-2-7B attention (32 heads × 128), bf16 KV store (block size 16),
 * fp32 queries; TFLOP/s counted as {@code 4·D} FLOPs per visible (query, key) pair per head (the figure
 * bench/peers/attention_torch.py prints for torch SDPA's flash backend on the same shape). Also: fp16
 * store, GQA 4 (32 query heads on 8 kv heads), a varlen batch (8 sequences of 1024 new tokens over
 * 1024 cached), Baichuan2-13B's 40 ALiBi heads, and the CUDA-core kernel at 2048 for comparison; the
 * kernel's registers / shared memory / occupancy as the driver reports them. Launches are captured in a
 * CUDA graph and replayed (median of 7). Then the cascade's state handoff at the seed workloads' prefill steps (a group's
 * chunks behind its shared prefix: the shared pass, then the per-sequence pass; both passes and the shared pass alone).
 * {@code -Dflash.tallMinBlocks=N} sets the 64-row kernels' launch bounds ({@code FlashPrefillAttention.setTallMinBlocks}; unset:
 * the launcher's rule, {@code tallMinBlocks}; only with jars that have it). Uses no other API than main's of session 11, so it also runs against an
 * older kernels jar (a before/after in one call). {@code -Darbor.flash.longTokens=0} keeps the one-pass kernel's bounded form for long
 * chunks (this branch: {@code FlashPrefillAttention.LONG_TOKENS}), {@code -Darbor.flash.longBand=N} the long form's band.
 * Run: java --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.kernels.bench.FlashPrefillBench
 */
public final class FlashPrefillBench {
    private static final int TRIALS = 7, BS = 16, D = 128;

    public static void main(String[] args) {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            System.out.println("device: " + cuda.device());
            System.out.println("-- causal prefill, one sequence, 32 heads x 128, bf16 KV (tensor cores)");
            for (int tokens : new int[] {512, 1024, 2048, 4096, 8192}) run(cuda, 32, 32, 1, tokens, 0, false, false, true);
            System.out.println("-- variants");
            run(cuda, 32, 32, 1, 4096, 0, true, false, false);
            run(cuda, 32, 8, 1, 4096, 0, false, false, false);
            run(cuda, 32, 8, 1, 8192, 0, false, false, false);
            run(cuda, 32, 32, 8, 1024, 1024, false, false, false);
            run(cuda, 40, 40, 1, 4096, 0, false, true, false);
            System.out.println("-- the CUDA-core kernel (PagedAttention, whole mode) on the same shape");
            runCudaCores(cuda, 2048);
            System.out.println("-- the state handoff at the seed workloads' prefill steps: one cascade group, each sequence a chunk behind the shared prefix");
            handoff(cuda, 66, 28, 752);    // workload 2's prefill steps (~1,852 tokens: 500 x 28 behind 752 over 9 steps)
            handoff(cuda, 107, 20, 530);   // workload 1's (107 x 20 behind 530)
        }
    }

    private static final String MIN_BLOCKS = System.getProperty("flash.tallMinBlocks");

    /** Applies {@code -Dflash.tallMinBlocks} (only then calls the setter, so that the bench links against jars without it). */
    private static void bounds(FlashPrefillAttention attn) {
        if (MIN_BLOCKS != null) attn.setTallMinBlocks(Integer.parseInt(MIN_BLOCKS));
    }

    /**
     * seqs sequences of {@code chunk} new tokens each at positions shared .. shared + chunk - 1, their first {@code shared} keys
     * in the same blocks, as one cascade group: the shared pass over the group's whole shared tiles, then each sequence's
     * chunk from the handed-off state (FlashPrefillAttention.planHandoff / launchShared / launch). 32 heads x 128, bf16.
     */
    private static void handoff(CudaBackend cuda, int seqs, int chunk, int shared) {
        int heads = 32, ctx = shared + chunk, bps = (ctx + BS - 1) / BS, sharedBlocks = shared / BS, own = bps - sharedBlocks;
        int total = seqs * chunk, n = (sharedBlocks + seqs * own) * heads * BS * D;
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(total * heads * D); FloatArray out = new FloatArray(total * heads * D);
             IntArray pos = new IntArray(total); IntArray seq = new IntArray(total); IntArray table = new IntArray(seqs * bps);
             FloatArray state = FloatArray.deviceOnly(total * heads * dev.arbor.kernels.attention.FlashPrefillKernels.stateStride(D));
             FlashPrefillAttention attn = new FlashPrefillAttention(heads, heads, D, BS, total, seqs)) {
            bounds(attn);
            int[] queryStart = new int[seqs + 1], seqOfToken = new int[total], sharedKeys = new int[seqs], groupTokens = new int[total];
            for (int s = 0; s < seqs; s++) {
                for (int t = 0; t < chunk; t++) {
                    int i = s * chunk + t;
                    pos.set(i, shared + t);
                    seq.set(i, s);
                    seqOfToken[i] = s;
                    groupTokens[i] = i;
                }
                for (int b = 0; b < bps; b++) table.set(s * bps + b, b < sharedBlocks ? b : sharedBlocks + s * own + (b - sharedBlocks));
                queryStart[s + 1] = (s + 1) * chunk;
                sharedKeys[s] = sharedBlocks * BS;
            }
            fill(cuda, k, 1);
            fill(cuda, v, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            cuda.allocateOnDevice(out);
            attn.useHandoffState(state);
            attn.toDevice(cuda);
            int tiles = attn.plan(cuda, queryStart, seqs, 1);
            int rowTiles = attn.planHandoff(cuda, seqOfToken, sharedKeys, groupTokens, new int[] {0, total}, 1, total);
            double both = time(cuda, () -> {
                attn.launchShared(cuda, q, k, v, pos, table, bps, null, total);
                attn.launch(cuda, q, k, v, out, pos, seq, table, bps, null, total);
            });
            double sharedOnly = time(cuda, () -> attn.launchShared(cuda, q, k, v, pos, table, bps, null, total));
            double pairs = (double) seqs * chunk * shared + (double) seqs * chunk * (chunk + 1) / 2;
            System.out.printf("handoff %3d x %2d tokens behind %3d shared: %8.4f ms  %7.2f TFLOP/s (shared pass %8.4f ms: %d row tiles x %d heads, "
                            + "%d shared key tiles; per-sequence pass %d tiles)%n", seqs, chunk, shared, both, 4.0 * D * heads * pairs / (both / 1e3) / 1e12,
                    sharedOnly, rowTiles, heads, shared / 64, tiles);
        }
    }

    /** seqs sequences of {@code tokens} new tokens over {@code cached} cached keys each. */
    private static void run(CudaBackend cuda, int heads, int kvHeads, int seqs, int tokens, int cached, boolean fp16, boolean alibi,
                            boolean report) {
        int ctx = cached + tokens, bps = (ctx + BS - 1) / BS, total = seqs * tokens;
        int n = seqs * bps * kvHeads * BS * D;
        float[] sl = new float[heads];
        for (int h = 0; h < heads; h++) sl[h] = (float) Math.pow(2, -8.0 * (h + 1) / heads);
        try (OffHeapArray k = fp16 ? new HalfFloatArray(n) : new BFloat16Array(n); OffHeapArray v = fp16 ? new HalfFloatArray(n) : new BFloat16Array(n);
             FloatArray q = new FloatArray(total * heads * D); FloatArray out = new FloatArray(total * heads * D);
             IntArray pos = new IntArray(total); IntArray seq = new IntArray(total); IntArray table = new IntArray(seqs * bps);
             FloatArray slopes = FloatArray.of(sl);
             FlashPrefillAttention attn = new FlashPrefillAttention(heads, kvHeads, D, BS, total, seqs)) {
            bounds(attn);
            int[] queryStart = new int[seqs + 1];
            for (int s = 0; s < seqs; s++) {
                for (int t = 0; t < tokens; t++) {
                    pos.set(s * tokens + t, cached + t);
                    seq.set(s * tokens + t, s);
                }
                for (int b = 0; b < bps; b++) table.set(s * bps + b, s * bps + b);
                queryStart[s + 1] = (s + 1) * tokens;
            }
            fill(cuda, k, 1);
            fill(cuda, v, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table, slopes);
            cuda.allocateOnDevice(out);
            int tiles = attn.plan(cuda, queryStart, seqs, 1);
            FloatArray s = alibi ? slopes : null;
            double ms = time(cuda, () -> attn.launch(cuda, q, k, v, out, pos, seq, table, bps, s, total));
            double pairs = 0;
            for (int t = 0; t < tokens; t++) pairs += cached + t + 1;
            double flops = 4.0 * D * heads * pairs * seqs;
            System.out.printf("flash prefill %d x %5d tokens over %4d cached, %2d/%2d heads%s%s: %8.3f ms  %7.2f TFLOP/s  (%d tiles x %d kv heads)%n",
                    seqs, tokens, cached, heads, kvHeads, fp16 ? ", fp16 KV" : ", bf16 KV", alibi ? ", ALiBi" : "", ms, flops / (ms / 1e3) / 1e12,
                    tiles, kvHeads);
            if (report) {
                CudaModule.Resources r;
                int smem;
                if (longForm(attn)) {   // the long-chunk form's kernel (this branch's jars only: longForm() is false without it)
                    r = cuda.resources(Kernel.of(dev.arbor.kernels.attention.FlashPrefillKernels.class, fp16 ? "longF16" : "longBf16"),
                            attn.longLaunchOf(tiles), attn.longArgs(q, k, v, out, pos, seq, table, bps, s, seqs * bps));
                    smem = dev.arbor.kernels.attention.FlashPrefillKernels.longSharedBytes(D);
                } else {
                    r = cuda.resources(FlashPrefillAttention.kernelFor(k), attn.launchOf(tiles), attn.args(q, k, v, out, pos, seq, table, bps, s, seqs * bps));
                    smem = dev.arbor.kernels.attention.FlashPrefillKernels.sharedBytes(D);
                }
                System.out.printf("   kernel resources%s: %s, dynamic smem %d B, occupancy %.1f%% (%d warps/SM)%n", longForm(attn) ? " (long form)" : "",
                        r, smem, 100 * r.occupancy(128), r.blocksPerSm() * 4);
            }
        }
    }

    /** Whether the last plan took the long-chunk form; false with a kernels jar without it (a before/after in one call). */
    private static boolean longForm(FlashPrefillAttention attn) {
        try {
            return attn.longForm();
        } catch (NoSuchMethodError e) {
            return false;
        }
    }

    private static void runCudaCores(CudaBackend cuda, int tokens) {
        int heads = 32, bps = tokens / BS, n = bps * heads * BS * D;
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(tokens * heads * D); FloatArray out = new FloatArray(tokens * heads * D);
             IntArray pos = new IntArray(tokens); IntArray seq = new IntArray(tokens); IntArray table = new IntArray(bps);
             PagedAttention attn = new PagedAttention(heads, heads, D, BS, tokens, 0)) {
            for (int t = 0; t < tokens; t++) pos.set(t, t);
            for (int b = 0; b < bps; b++) table.set(b, b);
            fill(cuda, k, 1);
            fill(cuda, v, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            cuda.allocateOnDevice(out);
            double ms = time(cuda, () -> attn.launch(cuda, q, k, v, out, pos, seq, table, bps, null, tokens, tokens, false));
            double flops = 4.0 * D * heads * ((double) tokens * (tokens + 1) / 2);
            System.out.printf("CUDA-core prefill 1 x %5d tokens: %8.3f ms  %7.2f TFLOP/s%n", tokens, ms, flops / (ms / 1e3) / 1e12);
        }
    }

    private static void fill(CudaBackend cuda, OffHeapArray a, int seed) {
        if (a instanceof BFloat16Array b) cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(b.length(), 256), b, b.length(), seed);
        else cuda.launch(Kernel.of(FlashPrefillBench.class, "fillF16"), Launch.cover(a.length(), 256), a, a.length(), seed);
    }

    /** a[i] = a uniform value in [-1, 1) (AttentionBench's hash), fp16. */
    public static void fillF16(dev.arbor.accel.KernelContext ctx, HalfFloatArray a, int n, int seed) {
        int i = ctx.globalIdx;
        if (i < n) a.set(i, AttentionBench.hash(i, seed));
    }

    /** Median milliseconds of one launch, from a graph of 5 launches. */
    static double time(CudaBackend cuda, Runnable launch) {
        launch.run();   // compiles, and puts every array on the device
        cuda.synchronize();
        int steps = 5;
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < steps; i++) launch.run(); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) / steps;
        }
    }
}
