package dev.arbor.engine;

import java.util.Locale;

/**
 * Where the engine's steps spend their time, summed since the last {@link #reset()}, separately for
 * decode steps (every scheduled sequence has one new token: the steps a CUDA graph replays) and the
 * others (prefill and mixed). Per step, host phases in order: schedule, build inputs (the forward batch
 * and sampling rows), upload (copies to the device), launch (kernel launches or a graph replay, which
 * return before the device finishes), outputs (the previous step's outputs: detokenizing, the callers'
 * snapshots; made while the device runs this step), wait (lm_head, sampling, waiting for the device and
 * the sampled ids coming back), update (appending tokens, finishing, freeing; on the CPU, where nothing
 * overlaps the forward pass, also the step's own outputs). Device time is the span from the step's
 * first kernel to the end of its sampling kernels (CUDA events), NaN on the CPU; host overhead is wall time
 * minus device time: what a faster host path could still win. The decode steps replayed from a CUDA graph are also
 * summed apart ({@link #replayed()}): a bucket's first step launches eagerly, captures and instantiates its graph, which
 * a short run's mean over all decode steps spreads over the replays (llama3.2-1b b128 × 64 new tokens: 4 of 63 steps;
 * bench/RESULTS.md "Run 48-b1-10").
 */
public final class StepTimings {
    /** Sums over the steps of one kind, in milliseconds. */
    public static final class Sums {
        long steps, deviceSteps, tokens, gapSteps;
        double wall, schedule, inputs, upload, launch, outputs, wait, update, device, deviceWall, idle, idleMax, copies;

        public long steps() { return steps; }

        /** New tokens over these steps (one per sequence for decode steps). */
        public long tokens() { return tokens; }

        public double wallMillis() { return per(wall); }
        public double scheduleMillis() { return per(schedule); }
        public double inputsMillis() { return per(inputs); }
        public double uploadMillis() { return per(upload); }
        public double launchMillis() { return per(launch); }
        public double waitMillis() { return per(wait); }

        /** The previous step's outputs, made while the device runs this step (hidden behind it on a GPU). */
        public double outputsMillis() { return per(outputs); }
        public double updateMillis() { return per(update); }

        /** Mean device time of the steps that measured it; NaN when none did. */
        public double deviceMillis() { return deviceSteps == 0 ? Double.NaN : device / deviceSteps; }

        /** Mean host overhead (wall − device) of the steps that measured device time; NaN when none did. */
        public double hostOverheadMillis() { return deviceSteps == 0 ? Double.NaN : (deviceWall - device) / deviceSteps; }

        /**
         * Mean device idle before a step (CUDA events: from the previous step's last sampling kernel to this step's first input
         * copy, i.e. the host was late) over the steps that measured it; NaN when none did.
         */
        public double idleMillis() { return gapSteps == 0 ? Double.NaN : idle / gapSteps; }

        /** The longest such idle; NaN when none measured. */
        public double idleMaxMillis() { return gapSteps == 0 ? Double.NaN : idleMax; }

        /** Mean device time from a step's first input copy to its first kernel (the copies before it); NaN when none measured. */
        public double copiesMillis() { return gapSteps == 0 ? Double.NaN : copies / gapSteps; }

        /** Steps whose gap before them was measured. */
        public long gapSteps() { return gapSteps; }

        private double per(double total) { return steps == 0 ? Double.NaN : total / steps; }

        /** One line: mean wall per step, device time and host overhead beside it, then the host phases. */
        public String summary(String label) {
            if (steps == 0) return label + ": no steps";
            String dev = deviceSteps == 0 ? "device time not measured"
                    : String.format(Locale.ROOT, "device %.3f ms + host overhead %.3f ms (%.1f%% of the step)", deviceMillis(), hostOverheadMillis(),
                    100 * hostOverheadMillis() / (deviceWall / deviceSteps));
            return String.format(Locale.ROOT, "%s: %d steps, %.3f ms/step wall = %s; host phases ms/step: schedule %.3f, inputs %.3f, "
                            + "upload %.3f, launch %.3f, outputs (overlapped) %.3f, wait+ids back %.3f, update %.3f",
                    label, steps, wallMillis(), dev, scheduleMillis(), inputsMillis(), uploadMillis(), launchMillis(), outputsMillis(), waitMillis(),
                    updateMillis())
                    + (gapSteps == 0 ? "" : String.format(Locale.ROOT, "; device between steps (%d measured): idle %.3f ms/step (max %.3f), input copies %.3f",
                    gapSteps, idleMillis(), idleMaxMillis(), copiesMillis()));
        }
    }

