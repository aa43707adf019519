package dev.arbor.models.cuda;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaGraph;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decode steps with cascade groups (or, batch-invariant, a state handoff) as CUDA graphs, {@code -Darbor.cuda.cascadeGraphs}
 * ({@link #DEFAULT} unless set; read when a model is opened). Their launch sizes (groups, shared lengths, tile plans) change
 * from step to step, so {@link DecodeGraphs}' buckets cannot hold them: each such step's launches are captured afresh (on the
 * host, where they would have been launched) and the captured graph replaces the executable's nodes in place
 * ({@code cuGraphExecUpdate}: the same kernels in the same order, other sizes and arguments), or is instantiated where the
 * nodes changed; then one {@code cuGraphLaunch} on the default stream. What the device runs is the same kernels with the same
 * arguments in the same order as the eager launches, so the same bits; what changes is that the device gets the step as one
 * graph instead of ~500 stream launches.
 *
 * <p>Two executables alternate, so a step never updates the executable the step before it launched (its launch may still be
 * queued: with asynchronous scheduling this step's launches are made while the previous one runs); the one it updates ran two
 * steps ago, whose ids have been read since. The first such step of an engine runs eagerly (kernels compile and scratch
 * arrays are allocated there, which a capture may not do). A capture that fails runs the step eagerly; two failures turn
 * this off for the engine (logged).
 */
final class CascadeGraphs implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CascadeGraphs.class);

    static final String PROPERTY = "arbor.cuda.cascadeGraphs";
    static final boolean DEFAULT = false;

    static boolean requested() {
        return Boolean.parseBoolean(System.getProperty(PROPERTY, Boolean.toString(DEFAULT)));
    }

    private final CudaBackend gpu;
    private final java.util.function.LongSupplier gemmFallbacks;   // Gemm.captureFallbacks, or 0 without the GEMM
    private final CudaGraph[] graphs = new CudaGraph[2];
    private int next;                 // the executable this step takes
    private AccelStream stream;       // the capture stream, made on the first capture
    private boolean warmed, disabled;
    private int failures;
    private long replays, updates, instantiations, eager, remade;

    CascadeGraphs(CudaBackend gpu, java.util.function.LongSupplier gemmFallbacks) {
        this.gpu = gpu;
        this.gemmFallbacks = gemmFallbacks;
    }

    /** Runs a cascade/handoff decode step's launches: as a graph replay, or eagerly (the first step, or off after failures). */
    void run(Runnable launches) {
        if (disabled || !warmed) {
            warmed = true;
            eager++;
            launches.run();
            return;
        }
        int g = next;
        long fallbacks = gemmFallbacks.getAsLong();
        boolean lackedMap;
        try {
            if (graphs[g] == null) {
                if (stream == null) stream = gpu.newStream();
                graphs[g] = (CudaGraph) gpu.record(stream, launches);
                instantiations++;
            } else if (gpu.recapture(graphs[g], launches)) {
                updates++;
            } else {
                instantiations++;
            }
            // a GEMM met a matrix with no tensor map yet (made only outside a capture) and captured the slower cp.async tiles:
            // this step runs eagerly instead (below), which makes the map, and the next step is captured with it. Run 73-host20
            // saw that warning on seed workload 2 with the graph launched as captured: decode device +0.22 ms/step
            lackedMap = gemmFallbacks.getAsLong() != fallbacks;
            if (!lackedMap) graphs[g].replayOnDefaultStream();
        } catch (RuntimeException e) {
            // nothing of this step reached the device: launch it eagerly
            failures++;
            if (failures >= 2) disabled = true;
            LOG.warn("capturing a cascade decode step as a CUDA graph failed ({}); {}", e.toString(),
                    disabled ? "cascade decode steps are launched kernel by kernel from now on" : "this step is launched kernel by kernel");
            eager++;
            launches.run();
            return;
        }
        if (lackedMap) {   // graphs[g] not launched: the next step may update it again
            remade++;
            eager++;
            launches.run();
            return;
        }
        next ^= 1;
        replays++;
    }

    /**
     * Steps replayed as graphs, of them executables updated in place, executables instantiated (captures, all told), steps launched
     * eagerly, of them after a capture whose GEMM lacked a tensor map.
     */
    long[] counts() { return new long[] {replays, updates, instantiations, eager, remade}; }

    @Override
    public void close() {
        gpu.synchronize();
        if (replays + eager > 0) {
            LOG.info("cascade decode graphs: {} steps replayed ({} updated in place, {} instantiated), {} launched eagerly ({} after a capture "
                    + "that lacked a GEMM tensor map)", replays, updates, instantiations, eager, remade);
        }
        for (CudaGraph g : graphs) if (g != null) g.close();
        if (stream != null) stream.close();
    }
}
