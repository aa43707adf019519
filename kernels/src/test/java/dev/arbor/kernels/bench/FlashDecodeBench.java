package dev.arbor.kernels.bench;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.Launch;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaModule;
import dev.arbor.kernels.attention.FlashPrefillAttention;
import dev.arbor.kernels.attention.FlashPrefillKernels;
import dev.arbor.kernels.attention.PagedAttention;

/**
 * GPU benchmark of decode attention in the batch-invariant mode (issue 12; for bench/RESULTS.md): a batch of sequences
 * with one new token each, through the CUDA-core paged kernel ({@link PagedAttention}: the mode's kernel at positions from
 * {@code -Darbor.cuda.flashBelow=N}, 1,024 by default, and for every token with N = 0) and through the tensor-core kernel as
 * the bound plans the tokens below it ({@link FlashPrefillAttention#planBelow}, here every token), in 64-row tiles and in
 * one-warp tiles (one per sequence and kv head either way; {@link FlashPrefillAttention#WARP_WAVES} picks between them in the
 * engine); where the sequences share a prefix of whole key tiles, also as the state handoff (one cascade group: the shared
 * pass, then the per-sequence pass in either form). bf16 KV store (block size 16), Llama-2-7B attention (32 heads × 128) and a
 * GQA-4 shape (32 on 8); one layer. The first {@code shared} keys of every sequence are one set of physical blocks (a
 * shared prompt prefix, as in the seed workloads: their K/V stay in L2), the rest the sequence's own. Launches are
 * captured in a CUDA graph and replayed (median of 7, {@link FlashPrefillBench#time}); the tensor-core kernel's registers and blocks per SM as the driver
 * reports them. Run 39-bm16 measured a two-stage one-warp form (branch bm16, commit 53138d2); run 43-dec9 the one-stage form kept.
 * Run: java --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.kernels.bench.FlashDecodeBench
 * <p>{@code FlashDecodeBench split}: decodes below the one-warp kernel's walks (1, 4, 16 sequences × 256-4,096 keys; GQA 4) in
 * 64-row tiles against the split form ({@link dev.arbor.kernels.attention.FlashSplitKernels}) at 2, 3, 4 K/V stages, the outputs
 * compared bit for bit (run 66-attn17).
 * <p>{@code FlashDecodeBench handoff SEQS CONTEXT SHARED [REPEATS]} launches only the state handoff in one-warp tiles (the shared
 * pass, then the per-sequence pass), eagerly, REPEATS (3) times, for a profiler ({@code ncu -k regex:warpBf16 ...}; run 44-dec9b).
 * <p>{@code FlashDecodeBench overlap} times the seed workloads' decode handoff with plain launches, overlapping ones
 * ({@link FlashPrefillAttention#setHandoffOverlap}), the shared pass's dim split ({@link FlashPrefillAttention#setSharedDimSplit}) and
 * both, interleaved (run 66-casc17).
 * <p>{@code FlashDecodeBench onebuffer} times the one-warp per-sequence pass alone (bf16 out; behind one shared pass's handoff where the
 * rows share a prefix) at seed workload 2's, workload 1's and llama3.2-1b b128's decode shapes: plain against one K/V buffer
 * ({@link FlashPrefillAttention#setWarpOneBuffer}, {@link dev.arbor.kernels.attention.FlashWarpOneBufferKernels}) without and with
 * launch bounds of 12 an SM, interleaved, outputs compared bit for bit, against the own keys' DRAM floor (session 18 attn18b).
 * <p>{@code FlashDecodeBench halfring} the same rows for plain | one buffer by key halves (the default) | the half ring
 * ({@link FlashPrefillAttention#WARP_HALF_RING}) | one buffer by whole tiles, interleaved 3 rounds (session 21 walk21; run 81 ran
 * {@code ring}, the shared pass's ring bench, by mistake: this mode is not yet measured).
 */
public final class FlashDecodeBench {
    private static final int BS = 16, D = 128;

