package dev.arbor.models.cuda;

import dev.arbor.accel.array.IntArray;
import dev.arbor.accel.cuda.CudaBackend;
import dev.arbor.accel.cuda.CudaEvent;
import dev.arbor.kernels.layer.TimingKernels;
import dev.arbor.models.backend.OpClock;

import java.util.ArrayList;
import java.util.List;

/**
 * An {@link OpClock} of CUDA events on the stream the operations launch on (the default stream, as {@link CudaOps}'s
 * step timing). Each step first enqueues {@link TimingKernels#spin} for {@code spinMillis}, so the step's launches
 * queue behind it and the intervals between events are device time, not the host's launch gaps; a step whose launches
 * took the host longer than the spin is reported late. Events are created as needed (never during graph capture:
 * profiled steps launch eagerly) and reused.
 */
final class CudaOpClock implements OpClock {
    private final CudaBackend gpu;
    private final double spinMillis;
    private final int spinIterations;
    private final IntArray spinOut = new IntArray(1);
    private final List<CudaEvent> events = new ArrayList<>();
    private int used;            // events recorded this step, the start's included
    private long[] hostMarks = new long[512];   // host nanoTime at each mark (after the op's launch returned)
    private long hostStart;
    private int lateOps;

    CudaOpClock(CudaBackend gpu, double spinMillis) {
        this.gpu = gpu;
        this.spinMillis = spinMillis;
        gpu.toDevice(spinOut);
        this.spinIterations = calibrate();
    }

    /** Iterations of the spin kernel that take about {@code spinMillis} on this device (timed once, 2^20 iterations). */
    private int calibrate() {
        int probe = 1 << 20;
        try (CudaEvent a = new CudaEvent(gpu.device()); CudaEvent b = new CudaEvent(gpu.device())) {
            TimingKernels.launchSpin(gpu, spinOut, 1, probe);   // compiles and loads the kernel
            a.record(null);
            TimingKernels.launchSpin(gpu, spinOut, 1, probe);
            b.record(null);
            double ms = Math.max(1e-3, b.millisSince(a));
            return (int) Math.min(Integer.MAX_VALUE, Math.round(probe * spinMillis / ms));
        }
    }

    private CudaEvent event(int i) {
        while (events.size() <= i) events.add(new CudaEvent(gpu.device()));
        return events.get(i);
    }

    @Override
    public void start() {
        used = 0;
        TimingKernels.launchSpin(gpu, spinOut, used, spinIterations);
        event(used++).record(null);
        hostStart = System.nanoTime();
    }

    @Override
    public void mark() {
        if (used - 1 == hostMarks.length) hostMarks = java.util.Arrays.copyOf(hostMarks, 2 * hostMarks.length);
        hostMarks[used - 1] = System.nanoTime();
        event(used++).record(null);
    }

    @Override
    public double[] finish() {
        double[] ms = new double[Math.max(0, used - 1)];
        for (int i = 1; i < used; i++) ms[i - 1] = events.get(i).millisSince(events.get(i - 1));
        // op i's launch began when op i-1's returned (hostMarks[i-1]; the start for op 0); the device was ready for it
        // after the spin and ops 0..i-1: later than that, the device idled and the interval holds a host gap
        lateOps = 0;
        double deviceReady = spinMillis;
        for (int i = 0; i < ms.length; i++) {
            double launchBegan = ((i == 0 ? hostStart : hostMarks[i - 1]) - hostStart) / 1e6;
            if (launchBegan > deviceReady) lateOps++;
            deviceReady += ms[i];
        }
        used = 0;
        return ms;
    }

    @Override public int lastStepLateOps() { return lateOps; }

    @Override public String describe() { return String.format(java.util.Locale.ROOT, "CUDA events, eager launches queued behind a %.0f ms spin kernel", spinMillis); }

    @Override
    public void close() {
        for (CudaEvent e : events) e.close();
        events.clear();
        spinOut.close();
    }
}
