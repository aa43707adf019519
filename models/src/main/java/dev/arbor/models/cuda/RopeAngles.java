package dev.arbor.models.cuda;

import dev.arbor.accel.Backend;
import dev.arbor.accel.array.FloatArray;
import dev.arbor.accel.array.IntArray;
import dev.arbor.kernels.layer.TokenOps;
import dev.arbor.models.cpu.Rope;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A step's RoPE angles, {@code cos, sin (tokens, half)} for the rope kernels, gathered from a table by position instead of
 * computed per token per step. The table ({@code (maxPositions, half)} cos and sin, on the host and the device) holds
 * {@link Rope#fill}'s values for positions {@code 0 .. filled-1}, so a token gets the same float32 bits as before; rows are
 * computed once, when a step first reaches past {@code filled} (the table grows to at least twice its filled rows), and
 * uploaded then.
 *
 * <p>Why: an 8 × 2048 prefill step computed 16,384 × 64 cos/sin pairs on the host with {@code Math.cos/sin} and uploaded
 * 8 MB from pageable memory, about 24 ms of host time before its first kernel (bench/RESULTS.md run 28). Now a step of
 * more than {@link #HOST_COPY_MAX_TOKENS} tokens launches two gathers ({@link TokenOps#gatherRows}) from the device table
 * by the step's positions (already uploaded); smaller steps (decode: no extra launch before the graph replay) copy their
 * rows from the host table and upload them, as before but without the trigonometry.
 */
final class RopeAngles implements AutoCloseable {
    /** Steps of up to this many tokens copy host rows (2 × tokens × half floats); larger ones gather on the device. */
    static final int HOST_COPY_MAX_TOKENS = 256;

    private final Rope rope;
    private final int half, maxPositions;
    private final FloatArray cosTable, sinTable;   // (maxPositions, half), rows < filled valid on host and device
    private int filled;

    /**
     * @param maxPositions the most positions a sequence can have (maxBlocksPerSeq × blockSize): positions are below it
     */
    RopeAngles(Backend b, Rope rope, int maxPositions) {
        if (maxPositions < 1) throw new IllegalArgumentException("maxPositions must be positive: " + maxPositions);
        if ((long) maxPositions * rope.half() > Integer.MAX_VALUE) throw new IllegalArgumentException("a RoPE table of " + maxPositions + " positions exceeds one array");
        this.rope = rope;
        this.half = rope.half();
        this.maxPositions = maxPositions;
        cosTable = new FloatArray(maxPositions * half);
        sinTable = new FloatArray(maxPositions * half);
        b.toDevice(cosTable, sinTable);   // zeros past filled: never read (positions are checked against filled)
    }

    /** Rows of the table computed so far. */
    int filled() { return filled; }

    /**
     * Fills {@code cos, sin (tokens, half)} (host and device) with the angles of {@code positions[0 .. tokens)}, queued on the
     * default stream before the step's kernels. {@code devicePositions} must already hold the same positions on the device.
     */
    void fill(Backend b, int[] positions, int tokens, IntArray devicePositions, FloatArray cos, FloatArray sin) {
        if (tokens == 0) return;
        int most = 0;
        for (int t = 0; t < tokens; t++) {
            int p = positions[t];
            if (p < 0 || p >= maxPositions) throw new IllegalArgumentException("position " + p + " outside the RoPE table's 0.." + (maxPositions - 1));
            most = Math.max(most, p);
        }
        grow(b, most + 1);
        if (tokens <= HOST_COPY_MAX_TOKENS) {
            for (int t = 0; t < tokens; t++) {
                long from = 4L * positions[t] * half, to = 4L * t * half;
                MemorySegment.copy(cosTable.segment(), from, cos.segment(), to, 4L * half);
                MemorySegment.copy(sinTable.segment(), from, sin.segment(), to, 4L * half);
            }
            b.toDeviceAsync(cos, tokens * half);
            b.toDeviceAsync(sin, tokens * half);
            return;
        }
        TokenOps.gatherRows(b, cosTable, devicePositions, cos, tokens, half);
        TokenOps.gatherRows(b, sinTable, devicePositions, sin, tokens, half);
    }

    /** Computes rows filled .. (at least needed, at least twice filled, at most maxPositions) and uploads the table's valid rows. */
    private void grow(Backend b, int needed) {
        if (needed <= filled) return;
        int to = (int) Math.min(maxPositions, Math.max(needed, Math.max(1024L, 2L * filled)));
        int count = to - filled;
        int[] pos = new int[count];
        for (int i = 0; i < count; i++) pos[i] = filled + i;
        float[] c = new float[count * half], s = new float[count * half];
        rope.fill(pos, count, c, s);
        MemorySegment.copy(c, 0, cosTable.segment(), ValueLayout.JAVA_FLOAT, 4L * filled * half, count * half);
        MemorySegment.copy(s, 0, sinTable.segment(), ValueLayout.JAVA_FLOAT, 4L * filled * half, count * half);
        b.toDevice(cosTable, to * half);   // synchronous, rare (log₂ of the longest context times)
        b.toDevice(sinTable, to * half);
        filled = to;
    }

    @Override
    public void close() {
        cosTable.close();
        sinTable.close();
    }
}
