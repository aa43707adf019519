package dev.arbor.accel;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a primitive kernel parameter whose value is baked into the PTX: each distinct value gets its
 * own compiled variant, so loop bounds and local-array sizes derived from it are constants
 * (ptxas unrolls and folds them). Use it for tile sizes and head dimensions, not for data sizes.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.PARAMETER)
public @interface Constant {}