    private final Sums decode = new Sums(), other = new Sums(), replayed = new Sums();
    private boolean afterReset;   // the next gap spans the reset (a benchmark's warm-up end to its timed run): not summed

    public Sums decode() { return decode; }

    /** The decode steps replayed from a recorded graph (a subset of {@link #decode()}): the steady state's host time. */
    public Sums replayed() { return replayed; }

    public Sums other() { return other; }

    public void reset() {
        afterReset = true;
        for (Sums s : new Sums[] {decode, other, replayed}) {
            s.steps = s.deviceSteps = s.tokens = 0;
            s.gapSteps = 0;
            s.wall = s.schedule = s.inputs = s.upload = s.launch = s.outputs = s.wait = s.update = s.device = s.deviceWall = 0;
            s.idle = s.idleMax = s.copies = 0;
        }
    }

    /**
     * Adds one step; times in nanoseconds except upload and device (milliseconds, from the model executor). {@code replayed}: a
     * decode step replayed from a recorded graph (summed into {@link #replayed()} too). {@code outputsNs}: host work between
     * the launch and the wait (the previous step's outputs).
     */
    public void add(boolean isDecode, boolean replayed, int tokens, long scheduleNs, long inputsNs, double uploadMs, long forwardNs, long outputsNs,
                    long waitNs, long updateNs, double deviceMs) {
        add(isDecode ? decode : other, tokens, scheduleNs, inputsNs, uploadMs, forwardNs, outputsNs, waitNs, updateNs, deviceMs);
        if (isDecode && replayed) add(this.replayed, tokens, scheduleNs, inputsNs, uploadMs, forwardNs, outputsNs, waitNs, updateNs, deviceMs);
    }

    /**
     * Adds the device gap before one step, {@code {idle, copies}} in milliseconds (ModelExecutor.lastGapMillis); skipped when
     * the idle was not measured (NaN: the CPU, the first step, a step after one that sampled nothing).
     */
    public void gap(boolean isDecode, boolean replayed, double[] gapMs) {
        if (afterReset) {   // the first step's gap after a reset reaches back before it (run 73-host20: 20.7 ms on seed workload 2)
            afterReset = false;
            return;
        }
        if (gapMs == null || gapMs.length < 2 || Double.isNaN(gapMs[0]) || Double.isNaN(gapMs[1])) return;
        gap(isDecode ? decode : other, gapMs);
        if (isDecode && replayed) gap(this.replayed, gapMs);
    }

    private static void gap(Sums s, double[] gapMs) {
        s.gapSteps++;
        s.idle += gapMs[0];
        s.idleMax = Math.max(s.idleMax, gapMs[0]);
        s.copies += gapMs[1];
    }

    private static void add(Sums s, int tokens, long scheduleNs, long inputsNs, double uploadMs, long forwardNs, long outputsNs, long waitNs,
                            long updateNs, double deviceMs) {
        double wall = (scheduleNs + inputsNs + forwardNs + outputsNs + waitNs + updateNs) / 1e6;
        s.steps++;
        s.tokens += tokens;
        s.wall += wall;
        s.schedule += scheduleNs / 1e6;
        s.inputs += inputsNs / 1e6;
        s.upload += uploadMs;
        s.launch += Math.max(0, forwardNs / 1e6 - uploadMs);
        s.outputs += outputsNs / 1e6;
        s.wait += waitNs / 1e6;
        s.update += updateNs / 1e6;
        if (!Double.isNaN(deviceMs)) {
            s.deviceSteps++;
            s.device += deviceMs;
            s.deviceWall += wall;
        }
    }
}
