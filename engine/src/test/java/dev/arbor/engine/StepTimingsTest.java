package dev.arbor.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link StepTimings}: per-kind means, device time and host overhead over the steps that measured it. */
class StepTimingsTest {
    @Test
    void meansPerKindAndHostOverheadAsWallMinusDevice() {
        StepTimings t = new StepTimings();
        // two decode steps of 4 ms wall (0.1 schedule, 0.2 inputs, 0.5 forward of which 0.3 upload, 3.0 wait, 0.2 update), device 3.5 ms
        for (int i = 0; i < 2; i++) t.add(true, 8, 100_000, 200_000, 0.3, 500_000, 3_000_000, 200_000, 3.5);
        // one prefill step on the CPU: no device time
        t.add(false, 100, 0, 0, 0, 10_000_000, 0, 0, Double.NaN);
        StepTimings.Sums d = t.decode();
        assertEquals(2, d.steps());
        assertEquals(16, d.tokens());
        assertEquals(4.0, d.wallMillis(), 1e-9);
        assertEquals(0.3, d.uploadMillis(), 1e-9);
        assertEquals(0.2, d.launchMillis(), 1e-9, "forward minus upload");
        assertEquals(3.5, d.deviceMillis(), 1e-9);
        assertEquals(0.5, d.hostOverheadMillis(), 1e-9);
        assertTrue(d.summary("decode").contains("host overhead 0.500 ms (12.5% of the step)"), d.summary("decode"));
        StepTimings.Sums o = t.other();
        assertEquals(1, o.steps());
        assertEquals(10.0, o.wallMillis(), 1e-9);
        assertTrue(Double.isNaN(o.deviceMillis()) && Double.isNaN(o.hostOverheadMillis()));
        assertTrue(o.summary("other").contains("device time not measured"));
        t.reset();
        assertEquals(0, t.decode().steps());
        assertEquals("decode: no steps", t.decode().summary("decode"));
    }
}
