package dev.arbor.accel.cuda;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The layout of a {@link PinnedStaging} block: {@code regions} equal regions one {@link #pitch} apart (the same offsets on the
 * host and on the device), each the home of one array of up to {@code regionBytes} bytes. A step that uses the first
 * {@code w} bytes of the first {@code h} regions copies them with one 2D copy (rows = regions, pitch = {@link #pitch}):
 * one driver call for h arrays, where one copy per array took h.
 *
 * <p>Pure arithmetic (no CUDA), so the CPU tests check it: regions are disjoint, {@link #ALIGN}-aligned, and
 * {@link #encode2D} fills the driver's {@code CUDA_MEMCPY2D} (cuda.h, 128 bytes on 64-bit hosts).
 */
public final class StagingLayout {
    /** Region alignment in bytes: cuMemAlloc's own, so a region's device view is as aligned as a whole allocation. */
    public static final int ALIGN = 256;
    /** {@code sizeof(CUDA_MEMCPY2D)} on a 64-bit host. */
    public static final int MEMCPY2D_BYTES = 128;

    private final int regions;
    private final long regionBytes, pitch;

    /**
     * @param regions     arrays in the block, ≥ 1
     * @param regionBytes the most bytes any of them holds, ≥ 0
     * @throws IllegalArgumentException on a count below 1 or negative bytes
     */
    public StagingLayout(int regions, long regionBytes) {
        if (regions < 1 || regionBytes < 0) throw new IllegalArgumentException(regions + " regions of " + regionBytes + " bytes: need ≥ 1 and ≥ 0");
        this.regions = regions;
        this.regionBytes = regionBytes;
        this.pitch = Math.max(ALIGN, (regionBytes + ALIGN - 1) / ALIGN * ALIGN);
        Math.multiplyExact(pitch, (long) regions);   // fails early on an absurd size
    }

    public int regions() { return regions; }

    /** Bytes an array of a region may take. */
    public long regionBytes() { return regionBytes; }

    /** Bytes from one region's start to the next's (a multiple of {@link #ALIGN}, at least {@link #regionBytes}). */
    public long pitch() { return pitch; }

    /** Bytes of the whole block. */
    public long bytes() { return pitch * regions; }

    /** Byte offset of region {@code r} in the block (host and device alike). */
    public long offset(int r) {
        if (r < 0 || r >= regions) throw new IndexOutOfBoundsException("region " + r + " of " + regions);
        return r * pitch;
    }

    /** Region {@code r}'s first {@code bytes} bytes of {@code block} (a segment of {@link #bytes} bytes). */
    public MemorySegment slice(MemorySegment block, int r, long bytes) {
        if (bytes < 0 || bytes > regionBytes) throw new IndexOutOfBoundsException(bytes + " bytes in a region of " + regionBytes);
        return block.asSlice(offset(r), bytes);
    }

    /**
     * Fills {@code copy} (at least {@link #MEMCPY2D_BYTES} bytes) as the {@code CUDA_MEMCPY2D} that copies the first
     * {@code widthBytes} bytes of regions {@code 0 .. height-1} from the host block at {@code hostAddress} to the device
     * block at {@code devicePointer}.
     *
     * @throws IndexOutOfBoundsException if {@code widthBytes} passes {@link #regionBytes} or {@code height} the region count
     */
    public void encode2D(MemorySegment copy, long hostAddress, long devicePointer, long widthBytes, int height) {
        if (widthBytes < 0 || widthBytes > regionBytes || height < 0 || height > regions) {
            throw new IndexOutOfBoundsException("a copy of " + widthBytes + " bytes × " + height + " regions of a " + regions + " × " + regionBytes + " block");
        }
        copy.asSlice(0, MEMCPY2D_BYTES).fill((byte) 0);
        // src: srcXInBytes 0, srcY 8, srcMemoryType 16, srcHost 24, srcDevice 32, srcArray 40, srcPitch 48
        copy.set(JAVA_INT, 16, CudaDriver.CU_MEMORYTYPE_HOST);
        copy.set(JAVA_LONG, 24, hostAddress);
        copy.set(JAVA_LONG, 48, pitch);
        // dst: dstXInBytes 56, dstY 64, dstMemoryType 72, dstHost 80, dstDevice 88, dstArray 96, dstPitch 104
        copy.set(JAVA_INT, 72, CudaDriver.CU_MEMORYTYPE_DEVICE);
        copy.set(JAVA_LONG, 88, devicePointer);
        copy.set(JAVA_LONG, 104, pitch);
        copy.set(JAVA_LONG, 112, widthBytes);   // WidthInBytes
        copy.set(JAVA_LONG, 120, height);       // Height
    }
}
