package dev.arbor.kernels.bench;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Kernel;
import dev.arbor.accel.KernelContext;
import dev.arbor.accel.Launch;
import dev.arbor.accel.Recording;
import dev.arbor.accel.array.BFloat16Array;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.HalfFloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.array.OffHeapArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.GraphTiming;
import dev.arbor.kernels.attention.CascadeAttention;
import dev.arbor.kernels.attention.CascadeMmaKernels;
import dev.arbor.kernels.attention.PagedAttention;
import dev.arbor.kernels.gemm.Gemm;
import dev.arbor.kernels.layer.FusedOps;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * GPU benchmark of paged and cascade attention (issue 11; for bench/RESULTS.md), bf16 KV store, block
 * size 16, beside the copy floor measured in the same run (cuMemcpyDtoD of 1 GiB, read + write bytes):
 * <ul>
 * <li>decode, Llama-2-7B attention (32 heads × 128), batch 1/32/128, context 512..32k (batch × context ≤ 256k
 *     tokens: one layer's store stays under 2^31 elements): GB/s of KV read and % of the copy rate;</li>
 * <li>shared prefix: 107 sequences sharing 530 tokens (33 full blocks) with 20..50 own, and 500 sharing 752
 *     (47 blocks), one decode query each: time per step cascade vs paged vs the floor (shared KV read once +
 *     unique KV, at the copy rate); also Baichuan2-13B's 40 ALiBi heads for the first;</li>
 * <li>prefill, one sequence of 512..8k tokens, causal (CUDA-core kernel): TFLOP/s (4·D FLOPs per visible
 *     (query, key) pair per head).</li>
 * </ul>
 * The store is filled on the device; launches are captured in a CUDA graph and replayed (time per step =
 * replay / steps, median of 7), rotating over disjoint block ranges so more than 256 MiB is touched per
 * replay and the 50 MB L2 cannot serve small cases.
 * Run: java --enable-native-access=ALL-UNNAMED -cp ... dev.arbor.kernels.bench.AttentionBench [--prefill]
 * (-Dattn.cascadeOnly=true: the shared-prefix rows only; -Dattn.chainOnly=true: the decode attention in the layer chain, its
 * launch overlapping the kernel before or plain, nothing else)
 */
public final class AttentionBench {
    private static final int TRIALS = 7, BS = 16, D = 128;
    private static final long STORE_TOKENS = 262_144 + 4096;
    /** -Dattn.cascadeOnly=true: the shared-prefix (cascade) rows only, every decode row skipped (a short device call). */
    private static final boolean CASCADE_ONLY = Boolean.getBoolean("attn.cascadeOnly");
    /**
     * -Dattn.profileOnly=true (for ncu: bench/RESULTS.md "Run 35-attn7"): with cascadeOnly, each shared-prefix row launches one
     * cascade step eagerly (the shared level, then the warp suffix) and one more with the warp suffix in the split kernel's layout (suffixReplay), and
     * nothing else (no graphs, no paged, no sweep); without it, one eager decode step at batch 1 × 4096 keys and nothing else.
     */
    private static final boolean PROFILE_ONLY = Boolean.getBoolean("attn.profileOnly");
    /**
     * -Dattn.chainOnly=true: the layer-chain rows only ({@link #chain}: the decode attention between the engine's kernels, its
     * launch overlapped or plain), nothing else.
     */
    private static final boolean CHAIN_ONLY = Boolean.getBoolean("attn.chainOnly");
    /**
     * -Dattn.gqaOnly=true: the copy rate and the Llama-3.2-1B (GQA 4, headDim 64) decode rows in every form only; with profileOnly, one
     * eager step each for ncu (128 × 512, 32 × 512, 1 × 4096; the launcher's form and launch bounds of 5 work-groups an SM).
     */
    private static final boolean GQA_ONLY = Boolean.getBoolean("attn.gqaOnly");
    /** -Dattn.gqaForms=N: the first N of the GQA-4 forms only (3: the launcher's rule, split and whole mode; a short device call). */
    private static final int GQA_FORMS = Integer.getInteger("attn.gqaForms", Integer.MAX_VALUE);
    /** The next decode rows: a form of the launcher ({@code minBlocks} ≥ 0: {@link PagedAttention#decodeMinBlocks}; split: null = its rule). */
    private static int minBlocks = -1;
    private static Boolean forceSplit;
    /**
     * -Dattn.decodeTable=true: the copy rate and issue 11's decode table only (32 × 128, bf16, batch 1/32/128 × 512..32k, the
     * launcher's default form); with -Dattn.variants=true also the forms of run 61-dec15: small splits of 128 and 64 keys at every
     * position ({@link PagedAttention#smallSplit}), the launch not overlapping the kernel before, 8 warps.
     */
    private static final boolean DECODE_TABLE = Boolean.getBoolean("attn.decodeTable");
    private static final boolean VARIANTS = Boolean.getBoolean("attn.variants");
    /**
     * -Dattn.pipeForms=FORM,... (e.g. {@code off,on,all,onF16}): with the decode table, each row measured in each of these forms,
     * interleaved in the same JVM, instead of the launcher's default (run 80-dec21): {@code off} the plain rounds
     * ({@link PagedAttention#pipelineRounds} 0), {@code on} its rule ({@link PagedAttention#PIPE_WAVE} work-groups an SM), {@code all}
     * pipelined at every size; suffixes (in this order): {@code S} skewed rounds, {@code P} paired row offsets, a digit the pipelined
     * form's launch bounds (run 85-dec22, {@link PagedAttention#pipelineForm}), {@code F16} the fused merge loading 16 slots a round trip
     * ({@link PagedAttention#fuseMerge}); e.g. {@code on,onP,on5,onP5F16}. With -Dattn.profileOnly=true: one eager b1 × 4,096
     * step in each form (for ncu).
     */
    private static final String PIPE_FORMS = System.getProperty("attn.pipeForms", "");
    /** The next decode rows' pipelined rounds (-1: the launcher's default) and fused merge depth (0: the default). */
    private static int pipe = -1, fusedAhead;
    /**
     * The next decode rows' pipelined form (with pipe ≥ 0; run 85-dec22): {@code S} skewed rounds, {@code P} paired row offsets, a digit
     * the launch bounds (work-groups an SM), e.g. {@code onSP5}; see {@link PagedAttention#pipelineForm}.
     */
    private static boolean pipeSkew, pipePaired;
    private static int pipeBlocks = PagedAttention.PIPE_BLOCKS;
    /** The next decode rows: small splits (keys, below this position; 0: the launcher's default) and a plain launch. */
    private static int smallSplit, smallBelow;
    private static boolean plainLaunch;

    /** a[i] = a uniform value in [-1, 1) from a hash of (i, seed), bf16. */
    public static void fillBf16(KernelContext ctx, BFloat16Array a, int n, int seed) {
        int i = ctx.globalIdx;
        if (i < n) a.set(i, hash(i, seed));
    }

    public static void fillF16(KernelContext ctx, HalfFloatArray a, int n, int seed) {
        int i = ctx.globalIdx;
        if (i < n) a.set(i, hash(i, seed));
    }

    public static void fillF32(KernelContext ctx, FloatArray a, int n, int seed) {
        int i = ctx.globalIdx;
        if (i < n) a.set(i, hash(i, seed));
    }

    static float hash(int i, int seed) {
        int h = i * 0x9E3779B1 + seed * 0x85EBCA77;
        h ^= h >>> 15;
        h *= 0x2C1B3C6D;
        h ^= h >>> 12;
        return (h & 0xFFFFFF) * (2f / 16777216f) - 1f;
    }

    public static void main(String[] args) {
        boolean prefill = args.length > 0 && args[0].equals("--prefill");
        try (CudaBackend cuda = CudaBackend.open(0)) {
            System.out.println("device: " + cuda.device());
            double copy = copyBandwidth(cuda, 1L << 30);
            System.out.printf("%-52s %8.1f GB/s%n", "cuMemcpyDtoD 1 GiB (read+write)", copy / 1e9);
            int maxHeads = 40;
            int blocks = (int) (STORE_TOKENS / BS);
            int n = blocks * 32 * BS * D;   // sized for 32 heads; 40-head cases use fewer tokens
            try (BFloat16Array k = new BFloat16Array(n); BFloat16Array v = new BFloat16Array(n);
                 FloatArray q = new FloatArray(512 * maxHeads * D); FloatArray out = new FloatArray(8192 * maxHeads * D)) {
                Kernel fb = Kernel.of(AttentionBench.class, "fillBf16"), ff = Kernel.of(AttentionBench.class, "fillF32");
                cuda.launch(fb, Launch.cover(n, 256), k, n, 1);
                cuda.launch(fb, Launch.cover(n, 256), v, n, 2);
                cuda.launch(ff, Launch.cover(q.length(), 256), q, q.length(), 3);
                cuda.toDevice(out);
                cuda.synchronize();
                if (DECODE_TABLE) {
                    decodeTable(cuda, k, v, q, out, copy);
                    return;
                }
                if (CHAIN_ONLY) {
                    chainRows(cuda, k, v);
                    return;
                }
                if (GQA_ONLY) {
                    gqaForms(cuda, k, v, q, out, copy);
                    return;
                }
                if (PROFILE_ONLY && !CASCADE_ONLY) {   // for ncu: one eager decode step at batch 1 x 4096 keys, nothing else
                    decode(cuda, k, v, q, out, 1, 4096, copy, 0, 0, 0, 0, "bf16");
                    return;
                }
                System.out.println("\n-- decode, 32 heads x 128, bf16 KV, block 16 (paged: launcher's mode choice, DecodeKernels)");
                for (int batch : new int[] {1, 32, 128}) {
                    for (int ctx : new int[] {512, 1024, 2048, 4096, 8192, 16384, 32768}) {
                        if ((long) batch * ctx > 262_144) continue;
                        try {
                            decode(cuda, k, v, q, out, batch, ctx, copy, 0, 0, 0, 0, "bf16");
                        } catch (RuntimeException e) {
                            System.out.println("decode batch " + batch + " ctx " + ctx + " failed: " + e);
                        }
                    }
                }
                System.out.println("\n-- decode, Llama-3.2-1B attention (32 heads / 8 kv heads x 64), bf16 KV, block 16 (KV read: the floor)");
                for (int[] bc : new int[][] {{128, 512}, {128, 1024}, {32, 512}, {1, 4096}}) {
                    try { decode(cuda, k, v, q, out, bc[0], bc[1], copy, 0, 0, 0, 0, "gqa4 d64", 32, 8, 64); } catch (RuntimeException e) { System.out.println("gqa4 d64 failed: " + e); }
                    try { decode(cuda, k, v, q, out, bc[0], bc[1], copy, 0, 0, -1, 0, "gqa4 noLB", 32, 8, 64); } catch (RuntimeException e) { System.out.println("gqa4 d64 failed: " + e); }
                }
                System.out.println("\n-- decode, merge depth (partial slots loaded per round trip; 1 = the loop before run 22), bf16");
                for (int[] bc : new int[][] {{1, 8192}, {1, 32768}}) {
                    for (int a : new int[] {1, 16, 32, -32}) {   // -32: depth 32, the merge launched after the split kernel (no PDL)
                        try { decode(cuda, k, v, q, out, bc[0], bc[1], copy, 0, a, 0, -1, a > 0 ? "bf16 M=" + a : "M32noPDL"); } catch (RuntimeException e) { System.out.println("M=" + a + " failed: " + e); }
                    }
                }
                System.out.println("\n-- decode, the merge fused into the split kernel's last-arriving work-group (F=depth) vs a separate launch (S), bf16");
                for (int[] bc : new int[][] {{1, 2048}, {1, 4096}, {1, 8192}, {1, 16384}, {1, 32768}, {32, 1024}, {32, 4096}}) {
                    for (int f : new int[] {-1, 8, 16, 32}) {
                        try { decode(cuda, k, v, q, out, bc[0], bc[1], copy, 0, 0, 0, f, f < 0 ? "S M=32" : "F=" + f); } catch (RuntimeException e) { System.out.println("F=" + f + " failed: " + e); }
                    }
                }
                // the paged kernel's overlapped launch (PDL) is measured in the layer chain (-Dattn.chainOnly=true, chainRows), where
                // the engine launches it: timed after itself (run 46's rows) the kernel before lets the next grid in after its index
                // chain, two attention grids share the multiprocessors, and the overlap looked slower at b1 x 4096 (run 48-b1-10)
                System.out.println("\n-- decode, warps per work-group of DecodeKernels (the launcher's choice: 4), bf16");
                for (int[] bc : new int[][] {{1, 2048}, {1, 4096}, {1, 8192}, {1, 16384}, {1, 32768}, {32, 1024}, {32, 4096}, {128, 2048}}) {
                    for (int w : new int[] {4, 8}) {
                        try { decode(cuda, k, v, q, out, bc[0], bc[1], copy, 0, 0, w, 0, "bf16 W=" + w); } catch (RuntimeException e) { System.out.println("W=" + w + " failed: " + e); }
                    }
                }
                System.out.println("\n-- shared prefix, one decode query per sequence");
                try { shared(cuda, k, v, q, out, 107, 530, 32, false, copy); } catch (RuntimeException e) { System.out.println("shared prefix failed: " + e); }
                try { shared(cuda, k, v, q, out, 500, 752, 32, false, copy); } catch (RuntimeException e) { System.out.println("shared prefix failed: " + e); }
                try { shared(cuda, k, v, q, out, 107, 530, 40, true, copy); } catch (RuntimeException e) { System.out.println("shared prefix failed: " + e); }
                // own keys across a split boundary (240 shared, 20..50 own: two own splits for most)
                try { shared(cuda, k, v, q, out, 107, 240, 32, false, copy); } catch (RuntimeException e) { System.out.println("shared prefix failed: " + e); }
                System.out.println("\n-- cascade threshold: sequences x shared prefix (own 20..50), 32 heads");
                for (int seqs : PROFILE_ONLY ? new int[0] : new int[] {2, 4, 8, 16, 32}) {
                    for (int prefix : new int[] {128, 256, 512}) {
                        try { shared(cuda, k, v, q, out, seqs, prefix, 32, false, copy); } catch (RuntimeException e) { System.out.println("sweep failed: " + e); }
                    }
                }
                if (prefill) {
                    System.out.println("\n-- prefill, one sequence, causal, 32 heads x 128 (CUDA cores, whole mode)");
                    for (int tokens : new int[] {512, 2048}) {
                        try { prefill(cuda, k, v, out, tokens); } catch (RuntimeException e) { System.out.println("prefill " + tokens + " failed: " + e); }
                    }
                }
            }
            // fp16 store: the same kernel with fp16 widening (half the store: the longest rows only)
            int nh = n / 2;
            try (HalfFloatArray k = new HalfFloatArray(nh); HalfFloatArray v = new HalfFloatArray(nh);
                 FloatArray q = new FloatArray(512 * maxHeads * D); FloatArray out = new FloatArray(512 * maxHeads * D)) {
                Kernel fh = Kernel.of(AttentionBench.class, "fillF16");
                cuda.launch(fh, Launch.cover(nh, 256), k, nh, 5);
                cuda.launch(fh, Launch.cover(nh, 256), v, nh, 6);
                cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 7);
                cuda.toDevice(out);
                cuda.synchronize();
                System.out.println("\n-- decode, 32 heads x 128, fp16 KV, block 16");
                for (int[] bc : new int[][] {{1, 4096}, {1, 8192}, {1, 32768}, {32, 4096}, {128, 1024}}) {
                    try { decode(cuda, k, v, q, out, bc[0], bc[1], copy, 0, 0, 0, 0, "fp16"); } catch (RuntimeException e) { System.out.println("fp16 failed: " + e); }
                }
            }
        }
    }

    /**
     * Llama-3.2-1B's decode attention (32 heads / 8 kv heads × 64, GQA 4) in each form of DecodeKernels: U keys a lane, W warps, launch
     * bounds LB (work-groups an SM; "4d": the default 4), split / whole mode forced (else the launcher's rule,
     * {@link dev.arbor.kernels.attention.DecodeKernels#splitBelowGroups}), the merge fused or launched apart. Under profileOnly: one
     * eager step of the default and of LB 5 a shape.
     */
    private static void gqaForms(CudaBackend cuda, OffHeapArray k, OffHeapArray v, FloatArray q, FloatArray out, double copy) {
        int[][] shapes = {{128, 512}, {32, 512}, {1, 4096}, {128, 1024}};
        if (PROFILE_ONLY) {
            for (int i = 0; i < 3; i++) {
                for (int lb : new int[] {-1, 5}) {
                    minBlocks = lb;
                    decode(cuda, k, v, q, out, shapes[i][0], shapes[i][1], copy, 0, 0, 0, 0, lb < 0 ? "gqa4 def" : "gqa4 LB" + lb, 32, 8, 64);
                }
            }
            minBlocks = -1;
            return;
        }
        System.out.println("\n-- decode, Llama-3.2-1B attention (32 heads / 8 kv heads x 64, GQA 4), bf16 KV, block 16: DecodeKernels' forms");
        // {U (0: default 4), W (0: default 4), LB (-1: default 4), split (0 rule, 1 split, 2 whole), fuse (0 default, -1 apart)}
        int[][] forms = {{0, 0, -1, 0, 0}, {0, 0, -1, 1, 0}, {0, 0, -1, 2, 0}, {0, 0, -1, 1, -1}, {0, 0, 5, 1, 0}, {0, 0, 5, 2, 0}, {0, 0, 6, 1, 0},
                {2, 0, -1, 1, 0}, {2, 0, 6, 1, 0}, {2, 0, 8, 1, 0}, {8, 0, 3, 1, 0}, {0, 8, 2, 1, 0}};
        for (int[] bc : shapes) {
            for (int[] f : Arrays.copyOf(forms, Math.min(forms.length, GQA_FORMS))) {
                if (bc[0] == 1 && f[3] == 2) continue;   // whole mode at batch 1: one work-group a kv head
                minBlocks = f[2];
                forceSplit = f[3] == 0 ? null : f[3] == 1;
                String what = "gqa4 U" + (f[0] == 0 ? 4 : f[0]) + " W" + (f[1] == 0 ? 4 : f[1]) + " LB" + (f[2] < 0 ? "4d" : "" + f[2])
                        + (f[3] == 2 ? " whole" : f[3] == 1 ? " split" : "") + (f[4] < 0 ? " sepMerge" : "");
                try {
                    decode(cuda, k, v, q, out, bc[0], bc[1], copy, f[0], 0, f[1], f[4], what, 32, 8, 64);
                } catch (RuntimeException e) {
                    System.out.println(what + " failed: " + e);
                }
            }
        }
        minBlocks = -1;
        forceSplit = null;
    }

    private static void decodeTable(CudaBackend cuda, OffHeapArray k, OffHeapArray v, FloatArray q, FloatArray out, double copy) {
        int[] ctxs = {512, 1024, 2048, 4096, 8192, 16384, 32768};
        System.out.println("\n-- decode, 32 heads x 128, bf16 KV, block 16 (issue 11's table: the launcher's default form)");
        for (int batch : new int[] {1, 32, 128}) {
            for (int c : ctxs) {
                if ((long) batch * c > 262_144) continue;
                if (PROFILE_ONLY && (batch != 1 || c != 4096)) continue;   // for ncu: b1 x 4,096 only, one eager step a form
                for (String form : PIPE_FORMS.isEmpty() ? new String[0] : PIPE_FORMS.split(",")) {
                    java.util.regex.Matcher fm = java.util.regex.Pattern.compile("(on|off|all)(S?)(P?)([1-8]?)(F16)?").matcher(form);
                    if (!fm.matches()) throw new IllegalArgumentException("attn.pipeForms: " + form);
                    pipe = switch (fm.group(1)) {
                        case "off" -> 0;
                        case "on" -> PagedAttention.PIPE_WAVE;
                        default -> Integer.MAX_VALUE;
                    };
                    pipeSkew = !fm.group(2).isEmpty();
                    pipePaired = !fm.group(3).isEmpty();
                    pipeBlocks = fm.group(4).isEmpty() ? PagedAttention.PIPE_BLOCKS : Integer.parseInt(fm.group(4));
                    fusedAhead = fm.group(5) != null ? 16 : 0;
                    try { decode(cuda, k, v, q, out, batch, c, copy, 0, 0, 0, 0, "p" + form); } catch (RuntimeException e) { System.out.println(form + " failed: " + e); }
                    pipe = -1;
                    fusedAhead = 0;
                    pipeSkew = pipePaired = false;
                    pipeBlocks = PagedAttention.PIPE_BLOCKS;
                }
                if (!PIPE_FORMS.isEmpty()) continue;
                try { decode(cuda, k, v, q, out, batch, c, copy, 0, 0, 0, 0, "bf16"); } catch (RuntimeException e) { System.out.println("decode failed: " + e); }
            }
        }
        if (!VARIANTS) return;
        // {small split keys, plain launch (1), warps}
        int[][] forms = {{128, 0, 0}, {64, 0, 0}, {0, 1, 0}, {0, 0, 8}};
        for (int[] f : forms) {
            String what = f[0] > 0 ? "S=" + f[0] : f[1] > 0 ? "plain" : "W=" + f[2];
            if (f[0] > 0 && f[1] > 0) what = "S=" + f[0] + "pl";
            if (f[0] > 0 && f[2] > 0) what = "S=" + f[0] + "W" + f[2];
            System.out.println("\n-- decode, form " + what + " (S: small splits at every position; plain: no overlap with the kernel before; W: warps)");
            smallSplit = f[0];
            smallBelow = f[0] > 0 ? Integer.MAX_VALUE : 0;
            plainLaunch = f[1] > 0;
            for (int batch : f[1] > 0 || f[2] > 0 ? new int[] {1} : new int[] {1, 32, 128}) {
                for (int c : ctxs) {
                    if ((long) batch * c > 262_144 || batch > 1 && c > 8192) continue;
                    try { decode(cuda, k, v, q, out, batch, c, copy, 0, 0, f[2], 0, what); } catch (RuntimeException e) { System.out.println(what + " failed: " + e); }
                }
            }
        }
        smallSplit = smallBelow = 0;
        plainLaunch = false;
    }

    private static void decode(CudaBackend cuda, OffHeapArray k, OffHeapArray v, FloatArray q, FloatArray out, int batch, int ctx, double copy,
                               int keysPerLane, int mergeAhead, int warps, int fuse, String what) {
        decode(cuda, k, v, q, out, batch, ctx, copy, keysPerLane, mergeAhead, warps, fuse, what, 32, 32, D);
    }

    private static void decode(CudaBackend cuda, OffHeapArray k, OffHeapArray v, FloatArray q, FloatArray out, int batch, int ctx, double copy,
                               int keysPerLane, int mergeAhead, int warps, int fuse, String what, int heads, int kvHeads, int D) {
        if (CASCADE_ONLY) return;
        int bps = ctx / BS;
        long kvBytes = 2L * batch * ctx * kvHeads * D * 2;
        long storeTokens = k.length() / (kvHeads * D);
        int rotations = (int) Math.max(1, Math.min((storeTokens - 1) / ((long) batch * ctx), ((256L << 20) + kvBytes - 1) / kvBytes));
        List<IntArray> tables = new ArrayList<>();
        try (IntArray pos = new IntArray(batch); IntArray seq = new IntArray(batch);
             PagedAttention attn = smallSplit > 0 ? new PagedAttention(heads, kvHeads, D, BS, ctx, batch, smallSplit, smallBelow)
                     : new PagedAttention(heads, kvHeads, D, BS, ctx, batch)) {
            if (plainLaunch) attn.overlapPrevious(false);
            for (int i = 0; i < batch; i++) {
                pos.set(i, ctx - 1);
                seq.set(i, i);
            }
            if (keysPerLane > 0) attn.keysPerLane(keysPerLane);
            if (mergeAhead != 0) attn.mergeAhead(Math.abs(mergeAhead)).overlapMerge(mergeAhead > 0);
            if (warps > 0) attn.decodeWarps(warps);
            if (warps < 0) attn.decodeMinBlocks(0);   // no launch bounds (ptxas's own registers; before run 30)
            if (minBlocks >= 0) attn.decodeMinBlocks(minBlocks);
            if (pipe >= 0) attn.pipelineRounds(pipe).pipelineForm(pipeSkew, pipePaired, pipeBlocks);
            if (fusedAhead > 0) attn.fuseMerge(PagedAttention.FUSE_MAX_SPLITS, fusedAhead);
            if (fuse < 0) attn.fuseMerge(0, 8);                      // the separate merge launch
            else if (fuse > 0) attn.fuseMerge(Integer.MAX_VALUE, fuse);   // fused at every size, this depth
            for (int r = 0; r < rotations; r++) {
                IntArray t = new IntArray(batch * bps);
                for (int i = 0; i < batch * bps; i++) t.set(i, r * batch * bps + i);
                tables.add(t);
            }
            cuda.toDevice(pos, seq);
            for (IntArray t : tables) cuda.toDevice(t);
            FloatArray qq = batch * heads * D <= q.length() ? q : null;
            if (qq == null) throw new IllegalStateException("q too small");
            Boolean split = forceSplit;
            Step step = split == null ? i -> attn.launch(cuda, qq, k, v, out, pos, seq, tables.get(i % rotations), bps, null, batch, ctx)
                    : i -> attn.launch(cuda, qq, k, v, out, pos, seq, tables.get(i % rotations), bps, null, batch, ctx, split);
            if (PROFILE_ONLY) {
                step.run(0);
                cuda.synchronize();
                System.out.printf("decode %s batch %d ctx %d: one step (profile only)%n", what, batch, ctx);
                return;
            }
            int steps = rotations * Math.max(1, 20 / rotations);
            double ms = time(cuda, steps, step);
            double gbs = kvBytes / (ms / 1e3) / 1e9;
            System.out.printf("decode %-9s batch %3d ctx %5d: %8.1f us  KV %8.1f MB  %7.1f GB/s  %5.1f%% of copy rate%n",
                    what, batch, ctx, ms * 1e3, kvBytes / 1e6, gbs, 100 * gbs * 1e9 / copy);
        } finally {
            for (IntArray t : tables) t.close();
        }
    }

    private static void shared(CudaBackend cuda, BFloat16Array k, BFloat16Array v, FloatArray q, FloatArray out, int seqs, int prefix,
                               int heads, boolean alibi, double copy) {
        int sharedBlocks = prefix / BS;   // only full blocks are shared (the trie's rule)
        int[] ctx = new int[seqs];
        int maxCtx = 0, maxBlocks = 0;
        long uniqueKeys = 0;
        for (int i = 0; i < seqs; i++) {
            ctx[i] = prefix + 20 + (i * 7) % 31;
            maxCtx = Math.max(maxCtx, ctx[i]);
            maxBlocks = Math.max(maxBlocks, (ctx[i] + BS - 1) / BS);
            uniqueKeys += ctx[i] - sharedBlocks * BS;
        }
        int blockElems = heads * BS * D;
        int storeBlocks = k.length() / blockElems;
        float[] slopes = new float[heads];
        for (int h = 0; h < heads; h++) slopes[h] = (float) Math.pow(2, -8.0 * (h + 1) / heads);
        try (IntArray pos = new IntArray(seqs); IntArray seq = new IntArray(seqs); IntArray tables = new IntArray(seqs * maxBlocks);
             IntArray keyStart = new IntArray(seqs); IntArray groupTokens = new IntArray(seqs); IntArray groupStart = IntArray.of(0, seqs);
             FloatArray sl = FloatArray.of(slopes);
             PagedAttention paged = new PagedAttention(heads, heads, D, BS, maxCtx, seqs);
             CascadeAttention cascade = new CascadeAttention(heads, heads, D, BS, maxCtx, sharedBlocks * BS, seqs)) {
            int next = sharedBlocks;
            for (int i = 0; i < seqs; i++) {
                pos.set(i, ctx[i] - 1);
                seq.set(i, i);
                keyStart.set(i, sharedBlocks * BS);
                groupTokens.set(i, i);
                for (int b = 0; b < maxBlocks; b++) tables.set(i * maxBlocks + b, b < sharedBlocks ? b : b < (ctx[i] + BS - 1) / BS ? next++ : 0);
            }
            if (next > storeBlocks) throw new IllegalStateException("store too small");
            cuda.toDevice(pos, seq, tables, keyStart, groupTokens, groupStart, sl);
            FloatArray slopesOrNull = alibi ? sl : null;
            int mc = maxCtx, mb = maxBlocks;
            int ownSplits = 0;
            for (int c : ctx) ownSplits = Math.max(ownSplits, CascadeAttention.ownSplits(c - 1, sharedBlocks * BS));
            int own = ownSplits;
            Step full = i -> cascade.launch(cuda, q, k, v, out, pos, seq, tables, mb, slopesOrNull, seqs, mc, keyStart, groupTokens, groupStart,
                    1, seqs, sharedBlocks * BS, own);
            if (PROFILE_ONLY) {
                full.run(0);
                cascade.suffixReplay(true);   // the warp suffix in the split kernel's layout (run 55's default), for ncu
                full.run(0);
                cascade.suffixReplay(false).sharedInterleave(true);   // and the shared level's interleaved S mma
                full.run(0);
                cascade.sharedInterleave(false);
                cuda.synchronize();
                System.out.printf("%d seqs sharing %d, %d heads: one cascade step (profile only)%n", seqs, prefix, heads);
                return;
            }
            double pagedMs = time(cuda, 20, i -> paged.launch(cuda, q, k, v, out, pos, seq, tables, mb, slopesOrNull, seqs, mc));
            double cascadeMs = time(cuda, 20, full);
            // the suffix + merge as one warp per (token, kv head) (the default up to WARP_SUFFIX_MAX_SPLITS own splits), alone
            double warpSuffixOnly = partTime(cuda, cascade, full, false, true, false);
            // the warp suffix in the split kernel's layout (its virtual warps over each 256-key split: run 55's default), interleaved
            cascade.suffixReplay(true);
            double replayMs = time(cuda, 20, full), replaySuffixOnly = partTime(cuda, cascade, full, false, true, false);
            cascade.suffixReplay(false);
            double againMs = time(cuda, 20, full);
            // run 61-casc15: suffix first (the shared level overlapping the warp suffix, then the merge launch) and the own-range suffix's
            // U (keys a lane a round) and launch bounds (warps an SM), each a step and the suffix alone, interleaved; default again at the end
            String casc15Line;
            try {
                StringBuilder r = new StringBuilder();
                Object[][] f15 = {{true, 0, -1}, {false, 8, -1}, {false, 8, 24}, {false, 4, 24}, {true, 8, 24}, {false, 0, -1}};
                for (Object[] f : f15) {
                    cascade.suffixFirst((Boolean) f[0]).suffixKeysPerLane((Integer) f[1]).suffixMinBlocks((Integer) f[2]);
                    double st = time(cuda, 20, full), su = partTime(cuda, cascade, full, false, true, false);
                    r.append(String.format("; %s U %s bounds %s: step %.1f us, suffix alone %.1f us", (Boolean) f[0] ? "FIRST" : "last",
                            (Integer) f[1] == 0 ? "4(def)" : f[1], (Integer) f[2] < 0 ? dev.arbor.kernels.attention.CascadeSuffixKernels.minBlocksPerSm(heads, heads) + "(def)" : f[2], st * 1e3, su * 1e3));
                }
                cascade.suffixFirst(false).suffixKeysPerLane(0).suffixMinBlocks(-1);
                casc15Line = r.substring(2);
            } catch (LinkageError e) {
                casc15Line = "n/a (kernels jar without suffixFirst: " + e + ")";
            }
            // run 64-casc16: the tensor-core shared level's cp.async ring depth (CascadeAttention.sharedStages: 2 the double buffer,
            // 3 and 4 the deep kernel's ring in dynamic shared memory; the same bits), a step and the shared level alone, interleaved in the
            // order 2, 3, 4, 2, 4, 3 (each depth twice, the default first and again mid-way)
            String casc16Line;
            try {
                StringBuilder r = new StringBuilder();
                for (int st : new int[] {2, 3, 4, 2, 4, 3}) {
                    cascade.sharedStages(st);
                    double step = time(cuda, 20, full), sh = partTime(cuda, cascade, full, true, false, false);
                    r.append(String.format("; %d stages: step %.1f us, shared alone %.1f us", st, step * 1e3, sh * 1e3));
                }
                cascade.sharedStages(CascadeAttention.SHARED_STAGES);
                casc16Line = r.substring(2);
            } catch (LinkageError e) {
                casc16Line = "n/a (kernels jar without sharedStages: " + e + ")";
            }
            // the shared level's key ranges (CascadeAttention.sharedRangeKeys; the default DEFAULT_RANGE_KEYS): the 256-key splits (0,
            // runs 22-58), ranges of at least 128 and 32 keys, then the default again; step and shared level alone, interleaved. With
            // main's kernels jar (no such knob) the line says so
            String rangesLine;
            try {
                int[] minKeys = {0, 128, 32, CascadeAttention.DEFAULT_RANGE_KEYS};
                StringBuilder r = new StringBuilder();
                for (int mk : minKeys) {
                    cascade.sharedRangeKeys(mk);
                    double st = time(cuda, 20, full), sh = partTime(cuda, cascade, full, true, false, false);
                    r.append(String.format("; >= %d keys%s: step %.1f us, shared alone %.1f us", mk, mk == 0 ? " (256-key splits)" : "", st * 1e3, sh * 1e3));
                }
                cascade.sharedRangeKeys(CascadeAttention.DEFAULT_RANGE_KEYS);
                rangesLine = "default >= " + CascadeAttention.DEFAULT_RANGE_KEYS + " keys a range" + r;
            } catch (LinkageError e) {
                rangesLine = "n/a (kernels jar without key ranges: " + e + ")";
            }
            // the shared level's S = Q·Kᵀ mma n-tile-interleaved (the same bits), step and shared level alone
            cascade.sharedInterleave(true);
            double interleaveMs = time(cuda, 20, full), interleaveShared = partTime(cuda, cascade, full, true, false, false);
            cascade.sharedInterleave(false);
            cascade.overlapSuffix(false);   // the warp suffix launched after the shared level, not overlapping it
            double noOverlap = time(cuda, 20, full);
            cascade.overlapSuffix(true);
            cascade.overlapShared(false);   // the shared level launched after the kernel before it ends (not overlapping its tail)
            double sharedPlain = time(cuda, 20, full);
            cascade.overlapShared(true);
            // the tensor-core shared level's four forms (launch bounds 0 / 3 work-groups an SM, a split's keys in 1 / 2 key halves),
            // each a step and the shared level alone; the launcher picks one by the launch's size (the default columns)
            int sms = cuda.device().multiprocessors(), q1 = CascadeMmaKernels.queries(heads, heads, 1);
            long whole = (long) ((seqs + q1 - 1) / q1) * heads * PagedAttention.splits(sharedBlocks * BS);
            int defHalves = CascadeMmaKernels.keyHalves(heads, heads, whole, sms), defBounds = CascadeMmaKernels.minBlocksPerSm(1, D, defHalves, whole, sms);
            int[][] forms = {{0, 1}, {3, 1}, {0, 2}, {3, 2}};
            double[][] formUs = new double[forms.length][2];
            for (int f = 0; f < forms.length; f++) {
                cascade.sharedMinBlocks(forms[f][0]).sharedKeyHalves(forms[f][1]);
                formUs[f][0] = time(cuda, 20, full) * 1e3;
                formUs[f][1] = partTime(cuda, cascade, full, true, false, false) * 1e3;
            }
            cascade.sharedMinBlocks(-1).sharedKeyHalves(0);
            cascade.suffixSharedAhead(2);   // two shared slots a lane per load, 2·RPW a round trip (spills 88 bytes at 64 registers)
            double sharedAhead2 = time(cuda, 20, full);
            cascade.suffixSharedAhead(0);
            boolean warpUsed = own <= CascadeAttention.WARP_SUFFIX_MAX_SPLITS;
            // run 26's default: the 4-warp split kernel per own split with the merge in its last-arriving work-group
            cascade.warpSuffix(0);
            double fourWarp = time(cuda, 20, full);
            // the suffix grid over the whole context's splits (as before run 26), and the separate merge launch
            double wideGrid = time(cuda, 20, i -> cascade.launch(cuda, q, k, v, out, pos, seq, tables, mb, slopesOrNull, seqs, mc,
                    keyStart, groupTokens, groupStart, 1, seqs, sharedBlocks * BS));
            cascade.paged().fuseMerge(0, 8);
            double separate = time(cuda, 20, full);
            double suffixOnly = partTime(cuda, cascade, full, false, true, false);
            double mergeOnly = partTime(cuda, cascade, full, false, false, true);
            cascade.paged().fuseMerge(PagedAttention.FUSE_MAX_SPLITS, PagedAttention.FUSED_MERGE_AHEAD);
            // per-part breakdown: each launch alone in its own graph (reading what the full launch left in the scratch)
            double sharedOnly = partTime(cuda, cascade, full, true, false, false);
            double suffixFused = partTime(cuda, cascade, full, false, true, false);
            cascade.warpSuffix(CascadeAttention.WARP_SUFFIX_MAX_SPLITS);
            long perKey = 2L * heads * D * 2;
            double floorBytes = (double) (sharedBlocks * BS + uniqueKeys) * perKey, pagedBytes = 0;
            for (int c : ctx) pagedBytes += (double) c * perKey;
            double floorUs = floorBytes / copy * 1e6;
            System.out.printf("%3d seqs sharing %d (%d blocks), %d heads%s: paged %8.1f us  cascade %8.1f us  floor %6.1f us"
                            + "  (cascade %.2fx floor, %.1fx faster than paged; paged reads %.0f MB, cascade floor %.1f MB)%n",
                    seqs, prefix, sharedBlocks, heads, alibi ? " ALiBi" : "", pagedMs * 1e3, cascadeMs * 1e3, floorUs,
                    cascadeMs * 1e3 / floorUs, pagedMs / cascadeMs, pagedBytes / 1e6, floorBytes / 1e6);
            System.out.printf("   warp suffix in the split kernel's layout (run 55's default): step %.1f us (%.2fx the default; default again %.1f us),"
                            + " suffix + merge alone %.1f us (default %.1f us)%n", replayMs * 1e3, replayMs / cascadeMs, againMs * 1e3,
                    replaySuffixOnly * 1e3, warpSuffixOnly * 1e3);
            System.out.printf("   shared level's key ranges: %s%n", rangesLine);
            System.out.printf("   casc15 forms: %s%n", casc15Line);
            System.out.printf("   casc16 shared ring: %s%n", casc16Line);
            System.out.printf("   shared level's S mma n-tile-interleaved: step %.1f us (%.2fx the default), shared level alone %.1f us%n",
                    interleaveMs * 1e3, interleaveMs / cascadeMs, interleaveShared * 1e3);
            System.out.printf("   shared level launched plainly (not overlapping the step before): step %.1f us (%.2fx the default)%n", sharedPlain * 1e3,
                    sharedPlain / cascadeMs);
            System.out.printf("   suffix + merge as a warp per (token, kv head)%s: alone %.1f us; cascade without the overlap (no PDL) %.1f us;"
                            + " with 2 shared slots a lane per load %.1f us; run 26's default (4-warp split kernel + fused merge)"
                            + " %.1f us (%.2fx the default)%n",
                    warpUsed ? "" : " (NOT used: " + own + " own splits)", warpSuffixOnly * 1e3, noOverlap * 1e3, sharedAhead2 * 1e3,
                    fourWarp * 1e3, fourWarp / cascadeMs);
            System.out.printf("   4-warp cascade variants: suffix grid of the context's %d splits %.1f us; separate merge %.1f us. Parts alone (suffix grid %d): "
                            + "shared level %.1f us, suffix + fused merge %.1f us; suffix %.1f us, separate merge %.1f us%n",
                    PagedAttention.splits(mc), wideGrid * 1e3, separate * 1e3, own, sharedOnly * 1e3, suffixFused * 1e3, suffixOnly * 1e3,
                    mergeOnly * 1e3);
            StringBuilder other = new StringBuilder();
            for (int f = 0; f < forms.length; f++) {
                other.append(String.format("; bounds %d, %d halves: step %.1f us, shared alone %.1f us", forms[f][0], forms[f][1], formUs[f][0], formUs[f][1]));
            }
            System.out.printf("   shared level forms: default (%d whole-split work-groups: bounds %d, %d key halves): step %.1f us, shared alone %.1f us%s%n",
                    whole, defBounds, defHalves, cascadeMs * 1e3, sharedOnly * 1e3, other);
        }
    }

    private static void prefill(CudaBackend cuda, BFloat16Array k, BFloat16Array v, FloatArray out, int tokens) {
        int heads = 32, bps = tokens / BS;
        try (IntArray pos = new IntArray(tokens); IntArray seq = new IntArray(tokens); IntArray table = new IntArray(bps);
             FloatArray q = new FloatArray(tokens * heads * D); PagedAttention attn = new PagedAttention(heads, heads, D, BS, tokens, 0)) {
            for (int t = 0; t < tokens; t++) pos.set(t, t);
            for (int b = 0; b < bps; b++) table.set(b, b);
            cuda.toDevice(pos, seq, table);
            cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(q.length(), 256), q, q.length(), 4);
            double ms = time(cuda, 2, i -> attn.launch(cuda, q, k, v, out, pos, seq, table, bps, null, tokens, tokens, false));
            double flops = 4.0 * D * heads * ((double) tokens * (tokens + 1) / 2);
            System.out.printf("prefill %5d tokens: %9.2f ms  %6.2f TFLOP/s%n", tokens, ms, flops / (ms / 1e3) / 1e12);
        }
    }

    interface Step { void run(int i); }

    /**
     * The decode attention where the engine runs it: between the layer's stacked q|k|v GEMM (M = batch, launched overlapping the
     * kernel before it, its K slices left unsummed), {@code qkvRopeStore} (lets the next grid launch at its start) and the o
     * projection (overlapping the attention), each step rotating its weights (> 64 MiB of each) and block tables. Rows: the
     * attention launched overlapping {@code qkvRopeStore} (PDL) or plainly ({@link PagedAttention#overlapPrevious}), under the
     * invariant plan (the default mode's GEMMs) and the default plan ({@code --no-batch-invariance}'s); µs a layer (the chain),
     * medians of graph replays. The attention alone is the row beside it (launcher's choice, after another attention).
     */
    private static void chainRows(CudaBackend cuda, BFloat16Array k, BFloat16Array v) {
        System.out.println("\n-- decode attention in the layer chain (q|k|v GEMM -> qkvRopeStore -> attention -> o GEMM), us a layer; PDL = attention overlapping qkvRopeStore");
        // heads, kvHeads, headDim, hidden, then (batch, context) points
        int[][] shapes = {{32, 32, 128, 4096}, {32, 8, 64, 2048}};
        int[][] points = {{1, 256}, {1, 512}, {1, 1024}, {1, 2048}, {1, 4096}, {1, 8192}, {32, 512}, {32, 1024}, {128, 512}};
        Gemm gemm = new Gemm(cuda);
        for (int[] sh : shapes) {
            int heads = sh[0], kvHeads = sh[1], hd = sh[2], hidden = sh[3], nQkv = (heads + 2 * kvHeads) * hd, nO = heads * hd;
            int qkvCopies = (int) Math.max(1, (64L << 20) / (2L * nQkv * hidden) + 1), oCopies = (int) Math.max(1, (64L << 20) / (2L * nO * hidden) + 1);
            List<BFloat16Array> wq = new ArrayList<>(), wo = new ArrayList<>();
            Kernel fb = Kernel.of(GemmBench.class, "fillBf16");
            try (FloatArray x = new FloatArray(128 * hidden); FloatArray qkvOut = new FloatArray(128 * nQkv); FloatArray q = new FloatArray(128 * nO);
                 FloatArray att = new FloatArray(128 * nO); FloatArray oOut = new FloatArray(128 * hidden);
                 FloatArray cos = new FloatArray(128 * hd / 2); FloatArray sin = new FloatArray(128 * hd / 2); IntArray slots = new IntArray(128)) {
                for (int i = 0; i < qkvCopies; i++) wq.add(new BFloat16Array(nQkv * hidden));
                for (int i = 0; i < oCopies; i++) wo.add(new BFloat16Array(nO * hidden));
                for (BFloat16Array w : wq) cuda.launch(fb, Launch.cover(w.length(), 256), w, w.length(), 11, 0.05f);
                for (BFloat16Array w : wo) cuda.launch(fb, Launch.cover(w.length(), 256), w, w.length(), 12, 0.05f);
                cuda.launch(Kernel.of(AttentionBench.class, "fillF32"), Launch.cover(x.length(), 256), x, x.length(), 13);
                for (int i = 0; i < 128; i++) slots.set(i, i * BS);   // block i, offset 0: inside the store, away from no reader that matters
                for (int i = 0; i < cos.length(); i++) {
                    cos.set(i, (float) Math.cos(i * 0.01));
                    sin.set(i, (float) Math.sin(i * 0.01));
                }
                cuda.toDevice(qkvOut, q, att, oOut, cos, sin, slots);
                gemm.reserveSlabs(128, nQkv, hidden);
                gemm.reserveSlabs(128, nO, hidden);
                cuda.synchronize();
                for (int[] bc : points) {
                    int batch = bc[0], ctx = bc[1];
                    if (heads == kvHeads && batch * ctx > 65_536) continue;
                    for (boolean invariant : new boolean[] {true, false}) {
                        Gemm.Plan pq = invariant ? gemm.invariantPlan(batch, nQkv, hidden, true) : gemm.plan(batch, nQkv, hidden, true, true);
                        Gemm.Plan po = invariant ? gemm.invariantPlan(batch, nO, hidden, true) : gemm.plan(batch, nO, hidden, true, true);
                        double[] us = new double[2];
                        for (int pdl = 0; pdl < 2; pdl++) {
                            boolean overlap = pdl == 0;
                            us[pdl] = chain(cuda, gemm, pq, po, wq, wo, x, qkvOut, q, att, oOut, cos, sin, slots, k, v, heads, kvHeads, hd, hidden, batch, ctx, overlap) * 1e3;
                        }
                        System.out.printf("chain %-6s %-9s batch %3d ctx %5d: PDL %7.1f us  plain %7.1f us  (PDL - plain %+5.1f us, %+5.1f%%)%n",
                                heads == kvHeads ? "mha" : "gqa" + heads / kvHeads, invariant ? "invariant" : "default", batch, ctx, us[0], us[1],
                                us[0] - us[1], 100 * (us[0] - us[1]) / us[1]);
                        System.out.println("CSV,chain," + heads + "," + kvHeads + "," + hd + "," + (invariant ? "inv" : "def") + "," + batch + "," + ctx + "," + us[0] + "," + us[1]);
                    }
                }
            } finally {
                for (BFloat16Array w : wq) w.close();
                for (BFloat16Array w : wo) w.close();
            }
        }
    }

    /** ms a layer chain (see {@link #chainRows}), the attention overlapping qkvRopeStore when {@code overlap}. */
    private static double chain(CudaBackend cuda, Gemm gemm, Gemm.Plan pq, Gemm.Plan po, List<BFloat16Array> wq, List<BFloat16Array> wo,
                                FloatArray x, FloatArray qkvOut, FloatArray q, FloatArray att, FloatArray oOut, FloatArray cos, FloatArray sin,
                                IntArray slots, BFloat16Array k, BFloat16Array v, int heads, int kvHeads, int hd, int hidden, int batch, int ctx,
                                boolean overlap) {
        int bps = ctx / BS, nQkv = (heads + 2 * kvHeads) * hd, nO = heads * hd;
        long storeTokens = k.length() / ((long) kvHeads * hd);
        long kvBytes = 2L * batch * ctx * kvHeads * hd * 2;
        int rotations = (int) Math.max(1, Math.min((storeTokens - 1) / ((long) batch * ctx), ((256L << 20) + kvBytes - 1) / kvBytes));
        List<IntArray> tables = new ArrayList<>();
        try (IntArray pos = new IntArray(batch); IntArray seq = new IntArray(batch);
             PagedAttention attn = new PagedAttention(heads, kvHeads, hd, BS, ctx, batch)) {
            for (int i = 0; i < batch; i++) {
                pos.set(i, ctx - 1);
                seq.set(i, i);
            }
            attn.overlapPrevious(overlap);
            for (int r = 0; r < rotations; r++) {
                IntArray t = new IntArray(batch * bps);
                for (int i = 0; i < batch * bps; i++) t.set(i, r * batch * bps + i);
                tables.add(t);
            }
            cuda.toDevice(pos, seq);
            for (IntArray t : tables) cuda.toDevice(t);
            int steps = Math.max(rotations, Math.max(wq.size(), wo.size())) * 4;
            gemm.overlapPrevious(true);
            try {
                Step layer = i -> {
                    Gemm.Partial p = gemm.matmulPartial(x, batch, wq.get(i % wq.size()), nQkv, hidden, qkvOut, pq);
                    FusedOps.qkvRopeStore(cuda, p.sums(), p.slices(), q, k, v, cos, sin, slots, batch, heads, kvHeads, hd, BS, true);
                    attn.launch(cuda, q, k, v, att, pos, seq, tables.get(i % rotations), bps, null, batch, ctx);
                    gemm.matmulPartial(att, batch, wo.get(i % wo.size()), nO, hidden, oOut, po);
                };
                // every weight copy once before the capture: the TMA tiles make each matrix's tensor map then (a capture cannot)
                for (int i = 0; i < Math.max(wq.size(), wo.size()); i++) layer.run(i);
                return time(cuda, steps, layer);
            } finally {
                gemm.overlapPrevious(false);
            }
        } finally {
            for (IntArray t : tables) t.close();
        }
    }

    private static double partTime(CudaBackend cuda, CascadeAttention cascade, Step full, boolean shared, boolean suffix, boolean merge) {
        full.run(0);
        cuda.synchronize();
        cascade.partsForBench(shared, suffix, merge);
        try {
            return time(cuda, 20, full);
        } finally {
            cascade.partsForBench(true, true, true);
        }
    }

    /** Median milliseconds per step of a graph of {@code steps} steps. */
    private static double time(CudaBackend cuda, int steps, Step step) {
        step.run(0);   // compiles the kernels and puts every array, the launchers' scratch included, on the device
        cuda.synchronize();
        try (AccelStream stream = cuda.newStream();
             Recording g = cuda.record(stream, () -> { for (int i = 0; i < steps; i++) step.run(i); })) {
            return GraphTiming.medianReplayMillis(cuda, stream, g, 2, TRIALS) / steps;
        }
    }

    private static double copyBandwidth(CudaBackend cuda, long bytes) {
        return dev.arbor.accel.cuda.CopyBandwidth.measure(cuda.device(), bytes, TRIALS);
    }
}
