package dev.arbor.models.testing;

import dev.arbor.models.CausalLM;
import dev.arbor.models.ModelExecutor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.function.Supplier;

/**
 * Wraps a model so that its executors' {@link ModelExecutor#forward()} throws what {@code failure}
 * supplies whenever it supplies something (null: run normally), for tests of how the engine and server
 * survive a model failure.
 */
public final class FailingModels {
    private FailingModels() {}

    public static CausalLM throwingOnForward(CausalLM model, Supplier<Throwable> failure) {
        return proxy(CausalLM.class, model, (m, args) -> {
            if (m.getName().equals("open")) {
                ModelExecutor real = (ModelExecutor) invoke(m, model, args);
                return proxy(ModelExecutor.class, real, (em, eargs) -> {
                    Throwable f = em.getName().equals("forward") ? failure.get() : null;
                    if (f != null) throw f;
                    return invoke(em, real, eargs);
                });
            }
            return invoke(m, model, args);
        });
    }

    private interface Handler {
        Object handle(Method m, Object[] args) throws Throwable;
    }

    private static <T> T proxy(Class<T> type, T target, Handler h) {
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, args) -> h.handle(m, args)));
    }

    private static Object invoke(Method m, Object target, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
