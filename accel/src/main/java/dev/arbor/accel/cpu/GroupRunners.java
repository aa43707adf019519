package dev.arbor.accel.cpu;

import dev.arbor.accel.Kernel;
import dev.arbor.accel.KernelContext;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.Label;
import java.lang.constant.ClassDesc;
import java.lang.constant.MethodTypeDesc;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;

import static java.lang.constant.ConstantDescs.*;

/**
 * Generates a {@link GroupRunner} per kernel: a hidden class in the kernel's package whose
 * {@code run} unpacks the arguments once and loops over the work-items calling the kernel method
 * with {@code invokestatic}. Equivalent Java:
 * <pre>
 * FloatArray a0 = (FloatArray) args[0]; int a1 = (Integer) args[1]; ...
 * for (z..) for (y..) for (x..) { ctx.place(x, y, z); Owner.kernel(ctx, a0, a1, ...); }
 * </pre>
 */
final class GroupRunners {
    private GroupRunners() {}

    private static final ClassDesc CD_CONTEXT = ClassDesc.of(KernelContext.class.getName());
    private static final ClassDesc CD_RUNNER = ClassDesc.of(GroupRunner.class.getName());
    private static final MethodTypeDesc RUN = MethodTypeDesc.of(CD_void, CD_CONTEXT, CD_int, CD_int, CD_int, CD_Object.arrayType());

    static GroupRunner generate(Kernel kernel) throws Throwable {
        Method m = kernel.method();
        Class<?> owner = m.getDeclaringClass();
        Class<?>[] params = m.getParameterTypes();
        String pkg = owner.getPackageName();
        ClassDesc self = ClassDesc.of((pkg.isEmpty() ? "" : pkg + ".") + "ArborGroupRunner");
        ClassDesc ownerDesc = ClassDesc.of(owner.getName());
        MethodTypeDesc kernelType = MethodTypeDesc.ofDescriptor(java.lang.invoke.MethodType.methodType(void.class, params).toMethodDescriptorString());
        byte[] bytes = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
                        ClassHierarchyResolver.ofClassLoading(owner.getClassLoader()).orElse(ClassHierarchyResolver.defaultResolver())))
                .build(self, cb -> {
                    cb.withFlags(ClassFile.ACC_PUBLIC | ClassFile.ACC_FINAL | ClassFile.ACC_SYNTHETIC);
                    cb.withInterfaceSymbols(CD_RUNNER);
                    cb.withMethodBody(INIT_NAME, MTD_void, ClassFile.ACC_PUBLIC, c -> {
                        c.aload(0);
                        c.invokespecial(CD_Object, INIT_NAME, MTD_void);
                        c.return_();
                    });
                    cb.withMethodBody("run", RUN, ClassFile.ACC_PUBLIC, c -> emitRun(c, ownerDesc, m.getName(), kernelType, params));
                });
        MethodHandles.Lookup lookup = MethodHandles.privateLookupIn(owner, MethodHandles.lookup()).defineHiddenClass(bytes, true);
        return (GroupRunner) lookup.findConstructor(lookup.lookupClass(), java.lang.invoke.MethodType.methodType(void.class)).invoke();
    }

    // locals: 0 this, 1 ctx, 2 blockX, 3 blockY, 4 blockZ, 5 args, then the unpacked arguments, then x, y, z
    private static void emitRun(CodeBuilder c, ClassDesc owner, String name, MethodTypeDesc type, Class<?>[] params) {
        int[] slots = new int[params.length];
        int next = 6;
        for (int i = 1; i < params.length; i++) {
            c.aload(5);
            c.loadConstant(i - 1);
            c.aaload();
            slots[i] = next;
            Class<?> p = params[i];
            if (p.isPrimitive()) {
                Class<?> box = MethodHandles.zero(p).type().wrap().returnType();
                ClassDesc boxDesc = ClassDesc.of(box.getName());
                c.checkcast(boxDesc);
                c.invokevirtual(boxDesc, p.getName() + "Value", MethodTypeDesc.of(ClassDesc.ofDescriptor(p.descriptorString())));
                storePrimitive(c, p, next);
                next += (p == long.class || p == double.class) ? 2 : 1;
            } else {
                c.checkcast(ClassDesc.ofDescriptor(p.descriptorString()));
                c.astore(next++);
            }
        }
        int x = next, y = next + 1, z = next + 2;
        Label zTop = c.newLabel(), zEnd = c.newLabel(), yTop = c.newLabel(), yEnd = c.newLabel(), xTop = c.newLabel(), xEnd = c.newLabel();
        c.iconst_0(); c.istore(z);
        c.labelBinding(zTop); c.iload(z); c.iload(4); c.if_icmpge(zEnd);
        c.iconst_0(); c.istore(y);
        c.labelBinding(yTop); c.iload(y); c.iload(3); c.if_icmpge(yEnd);
        c.iconst_0(); c.istore(x);
        c.labelBinding(xTop); c.iload(x); c.iload(2); c.if_icmpge(xEnd);
        c.aload(1); c.iload(x); c.iload(y); c.iload(z);
        c.invokevirtual(CD_CONTEXT, "place", MethodTypeDesc.of(CD_void, CD_int, CD_int, CD_int));
        c.aload(1);
        for (int i = 1; i < params.length; i++) loadArgument(c, params[i], slots[i]);
        c.invokestatic(owner, name, type);
        c.iinc(x, 1); c.goto_(xTop);
        c.labelBinding(xEnd); c.iinc(y, 1); c.goto_(yTop);
        c.labelBinding(yEnd); c.iinc(z, 1); c.goto_(zTop);
        c.labelBinding(zEnd); c.return_();
    }

    private static void storePrimitive(CodeBuilder c, Class<?> p, int slot) {
        if (p == long.class) c.lstore(slot);
        else if (p == float.class) c.fstore(slot);
        else if (p == double.class) c.dstore(slot);
        else c.istore(slot);
    }

    private static void loadArgument(CodeBuilder c, Class<?> p, int slot) {
        if (!p.isPrimitive()) c.aload(slot);
        else if (p == long.class) c.lload(slot);
        else if (p == float.class) c.fload(slot);
        else if (p == double.class) c.dload(slot);
        else c.iload(slot);
    }
}
