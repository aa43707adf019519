package dev.arbor.accel.compiler;

import dev.arbor.accel.Kernel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.classfile.ClassModel;
import java.lang.classfile.MethodModel;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.arbor.accel.compiler.Operand.Reg;
import static dev.arbor.accel.compiler.Operand.Sym;

/**
 * Compiles a kernel method to a PTX module: class file (java.lang.classfile) → IR ({@link Translator})
 * → PTX ({@link PtxEmitter}). Results are cached per (method, constant values, target sm).
 * Set system property {@code arbor.accel.dumpPtx} to a folder to get every module written there.
 */
public final class KernelCompiler {
    public static final String DUMP_PROPERTY = "arbor.accel.dumpPtx";
    private static final Map<List<Object>, CompiledKernel> CACHE = new ConcurrentHashMap<>();

    private KernelCompiler() {}

    /**
     * @param constants values of the kernel's {@code @Constant} parameters, in order ({@link Kernel#constantValues})
     * @param sm        target compute capability × 10, e.g. 90 for the H100
     */
    public static CompiledKernel compile(Kernel kernel, Object[] constants, int sm) {
        List<Object> key = List.of(kernel.method(), Arrays.asList(constants), sm);
        CompiledKernel cached = CACHE.get(key);
        if (cached != null) return cached;
        CompiledKernel k = translate(kernel, constants, sm);
        dump(k);
        CACHE.putIfAbsent(key, k);
        return k;
    }

    private static final System.Logger LOG = System.getLogger(KernelCompiler.class.getName());

    /**
     * Translates, first with every register array in registers; each array found indexed at run time
     * is placed in local memory and the translation starts again (at most once per allocation site).
     */
    private static CompiledKernel translate(Kernel kernel, Object[] constants, int sm) {
        java.util.Set<String> localSites = new java.util.HashSet<>();
        List<String> report = new ArrayList<>();
        while (true) {
            try {
                CompiledKernel k = translate(kernel, constants, sm, localSites);
                if (report.isEmpty()) return k;
                report.forEach(r -> LOG.log(System.Logger.Level.INFO, r));
                return new CompiledKernel(k.entryName(), k.ptx(), k.params(), k.usesBarriers(), k.staticSharedBytes(),
                        k.localMemoryBytes(), List.copyOf(report), k.clusterDims());
            } catch (Translator.DynamicIndex d) {
                if (!localSites.add(d.site)) throw new IllegalStateException("register array at " + d.site + " placed in local memory twice");
                report.add(d.message);
            }
        }
    }

