package dev.arbor.accel.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.arbor.accel.cuda.CudaDriver.*;
import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * A page-locked ring (cuMemHostAlloc) that asynchronous host → device copies from pageable memory pass through: the source is
 * copied into the ring on the host, then the copy engine reads the ring ({@code cuMemcpyHtoDAsync} from page-locked memory,
 * queued, never waiting on the stream). The same bytes reach the same device addresses in the same stream order as the
 * pageable copy they replace.
 *
 * <p>Why (issue 12): a decode step still made 3-6 pageable copies outside {@link PinnedStaging} (the flash plan's tiles, the
 * fed-token pairs, the sampler's CSR lists, the block tables' changed rows every 16th step). From pageable memory the driver
 * stages the source itself and, per cudaMemcpyAsync's documentation, "may synchronize with the stream" to do so; llama3.2-1b
 * b128 showed the device idle 0.06-0.09 ms between graph replays with the host waiting ~1.5 ms a step (runs 94, 96).
 *
 * <p>The ring is {@link RingCursor#segments} segments; a copy takes the next aligned bytes of the current segment, and moving
 * on to a segment first waits for the event recorded when it was last left (its copies have run, so its bytes are free).
 * A copy larger than a segment is not taken ({@link #fits}): the caller copies it from pageable memory as before.
 * One default stream (NULL) for every copy and event: the caller only routes copies queued there.
 */
public final class PinnedRing implements AutoCloseable {
    /** The switch: {@code -Darbor.cuda.pinnedCopies} (see CudaOps; read when an engine's ops are made). */
    public static final String PROPERTY = "arbor.cuda.pinnedCopies";
    /** Ring bytes: 8 segments of 512 KB (a llama3.2-1b b128 decode step routes ~10 KB, 256 KB every 16th step). */
    public static final long DEFAULT_BYTES = 4L << 20;
    public static final int DEFAULT_SEGMENTS = 8;

    private static final CopyOnWriteArrayList<long[]> PINNED = new CopyOnWriteArrayList<>();
    private static final java.util.concurrent.atomic.AtomicLong ROUTED = new java.util.concurrent.atomic.AtomicLong();

    private final CudaDevice device;
    private final MemorySegment host;
    private final RingCursor cursor;
    private final CudaEvent[] left;     // (segment) recorded on the default stream after the copies of its last use
    private final boolean[] recorded;
    private final Arena arena = Arena.ofShared();
    private long routed, waits;
    private boolean closed;

    public PinnedRing(CudaDevice device, long bytes, int segments) {
        this.device = device;
        this.cursor = new RingCursor(bytes, segments, 256);
        device.makeCurrent();
        MemorySegment out = arena.allocate(ADDRESS);
        check(call(() -> (int) cuMemHostAlloc.invokeExact(out, bytes, 0)), "cuMemHostAlloc(" + bytes + " bytes)");
        host = out.get(ADDRESS, 0).reinterpret(bytes);
        register(host);
        left = new CudaEvent[segments];
        recorded = new boolean[segments];
        for (int s = 0; s < segments; s++) left[s] = new CudaEvent(device);
    }

    /** Marks {@code block} page-locked for {@link #pinned} (PinnedStaging's blocks and the ring itself). */
    static void register(MemorySegment block) { PINNED.add(new long[] {block.address(), block.address() + block.byteSize()}); }

    static void unregister(MemorySegment block) { PINNED.removeIf(r -> r[0] == block.address()); }

    /** Whether {@code [address, address + bytes)} lies in a registered page-locked block (then it is copied directly). */
    static boolean pinned(long address, long bytes) {
        for (long[] r : PINNED) if (address >= r[0] && address + bytes <= r[1]) return true;
        return false;
    }

    /** Whether a copy of {@code bytes} can pass through the ring (at most a segment). */
    public boolean fits(long bytes) { return bytes <= cursor.segmentBytes(); }

    /**
     * Copies {@code src} into the ring and queues its copy to device address {@code dst} on the default stream; returns at once
     * unless the ring's next segment is still being read (then it waits for that segment's copies, not for the stream).
     */
    public synchronized void upload(long dst, MemorySegment src) {
        long bytes = src.byteSize();
        int before = cursor.segment();
        long at = cursor.take(bytes);
        int now = cursor.segment();
        if (now != before) {
            left[before].record(null);   // after every copy queued from segment `before`
            recorded[before] = true;
            if (recorded[now]) {
                left[now].synchronize();
                waits++;
            }
        }
        MemorySegment slot = host.asSlice(at, bytes);
        MemorySegment.copy(src, 0, slot, 0, bytes);
        device.makeCurrent();
        check(call(() -> (int) cuMemcpyHtoDAsync.invokeExact(dst, slot, bytes, MemorySegment.NULL)), "cuMemcpyHtoDAsync (pinned ring)");
        routed++;
        ROUTED.incrementAndGet();
    }

    /** Copies routed through any ring of this JVM so far (tests: the switch took effect). */
    public static long routedTotal() { return ROUTED.get(); }

    /** Copies routed through the ring so far, and how many of them waited for a segment. */
    public synchronized long[] counts() { return new long[] {routed, waits}; }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        device.makeCurrent();
        check(call(() -> (int) cuCtxSynchronize.invokeExact()), "cuCtxSynchronize");
        for (CudaEvent e : left) e.close();
        unregister(host);
        check(call(() -> (int) cuMemFreeHost.invokeExact(host)), "cuMemFreeHost");
        arena.close();
    }

    /**
     * The ring's arithmetic (no device): {@code segments} equal segments of {@code bytes}; {@link #take} returns the offset of
     * the next {@code align}-aligned span of a segment, moving to the next segment (cyclically) when the current one has no room.
     */
    static final class RingCursor {
        private final long segmentBytes, align;
        private final int segments;
        private int segment;
        private long used;

        RingCursor(long bytes, int segments, long align) {
            if (segments < 2 || bytes / segments < align) throw new IllegalArgumentException("a ring of " + bytes + " bytes in " + segments + " segments");
            this.segments = segments;
            this.align = align;
            this.segmentBytes = bytes / segments / align * align;
        }

        long segmentBytes() { return segmentBytes; }

        int segments() { return segments; }

        int segment() { return segment; }

        long take(long bytes) {
            if (bytes < 0 || bytes > segmentBytes) throw new IllegalArgumentException(bytes + " bytes in a segment of " + segmentBytes);
            if (used + bytes > segmentBytes) {
                segment = (segment + 1) % segments;
                used = 0;
            }
            long at = segment * segmentBytes + used;
            used += (bytes + align - 1) / align * align;
            return at;
        }
    }
}
