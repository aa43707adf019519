package dev.arbor.models.cuda;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Recording;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaException;
import dev.arbor.accel.cuda.CudaGraph;
import dev.arbor.models.ForwardBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decode steps as CUDA graphs, one per batch-size bucket (1, 2, 4, 8, …, then the step's sequence limit):
 * a decode batch is padded to its bucket ({@link ForwardBatch#padDecode}), its inputs are copied into the
 * workspace's fixed buffers, and the bucket's graph is replayed, one cuGraphLaunch instead of ~10 launches a
 * layer. The first step of a bucket runs its launches eagerly (compiling and allocating whatever they need,
 * which a capture may not do) and then captures them; later steps of that bucket replay. Prefill and mixed
 * steps are not graphed. Everything a graph reads is allocated once with the workspace, so the captured
 * pointers stay valid; the launch sizes a graph bakes in depend on the bucket only (attention's split grid
 * is sized for the longest context while {@link #fixedShapes()} holds, see {@code CudaOps.attention}).
 *
 * <p>NOTE (vLLM's cudagraph buckets): padding costs the padded rows' work (row-independent kernels, weight-bound
 * GEMMs at small batch), far less than the launches a graph saves.
 */
final class DecodeGraphs implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DecodeGraphs.class);

    private final CudaBackend gpu;
    private final int maxRows;
    private final Recording[] graphs;   // (bucket index) captured graph, null until its first step
    private final int[] bucketRows;     // (bucket index) rows of the bucket
    private AccelStream stream;         // the capture stream (non-blocking), created on first capture
    private boolean fixedShapes;
    private boolean defaultStreamReplay = true;
    private long replays, captures;

    /** @param maxRows the most sequences (= tokens) a decode step may hold: min(maxSeqs, maxTokens) */
    DecodeGraphs(CudaBackend gpu, int maxRows) {
        this.gpu = gpu;
        this.maxRows = maxRows;
        int n = 0;
        for (int r = 1; r < maxRows; r *= 2) n++;
        bucketRows = new int[n + 1];
        for (int i = 0, r = 1; i < n; i++, r *= 2) bucketRows[i] = r;
        bucketRows[n] = maxRows;
        graphs = new Recording[n + 1];
    }

    /** Bucket index for a decode batch of {@code rows} sequences: the smallest bucket holding them. */
    int bucket(int rows) {
        if (rows < 1 || rows > maxRows) throw new IllegalArgumentException(rows + " rows outside the buckets' 1 .. " + maxRows);
        int i = 0;
        while (bucketRows[i] < rows) i++;
        return i;
    }

    int rows(int bucket) { return bucketRows[bucket]; }

    /** True while a bucket's launches are being warmed up or captured: launch sizes must then depend on the bucket only. */
    boolean fixedShapes() { return fixedShapes; }

    /**
     * Runs the launches of a decode step padded to bucket {@code bucket}: replays its graph, or, the first
     * time, runs {@code launches} eagerly (this step's result) and captures them for the next steps.
     * The step's inputs must already be in the workspace's buffers.
     */
    void run(int bucket, Runnable launches) {
        Recording g = graphs[bucket];
        if (g != null) {
            replay(g);
            replays++;
            return;
        }
        fixedShapes = true;
        try {
            launches.run();
            if (stream == null) stream = gpu.newStream();
            graphs[bucket] = gpu.record(stream, launches);
            captures++;
            LOG.debug("captured the decode graph of bucket {} ({} rows)", bucket, bucketRows[bucket]);
        } finally {
            fixedShapes = false;
        }
    }

    /**
     * On the default stream, ordered with the synchronous input copies and the sampling launches around it; if
     * the driver refuses that, on the capture stream between two synchronisations (logged once).
     */
    private void replay(Recording g) {
        if (defaultStreamReplay && g instanceof CudaGraph cg) {
            try {
                cg.replayOnDefaultStream();
                return;
            } catch (CudaException e) {
                defaultStreamReplay = false;
                LOG.warn("CUDA graph replay on the default stream refused ({}); replaying on the capture stream with synchronisation", e.getMessage());
            }
        }
        gpu.synchronize();
        g.replay();
        stream.synchronize();
    }

    /** Graphs replayed and captured so far. */
    long replays() { return replays; }

    long captures() { return captures; }

    @Override
    public void close() {
        gpu.synchronize();
        for (Recording g : graphs) if (g != null) g.close();
        if (stream != null) stream.close();
    }
}
