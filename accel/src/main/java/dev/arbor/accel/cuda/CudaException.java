package dev.arbor.accel.cuda;

/** A CUDA driver call failed; the message carries the call, the kernel (when one is involved) and cuGetErrorString. */
public final class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The CUresult value. */
    public int code() { return code; }
}
