package dev.arbor.accel.compiler;

import dev.arbor.accel.KernelContext;

import java.lang.constant.MethodTypeDesc;
import java.util.List;

import static dev.arbor.accel.compiler.Operand.Imm;
import static dev.arbor.accel.compiler.Operand.Reg;
import static dev.arbor.accel.compiler.Operand.Sym;

/** {@code KernelContext} fields and methods → special registers, barriers, shared memory, shuffles, atomics. */
final class ContextCalls {
    private ContextCalls() {}

    /** Reads a geometry field such as {@code globalIdx} or {@code localGroupSizeY}. */
    static void geometry(Translator t, String field) {
        String axis = String.valueOf(Character.toLowerCase(field.charAt(field.length() - 1)));
        String base = field.substring(0, field.length() - 1);
        Val v = t.push(Kind.I);
        switch (base) {
            case "localId" -> t.emit("sreg", v.reg(), new Sym("%tid." + axis));
            case "groupId" -> t.emit("sreg", v.reg(), new Sym("%ctaid." + axis));
            case "localGroupSize" -> t.emit("sreg", v.reg(), new Sym("%ntid." + axis));
            case "globalId" -> {
                Reg group = t.newReg(Ty.S32), size = t.newReg(Ty.S32), local = t.newReg(Ty.S32);
                t.emit("sreg", group, new Sym("%ctaid." + axis));
                t.emit("sreg", size, new Sym("%ntid." + axis));
                t.emit("sreg", local, new Sym("%tid." + axis));
                t.emit("mad.s32", v.reg(), group, size, local);
            }
            case "globalGroupSize" -> {
                Reg groups = t.newReg(Ty.S32), size = t.newReg(Ty.S32);
                t.emit("sreg", groups, new Sym("%nctaid." + axis));
                t.emit("sreg", size, new Sym("%ntid." + axis));
                t.emit("mul.s32", v.reg(), groups, size);
            }
            default -> throw t.unsupported("context field " + field);
        }
    }

