package dev.arbor.accel;

/** An ordered queue of launches and copies (a CUDA stream; on the CPU, work runs at once). */
public interface AccelStream extends AutoCloseable {
    /** Waits until everything queued on this stream has finished. */
    void synchronize();

    @Override void close();
}
