package dev.arbor.accel.cuda;

import dev.arbor.accel.AccelStream;
import dev.arbor.accel.Recording;

import java.util.Arrays;

/**
 * GPU time of a recorded graph, the way short kernels are measured (launch gaps shrink inside a
 * graph): CUDA events on the graph's stream around one replay, after warm-up replays; the median of
 * {@code trials}. Divide by the launches in the graph for a per-kernel time.
 */
public final class GraphTiming {
    private GraphTiming() {}

    public static double medianReplayMillis(CudaBackend cuda, AccelStream stream, Recording graph, int warmups, int trials) {
        try (CudaEvent start = new CudaEvent(cuda.device()); CudaEvent end = new CudaEvent(cuda.device())) {
            for (int i = 0; i < warmups; i++) graph.replay();
            stream.synchronize();
            double[] t = new double[trials];
            for (int i = 0; i < trials; i++) {
                start.record((CudaStream) stream);
                graph.replay();
                end.record((CudaStream) stream);
                t[i] = end.millisSince(start);
            }
            Arrays.sort(t);
            return t[trials / 2];
        }
    }
}
