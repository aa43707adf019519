package dev.arbor.accel;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Asks the compiler to fully unroll every loop of the annotated kernel or helper method. Each loop
 * must have a trip count known at compile time (bounds from literals, {@code static final}s or
 * {@link Constant} parameters): the compiler evaluates the loop conditions while translating and
 * emits the body once per iteration, with the loop variables as constants. Register arrays
 * ({@code new float[N]}) indexed by those variables then stay in registers.
 *
 * <p>A loop whose condition is not a compile-time constant, or that runs more than
 * {@value #MAX_ITERATIONS} times, is a compile error naming the method and line. The annotation
 * applies to the method's own body, not to the helpers it calls (annotate those too). The CPU
 * executor ignores it.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface Unroll {
    /** Most iterations one loop may be unrolled to. */
    int MAX_ITERATIONS = 1024;
}
