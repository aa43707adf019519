package dev.arbor.accel;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;

/**
 * A kernel method: {@code public static void name(KernelContext ctx, ...)} whose other parameters are
 * off-heap arrays or primitives. Parameters annotated {@link Constant} are specialised per value.
 */
public final class Kernel {
    private final Method method;
    private final boolean[] constant; // per Java parameter, ctx included (always false)

    private Kernel(Method method) {
        this.method = method;
        var annotations = method.getParameterAnnotations();
        constant = new boolean[annotations.length];
        for (int i = 0; i < annotations.length; i++)
            for (var a : annotations[i]) if (a instanceof Constant) constant[i] = true;
        for (int i = 0; i < constant.length; i++)
            if (constant[i] && !method.getParameterTypes()[i].isPrimitive())
                throw new IllegalArgumentException(name() + ": @Constant parameter " + i + " must be a primitive");
    }

    /** The unique static method {@code name} of {@code owner} whose first parameter is a {@link KernelContext}. */
    public static Kernel of(Class<?> owner, String name) {
        Method[] candidates = Arrays.stream(owner.getDeclaredMethods())
                .filter(m -> m.getName().equals(name) && m.getParameterCount() > 0
                        && m.getParameterTypes()[0] == KernelContext.class)
                .toArray(Method[]::new);
        if (candidates.length != 1)
            throw new IllegalArgumentException(owner.getName() + "." + name + ": expected one kernel method (first parameter KernelContext), found " + candidates.length);
        Method m = candidates[0];
        if (!Modifier.isStatic(m.getModifiers()) || m.getReturnType() != void.class)
            throw new IllegalArgumentException(owner.getName() + "." + name + ": a kernel must be static and return void");
        m.setAccessible(true);
        return new Kernel(m);
    }

    public Method method() { return method; }

    /** Simple name, e.g. {@code "saxpy"}. */
    public String name() { return method.getName(); }

    public boolean isConstant(int parameterIndex) { return constant[parameterIndex]; }

    private static final Object[] NO_CONSTANTS = {};

    /**
     * The values of the {@link Constant} parameters in {@code args} (kernel arguments without the
     * context), in parameter order; this is the specialisation key.
     */
    public Object[] constantValues(Object[] args) {
        checkArity(args);
        int count = 0;
        for (int i = 0; i < args.length; i++) if (constant[i + 1]) count++;
        if (count == 0) return NO_CONSTANTS;
        Object[] values = new Object[count];
        for (int i = 0, k = 0; i < args.length; i++) if (constant[i + 1]) values[k++] = args[i];
        return values;
    }

    public void checkArity(Object[] args) {
        if (args.length != constant.length - 1)
            throw new IllegalArgumentException(name() + " takes " + (constant.length - 1) + " arguments after the context, got " + args.length);
    }

    @Override public String toString() { return method.getDeclaringClass().getSimpleName() + "." + name(); }
}