    public static void main(String[] args) {
        try (CudaBackend cuda = CudaBackend.open(0)) {
            System.out.println("device: " + cuda.device());
            if (args.length >= 4 && args[0].equals("handoff")) {
                handoffOnly(cuda, Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]),
                        args.length > 4 ? Integer.parseInt(args[4]) : 3);
                return;
            }
            if (args.length >= 1 && args[0].equals("split")) {   // session 17: the split form against 64-row tiles below the one-warp walks
                System.out.println("-- decode below the one-warp kernel's walks, one layer, bf16 KV: 64-row tiles | split form "
                        + "(FlashSplitKernels) at 2, 3, 4 K/V stages; outputs compared bit for bit");
                for (int seqs : new int[] {1, 4, 16}) for (int ctx : new int[] {256, 1024, 4096}) split(cuda, 32, 32, 128, seqs, ctx);
                split(cuda, 32, 8, 128, 4, 1024);   // GQA 4 (Llama-3-8B's heads)
                split(cuda, 32, 8, 64, 4, 1024);    // Llama-3.2-1B's
                return;
            }
            if (args.length >= 1 && args[0].equals("overlap")) {   // the seed workloads' decode handoff, plain launches against overlapping ones
                System.out.println("-- decode handoff (shared pass + one-warp per-sequence pass), one layer, bf16 KV, 32 heads x 128: plain launches "
                        + "| overlapping (setHandoffOverlap) | the shared pass's dim split (setSharedDimSplit) | both; graph medians interleaved, each twice");
                overlapRow(cuda, 104, 565, 530);   // seed workload 1's decode steps (run 48's row)
                overlapRow(cuda, 107, 560, 528);   // workload 1 as the engine groups it: 33 shared blocks, 107 sequences
                overlapRow(cuda, 434, 790, 752);   // seed workload 2's
                overlapRow(cuda, 64, 300, 256);    // a smaller group
                return;
            }
            if (args.length >= 1 && args[0].equals("ring")) {   // session 18 casc18: the shared pass's K/V ring (FlashSharedKernels)
                System.out.println("-- decode shared pass, one layer, bf16 KV, 32 heads x 128: two-stage kernels (stages 0) against the ring at 2/3/4 "
                        + "stages, whole dims and the dim split (state bits against the two-stage kernel's); then the handoff (shared + one-warp "
                        + "pass, overlapping launches) with the ring by rule against without; graph medians");
                ringRow(cuda, 107, 560, 528);   // workload 1 as the engine groups it: 33 shared blocks, 107 sequences
                ringRow(cuda, 500, 790, 752);   // workload 2's decode (500 sequences, 752 shared keys)
                return;
            }
            if (args.length >= 1 && args[0].equals("onebuffer")) {   // session 18 attn18b: the one-warp pass with one K/V buffer (FlashWarpOneBufferKernels)
                System.out.println("-- per-sequence one-warp pass (bf16 out, as the engine's), one layer, bf16 KV: plain (warpBf16OutBf16) | one K/V "
                        + "buffer (warpOneBufferBf16OutBf16): whole tiles | key halves | each with launch bounds 12 an SM; graph medians "
                        + "interleaved, each twice; outputs compared bit for bit with plain");
                oneBufferRow(cuda, 32, 32, 128, 500, 810, 752);   // seed workload 2's decode behind the handoff (positions 779..809: 28-58 own keys)
                oneBufferRow(cuda, 32, 32, 128, 107, 580, 528);   // seed workload 1's (positions 549..579)
                oneBufferRow(cuda, 32, 8, 64, 128, 576, 0);       // llama3.2-1b b128 x 512 (+1..64), no handoff
                return;
            }
            if (args.length >= 1 && args[0].equals("halfring")) {   // session 21 walk21: the one-buffer kernel's half ring (FlashPrefillAttention.WARP_HALF_RING)
                System.out.println("-- per-sequence one-warp pass (bf16 out, as the engine's), one layer, bf16 KV: plain (warpBf16OutBf16) | one K/V "
                        + "buffer by key halves (the default) | the half ring (halves 2) | one buffer, whole tiles; graph medians interleaved, "
                        + "each 3 times; outputs compared bit for bit with plain");
                int[][] forms = {{-1, 0}, {0, 1}, {0, 2}, {0, 0}};
                String[] names = {"plain", "halves", "ring", "whole"};
                oneBufferRow(cuda, 32, 32, 128, 500, 810, 752, forms, names, 3);   // seed workload 2's decode behind the handoff
                oneBufferRow(cuda, 32, 32, 128, 107, 580, 528, forms, names, 3);   // seed workload 1's
                oneBufferRow(cuda, 32, 8, 64, 128, 576, 0, forms, names, 3);       // llama3.2-1b b128 x 512 (+1..64), no handoff
                return;
            }
            if (args.length >= 1 && args[0].equals("gqa64")) {   // Llama-3.2-1B's decode (issue 12's b128 × 512 row and around it)
                System.out.println("-- GQA-4 decode, 32 on 8 heads x 64, one layer, bf16 KV: paged CUDA-core kernel (the nbi mode's before "
                        + "run 57-gqa12) | tensor cores, 64-row tiles | tensor cores, one-warp tiles");
                for (int[] sc : new int[][] {{128, 512}, {128, 1024}, {64, 512}, {32, 512}, {256, 512}}) run(cuda, 32, 8, 64, sc[0], sc[1], 0);
                return;
            }
            System.out.println("-- decode attention, one layer, bf16 KV: paged CUDA-core kernel | tensor cores, 64-row tiles | tensor cores, "
                    + "one-warp tiles; with a shared prefix also the state handoff (shared pass + per-sequence pass) with each");
            run(cuda, 32, 32, 434, 790, 752);   // seed workload 2's decode steps
            run(cuda, 32, 32, 104, 565, 530);   // seed workload 1's
            run(cuda, 32, 32, 32, 256, 0);      // throughput b32 (prompt 128, 256 new: contexts 129..384)
            for (int ctx : new int[] {256, 1024, 2048, 4096}) run(cuda, 32, 32, 1, ctx, 0);   // b1: throughput's, and longer contexts
            run(cuda, 32, 8, 128, 1024, 0);     // GQA 4 (Llama-3-8B's heads)
        }
    }

    /** seqs sequences of one new token at position ctx - 1, the first {@code shared} keys in shared blocks. */
    private static void run(CudaBackend cuda, int heads, int kvHeads, int seqs, int ctx, int shared) {
        run(cuda, heads, kvHeads, D, seqs, ctx, shared);
    }

    /** As above with head dimension {@code D}: {@code FlashDecodeBench gqa64} runs Llama-3.2-1B's attention (32 on 8 heads × 64). */
    private static void run(CudaBackend cuda, int heads, int kvHeads, int D, int seqs, int ctx, int shared) {
        int bps = (ctx + BS - 1) / BS, sharedBlocks = shared / BS, own = bps - sharedBlocks;
        int blocks = sharedBlocks + seqs * own, n = blocks * kvHeads * BS * D;
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(seqs * heads * D); FloatArray out = new FloatArray(seqs * heads * D);
             IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray table = new IntArray(seqs * bps);
             FlashPrefillAttention flash = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             FlashPrefillAttention tall = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             FloatArray state = FloatArray.deviceOnly(seqs * heads * FlashPrefillKernels.stateStride(D));
             FloatArray stateTall = FloatArray.deviceOnly(seqs * heads * FlashPrefillKernels.stateStride(D));
             PagedAttention paged = new PagedAttention(heads, kvHeads, D, BS, ctx, seqs)) {
            int[] queryStart = new int[seqs + 1], positions = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                pos.set(s, ctx - 1);
                positions[s] = ctx - 1;
                seq.set(s, s);
                queryStart[s + 1] = s + 1;
                for (int b = 0; b < bps; b++) table.set(s * bps + b, b < sharedBlocks ? b : sharedBlocks + s * own + (b - sharedBlocks));
            }
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), k, n, 1);
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), v, n, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            cuda.allocateOnDevice(out);
            flash.setMinWarpWalks(0);                   // every decode in a one-warp tile
            tall.setMinWarpWalks(Integer.MAX_VALUE);    // every decode in a 64-row tile
            flash.toDevice(cuda);
            tall.toDevice(cuda);
            paged.toDevice(cuda);
            cuda.allocateOnDevice(state);
            cuda.allocateOnDevice(stateTall);
            flash.useHandoffState(state);
            tall.useHandoffState(stateTall);
            int tiles = flash.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            tall.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            double pagedMs = FlashPrefillBench.time(cuda, () -> paged.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs, ctx));
            double tallMs = FlashPrefillBench.time(cuda, () -> tall.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs));
            double warpMs = FlashPrefillBench.time(cuda, () -> flash.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs));
            // K and V bytes a launch reads at least (each distinct block once)
            double bytes = 2.0 * blocks * kvHeads * BS * D * 2;
            System.out.printf("decode %3d seqs x %4d keys (%3d shared), %2d/%2d heads: paged %8.4f ms | 64-row %8.4f ms | one-warp %8.4f ms"
                    + " (%.2fx 64-row, %.2fx paged)  [%.0f MB distinct K/V; one-warp %.0f GB/s]%n", seqs, ctx, shared, heads, kvHeads, pagedMs, tallMs, warpMs,
                    tallMs / warpMs, pagedMs / warpMs, bytes / 1e6, bytes / warpMs / 1e6);
            if (shared >= FlashPrefillKernels.BN) {   // the seed workloads' decode steps: one cascade group, its whole shared tiles handed off
                int[] seqOf = new int[seqs], keys = new int[seqs], group = new int[seqs];
                for (int s = 0; s < seqs; s++) {
                    seqOf[s] = s;
                    keys[s] = shared;
                    group[s] = s;
                }
                int rowTiles = flash.planHandoff(cuda, seqOf, keys, group, new int[] {0, seqs}, 1, seqs);
                tall.planHandoff(cuda, seqOf, keys, group, new int[] {0, seqs}, 1, seqs);
                double sharedMs = FlashPrefillBench.time(cuda, () -> flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs));
                double tallHo = FlashPrefillBench.time(cuda, () -> {
                    tall.launchShared(cuda, q, k, v, pos, table, bps, null, seqs);
                    tall.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs);
                });
                double warpHo = FlashPrefillBench.time(cuda, () -> {
                    flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs);
                    flash.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs);
                });
                System.out.printf("   handoff (%d shared tiles, %d row tiles): shared pass %8.4f ms; shared + per-sequence 64-row %8.4f ms | one-warp "
                        + "%8.4f ms (%.2fx)%n", shared / FlashPrefillKernels.BN, rowTiles, sharedMs, tallHo, warpHo, tallHo / warpHo);
            }
            if (seqs == 434 || D == 64 && seqs == 128 && ctx == 512) {
                CudaModule.Resources r = cuda.resources(FlashPrefillAttention.kernelFor(k), tall.launchOf(seqs),
                        tall.args(q, k, v, out, pos, seq, table, bps, null, blocks));
                System.out.printf("   64-row kernel: %s, dynamic smem %d B (%d warps/SM)%n", r, FlashPrefillKernels.sharedBytes(D),
                        4 * r.blocksPerSm());
                CudaModule.Resources w = cuda.resources(flash.shortKernelFor(k), flash.warpLaunchOf(tiles),
                        flash.warpArgs(q, k, v, out, pos, seq, table, bps, null, blocks));
                System.out.printf("   one-warp kernel: %s, dynamic smem %d B (%d warps/SM)%n", w, FlashPrefillKernels.warpSharedBytes(D),
                        w.blocksPerSm());
            }
        }
    }


    /**
     * The handoff in one-warp tiles (Llama-2-7B attention, bf16 KV, one group of {@code seqs} decodes sharing {@code shared} keys) with
     * plain launches and overlapping ones ({@link FlashPrefillAttention#setHandoffOverlap}), graph medians interleaved off, on, off, on.
     */
    private static void overlapRow(CudaBackend cuda, int seqs, int ctx, int shared) {
        int heads = 32, kvHeads = 32, bps = (ctx + BS - 1) / BS, sharedBlocks = shared / BS, own = bps - sharedBlocks;
        int blocks = sharedBlocks + seqs * own, n = blocks * kvHeads * BS * D;
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(seqs * heads * D); FloatArray out = new FloatArray(seqs * heads * D);
             IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray table = new IntArray(seqs * bps);
             FlashPrefillAttention flash = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             FloatArray state = FloatArray.deviceOnly(seqs * heads * FlashPrefillKernels.stateStride(D))) {
            int[] queryStart = new int[seqs + 1], positions = new int[seqs], seqOf = new int[seqs], keys = new int[seqs], group = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                int p = ctx - 1 - (s % 31);   // own keys of 1..31 more or fewer, as a decode step's sequences
                pos.set(s, p);
                positions[s] = p;
                seq.set(s, s);
                queryStart[s + 1] = s + 1;
                seqOf[s] = s;
                keys[s] = shared / FlashPrefillKernels.BN * FlashPrefillKernels.BN;
                group[s] = s;
                for (int b = 0; b < bps; b++) table.set(s * bps + b, b < sharedBlocks ? b : sharedBlocks + s * own + (b - sharedBlocks));
            }
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), k, n, 1);
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), v, n, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            cuda.allocateOnDevice(out);
            cuda.allocateOnDevice(state);
            flash.toDevice(cuda);
            flash.useHandoffState(state);
            flash.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            int rowTiles = flash.planHandoff(cuda, seqOf, keys, group, new int[] {0, seqs}, 1, seqs);
            // forms: plain (runs 39-65), overlapping launches, the shared pass's dim split, both; interleaved, each twice
            String[] names = {"plain", "overlap", "dim split", "overlap + dim split"};
            double[] sum = new double[4];
            StringBuilder each = new StringBuilder();
            for (int r = 0; r < 2; r++) {
                for (int f = 0; f < 4; f++) {
                    flash.setHandoffOverlap((f & 1) != 0);
                    flash.setSharedDimSplit((f & 2) != 0 ? 1 : 0);
                    double t = FlashPrefillBench.time(cuda, () -> {
                        flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs);
                        flash.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs);
                    });
                    sum[f] += t / 2;
                    each.append(String.format(" %.4f", t));
                }
            }
            flash.setHandoffOverlap(false);
            flash.setSharedDimSplit(0);
            double sharedMs = FlashPrefillBench.time(cuda, () -> flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs));
            flash.setSharedDimSplit(1);
            double sharedSplitMs = FlashPrefillBench.time(cuda, () -> flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs));
            StringBuilder row = new StringBuilder();
            for (int f = 0; f < 4; f++) row.append(String.format("%s %.4f ms%s", names[f], sum[f], f < 3 ? " | " : ""));
            System.out.printf("handoff overlap: %3d seqs x %4d keys (%3d shared, %d row tiles, dim split by rule: %b): %s (%.3fx plain); "
                    + "shared pass alone %.4f / dim split %.4f ms; each figure:%s%n", seqs, ctx, shared, rowTiles,
                    FlashPrefillAttention.dimSplitPays(rowTiles, kvHeads, cuda.multiprocessors()), row, sum[0] / sum[3], sharedMs, sharedSplitMs, each);
        }
    }

    /**
     * The shared pass alone of one group of {@code seqs} decodes sharing {@code shared} keys (Llama-2-7B attention, bf16 KV): the two-stage
     * kernels and the ring ({@link FlashPrefillAttention#setSharedStages}) at 2, 3, 4 stages, whole dims and the dim split, each state
     * compared bit for bit with the two-stage kernel's of the same split; then the handoff with the ring by rule against without.
     */
    private static void ringRow(CudaBackend cuda, int seqs, int ctx, int shared) {
        int heads = 32, kvHeads = 32, bps = (ctx + BS - 1) / BS, sharedBlocks = shared / BS, own = bps - sharedBlocks;
        int blocks = sharedBlocks + seqs * own, n = blocks * kvHeads * BS * D, sn = seqs * heads * FlashPrefillKernels.stateStride(D);
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(seqs * heads * D); FloatArray out = new FloatArray(seqs * heads * D);
             IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray table = new IntArray(seqs * bps);
             FlashPrefillAttention flash = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             FloatArray state = new FloatArray(sn)) {
            int[] queryStart = new int[seqs + 1], positions = new int[seqs], seqOf = new int[seqs], keys = new int[seqs], group = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                int p = ctx - 1 - (s % 31);
                pos.set(s, p);
                positions[s] = p;
                seq.set(s, s);
                queryStart[s + 1] = s + 1;
                seqOf[s] = s;
                keys[s] = shared / FlashPrefillKernels.BN * FlashPrefillKernels.BN;
                group[s] = s;
                for (int b = 0; b < bps; b++) table.set(s * bps + b, b < sharedBlocks ? b : sharedBlocks + s * own + (b - sharedBlocks));
            }
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), k, n, 1);
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), v, n, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            cuda.allocateOnDevice(out);
            cuda.allocateOnDevice(state);
            flash.toDevice(cuda);
            flash.useHandoffState(state);
            flash.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            int rowTiles = flash.planHandoff(cuda, seqOf, keys, group, new int[] {0, seqs}, 1, seqs);
            flash.setHandoffOverlap(false);
            StringBuilder line = new StringBuilder(String.format("ring: %3d seqs x %4d keys (%3d shared, %d row tiles, %d tiles, stages by rule: %d/%d):",
                    seqs, ctx, shared, rowTiles, shared / FlashPrefillKernels.BN,
                    FlashPrefillAttention.sharedStagesFor((long) rowTiles * kvHeads, cuda.multiprocessors()),
                    FlashPrefillAttention.sharedStagesFor(2L * rowTiles * kvHeads, cuda.multiprocessors())));
            for (int split = 0; split <= 1; split++) {
                flash.setSharedDimSplit(split);
                float[] ref = null;
                line.append(split == 0 ? " whole:" : " | dim split:");
                for (int st : new int[] {0, 2, 3, 4, -3}) {   // -3: 3 stages, the lean tile (setSharedLean)
                    flash.setSharedLean(st < 0);
                    flash.setSharedStages(Math.abs(st));
                    double ms = FlashPrefillBench.time(cuda, () -> flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs));
                    cuda.toHost(state);
                    float[] got = new float[sn];
                    for (int i = 0; i < sn; i++) got[i] = state.get(i);
                    int diff = 0;
                    if (ref == null) ref = got;
                    else for (int i = 0; i < sn; i++) if (Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(ref[i])) diff++;
                    line.append(String.format(" %s %.2f us%s", st < 0 ? "s3-lean" : "s" + st, 1000 * ms, st == 0 ? "" : diff == 0 ? " =bits" : " DIFFERS in " + diff));
                }
                flash.setSharedLean(FlashPrefillAttention.SHARED_LEAN);
            }
            System.out.println(line);
            // the handoff as the engine launches it (overlap, dim split by rule): the ring by rule against the two-stage kernels, interleaved
            flash.setHandoffOverlap(true);
            flash.setSharedDimSplit(-1);
            double[] sum = new double[2];
            for (int r = 0; r < 2; r++) {
                for (int f = 0; f < 2; f++) {
                    flash.setSharedStages(f == 0 ? 0 : -1);
                    sum[f] += FlashPrefillBench.time(cuda, () -> {
                        flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs);
                        flash.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs);
                    }) / 2;
                }
            }
            System.out.printf("ring: %3d seqs handoff (overlap, dim split by rule): two-stage %.2f us | ring by rule %.2f us (%.3fx)%n", seqs,
                    1000 * sum[0], 1000 * sum[1], sum[0] / sum[1]);
        }
    }

    /**
     * The one-warp per-sequence pass (behind the shared pass's handoff where {@code shared} &gt; 0, handed off at the tile holding key
     * {@code shared / 64 · 64} as the engine plans it; else alone), bf16 out: plain ({@code warpBf16OutBf16}) against one K/V buffer
     * ({@link FlashPrefillAttention#setWarpOneBuffer}) without and with launch bounds of 12 work-groups an SM: ms a layer (the pass
     * alone, the state written once by one shared pass), whole tiles and key halves, each also under launch bounds of 12, interleaved, twice each, the outputs compared bit for bit with plain's, and
     * the DRAM floor of the own keys' K and V (the shared blocks stay in L2) at 4.25 TB/s.
     */
    private static void oneBufferRow(CudaBackend cuda, int heads, int kvHeads, int D, int seqs, int ctx, int shared) {
        // {-1, 0}: plain; else the one-buffer kernel's {launch bounds, halves}
        oneBufferRow(cuda, heads, kvHeads, D, seqs, ctx, shared, new int[][] {{-1, 0}, {0, 0}, {0, 1}, {12, 0}, {12, 1}},
                new String[] {"plain", "whole", "halves", "whole+b12", "halves+b12"}, 2);
    }

    /** As above over {@code forms} ({launch bounds, halves}, the first plain: {-1, 0}; halves 2 the half ring), {@code rounds} interleaved rounds. */
    private static void oneBufferRow(CudaBackend cuda, int heads, int kvHeads, int D, int seqs, int ctx, int shared, int[][] forms, String[] names,
                                     int rounds) {
        int bps = (ctx + BS - 1) / BS, sharedBlocks = shared / BS, own = bps - sharedBlocks;
        int blocks = sharedBlocks + seqs * own, n = blocks * kvHeads * BS * D;
        BFloat16Array[] outs = new BFloat16Array[forms.length];
        for (int f = 0; f < forms.length; f++) outs[f] = new BFloat16Array(seqs * heads * D);
        BFloat16Array o0 = outs[0];
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(seqs * heads * D);
             IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray table = new IntArray(seqs * bps);
             FlashPrefillAttention flash = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             FloatArray state = FloatArray.deviceOnly(seqs * heads * FlashPrefillKernels.stateStride(D))) {
            int[] queryStart = new int[seqs + 1], positions = new int[seqs], seqOf = new int[seqs], keys = new int[seqs], group = new int[seqs];
            long ownKeys = 0;
            int tileKeys = shared / FlashPrefillKernels.BN * FlashPrefillKernels.BN;
            for (int s = 0; s < seqs; s++) {
                int p = ctx - 1 - (s % 31);   // own keys of 1..31 more or fewer, as a decode step's sequences
                pos.set(s, p);
                positions[s] = p;
                seq.set(s, s);
                queryStart[s + 1] = s + 1;
                seqOf[s] = s;
                keys[s] = tileKeys;
                group[s] = s;
                ownKeys += p + 1 - Math.max(tileKeys, sharedBlocks * BS);
                for (int b = 0; b < bps; b++) table.set(s * bps + b, b < sharedBlocks ? b : sharedBlocks + s * own + (b - sharedBlocks));
            }
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), k, n, 1);
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), v, n, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            for (BFloat16Array o : outs) cuda.allocateOnDevice(o);
            cuda.allocateOnDevice(state);
            flash.setMinWarpWalks(0);
            flash.setHandoffOverlap(false);
            flash.toDevice(cuda);
            flash.useHandoffState(state);
            flash.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            int rowTiles = shared > 0 ? flash.planHandoff(cuda, seqOf, keys, group, new int[] {0, seqs}, 1, seqs) : 0;
            if (shared > 0) {
                flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs);
                cuda.synchronize();
            }
            double[] sum = new double[forms.length];
            StringBuilder each = new StringBuilder();
            String[] regs = new String[forms.length];
            for (int r = 0; r < rounds; r++) {
                for (int f = 0; f < forms.length; f++) {
                    flash.setWarpOneBuffer(forms[f][0] >= 0, Math.max(0, forms[f][0]), forms[f][1] != 0);
                    flash.setWarpHalfRing(forms[f][1] == 2);
                    BFloat16Array o = outs[f];
                    double t = FlashPrefillBench.time(cuda, () -> flash.launch(cuda, q, k, v, o, pos, seq, table, bps, null, seqs));
                    sum[f] += t / rounds;
                    each.append(String.format(" %.4f", t));
                    if (r == 0) {
                        Kernel kernel = forms[f][0] >= 0 ? Kernel.of(dev.arbor.kernels.attention.FlashWarpOneBufferKernels.class, "warpOneBufferBf16OutBf16")
                                : Kernel.of(FlashPrefillKernels.class, "warpBf16OutBf16");
                        try {
                            CudaModule.Resources w = cuda.resources(kernel, flash.warpLaunchOf(seqs), flash.warpArgs(q, k, v, o, pos, seq, table, bps, null, blocks));
                            regs[f] = w.registers() + " regs, " + w.localBytes() + " B local, " + w.blocksPerSm() + " an SM";
                        } catch (RuntimeException e) {
                            regs[f] = "? (" + e.getMessage() + ")";
                        }
                    }
                }
            }
            flash.setWarpOneBuffer(false, 0, false);
            flash.setWarpHalfRing(false);
            for (BFloat16Array o : outs) cuda.toHost(o);
            double floorMs = 2.0 * ownKeys * kvHeads * D * 2 / 4.25e12 * 1e3;
            StringBuilder line = new StringBuilder(String.format("onebuffer: %3d seqs x %4d keys (%3d shared, %d row tiles), %2d/%2d heads x %3d, own-KV floor %.4f ms:",
                    seqs, ctx, shared, rowTiles, heads, kvHeads, D, floorMs));
            for (int f = 0; f < forms.length; f++) {
                int diff = 0;
                for (int i = 0; i < o0.length(); i++) if (outs[f].getBits(i) != o0.getBits(i)) diff++;
                line.append(String.format(" | %s %.4f ms (%.0f%%)", names[f], sum[f], 100 * floorMs / sum[f]));
                if (f > 0) line.append(String.format(" = %.3fx %s", sum[0] / sum[f], diff == 0 ? "=bits" : "DIFFERS in " + diff));
            }
            System.out.println(line + "; each:" + each);
            StringBuilder res = new StringBuilder("   resources:");
            for (int f = 0; f < forms.length; f++) res.append(" ").append(names[f]).append(" ").append(regs[f]).append(f + 1 < forms.length ? " |" : "");
            System.out.println(res);
        } finally {
            for (BFloat16Array o : outs) o.close();
        }
    }

    /**
     * seqs decodes at position ctx - 1 (own blocks) through 64-row tiles and the split form at 2, 3 and 4 stages: ms a layer (graph
     * replay, the K/V L2-resident after the first launch of a replay: {@link FlashPrefillBench#time}) and whether each output has the
     * 64-row bits.
     */
    private static void split(CudaBackend cuda, int heads, int kvHeads, int D, int seqs, int ctx) {
        int bps = (ctx + BS - 1) / BS, blocks = seqs * bps, n = blocks * kvHeads * BS * D;
        int[] stages = {2, 3, 4};
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(seqs * heads * D); FloatArray outTall = new FloatArray(seqs * heads * D);
             FloatArray out = new FloatArray(seqs * heads * D);
             IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray table = new IntArray(seqs * bps);
             FlashPrefillAttention tall = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             FlashPrefillAttention split = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs)) {
            int[] queryStart = new int[seqs + 1], positions = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                pos.set(s, ctx - 1);
                positions[s] = ctx - 1;
                seq.set(s, s);
                queryStart[s + 1] = s + 1;
                for (int b = 0; b < bps; b++) table.set(s * bps + b, s * bps + b);
            }
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), k, n, 1);
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), v, n, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            cuda.allocateOnDevice(out);
            cuda.allocateOnDevice(outTall);
            tall.setMinWarpWalks(Integer.MAX_VALUE);
            tall.setSplitDecode(false, 3);
            split.setMinWarpWalks(Integer.MAX_VALUE);
            tall.toDevice(cuda);
            split.toDevice(cuda);
            tall.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            double tallMs = FlashPrefillBench.time(cuda, () -> tall.launch(cuda, q, k, v, outTall, pos, seq, table, bps, null, seqs));
            cuda.toHost(outTall);
            StringBuilder line = new StringBuilder(String.format("decode %3d seqs x %4d keys, %2d/%2d heads x %3d: 64-row %8.4f ms |", seqs, ctx,
                    heads, kvHeads, D, tallMs));
            for (int st : stages) {
                split.setSplitDecode(true, st);
                split.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
                if (!split.splitShort()) throw new IllegalStateException("the split form not planned");
                double ms = FlashPrefillBench.time(cuda, () -> split.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs));
                cuda.toHost(out);
                int diff = 0;
                for (int i = 0; i < out.length(); i++) if (Float.floatToRawIntBits(out.get(i)) != Float.floatToRawIntBits(outTall.get(i))) diff++;
                line.append(String.format(" split/%d %8.4f ms (%.2fx)%s", st, ms, tallMs / ms, diff == 0 ? " =bits" : " DIFFERS in " + diff));
            }
            double bytes = 2.0 * blocks * kvHeads * BS * D * 2;
            System.out.println(line + String.format("  [%.1f MB K/V]", bytes / 1e6));
        }
    }

    /** Only the handoff in one-warp tiles (Llama-2-7B attention, bf16 KV), launched eagerly {@code repeats} times: for ncu. */
    private static void handoffOnly(CudaBackend cuda, int seqs, int ctx, int shared, int repeats) {
        int heads = 32, kvHeads = 32, bps = (ctx + BS - 1) / BS, sharedBlocks = shared / BS, own = bps - sharedBlocks;
        int blocks = sharedBlocks + seqs * own, n = blocks * kvHeads * BS * D;
        try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
             FloatArray q = new FloatArray(seqs * heads * D); FloatArray out = new FloatArray(seqs * heads * D);
             IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray table = new IntArray(seqs * bps);
             FlashPrefillAttention flash = new FlashPrefillAttention(heads, kvHeads, D, BS, seqs, seqs);
             FloatArray state = FloatArray.deviceOnly(seqs * heads * FlashPrefillKernels.stateStride(D))) {
            int[] queryStart = new int[seqs + 1], positions = new int[seqs], seqOf = new int[seqs], keys = new int[seqs], group = new int[seqs];
            for (int s = 0; s < seqs; s++) {
                pos.set(s, ctx - 1);
                positions[s] = ctx - 1;
                seq.set(s, s);
                queryStart[s + 1] = s + 1;
                seqOf[s] = s;
                keys[s] = shared;
                group[s] = s;
                for (int b = 0; b < bps; b++) table.set(s * bps + b, b < sharedBlocks ? b : sharedBlocks + s * own + (b - sharedBlocks));
            }
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), k, n, 1);
            cuda.launch(Kernel.of(AttentionBench.class, "fillBf16"), Launch.cover(n, 256), v, n, 2);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 3);
            cuda.toDevice(pos, seq, table);
            cuda.allocateOnDevice(out);
            flash.setMinWarpWalks(0);
            flash.toDevice(cuda);
            cuda.allocateOnDevice(state);
            flash.useHandoffState(state);
            flash.planBelow(cuda, queryStart, positions, seqs, Integer.MAX_VALUE);
            int rowTiles = flash.planHandoff(cuda, seqOf, keys, group, new int[] {0, seqs}, 1, seqs);
            for (int i = 0; i < repeats; i++) {
                flash.launchShared(cuda, q, k, v, pos, table, bps, null, seqs);
                flash.launch(cuda, q, k, v, out, pos, seq, table, bps, null, seqs);
            }
            cuda.synchronize();
            System.out.printf("handoff %d seqs x %d keys (%d shared): %d row tiles, %d launches of each pass%n", seqs, ctx, shared, rowTiles, repeats);
        }
    }
}
