package dev.arbor.accel;

/**
 * A captured sequence of launches that can be replayed (a CUDA graph; on the CPU, the same launches
 * run again). Arguments are fixed at capture: replays see the arrays' current contents.
 */
public interface Recording extends AutoCloseable {
    /** Runs the captured launches once more, on the stream given at capture. */
    void replay();

    @Override void close();
}
