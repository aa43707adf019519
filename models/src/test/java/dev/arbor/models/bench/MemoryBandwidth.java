package dev.arbor.models.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU decode floor's denominator: how fast this machine's cores can stream off-heap memory, the
 * way the forward pass reads weights (Vector API loads from a {@link MemorySegment}, one contiguous
 * range per thread). Reads a buffer far larger than the caches; median of 7 passes.
 * Usage: {@code MemoryBandwidth [MiB] [threads]}.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    public static void main(String[] args) {
        long bytes = (args.length > 0 ? Long.parseLong(args[0]) : 1024) << 20;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(bytes, 64);
            for (long i = 0; i < bytes; i += 4) buf.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, (i & 1023) * 1e-3f);
            double[] gbps = new double[7];
            double check = 0;
            for (int pass = 0; pass < gbps.length + 2; pass++) { // two warm-up passes
                long t0 = System.nanoTime();
                double sum = IntStream.range(0, threads).parallel().mapToDouble(t -> sum(buf, bytes * t / threads, bytes * (t + 1) / threads)).sum();
                double s = (System.nanoTime() - t0) / 1e9;
                if (pass >= 2) gbps[pass - 2] = bytes / s / 1e9;
                check += sum;
            }
            Arrays.sort(gbps);
            System.out.printf("read %d MiB with %d threads: median %.1f GB/s (min %.1f, max %.1f) [checksum %.3g]%n",
                    bytes >> 20, threads, gbps[3], gbps[0], gbps[6], check);
        }
    }

    /** Sum of the floats in [from, to) bytes (multiples of the vector size), four accumulators. */
    private static double sum(MemorySegment m, long from, long to) {
        long step = F.vectorByteSize();
        FloatVector a = FloatVector.zero(F), b = a, c = a, d = a;
        long i = from;
        for (; i + 4 * step <= to; i += 4 * step) {
            a = a.add(FloatVector.fromMemorySegment(F, m, i, ByteOrder.nativeOrder()));
            b = b.add(FloatVector.fromMemorySegment(F, m, i + step, ByteOrder.nativeOrder()));
            c = c.add(FloatVector.fromMemorySegment(F, m, i + 2 * step, ByteOrder.nativeOrder()));
            d = d.add(FloatVector.fromMemorySegment(F, m, i + 3 * step, ByteOrder.nativeOrder()));
        }
        double s = a.add(b).add(c).add(d).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
        for (; i < to; i += 4) s += m.get(java.lang.foreign.ValueLayout.JAVA_FLOAT, i);
        return s;
    }
}
