package dev.arbor.models.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Streaming reads from 4 KiB pages ({@link Arena#allocate}) against 2 MiB pages ({@link HugePages}), alternating in one JVM
 * (not a timed test): {@code MemoryBandwidth}'s loop (vector loads, four accumulators, one contiguous range per thread)
 * over two buffers of {@code MiB} each, far larger than the caches. Whether the weights' streams (batch-1 decode) would
 * gain from huge pages as the KV cache's scattered 2 KiB runs do. Usage: {@code PagesBandwidthBench [MiB] [threads]
 * [rounds]}.
 */
public final class PagesBandwidthBench {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    public static void main(String[] args) {
        long bytes = (args.length > 0 ? Long.parseLong(args[0]) : 512) << 20;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 9;
        Arena arena = Arena.ofAuto();
        MemorySegment[] buf = {arena.allocate(bytes, 64), HugePages.allocate(arena, bytes)};
        for (MemorySegment m : buf) for (long i = 0; i < bytes; i += 4) m.set(ValueLayout.JAVA_FLOAT, i, (i & 1023) * 1e-3f);
        double[][] gbps = new double[2][rounds];
        double check = 0;
        for (int r = -2; r < rounds; r++) {
            for (int v = 0; v < 2; v++) {
                MemorySegment m = buf[v];
                long t0 = System.nanoTime();
                check += IntStream.range(0, threads).parallel().mapToDouble(t -> sum(m, bytes * t / threads, bytes * (t + 1) / threads)).sum();
                if (r >= 0) gbps[v][r] = bytes / ((System.nanoTime() - t0) / 1e9) / 1e9;
            }
        }
        double[] ratio = new double[rounds];
        for (int r = 0; r < rounds; r++) ratio[r] = gbps[1][r] / gbps[0][r];
        for (int v = 0; v < 2; v++) {
            double[] s = gbps[v].clone();
            Arrays.sort(s);
            System.out.printf("%s pages, %d MiB, %d threads: median %.1f GB/s (min %.1f, max %.1f)%n", v == 0 ? "4 KiB" : "2 MiB",
                    bytes >> 20, threads, s[rounds / 2], s[0], s[rounds - 1]);
        }
        Arrays.sort(ratio);
        System.out.printf("2 MiB / 4 KiB per round: median %.3f (min %.3f, max %.3f) [checksum %.3g]%n", ratio[rounds / 2], ratio[0], ratio[rounds - 1], check);
    }

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
        for (; i < to; i += 4) s += m.get(ValueLayout.JAVA_FLOAT, i);
        return s;
    }
}
