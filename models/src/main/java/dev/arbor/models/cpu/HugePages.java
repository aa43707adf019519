package dev.arbor.models.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Off-heap buffers on transparent huge pages (2 MiB) where the kernel allows them only on request (Linux's
 * {@code transparent_hugepage/enabled = madvise}, this dev VM's setting): an anonymous {@code mmap} aligned to 2 MiB, then
 * {@code madvise(MADV_HUGEPAGE)} before the first touch, through the JDK's foreign function interface (libc, no library of
 * Arbor's own). Why: a batched decode step reads the whole paged KV cache in 2 KiB runs (one block of one kv head, 16
 * keys × 64 × bf16 at synthetic:100m), each on its own 4 KiB page, so each run costs a TLB miss and the hardware's
 * prefetch stops at the page's edge. {@code -Darbor.cpu.kvHugePages} (default true: a batch-8 decode step at 512-640
 * tokens of context 1.07-1.13x less CPU, 1.07-1.15x less wall, in four one-JVM A/Bs, cpu16 in {@code RESULTS.md}) puts
 * {@link PagedKvCache}'s layers here; anything that fails (another OS, no libc symbol, native access denied) falls back to
 * {@link Arena#allocate}. The memory is zero-filled either way (anonymous pages), so nothing read from it changes; unlike
 * {@link Arena#allocate}, which zeroes (and so commits) the whole store at once, pages are committed as the cache first
 * writes them.
 */
final class HugePages {
    private HugePages() {}

    /**
     * {@code -Darbor.cpu.weightHugePages}: the CPU backend's weights in buffers from {@link #allocate} (synthetic weights
     * generated there, a checkpoint's tensors copied there from the mapped files: {@link CpuModelBackend#resident}).
     * Streaming reads (batch-1 decode reads every weight once a step) from 2 MiB pages ran 1.38x (one thread) and 1.32x
     * (two threads) the rate from 4 KiB pages on this VM ({@code PagesBandwidthBench}, cpu16). Read when a model's weights
     * are made; not final, so a bench can load one model each way.
     */
    static boolean weights = Boolean.parseBoolean(System.getProperty("arbor.cpu.weightHugePages", "false"));

    /** {@code -Darbor.cpu.kvHugePages}; not final: {@code DecodeSwitchBench} opens one executor each way in one JVM. */
    static boolean kv = Boolean.parseBoolean(System.getProperty("arbor.cpu.kvHugePages", "true"));

    private static final Logger LOG = LoggerFactory.getLogger(HugePages.class);
    private static final long HUGE = 2L << 20;
    private static final int PROT_READ_WRITE = 0x1 | 0x2, MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20, MADV_HUGEPAGE = 14;
    private static final MethodHandle MMAP, MADVISE, MUNMAP;

    static {
        MethodHandle mmap = null, madvise = null, munmap = null;
        try {
            if (System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            }
        } catch (Throwable e) {   // no native access or no libc: the plain allocation
            mmap = madvise = munmap = null;
        }
        MMAP = mmap;
        MADVISE = madvise;
        MUNMAP = munmap;
    }

    /**
     * {@code bytes} zeroed bytes, 2 MiB-aligned and advised onto huge pages, unmapped when {@code arena} frees them (an
     * automatic arena: when the segment is unreachable); or {@code arena.allocate(bytes, 64)} where that is not possible.
     */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (MMAP == null || bytes < HUGE) return arena.allocate(bytes, 64);
        try {
            long len = (bytes + HUGE - 1) / HUGE * HUGE + HUGE;   // room to start on a 2 MiB boundary
            MemorySegment map = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, len, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0L);
            long at = map.address();
            if (at == -1L || at == 0L) return arena.allocate(bytes, 64);
            long start = (at + HUGE - 1) / HUGE * HUGE;
            int rc = (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), len - (start - at), MADV_HUGEPAGE);
            if (rc != 0) LOG.debug("madvise(MADV_HUGEPAGE) refused for {} bytes: a valid zeroed mapping on small pages", len);
            return MemorySegment.ofAddress(start).reinterpret(bytes, arena, s -> unmap(at, len));
        } catch (Throwable e) {
            return arena.allocate(bytes, 64);
        }
    }

    /** A copy of {@code src} in a buffer from {@link #allocate} (the same bytes). */
    static MemorySegment copy(Arena arena, MemorySegment src) {
        MemorySegment dst = allocate(arena, src.byteSize());
        MemorySegment.copy(src, 0, dst, 0, src.byteSize());
        return dst;
    }

    private static void unmap(long at, long len) {
        try {
            int rc = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(at), len);
            if (rc != 0) LOG.debug("munmap of {} bytes failed", len);
        } catch (Throwable ignored) {
            // the process keeps the mapping; nothing else to do from a cleanup action
        }
    }
}
