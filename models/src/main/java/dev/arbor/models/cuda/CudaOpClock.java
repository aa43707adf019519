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
    private long hostStart, hostLast;
    private boolean late;

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
        event(used++).record(null);
        hostLast = System.nanoTime();
    }

    @Override
    public double[] finish() {
        double[] ms = new double[Math.max(0, used - 1)];
        for (int i = 1; i < used; i++) ms[i - 1] = events.get(i).millisSince(events.get(i - 1));
        late = (hostLast - hostStart) / 1e6 > spinMillis;
        used = 0;
        return ms;
    }

    @Override public boolean lastStepLate() { return late; }

    @Override public String describe() { return String.format(java.util.Locale.ROOT, "CUDA events, eager launches queued behind a %.0f ms spin kernel", spinMillis); }

    @Override
    public void close() {
        for (CudaEvent e : events) e.close();
        events.clear();
        spinOut.close();
    }
}
