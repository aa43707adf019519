package dev.arbor.accel.compiler;

import java.util.HashMap;
import java.util.Map;

/**
 * Instruction selection: a table from IR op to PTX template ($0 is the destination, $1.. the sources).
 * Multi-instruction templates use a PTX scope ({@code { .reg ...; }}) for temporaries. An op with no
 * rule is a compiler bug and fails loudly, naming the op.
 *
 * <p>Float arithmetic is round-to-nearest ({@code .rn}) so results equal the JVM's; fused multiply-add
 * appears only for {@code Math.fma}. Integer ops wrap like Java's; shift counts are masked by the
 * translator as Java does.
 */
final class PtxRules {
    private static final Map<String, String> RULES = new HashMap<>();

    private PtxRules() {}

    static String template(String op) {
        String t = RULES.get(op);
        if (t == null) throw new IllegalStateException("no PTX rule for IR op '" + op + "'");
        return t;
    }

    private static void rule(String op, String template) {
        if (RULES.put(op, template) != null) throw new IllegalStateException("duplicate rule " + op);
    }

    static {
        // integer arithmetic, both widths
        for (String t : new String[]{"s32", "s64"}) {
            String b = t.equals("s32") ? "b32" : "b64";
            rule("add." + t, "add." + t + " $0, $1, $2;");
            rule("sub." + t, "sub." + t + " $0, $1, $2;");
            rule("mul." + t, "mul.lo." + t + " $0, $1, $2;");
            rule("div." + t, "div." + t + " $0, $1, $2;");
            rule("rem." + t, "rem." + t + " $0, $1, $2;");
            rule("neg." + t, "neg." + t + " $0, $1;");
            rule("and." + t, "and." + b + " $0, $1, $2;");
            rule("or." + t, "or." + b + " $0, $1, $2;");
            rule("xor." + t, "xor." + b + " $0, $1, $2;");
            rule("shl." + t, "shl." + b + " $0, $1, $2;");
            rule("shr." + t, "shr." + t + " $0, $1, $2;");
            rule("ushr." + t, "shr.u" + t.substring(1) + " $0, $1, $2;");
            rule("min." + t, "min." + t + " $0, $1, $2;");
            rule("max." + t, "max." + t + " $0, $1, $2;");
            rule("abs." + t, "abs." + t + " $0, $1;");
            rule("mov." + t, "mov." + b + " $0, $1;");
            rule("selp." + t, "selp." + b + " $0, $1, $2, $3;");
            rule("popc." + t, "popc." + b + " $0, $1;");
            rule("clz." + t, "clz." + b + " $0, $1;");
        }
        // signed division / remainder by a positive constant: shifts or a multiply-high (DivisionByConstant)
        DivisionByConstant.rules(PtxRules::rule);
        // float arithmetic, both widths
        for (String t : new String[]{"f32", "f64"}) {
            rule("add." + t, "add.rn." + t + " $0, $1, $2;");
            rule("sub." + t, "sub.rn." + t + " $0, $1, $2;");
            rule("mul." + t, "mul.rn." + t + " $0, $1, $2;");
            rule("div." + t, "div.rn." + t + " $0, $1, $2;");
            rule("neg." + t, "neg." + t + " $0, $1;");
            rule("abs." + t, "abs." + t + " $0, $1;");
            rule("sqrt." + t, "sqrt.rn." + t + " $0, $1;");
            rule("fma." + t, "fma.rn." + t + " $0, $1, $2, $3;");
            rule("mov." + t, "mov." + t + " $0, $1;");
            rule("selp." + t, "selp." + t + " $0, $1, $2, $3;");
        }
        // Java's Math.min/max propagate NaN (min.NaN needs sm_80); f64 has no .NaN form, so test for it.
        rule("min.f32", "min.NaN.f32 $0, $1, $2;");
        rule("max.f32", "max.NaN.f32 $0, $1, $2;");
        rule("min.f64", "{ .reg .pred %x; min.f64 $0, $1, $2; setp.nan.f64 %x, $1, $2; @%x add.f64 $0, $1, $2; }");
        rule("max.f64", "{ .reg .pred %x; max.f64 $0, $1, $2; setp.nan.f64 %x, $1, $2; @%x add.f64 $0, $1, $2; }");
        // fast single-precision math (KMath): exp(x) = 2^(x·log2 e), log(x) = log2(x)·ln 2
        rule("exp.f32", "{ .reg .f32 %x; mul.rn.f32 %x, $1, 0f3FB8AA3B; ex2.approx.f32 $0, %x; }");
        rule("exp.ftz.f32", "{ .reg .f32 %x; mul.rn.f32 %x, $1, 0f3FB8AA3B; ex2.approx.ftz.f32 $0, %x; }");
        rule("log.f32", "{ .reg .f32 %x; lg2.approx.f32 %x, $1; mul.rn.f32 $0, %x, 0f3F317218; }");
        rule("rsqrt.f32", "rsqrt.approx.f32 $0, $1;");
        rule("sin.f32", "sin.approx.f32 $0, $1;");
        rule("cos.f32", "cos.approx.f32 $0, $1;");
        // tanh.approx.f32 is only good to ~2^-11; 1 - 2/(e^2x + 1) through ex2 keeps the absolute error near 1e-7
        rule("tanh.f32", "{ .reg .f32 %x; mul.rn.f32 %x, $1, 0f4038AA3B; ex2.approx.f32 %x, %x; add.rn.f32 %x, %x, 0f3F800000; "
                + "rcp.rn.f32 %x, %x; fma.rn.f32 $0, %x, 0fC0000000, 0f3F800000; }");
        rule("mov.pred", "mov.pred $0, $1;");
        // comparisons: setp.<cmp>.<type> p, a, b
        for (String t : new String[]{"s32", "s64", "f32", "f64"})
            for (String c : new String[]{"eq", "ne", "lt", "le", "gt", "ge"})
                rule("setp." + c + "." + t, "setp." + (t.startsWith("f") && c.equals("ne") ? "neu" : c) + "." + t + " $0, $1, $2;");
        // conversions (Java semantics: float→int truncates and saturates like cvt.rzi; NaN gives 0, which the
        // hardware does not guarantee for every width, hence the explicit test)
        rule("cvt.s64.s32", "cvt.s64.s32 $0, $1;");
        rule("cvt.f32.s32", "cvt.rn.f32.s32 $0, $1;");
        rule("cvt.f64.s32", "cvt.rn.f64.s32 $0, $1;");
        rule("cvt.s32.s64", "cvt.u32.u64 $0, $1;");
        rule("cvt.f32.s64", "cvt.rn.f32.s64 $0, $1;");
        rule("cvt.f64.s64", "cvt.rn.f64.s64 $0, $1;");
        rule("cvt.s32.f32", "{ .reg .pred %x; cvt.rzi.s32.f32 $0, $1; setp.nan.f32 %x, $1, $1; @%x mov.b32 $0, 0; }");
        rule("cvt.s64.f32", "{ .reg .pred %x; cvt.rzi.s64.f32 $0, $1; setp.nan.f32 %x, $1, $1; @%x mov.b64 $0, 0; }");
        rule("cvt.f64.f32", "cvt.f64.f32 $0, $1;");
        rule("cvt.s32.f64", "{ .reg .pred %x; cvt.rzi.s32.f64 $0, $1; setp.nan.f64 %x, $1, $1; @%x mov.b32 $0, 0; }");
        rule("cvt.s64.f64", "{ .reg .pred %x; cvt.rzi.s64.f64 $0, $1; setp.nan.f64 %x, $1, $1; @%x mov.b64 $0, 0; }");
        rule("cvt.f32.f64", "cvt.rn.f32.f64 $0, $1;");
        rule("i2b", "{ .reg .b32 %x; shl.b32 %x, $1, 24; shr.s32 $0, %x, 24; }");
        rule("i2s", "{ .reg .b32 %x; shl.b32 %x, $1, 16; shr.s32 $0, %x, 16; }");
        rule("i2c", "and.b32 $0, $1, 65535;");
        // raw bit moves between int and float registers
        rule("bits.s32.f32", "mov.b32 $0, $1;");
        rule("bits.f32.s32", "mov.b32 $0, $1;");
        rule("bits.s64.f64", "mov.b64 $0, $1;");
        rule("bits.f64.s64", "mov.b64 $0, $1;");
        rule("canonbits.s32.f32", "{ .reg .pred %x; setp.nan.f32 %x, $1, $1; mov.b32 $0, $1; @%x mov.b32 $0, 2143289344; }");
        // fp16 / bf16 held as Java shorts (sign-extended ints)
        rule("h2f", "{ .reg .b16 %x; cvt.u16.u32 %x, $1; cvt.f32.f16 $0, %x; }");
        rule("f2h", "{ .reg .b16 %x; cvt.rn.f16.f32 %x, $1; cvt.s32.s16 $0, %x; }");
        rule("bf2f", "{ .reg .b32 %x; shl.b32 %x, $1, 16; mov.b32 $0, %x; }");
        // one half of a packed pair: the register half itself, no shift or narrowing
        rule("h2f.lo", "{ .reg .b16 %l, %h; mov.b32 {%l, %h}, $1; cvt.f32.f16 $0, %l; }");
        rule("h2f.hi", "{ .reg .b16 %l, %h; mov.b32 {%l, %h}, $1; cvt.f32.f16 $0, %h; }");
        rule("bf2f.lo", "{ .reg .b32 %x; shl.b32 %x, $1, 16; mov.b32 $0, %x; }");
        rule("bf2f.hi", "{ .reg .b32 %x; and.b32 %x, $1, -65536; mov.b32 $0, %x; }");
        rule("f2bf", "{ .reg .b16 %x; cvt.rn.bf16.f32 %x, $1; cvt.s32.s16 $0, %x; }");
        // memory: ld.<space>.<elem> dst, [addr]; st.<space>.<elem> [addr], value
        for (String e : new String[]{"s8", "s16", "u16", "s32", "s64", "f32", "f64"}) {
            rule("ld.local." + e, "ld.local." + e + " $0, [$1];");
            rule("st.local." + e, "st.local." + (e.equals("u16") ? "b16" : e.startsWith("s") ? "b" + e.substring(1) : e) + " [$0], $1;");
        }
        rule("addr.local", "mov.u64 $0, $1;");
        for (String sp : new String[]{"global", "shared"}) {
            for (String e : new String[]{"s8", "s16", "u16", "s32", "s64", "f32", "f64"}) {
                rule("ld." + sp + "." + e, "ld." + sp + "." + e + " $0, [$1];");
                String st = e.equals("u16") ? "b16" : e.startsWith("s") ? "b" + e.substring(1) : e;
                rule("st." + sp + "." + e, "st." + sp + "." + st + " [$0], $1;");
            }
            rule("ld." + sp + ".f16", "{ .reg .b16 %x; ld." + sp + ".b16 %x, [$1]; cvt.f32.f16 $0, %x; }");
            rule("st." + sp + ".f16", "{ .reg .b16 %x; cvt.rn.f16.f32 %x, $1; st." + sp + ".b16 [$0], %x; }");
            rule("ld." + sp + ".bf16", "{ .reg .b32 %x; ld." + sp + ".u16 %x, [$1]; shl.b32 %x, %x, 16; mov.b32 $0, %x; }");
            rule("st." + sp + ".bf16", "{ .reg .b16 %x; cvt.rn.bf16.f32 %x, $1; st." + sp + ".b16 [$0], %x; }");
            rule("atom." + sp + ".add.s32", "atom." + sp + ".add.u32 $0, [$1], $2;");
            rule("atom." + sp + ".add.s64", "atom." + sp + ".add.u64 $0, [$1], $2;");
            rule("atom." + sp + ".add.f32", "atom." + sp + ".add.f32 $0, [$1], $2;");
        }
        rule("ld.global.b64", "ld.global.b64 $0, [$1];");
        rule("ld.global.v2.b64", "ld.global.v2.b64 {$0, $1}, [$2];");
        // parameters and addresses
        rule("ld.param.u32", "ld.param.u32 $0, [$1];");
        rule("ld.param.u64", "ld.param.u64 $0, [$1];");
        rule("ld.param.f32", "ld.param.f32 $0, [$1];");
        rule("ld.param.f64", "ld.param.f64 $0, [$1];");
        rule("cvta.global", "cvta.to.global.u64 $0, $1;");
        rule("addr.shared", "mov.u64 $0, $1;");
        rule("mul.wide.s32", "mul.wide.s32 $0, $1, $2;");
        // work-item geometry; $1 is the axis letter
        rule("sreg", "mov.u32 $0, $1;");
        rule("mad.s32", "mad.lo.s32 $0, $1, $2, $3;");
        // synchronisation and warps (full-warp member mask; c = 31 clamps to the warp)
        rule("bar", "bar.sync 0;");
        rule("fence.gpu", "fence.sc.gpu;");   // __threadfence(): orders this thread's global accesses at device scope
        // programmatic dependent launch (PTX 7.8, sm_90)
        rule("griddep.wait", "griddepcontrol.wait;");
        rule("griddep.launch", "griddepcontrol.launch_dependents;");
        // a bulk prefetch into the L2 (PTX 8.0, sm_90): no result, the values unread by this instruction
        rule("prefetch.l2.bulk", "cp.async.bulk.prefetch.L2.global [$0], $1;");
        rule("shfl.down", "shfl.sync.down.b32 $0, $1, $2, 31, -1;");
        rule("shfl.bfly", "shfl.sync.bfly.b32 $0, $1, $2, 31, -1;");
        rule("shfl.idx", "shfl.sync.idx.b32 $0, $1, $2, 31, -1;");
        // tensor cores (PTX ISA 9.7.14.5.x, sm_80+): fragments in registers, C and D in the same registers
        rule("mma.bf16", "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {$0, $1, $2, $3}, {$4, $5, $6, $7}, {$8, $9}, {$0, $1, $2, $3};");
        rule("mma.f16", "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {$0, $1, $2, $3}, {$4, $5, $6, $7}, {$8, $9}, {$0, $1, $2, $3};");
        rule("ldmatrix.x1", "ldmatrix.sync.aligned.m8n8.x1.shared.b16 {$0}, [$1];");
        rule("ldmatrix.x2", "ldmatrix.sync.aligned.m8n8.x2.shared.b16 {$0, $1}, [$2];");
        rule("ldmatrix.x4", "ldmatrix.sync.aligned.m8n8.x4.shared.b16 {$0, $1, $2, $3}, [$4];");
        rule("ldmatrix.x1.trans", "ldmatrix.sync.aligned.m8n8.x1.trans.shared.b16 {$0}, [$1];");
        rule("ldmatrix.x2.trans", "ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {$0, $1}, [$2];");
        rule("ldmatrix.x4.trans", "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {$0, $1, $2, $3}, [$4];");
        // asynchronous global → shared copies (sm_80+); src-size 0 fills the 16 bytes with zeros
        rule("cp.async16", "cp.async.cg.shared.global [$0], [$1], 16;");
        rule("cp.async16.zfill", "{ .reg .pred %x; .reg .b32 %s; setp.ne.s32 %x, $2, 0; selp.b32 %s, 16, 0, %x; "
                + "cp.async.cg.shared.global [$0], [$1], 16, %s; }");
        rule("cp.async.commit", "cp.async.commit_group;");
        rule("cp.async.wait", "cp.async.wait_group $0;");
        // Hopper warpgroup MMA (PTX ISA 8.0, sm_90a): m64nNk16, A and B K-major in shared memory through
        // descriptors, fp32 accumulators in registers, D += A·B (scale-d = 1)
        for (String in : new String[]{"bf16", "f16"})
            for (int n = 8; n <= 256; n += 8) {
                StringBuilder d = new StringBuilder();
                for (int i = 0; i < n / 2; i++) d.append(i == 0 ? "" : ", ").append('$').append(i);
                rule("wgmma." + in + ".n" + n, "{ .reg .pred %x; setp.ne.b32 %x, 1, 0; wgmma.mma_async.sync.aligned.m64n" + n + "k16.f32." + in + "." + in
                        + " {" + d + "}, $" + (n / 2) + ", $" + (n / 2 + 1) + ", %x, 1, 1, 0, 0; }");
            }
        rule("wgmma.fence", "wgmma.fence.sync.aligned;");
        rule("wgmma.commit", "wgmma.commit_group.sync.aligned;");
        rule("wgmma.wait", "wgmma.wait_group.sync.aligned $0;");
        // per-warpgroup register reallocation (sm_90a; KernelContext.setMaxRegistersInc/Dec)
        rule("setmaxnreg.inc", "setmaxnreg.inc.sync.aligned.u32 $0;");
        rule("setmaxnreg.dec", "setmaxnreg.dec.sync.aligned.u32 $0;");
        rule("fence.proxy.async.shared", "fence.proxy.async.shared::cta;");
        // descriptor of a 128-byte-swizzled K-major tile at shared address $1 (KernelContext.wgmmaDescriptorSw128)
        rule("wgmma.desc.sw128", "{ .reg .b64 %x; and.b64 %x, $1, 262143; shr.u64 %x, %x, 4; or.b64 $0, %x, "
                + dev.arbor.accel.KernelContext.wgmmaDescriptorBits(0) + "; }");
        // Hopper mbarriers (PTX 7.8/8.0, sm_90) and the bulk tensor copy engine (TMA): a 2-D tile load into shared
        // memory completing its bytes on an mbarrier; $1 of tma.load.2d is the generic address of the tensor map
        rule("mbarrier.init", "mbarrier.init.shared::cta.b64 [$0], $1;");
        rule("mbarrier.init.fence", "fence.mbarrier_init.release.cluster;");
        rule("mbarrier.arrive", "{ .reg .b64 %x; mbarrier.arrive.shared::cta.b64 %x, [$0]; }");
        rule("mbarrier.arrive.expect_tx", "{ .reg .b64 %x; mbarrier.arrive.expect_tx.shared::cta.b64 %x, [$0], $1; }");
        rule("mbarrier.try_wait", "{ .reg .pred %x; mbarrier.try_wait.parity.shared::cta.b64 %x, [$1], $2; selp.s32 $0, 1, 0, %x; }");
        rule("cvta.from.global", "cvta.global.u64 $0, $1;");
        // a 1-D bulk copy (PTX 8.0, sm_90): $2 contiguous bytes from global $1 into shared $0, completing on the mbarrier $3
        rule("bulk.load", "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [$0], [$1], $2, [$3];");
        rule("tma.load.2d", "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [$0], [$1, {$2, $3}], [$4];");
        // thread-block clusters (PTX ISA 9.7.13.4 barrier.cluster, 9.7.9.21 mapa, sm_90): the cluster barrier (arrive has
        // release, wait acquire semantics at cluster scope by default; not .aligned: callers may diverge), one arrival on the
        // mbarrier at the same shared offset in the cluster's block of rank $1 (default semantics, as CUTLASS's
        // ClusterBarrier::arrive; run 43-clus9 measured .release.cluster arrivals with try_wait.acquire.cluster polls slower),
        // and a TMA tile load written to, and completing its bytes on the barrier at the same offsets of, every block whose
        // bit is set in the 16-bit CTA mask $5
        rule("barrier.cluster.arrive", "barrier.cluster.arrive;");
        rule("barrier.cluster.wait", "barrier.cluster.wait;");
        rule("mbarrier.arrive.remote", "{ .reg .b64 %a; mapa.shared::cluster.u64 %a, $0, $1; mbarrier.arrive.shared::cluster.b64 _, [%a]; }");
        // a 16-byte load from the same shared offset in the cluster's block of rank $5 (distributed shared memory)
        rule("ld.shared.cluster.v4", "{ .reg .b64 %a; mapa.shared::cluster.u64 %a, $4, $5; ld.shared::cluster.v4.b32 {$0, $1, $2, $3}, [%a]; }");
        rule("tma.load.2d.multicast", "{ .reg .b16 %m; cvt.u16.u32 %m, $5; cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster [$0], [$1, {$2, $3}], [$4], %m; }");
        // 8- and 16-byte vector accesses
        rule("ld.shared.v4", "ld.shared.v4.b32 {$0, $1, $2, $3}, [$4];");
        rule("st.shared.v4", "st.shared.v4.b32 [$0], {$1, $2, $3, $4};");
        rule("st.shared.v2", "st.shared.v2.b32 [$0], {$1, $2};");
        rule("ld.global.v4", "ld.global.v4.b32 {$0, $1, $2, $3}, [$4];");
        rule("st.global.v4", "st.global.v4.b32 [$0], {$1, $2, $3, $4};");
        // sm_90, PTX ISA 8.1: four fp32 adds into 16 aligned bytes, one reduction request (KernelContext.atomicAddGlobal128)
        rule("red.global.add.v4.f32", "red.global.add.v4.f32 [$0], {$1, $2, $3, $4};");
        // two floats → a packed pair, lo in bits 0-15 (cvt's first source goes to the upper half)
        rule("pack.bf16x2", "cvt.rn.bf16x2.f32 $0, $2, $1;");
        rule("pack.f16x2", "cvt.rn.f16x2.f32 $0, $2, $1;");
        // control flow
        rule("label", "$0:");
        rule("bra", "bra.uni $0;");
        rule("bra.if", "@$0 bra $1;");
        rule("ret", "ret;");
    }
}
