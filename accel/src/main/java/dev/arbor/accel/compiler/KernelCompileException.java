package dev.arbor.accel.compiler;

/** A kernel uses Java the compiler cannot translate; the message names kernel, method, construct and line. */
public final class KernelCompileException extends RuntimeException {
    public KernelCompileException(String message) { super(message); }
}
