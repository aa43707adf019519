package dev.arbor.models.cuda;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Recording;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaException;
import dev.arbor.accel.cuda.CudaGraph;
import dev.arbor.kernels.attention.AttentionKernels;
import dev.arbor.models.ForwardBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decode steps as CUDA graphs, one per batch-size bucket (1, 2, 4, 8, …, then the step's sequence limit) and
 * context bucket (attention's split grid: 1, 2, 4, … splits of {@link AttentionKernels#SPLIT} keys, up to the longest context):
 * a decode batch is padded to its bucket ({@link ForwardBatch#padDecode}), its inputs are copied into the
 * workspace's fixed buffers, and the bucket's graph is replayed, one cuGraphLaunch instead of ~10 launches a
 * layer. The first step of a bucket runs its launches eagerly (compiling and allocating whatever they need,
 * which a capture may not do) and then captures them; later steps of that bucket replay. Prefill and mixed
 * steps are not graphed. Everything a graph reads is allocated once with the workspace, so the captured
 * pointers stay valid; the launch sizes a graph bakes in depend on its buckets only (attention's split grid
 * is sized for the context bucket's bound, {@link #contextBound()}, while a bucket is warmed up or captured). A
 * split past a token's context does no work, so one graph would serve every context, but each empty split is still
 * a work-group per (token, kv head) in every layer: the context buckets keep a short context from paying for 4,096 keys.
 *
 * <p>NOTE (vLLM's cudagraph buckets): padding costs the padded rows' work (row-independent kernels, weight-bound
 * GEMMs at small batch), far less than the launches a graph saves.
 */
final class DecodeGraphs implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DecodeGraphs.class);

    private final CudaBackend gpu;
    private final int maxRows;
    private final Recording[][] graphs; // (batch bucket, context bucket) captured graph, null until its first step
    private final int[] bucketRows;     // (batch bucket) rows of the bucket
    private final int[] contextBounds;  // (context bucket) keys attention's grid is sized for: 2^j splits, the last one the longest context
    private AccelStream stream;         // the capture stream (non-blocking), created on first capture
    private int contextBound = -1;      // while warming up or capturing: the context bucket's bound, else -1
    private boolean defaultStreamReplay = true;
    private boolean disabled;           // a capture failed: eager launches from then on
    private long replays, captures;

    /**
     * @param maxRows    the most sequences (= tokens) a decode step may hold: min(maxSeqs, maxTokens)
     * @param maxContext the longest context (keys) a sequence may have: maxBlocksPerSeq × blockSize
     */
    DecodeGraphs(CudaBackend gpu, int maxRows, int maxContext) {
        this.gpu = gpu;
        this.maxRows = maxRows;
        this.bucketRows = powersUpTo(maxRows);
        int maxSplits = (maxContext + AttentionKernels.SPLIT - 1) / AttentionKernels.SPLIT;
        int[] splits = powersUpTo(maxSplits);
        contextBounds = new int[splits.length];
        for (int j = 0; j < splits.length; j++) contextBounds[j] = Math.min(maxContext, splits[j] * AttentionKernels.SPLIT);
        graphs = new Recording[bucketRows.length][contextBounds.length];
    }

    /** 1, 2, 4, … below {@code max}, then {@code max}: the buckets of a size that reaches {@code max}. */
    static int[] powersUpTo(int max) {
        if (max < 1) throw new IllegalArgumentException("bucket limit " + max + " < 1");
        int n = 0;
        for (int r = 1; r < max; r *= 2) n++;
        int[] b = new int[n + 1];
        for (int i = 0, r = 1; i < n; i++, r *= 2) b[i] = r;
        b[n] = max;
        return b;
    }

    /** The smallest bucket of {@code buckets} holding {@code size}. */
    static int bucketOf(int[] buckets, int size) {
        if (size < 1 || size > buckets[buckets.length - 1]) {
            throw new IllegalArgumentException(size + " outside the buckets' 1 .. " + buckets[buckets.length - 1]);
        }
        int i = 0;
        while (buckets[i] < size) i++;
        return i;
    }

    /** Batch bucket for a decode batch of {@code rows} sequences. */
    int bucket(int rows) { return bucketOf(bucketRows, rows); }

    int rows(int bucket) { return bucketRows[bucket]; }

    /** Context bucket for a batch whose longest context is {@code keys} keys. */
    int contextBucket(int keys) { return bucketOf(contextBounds, keys); }

    /**
     * While a bucket's launches are warmed up or captured: the context (keys) attention's split grid must be sized
     * for, so the launch depends on the bucket only; -1 otherwise (size it by the batch).
     */
    int contextBound() { return contextBound; }

    /**
     * Runs the launches of a decode step padded to batch bucket {@code bucket} whose contexts fit context bucket
     * {@code contextBucket}: replays their graph, or, the first time, runs {@code launches} eagerly (this step's
     * result) and captures them for the next steps.
     * The step's inputs must already be in the workspace's buffers.
     */
    void run(int bucket, int contextBucket, Runnable launches) {
        if (disabled) {
            launches.run();
            return;
        }
        Recording g = graphs[bucket][contextBucket];
        if (g != null) {
            replay(g);
            replays++;
            return;
        }
        contextBound = contextBounds[contextBucket];
        try {
            launches.run();
            if (disabled) return;
            if (stream == null) stream = gpu.newStream();
            try {
                graphs[bucket][contextBucket] = gpu.record(stream, launches);
                captures++;
                LOG.debug("captured the decode graph of {} rows, contexts up to {} keys", bucketRows[bucket], contextBound);
            } catch (RuntimeException e) {
                // this step's result came from the eager launches above; later steps run eagerly too
                disabled = true;
                gpu.synchronize();
                LOG.warn("capturing a decode step as a CUDA graph failed ({}); decode steps are launched kernel by kernel from now on", e.toString());
            }
        } finally {
            contextBound = -1;
        }
    }

    /** False once a capture failed: {@link #run} then launches every step eagerly. */
    boolean enabled() { return !disabled; }

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
        for (Recording[] row : graphs) for (Recording g : row) if (g != null) g.close();
        if (stream != null) stream.close();
    }
}
