package dev.arbor.engine.core;

import java.util.List;

/**
 * What one step computes, in batch order, and which sequences were preempted to make room.
 * The model runner is the only consumer that turns this into model inputs.
 */
public record SchedulerOutput(List<ScheduledSeq> scheduled, List<Sequence> preempted) {

    public boolean isEmpty() { return scheduled.isEmpty(); }

    public int numTokens() {
        int n = 0;
        for (ScheduledSeq s : scheduled) n += s.numTokens();
        return n;
    }
}