    static void invoke(Translator t, String name, MethodTypeDesc type, String display) {
        CallLowering calls = new CallLowering(t);
        List<Val> args = calls.popArguments(type);
        if (!(t.popRef() instanceof Ref.Context)) throw t.unsupported("context method on a non-context object");
        String signature = name + type.descriptorString();
        switch (signature) {
            // griddepcontrol exists from sm_90; before it launches never overlap, so nothing to do
            case "gridDependencyWait()V" -> { if (t.sm >= 90) t.emit("griddep.wait"); }
            case "allowDependentLaunch()V" -> { if (t.sm >= 90) t.emit("griddep.launch"); }
            case "prefetchL2(Ldev/arbor/accel/array/OffHeapArray;II)V" -> {
                if (!(args.get(0).ref() instanceof Ref.GlobalArray g)) throw t.unsupported(name + " of something that is not an array parameter");
                Reg src = t.globalAddress(g, args.get(1).reg());
                if (t.sm >= 90) {
                    t.usesWgmma = true;   // PTX ISA 8.0 and sm_90a, as the other bulk-async instructions
                    t.emit("prefetch.l2.bulk", src, args.get(2).reg());
                }
            }
            case "threadFence()V" -> t.emit("fence.gpu");
            case "localBarrier()V" -> {
                t.usesBarriers = true;
                t.emit("bar");
            }
            case "allocateFloatLocalArray(I)[F" -> t.allocateShared("f32", 4, constantLength(t, args.get(0)));
            case "allocateIntLocalArray(I)[I" -> t.allocateShared("s32", 4, constantLength(t, args.get(0)));
            case "allocateLongLocalArray(I)[J" -> t.allocateShared("s64", 8, constantLength(t, args.get(0)));
            case "allocateDoubleLocalArray(I)[D" -> t.allocateShared("f64", 8, constantLength(t, args.get(0)));
            case "allocateHalfFloatLocalArray(I)[S", "allocateBFloat16LocalArray(I)[S" ->
                    t.allocateShared("s16", 2, constantLength(t, args.get(0)));
            case "dynamicFloatLocalArray()[F" -> t.dynamicShared("f32", 4);
            case "dynamicIntLocalArray()[I" -> t.dynamicShared("s32", 4);
            case "mmaBf16([FI[II[II)V", "mmaFp16([FI[II[II)V" -> {
                t.usesBarriers = true; // a warp collective: the CPU executor runs the group's work-items together
                Reg[] d = t.registerRange(args.get(0).ref(), args.get(1), 4, name);
                Reg[] a = t.registerRange(args.get(2).ref(), args.get(3), 4, name);
                Reg[] b = t.registerRange(args.get(4).ref(), args.get(5), 2, name);
                t.emit(name.equals("mmaBf16") ? "mma.bf16" : "mma.f16", d[0], d[1], d[2], d[3], a[0], a[1], a[2], a[3], b[0], b[1]);
            }
            case "ldmatrixX1([II[II)V", "ldmatrixX2([II[II)V", "ldmatrixX4([II[II)V",
                 "ldmatrixX1Trans([II[II)V", "ldmatrixX2Trans([II[II)V", "ldmatrixX4Trans([II[II)V" -> {
                t.usesBarriers = true;
                int count = name.charAt(9) - '0';
                Reg[] d = t.registerRange(args.get(0).ref(), args.get(1), count, name);
                Reg address = t.sharedAddress(sharedArray(t, args.get(2), name), args.get(3).reg());
                Operand[] ops = new Operand[count + 1];
                System.arraycopy(d, 0, ops, 0, count);
                ops[count] = address;
                t.emit("ldmatrix.x" + count + (name.endsWith("Trans") ? ".trans" : ""), ops);
            }
            case "cpAsync16([IILdev/arbor/accel/array/OffHeapArray;I)V", "cpAsync16([IILdev/arbor/accel/array/OffHeapArray;IZ)V" -> {
                Reg dst = t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg());
                if (!(args.get(2).ref() instanceof Ref.GlobalArray g)) throw t.unsupported(name + " from something that is not an array parameter");
                Reg src = t.globalAddress(g, args.get(3).reg());
                if (args.size() == 4) t.emit("cp.async16", dst, src);
                else t.emit("cp.async16.zfill", dst, src, args.get(4).reg());
            }
            case "wgmmaDescriptorSw128([II)J" -> {
                t.usesWgmma = true;
                Reg address = t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg());
                Val v = t.push(Kind.J);
                t.emit("wgmma.desc.sw128", v.reg(), address);
            }
            case "wgmmaBf16([FII[IJJ)V", "wgmmaFp16([FII[IJJ)V" -> {
                t.usesWgmma = true;
                t.usesBarriers = true;
                Val n = args.get(2);
                if (n.constant() == null) throw t.unsupported(name + " with an n that is not a compile-time constant");
                int cols = n.constant().intValue();
                if (cols < 8 || cols > 256 || cols % 8 != 0) throw t.unsupported(name + " n must be a multiple of 8 in 8..256, got " + cols);
                sharedArray(t, args.get(3), name);
                Reg[] d = t.registerRange(args.get(0).ref(), args.get(1), cols / 2, name);
                Operand[] ops = new Operand[cols / 2 + 2];
                System.arraycopy(d, 0, ops, 0, cols / 2);
                ops[cols / 2] = args.get(4).reg();
                ops[cols / 2 + 1] = args.get(5).reg();
                t.emit((name.equals("wgmmaBf16") ? "wgmma.bf16.n" : "wgmma.f16.n") + cols, ops);
            }
            case "wgmmaFence()V" -> { t.usesWgmma = true; t.emit("wgmma.fence"); }
            case "wgmmaCommit()V" -> { t.usesWgmma = true; t.emit("wgmma.commit"); }
            case "wgmmaWait(I)V" -> {
                t.usesWgmma = true;
                Val n = args.get(0);
                if (n.constant() == null) throw t.unsupported("wgmmaWait with a count that is not a compile-time constant");
                t.emit("wgmma.wait", Imm.i32(n.constant().intValue()));
            }
            case "fenceProxyAsyncShared()V" -> {   // with wgmma (PTX 8.0, the same sm_90a target)
                t.usesWgmma = true;
                t.emit("fence.proxy.async.shared");
            }
            // Hopper mbarriers and bulk tensor copies: PTX 8.0 like wgmma (the same sm_90a module); barriers make the
            // CPU executor run the group's work-items together, as a producer and its consumers need
            case "mbarrierInit([III)V" -> {
                t.usesWgmma = true;
                t.usesBarriers = true;
                t.emit("mbarrier.init", t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg()), args.get(2).reg());
            }
            case "launchBounds(I)V" -> {
                Val n = args.get(0);
                if (n.constant() == null) throw t.unsupported("launchBounds with a count that is not a compile-time constant");
                t.maxThreads = n.constant().intValue();
            }
            case "launchBounds(II)V" -> {
                Val n = args.get(0), b = args.get(1);
                if (n.constant() == null || b.constant() == null) throw t.unsupported("launchBounds with counts that are not compile-time constants");
                if (b.constant().intValue() > 0) {   // 0: no bounds at all (ptxas's own register choice)
                    t.maxThreads = n.constant().intValue();
                    t.minBlocksPerSm = b.constant().intValue();
                }
            }
            case "setMaxRegistersInc(I)V", "setMaxRegistersDec(I)V" -> {   // sm_90a (PTX 8.0), like wgmma
                Val n = args.get(0);
                if (n.constant() == null) throw t.unsupported(name + " with a count that is not a compile-time constant");
                int registers = n.constant().intValue();
                String problem = KernelContext.maxRegistersProblem(registers);
                if (problem != null) throw t.unsupported(name + ": " + problem);
                t.usesWgmma = true;
                t.usesSetMaxRegisters = true;
                t.emit(name.endsWith("Inc") ? "setmaxnreg.inc" : "setmaxnreg.dec", Imm.i32(registers));
            }
            // thread-block clusters (sm_90, PTX 7.8/8.0): the shape is fixed at compile time (.reqnctapercluster), so a
            // plain cuLaunchKernel launches the kernel in clusters
            case "clusterDims(III)V" -> {
                int[] dims = new int[3];
                for (int i = 0; i < 3; i++) {
                    Val v = args.get(i);
                    if (v.constant() == null) throw t.unsupported("clusterDims with sizes that are not compile-time constants");
                    dims[i] = v.constant().intValue();
                }
                String problem = KernelContext.clusterDimsProblem(dims[0], dims[1], dims[2]);
                if (problem != null) throw t.unsupported("clusterDims: " + problem);
                if (t.clusterDims != null && !java.util.Arrays.equals(t.clusterDims, dims)) throw t.unsupported("clusterDims declared twice with different shapes");
                t.clusterDims = dims;
                clusterKernel(t);
            }
            case "clusterCtaRank()I" -> clusterRegister(t, "%cluster_ctarank");
            case "clusterCtaCount()I" -> clusterRegister(t, "%cluster_nctarank");
            case "clusterIdX()I" -> clusterRegister(t, "%clusterid.x");
            case "clusterIdY()I" -> clusterRegister(t, "%clusterid.y");
            case "clusterIdZ()I" -> clusterRegister(t, "%clusterid.z");
            case "clusterArrive()V" -> clusterOp(t, "barrier.cluster.arrive");
            case "clusterWait()V" -> clusterOp(t, "barrier.cluster.wait");
            case "clusterBarrier()V" -> { clusterOp(t, "barrier.cluster.arrive"); t.emit("barrier.cluster.wait"); }
            case "mbarrierArriveCluster([III)V" -> {
                clusterOp(t, null);
                Reg address = t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg());
                t.emit("mbarrier.arrive.remote", address, args.get(2).reg());
            }
            case "loadSharedCluster128([II[III)V" -> {
                clusterOp(t, null);
                Reg[] d = t.registerRange(args.get(0).ref(), args.get(1), 4, name);
                Reg address = t.sharedAddress(sharedArray(t, args.get(2), name), args.get(3).reg());
                t.emit("ld.shared.cluster.v4", d[0], d[1], d[2], d[3], address, args.get(4).reg());
            }
            case "tmaLoadTile128Multicast([IIILdev/arbor/accel/array/LongArray;Ldev/arbor/accel/array/OffHeapArray;IIIIII)V" -> {
                clusterOp(t, null);
                Ref.LocalArray smem = sharedArray(t, args.get(0), name);
                Reg dst = t.sharedAddress(smem, args.get(1).reg());
                Reg bar = t.sharedAddress(smem, args.get(2).reg());
                if (!(args.get(3).ref() instanceof Ref.GlobalArray map)) throw t.unsupported(name + " with a tensor map that is not an array parameter");
                Reg generic = t.newReg(Ty.S64);
                t.emit("cvta.from.global", generic, map.pointer());
                t.emit("tma.load.2d.multicast", dst, generic, args.get(8).reg(), args.get(7).reg(), bar, args.get(10).reg());
            }
            case "fenceMbarrierInit()V" -> { t.usesWgmma = true; t.emit("mbarrier.init.fence"); }
            case "mbarrierArrive([II)V" -> {
                t.usesWgmma = true;
                t.usesBarriers = true;
                t.emit("mbarrier.arrive", t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg()));
            }
            case "mbarrierArriveExpectTx([III)V" -> {
                t.usesWgmma = true;
                t.usesBarriers = true;
                t.emit("mbarrier.arrive.expect_tx", t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg()), args.get(2).reg());
            }
            case "mbarrierTryWait([III)Z" -> {
                t.usesWgmma = true;
                t.usesBarriers = true;
                Reg address = t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg());
                Val v = t.push(Kind.I);
                t.emit("mbarrier.try_wait", v.reg(), address, args.get(2).reg());
            }
            case "tmaLoadTile128([IIILdev/arbor/accel/array/LongArray;Ldev/arbor/accel/array/OffHeapArray;IIIII)V" -> {
                t.usesWgmma = true;
                t.usesBarriers = true;
                Ref.LocalArray smem = sharedArray(t, args.get(0), name);
                Reg dst = t.sharedAddress(smem, args.get(1).reg());
                Reg bar = t.sharedAddress(smem, args.get(2).reg());
                if (!(args.get(3).ref() instanceof Ref.GlobalArray map)) throw t.unsupported(name + " with a tensor map that is not an array parameter");
                // src, rows, rowLength and boxRows are in the tensor map on the GPU (the CPU executor's copy reads them)
                Reg generic = t.newReg(Ty.S64);   // the instruction takes the tensor map's generic address
                t.emit("cvta.from.global", generic, map.pointer());
                t.emit("tma.load.2d", dst, generic, args.get(8).reg(), args.get(7).reg(), bar);
            }
            case "bulkLoad([IIILdev/arbor/accel/array/OffHeapArray;II)V" -> {
                t.usesWgmma = true;   // PTX ISA 8.0 and sm_90a, as the other bulk-async instructions
                t.usesBarriers = true;
                Ref.LocalArray smem = sharedArray(t, args.get(0), name);
                Reg dst = t.sharedAddress(smem, args.get(1).reg());
                Reg bar = t.sharedAddress(smem, args.get(2).reg());
                if (!(args.get(3).ref() instanceof Ref.GlobalArray g)) throw t.unsupported(name + " from something that is not an array parameter");
                t.emit("bulk.load", dst, t.globalAddress(g, args.get(4).reg()), args.get(5).reg(), bar);
            }
            case "cpAsyncCommit()V" -> t.emit("cp.async.commit");
            case "cpAsyncWait(I)V" -> {
                Val n = args.get(0);
                if (n.constant() == null) throw t.unsupported("cpAsyncWait with a count that is not a compile-time constant");
                t.emit("cp.async.wait", Imm.i32(n.constant().intValue()));
            }
            case "loadShared128([II[II)V" -> {
                Reg[] d = t.registerRange(args.get(0).ref(), args.get(1), 4, name);
                t.emit("ld.shared.v4", d[0], d[1], d[2], d[3], t.sharedAddress(sharedArray(t, args.get(2), name), args.get(3).reg()));
            }
            case "storeShared128([II[II)V" -> {
                Reg[] v = t.registerRange(args.get(2).ref(), args.get(3), 4, name);
                t.emit("st.shared.v4", t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg()), v[0], v[1], v[2], v[3]);
            }
            case "storeShared64([IIII)V" ->
                    t.emit("st.shared.v2", t.sharedAddress(sharedArray(t, args.get(0), name), args.get(1).reg()), args.get(2).reg(), args.get(3).reg());
            case "loadGlobal128([IILdev/arbor/accel/array/OffHeapArray;I)V" -> {
                Reg[] d = t.registerRange(args.get(0).ref(), args.get(1), 4, name);
                if (!(args.get(2).ref() instanceof Ref.GlobalArray g)) throw t.unsupported(name + " from something that is not an array parameter");
                t.emit("ld.global.v4", d[0], d[1], d[2], d[3], t.globalAddress(g, args.get(3).reg()));
            }
            case "storeGlobal128(Ldev/arbor/accel/array/OffHeapArray;I[II)V" -> {
                if (!(args.get(0).ref() instanceof Ref.GlobalArray g)) throw t.unsupported(name + " to something that is not an array parameter");
                Reg[] v = t.registerRange(args.get(2).ref(), args.get(3), 4, name);
                t.emit("st.global.v4", t.globalAddress(g, args.get(1).reg()), v[0], v[1], v[2], v[3]);
            }
            case "atomicAddGlobal128(Ldev/arbor/accel/array/FloatArray;IFFFF)V" -> {
                if (!(args.get(0).ref() instanceof Ref.GlobalArray g)) throw t.unsupported(name + " to something that is not an array parameter");
                t.usesVectorRed = true;
                t.emit("red.global.add.v4.f32", t.globalAddress(g, args.get(1).reg()), args.get(2).reg(), args.get(3).reg(), args.get(4).reg(),
                        args.get(5).reg());
            }
            case "laneId()I" -> {
                Val v = t.push(Kind.I);
                t.emit("sreg", v.reg(), new Sym("%laneid"));
            }
            case "atomicAdd(Ldev/arbor/accel/array/IntArray;II)I", "atomicAdd(Ldev/arbor/accel/array/FloatArray;IF)F",
                 "atomicAdd(Ldev/arbor/accel/array/LongArray;IJ)J", "atomicAdd([III)I", "atomicAdd([FIF)F" -> atomicAdd(t, args);
            case "shuffleDown(FI)F", "shuffleDown(II)I" -> shuffle(t, "shfl.down", args);
            case "shuffleXor(FI)F", "shuffleXor(II)I" -> shuffle(t, "shfl.bfly", args);
            case "shuffleBroadcast(FI)F", "shuffleBroadcast(II)I" -> shuffle(t, "shfl.idx", args);
            case "warpReduceSum(F)F", "warpReduceSum(I)I" -> warpReduce(t, "add", args.get(0));
            case "warpReduceMax(F)F" -> warpReduce(t, "max", args.get(0));
            default -> throw t.unsupported("context method " + display + type.descriptorString());
        }
    }

    /** A cluster special register (%cluster_ctarank, %clusterid.x, ...). */
    private static void clusterRegister(Translator t, String register) {
        clusterOp(t, null);
        Val v = t.push(Kind.I);
        t.emit("sreg", v.reg(), new Sym(register));
    }

    /**
     * Marks a kernel that runs in clusters: PTX 8.0 for the cluster-scope mbarrier forms, sm_90a like the kernels that use
     * them; barriers, because the CPU executor runs a cluster's groups together.
     */
    private static void clusterKernel(Translator t) {
        t.usesWgmma = true;
        t.usesBarriers = true;
    }

    /** Marks a cluster operation ({@link #clusterKernel}; the kernel must declare clusterDims) and emits {@code op} when given. */
    private static void clusterOp(Translator t, String op) {
        clusterKernel(t);
        t.usesClusterOps = true;
        if (op != null) t.emit(op);
    }

    private static Ref.LocalArray sharedArray(Translator t, Val v, String what) {
        if (v.ref() instanceof Ref.LocalArray a) return a;
        throw t.unsupported(what + " on something that is not a local (shared) array");
    }

    private static int constantLength(Translator t, Val n) {
        if (n.constant() == null) throw t.unsupported("local array whose length is not a compile-time constant (use a literal, a static final, or a @Constant parameter)");
        return n.constant().intValue();
    }

    /** atomicAdd(array, index, value): the array argument was pushed as a reference before the index. */
    private static void atomicAdd(Translator t, List<Val> args) {
        Ref array = args.get(0).ref();
        Val index = args.get(1), value = args.get(2);
        Reg address;
        String space;
        switch (array) {
            case Ref.GlobalArray g -> { address = t.globalAddress(g, index.reg()); space = "global"; }
            case Ref.LocalArray l -> { address = t.sharedAddress(l, index.reg()); space = "shared"; }
            default -> throw t.unsupported("atomicAdd on the context");
        }
        Val old = t.push(value.kind());
        t.emit("atom." + space + ".add." + value.kind().suffix, old.reg(), address, value.reg());
    }

    private static void shuffle(Translator t, String op, List<Val> args) {
        t.usesBarriers = true;
        Val v = args.get(0), lane = args.get(1);
        Val r = t.push(v.kind());
        t.emit(op, r.reg(), v.reg(), lane.reg());
    }

    /** Butterfly reduction over the warp: five xor-shuffles, in the same order as the CPU emulation. */
    private static void warpReduce(Translator t, String combine, Val v) {
        t.usesBarriers = true;
        Kind k = v.kind();
        Reg acc = t.newReg(k.ty);
        t.emit("mov." + k.suffix, acc, v.reg());
        for (int mask = 16; mask > 0; mask >>= 1) {
            Reg other = t.newReg(k.ty);
            t.emit("shfl.bfly", other, acc, Imm.i32(mask));
            t.emit(combine + "." + k.suffix, acc, acc, other);
        }
        Val r = t.push(k);
        t.emit("mov." + k.suffix, r.reg(), acc);
    }
}