    private static CompiledKernel translate(Kernel kernel, Object[] constants, int sm, java.util.Set<String> localSites) {
        var method = kernel.method();
        Class<?> owner = method.getDeclaringClass();
        ClassModel cm = ClassModels.load(owner.getClassLoader(), owner.getName().replace('.', '/'));
        String descriptor = MethodType.methodType(method.getReturnType(), method.getParameterTypes()).toMethodDescriptorString();
        MethodModel mm = cm.methods().stream()
                .filter(m -> m.methodName().equalsString(method.getName()) && m.methodType().equalsString(descriptor))
                .findFirst().orElseThrow(() -> new KernelCompileException("kernel " + kernel + ": method not found in its class file"));

        Translator t = new Translator(kernel.name(), owner.getClassLoader());
        t.sm = sm;
        t.localMemorySites = localSites;
        Frame f = new Frame(owner.getSimpleName(), method.getName(), Translator.sourceFile(cm), 0, null);
        t.frame = f;
        List<KernelParam> params = new ArrayList<>();
        List<String> ptxParams = new ArrayList<>();
        Class<?>[] types = method.getParameterTypes();
        int slot = 1, nextConstant = 0;
        f.refs.put(0, new Ref.Context());
        for (int i = 1; i < types.length; i++) {
            KernelParam.Kind pk = KernelParam.of(types[i]);
            if (pk == null) throw t.unsupported("kernel parameter of type " + types[i].getSimpleName() + " (use off-heap arrays and primitives)");
            boolean constant = kernel.isConstant(i);
            params.add(new KernelParam(i, pk, constant));
            String p = "p" + i;
            if (pk == KernelParam.Kind.ARRAY) {
                Reg raw = t.newReg(Ty.S64), pointer = t.newReg(Ty.S64), length = t.newReg(Ty.S32);
                ptxParams.add(".param .u64 " + p);
                ptxParams.add(".param .u32 " + p + "_len");
                t.emit("ld.param.u64", raw, new Sym(p));
                t.emit("cvta.global", pointer, raw);
                t.emit("ld.param.u32", length, new Sym(p + "_len"));
                f.refs.put(slot, new Ref.GlobalArray(i, types[i], pointer, length));
                slot += 1;
                continue;
            }
            Kind k = switch (pk) { case LONG -> Kind.J; case FLOAT -> Kind.F; case DOUBLE -> Kind.D; default -> Kind.I; };
            Reg local = t.local(slot, k);
            if (constant) {
                Number value = asNumber(constants[nextConstant++], types[i]);
                t.emit("mov." + k.suffix, local, Translator.immediate(k, value));
                f.constants.put(slot, value);
                f.pinned.add(slot);
            } else {
                String ptxType = switch (k) { case J -> "u64"; case F -> "f32"; case D -> "f64"; default -> "u32"; };
                ptxParams.add(".param ." + ptxType + " " + p);
                t.emit("ld.param." + ptxType, local, new Sym(p));
            }
            slot += k.slots();
        }
        t.translate(cm, mm, f);

        if (t.usesSetMaxRegisters && t.maxThreads == 0)   // ptxas ignores setmaxnreg without a cap at entry (C7508)
            throw new KernelCompileException(kernel.name() + " calls setMaxRegistersInc/Dec without launchBounds: setmaxnreg needs a register cap at entry");
        if (t.usesClusterOps && t.clusterDims == null)   // the CPU executor must know which groups run together
            throw new KernelCompileException(kernel.name() + " calls a cluster operation without clusterDims: declare the cluster shape");
        String entry = entryName(kernel.name(), constants);
        if (t.usesWgmma && sm != 90) throw new KernelCompileException(kernel.name() + " uses wgmma, which exists on sm_90 (Hopper) only; the device is sm_" + sm);
        String ptx = PtxEmitter.emit(entry, t.usesWgmma ? "90a" : String.valueOf(sm), ptxParams, t.shared, t.localMemory, t.dynamicShared, t.usesWgmma, t.registerCounts(), t.body,
                owner.getName() + "." + method.getName() + (constants.length == 0 ? "" : " with constants " + Arrays.toString(constants)));
        if (t.usesVectorRed) {   // the one feature past 8.0 a kernel may use: raise the module's ISA version for it alone
            if (sm < 90) throw new KernelCompileException(kernel.name() + " uses red.global.add.v4.f32, which needs sm_90; the device is sm_" + sm);
            ptx = ptx.replaceFirst("\n\\.version [0-9.]+\n", "\n.version " + PtxEmitter.VECTOR_RED_PTX_VERSION + "\n");
        }
        StringBuilder directives = new StringBuilder();   // performance directives sit between the parameter list and the body
        if (t.maxThreads > 0)   // ptxas caps registers by them
            directives.append(".maxntid ").append(t.maxThreads).append(", 1, 1\n.minnctapersm ").append(t.minBlocksPerSm).append('\n');
        if (t.clusterDims != null)   // a cluster shape fixed at compile time: plain cuLaunchKernel launches it (sm_90: usesWgmma's check above)
            directives.append(".reqnctapercluster ").append(t.clusterDims[0]).append(", ").append(t.clusterDims[1]).append(", ").append(t.clusterDims[2]).append('\n');
        if (!directives.isEmpty()) ptx = ptx.replaceFirst("\n\\) \\{\n", java.util.regex.Matcher.quoteReplacement("\n)\n" + directives + "{\n"));
        int sharedBytes = t.shared.values().stream().mapToInt(Integer::intValue).sum();
        int localBytes = t.localMemory.values().stream().mapToInt(Integer::intValue).sum();
        List<Integer> cluster = t.clusterDims == null ? CompiledKernel.NO_CLUSTER : List.of(t.clusterDims[0], t.clusterDims[1], t.clusterDims[2]);
        return new CompiledKernel(entry, ptx, List.copyOf(params), t.usesBarriers, sharedBytes, localBytes, List.of(), cluster);
    }

    private static Number asNumber(Object value, Class<?> type) {
        if (value instanceof Boolean b) return b ? 1 : 0;
        if (value instanceof Character c) return (int) c;
        if (value instanceof Number n) return n;
        throw new IllegalArgumentException("constant argument " + value + " is not a " + type.getSimpleName());
    }

    /** {@code name} plus the constant values, so each variant has a distinct, readable entry symbol. */
    static String entryName(String name, Object[] constants) {
        StringBuilder s = new StringBuilder(name);
        for (Object c : constants) {
            String v = switch (c) {
                case Float x -> Integer.toHexString(Float.floatToRawIntBits(x));
                case Double x -> Long.toHexString(Double.doubleToRawLongBits(x));
                default -> String.valueOf(c);
            };
            s.append("__").append(v.replace('-', 'm').replaceAll("[^A-Za-z0-9_]", "_"));
        }
        return s.toString();
    }

    private static void dump(CompiledKernel k) {
        String folder = System.getProperty(DUMP_PROPERTY);
        if (folder == null || folder.isBlank()) return;
        try {
            Path dir = Files.createDirectories(Path.of(folder));
            Files.writeString(dir.resolve(k.entryName() + ".ptx"), k.ptx());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot dump PTX to " + folder, e);
        }
    }

}
