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
    private MemorySegment graph;
    private MemorySegment exec;

    private CudaGraph(CudaDevice device, CudaStream stream, MemorySegment graph, MemorySegment exec) {
        this.device = device;
        this.stream = stream;
        this.graph = graph;
        this.exec = exec;
    }

    /** Captures what {@code body} enqueues on {@code stream} from this thread. */
    static CudaGraph capture(CudaDevice device, CudaStream stream, Runnable body) {
        MemorySegment graph = captureGraph(device, stream, body);
        return new CudaGraph(device, stream, graph, instantiate(graph));
    }

    /** cuGraphInstantiate of {@code graph}: its executable; on failure the graph is destroyed and the error thrown. */
    private static MemorySegment instantiate(MemorySegment graph) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(ADDRESS);
            int r = call(() -> (int) cuGraphInstantiate.invokeExact(e, graph, 0L));
            if (r != 0) {
                call(() -> (int) cuGraphDestroy.invokeExact(graph));
                check(r, "cuGraphInstantiateWithFlags");
            }
            return e.get(ADDRESS, 0);
        }
    }

    /**
     * cuStreamBeginCapture, {@code body}, cuStreamEndCapture: the captured graph (the caller owns it). When {@code body}
     * throws, the capture is still ended (the stream usable again) and its partial graph destroyed before the exception
     * goes on.
     */
    private static MemorySegment captureGraph(CudaDevice device, CudaStream stream, Runnable body) {
        device.makeCurrent();
        check(call(() -> (int) cuStreamBeginCapture.invokeExact(stream.handle(), CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)), "cuStreamBeginCapture");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            try {
                body.run();
            } catch (RuntimeException | Error e) {
                if (call(() -> (int) cuStreamEndCapture.invokeExact(stream.handle(), g)) == 0 && !g.get(ADDRESS, 0).equals(MemorySegment.NULL)) {
                    MemorySegment dropped = g.get(ADDRESS, 0);
                    call(() -> (int) cuGraphDestroy.invokeExact(dropped));
                }
                throw e;
            }
            check(call(() -> (int) cuStreamEndCapture.invokeExact(stream.handle(), g)), "cuStreamEndCapture");
            return g.get(ADDRESS, 0);
        }
    }

    CudaStream stream() { return stream; }

    /**
     * Captures what {@code body} enqueues on this graph's stream (from this thread) into a new graph and makes this graph run
     * it from now on: {@code cuGraphExecUpdate} where the driver takes it (the same nodes in the same order, only launch sizes
     * and arguments changed), else a new instantiation. Launches of this graph already queued run what they ran before; the
     * caller should still not update a graph whose last launch may not have run yet (the driver may wait for it).
     * Returns true when the executable was updated in place. On an exception this graph is left as it was.
     */
    boolean recapture(Runnable body) {
        MemorySegment fresh = captureGraph(device, stream, body);
        try (Arena a = Arena.ofConfined()) {
            boolean updated = false;
            if (cuGraphExecUpdate != null) {
                MemorySegment info = a.allocate(GRAPH_EXEC_UPDATE_RESULT_INFO_BYTES, 8);
                MemorySegment e = exec;
                updated = call(() -> (int) cuGraphExecUpdate.invokeExact(e, fresh, info)) == 0;
            }
            if (!updated) {
                MemorySegment fresher = instantiate(fresh);
                MemorySegment old = exec;
                check(call(() -> (int) cuGraphExecDestroy.invokeExact(old)), "cuGraphExecDestroy");
                exec = fresher;
            }
            MemorySegment old = graph;
            check(call(() -> (int) cuGraphDestroy.invokeExact(old)), "cuGraphDestroy");
            graph = fresh;
            return updated;
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
