package dev.arbor.accel.cuda;

import dev.arbor.accel.Recording;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Launches captured from a stream (cuStreamBeginCapture … cuStreamEndCapture) and instantiated once;
 * each {@link #replay()} is one cuGraphLaunch, skipping the per-kernel launch overhead.
 */
public final class CudaGraph implements Recording {
    private final CudaDevice device;
    private final CudaStream stream;
    private final MemorySegment graph;
    private final MemorySegment exec;

    private CudaGraph(CudaDevice device, CudaStream stream, MemorySegment graph, MemorySegment exec) {
        this.device = device;
        this.stream = stream;
        this.graph = graph;
        this.exec = exec;
    }

    /** Captures what {@code body} enqueues on {@code stream} from this thread. */
    static CudaGraph capture(CudaDevice device, CudaStream stream, Runnable body) {
        device.makeCurrent();
        check(call(() -> (int) cuStreamBeginCapture.invokeExact(stream.handle(), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)), "cuStreamBeginCapture");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            try {
                body.run();
            } finally {
                check(call(() -> (int) cuStreamEndCapture.invokeExact(stream.handle(), g)), "cuStreamEndCapture");
            }
            MemorySegment graph = g.get(ADDRESS, 0);
            MemorySegment e = a.allocate(ADDRESS);
            check(call(() -> (int) cuGraphInstantiate.invokeExact(e, graph, 0L)), "cuGraphInstantiateWithFlags");
            return new CudaGraph(device, stream, graph, e.get(ADDRESS, 0));
        }
    }

    @Override
    public void replay() {
        device.makeCurrent();
        check(call(() -> (int) cuGraphLaunch.invokeExact(exec, stream.handle())), "cuGraphLaunch");
    }

    /**
     * One cuGraphLaunch on the legacy default stream instead of the capture stream: the replay is then ordered
     * after the synchronous copies and default-stream launches before it and before those after it, with no
     * event or stream synchronisation between them (the capture stream is non-blocking, so a replay there is not).
     */
    public void replayOnDefaultStream() {
        device.makeCurrent();
        check(call(() -> (int) cuGraphLaunch.invokeExact(exec, MemorySegment.NULL)), "cuGraphLaunch (default stream)");
    }

    @Override
    public void close() {
        check(call(() -> (int) cuGraphExecDestroy.invokeExact(exec)), "cuGraphExecDestroy");
        check(call(() -> (int) cuGraphDestroy.invokeExact(graph)), "cuGraphDestroy");
    }
}
