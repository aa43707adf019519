package dev.arbor.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link StepTimings}: per-kind means, device time and host overhead over the steps that measured it. */
class StepTimingsTest {
    @Test
    void meansPerKindAndHostOverheadAsWallMinusDevice() {
        StepTimings t = new StepTimings();
        // two decode steps of 4 ms wall (0.1 schedule, 0.2 inputs, 0.5 forward of which 0.3 upload, 0.4 outputs while the device runs,
        // 2.6 wait, 0.2 update), device 3.5 ms
        for (int i = 0; i < 2; i++) t.add(true, false, 8, 100_000, 200_000, 0.3, 500_000, 400_000, 2_600_000, 200_000, 3.5);
        // one prefill step on the CPU: no device time
        t.add(false, false, 100, 0, 0, 0, 10_000_000, 0, 0, 0, Double.NaN);
        StepTimings.Sums d = t.decode();
        assertEquals(2, d.steps());
        assertEquals(16, d.tokens());
        assertEquals(4.0, d.wallMillis(), 1e-9);
        assertEquals(0.3, d.uploadMillis(), 1e-9);
        assertEquals(0.2, d.launchMillis(), 1e-9, "forward minus upload");
        assertEquals(0.4, d.outputsMillis(), 1e-9);
        assertEquals(2.6, d.waitMillis(), 1e-9);
        assertEquals(3.5, d.deviceMillis(), 1e-9);
        assertEquals(0.5, d.hostOverheadMillis(), 1e-9);
        assertTrue(d.summary("decode").contains("host overhead 0.500 ms (12.5% of the step)"), d.summary("decode"));
        StepTimings.Sums o = t.other();
        assertEquals(1, o.steps());
        assertEquals(10.0, o.wallMillis(), 1e-9);
        assertTrue(Double.isNaN(o.deviceMillis()) && Double.isNaN(o.hostOverheadMillis()));
        assertTrue(o.summary("other").contains("device time not measured"));
        assertEquals(0, t.replayed().steps(), "no step was replayed");
        t.reset();
        assertEquals(0, t.decode().steps());
        assertEquals("decode: no steps", t.decode().summary("decode"));
    }

    /**
     * A graph bucket's first decode step (eager launches, capture, instantiation: 20 ms of launch here) counts in the decode
     * mean but not in the replayed steps' sums, whose host overhead is the steady state's.
     */
    @Test
    void replayedDecodeStepsAreSummedApart() {
        StepTimings t = new StepTimings();
        t.add(true, false, 4, 0, 0, 0.0, 20_000_000, 0, 3_000_000, 0, 2.9);   // captured: 23 ms wall, device 2.9
        for (int i = 0; i < 3; i++) t.add(true, true, 4, 0, 0, 0.1, 300_000, 0, 3_000_000, 0, 2.9);   // replays: 3.3 ms wall
        t.add(false, true, 100, 0, 0, 0.0, 1_000_000, 0, 0, 0, 1.0);   // not a decode step: never in the replayed sums
        StepTimings.Sums d = t.decode(), r = t.replayed();
        assertEquals(4, d.steps());
        assertEquals(3, r.steps());
        assertEquals(12, r.tokens());
        assertEquals(0.4, r.hostOverheadMillis(), 1e-9, "3.3 ms wall - 2.9 device");
        assertEquals(0.2, r.launchMillis(), 1e-9, "forward 0.3 minus upload 0.1");
        assertEquals((23.0 + 3 * 3.3) / 4 - 2.9, d.hostOverheadMillis(), 1e-9, "the capture spread over every decode step");
        t.reset();
        assertEquals(0, t.replayed().steps());
    }

    /** The device gap before a step: means and the longest idle over the steps that measured it; NaN gaps (CPU, first step) skipped. */
    @Test
    void deviceGapsBetweenStepsPerKind() {
        StepTimings t = new StepTimings();
        assertTrue(Double.isNaN(t.decode().idleMillis()), "none measured");
        t.gap(true, false, new double[] {Double.NaN, 0.02});   // the first step: no previous end
        t.gap(true, false, new double[] {0.5, 0.02});
        t.gap(true, true, new double[] {0.1, 0.04});
        t.gap(false, false, new double[] {2.0, 0.3});
        t.gap(true, false, new double[] {Double.NaN, Double.NaN});   // the CPU
        StepTimings.Sums d = t.decode();
        assertEquals(2, d.gapSteps());
        assertEquals(0.3, d.idleMillis(), 1e-9);
        assertEquals(0.5, d.idleMaxMillis(), 1e-9);
        assertEquals(0.03, d.copiesMillis(), 1e-9);
        assertEquals(1, t.replayed().gapSteps());
        assertEquals(0.1, t.replayed().idleMillis(), 1e-9);
        assertEquals(2.0, t.other().idleMillis(), 1e-9);
        t.add(true, false, 8, 100_000, 200_000, 0.3, 500_000, 400_000, 2_600_000, 200_000, 3.5);
        assertTrue(d.summary("decode").contains("device between steps (2 measured): idle 0.300 ms/step (max 0.500), input copies 0.030"), d.summary("decode"));
        t.reset();
        assertEquals(0, t.decode().gapSteps());
        assertTrue(Double.isNaN(t.decode().idleMaxMillis()));
        t.gap(false, false, new double[] {20.0, 0.1});   // the first step after a reset: its gap reaches back before the reset
        assertEquals(0, t.other().gapSteps(), "the gap across the reset is not summed");
        t.gap(false, false, new double[] {1.0, 0.1});
        assertEquals(1.0, t.other().idleMillis(), 1e-9);
    }
}
